"""Regenerate the README's stills: `docs/montage.jpg`, `docs/nest.jpg` and `docs/loop.jpg`.

Run: `python docs/stills.py` (needs scikit-image for the coffee and rocket photos). Each
still is a row of evenly spaced frames of the video that the README's command makes, at
540x960 with the classic engine (the default on a machine without a GPU).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import av
import numpy as np
from PIL import Image

from zoomout import Config, make_video

DOCS = Path(__file__).resolve().parent
CAT = DOCS.parent / "examples" / "cat.png"
THUMB = (180, 320)
STILLS = {
    # name: (photos, options as in the README's command, frames in the row)
    "montage": (["cat", "coffee", "rocket"], dict(slots=9, slots_per_photo=3, transition="flash"), 8),
    "nest": (["cat", "coffee", "rocket"], dict(slots=6, nest=True, fit="cover"), 7),
    "loop": (["cat"], dict(slots=4, loop=True, hold_start_s=0.0, hold_end_s=0.0), 6),
}


def photo_files(folder: Path) -> dict[str, Path]:
    from skimage import data

    files = {"cat": CAT}
    for name in ("coffee", "rocket"):
        files[name] = folder / f"{name}.png"
        Image.fromarray(getattr(data, name)()).save(files[name])
    return files


def frame_row(video: Path, count: int) -> Image.Image:
    """`count` evenly spaced frames of `video`, first and last included, side by side at THUMB size."""
    with av.open(str(video)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    row = Image.new("RGB", (THUMB[0] * count, THUMB[1]))
    for i, index in enumerate(picks):
        row.paste(Image.fromarray(frames[index]).resize(THUMB, Image.LANCZOS), (THUMB[0] * i, 0))
    return row


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        files = photo_files(Path(folder))
        for name, (photos, options, count) in STILLS.items():
            video = Path(folder) / f"{name}.mp4"
            config = Config(width_px=540, height_px=960, engine="classic", sound="none", **options)
            make_video([files[p] for p in photos], video, config, cache_dir=None)
            frame_row(video, count).save(DOCS / f"{name}.jpg", quality=88)
            print(f"docs/{name}.jpg")


if __name__ == "__main__":
    main()
