"""Render + encode throughput as a ratio to encode-only throughput of the same frames (goal ≥ 0.9).

Frames are rendered as the product renders them: straight into I420 (BT.709, 4:2:0).

Both runs happen in this process on the same machine state: first the frames are rendered
and kept, then encoded alone (the baseline), then rendered again while streaming to the
encoder (the product path). Usage: python bench/bench_render.py [--frames 120] [--size 1080x1920]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from zoomout import Config, plan_video
from zoomout.config import parse_size
from zoomout.encode import EncodeSettings, Mp4Writer
from zoomout.render import I420ZoomRenderer


def synthetic_slots(width: int, height: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """Textured slots (band-limited noise at several scales): a worst case for the encoder too."""
    rng = np.random.default_rng(seed)
    slots = []
    for _ in range(count):
        image = np.zeros((height, width, 3), np.float32)
        for cell in (64, 16, 4):
            noise = rng.random((height // cell + 2, width // cell + 2, 3), dtype=np.float32)
            image += cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC) * (255 / 3)
        slots.append(np.clip(image, 0, 255).astype(np.uint8))
    return slots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="frames sampled evenly over the 12-slot zoom")
    parser.add_argument("--size", default="1080x1920")
    parser.add_argument("--preset", default=Config.x264_preset, help="x264 preset (the default is zoomout's)")
    args = parser.parse_args()
    width, height = parse_size(args.size)
    config = Config(width_px=width, height_px=height, x264_preset=args.preset)
    plan = plan_video(config)
    zooms = np.linspace(0, config.slots, args.frames)
    renderer = I420ZoomRenderer(synthetic_slots(width, height, config.slots + 1), config.zoom_per_slot, (width, height))
    settings = EncodeSettings(width, height, config.fps, config.crf, config.x264_preset)

    start = time.perf_counter()
    frames = [renderer.render(float(z)) for z in zooms]
    render_s = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        with Mp4Writer(Path(folder) / "encode_only.mp4", settings) as writer:
            writer.write_all(frames)
        encode_s = time.perf_counter() - start
        del frames

        start = time.perf_counter()
        with Mp4Writer(Path(folder) / "streamed.mp4", settings) as writer:
            writer.write_all(renderer.render(float(z)) for z in zooms)
        both_s = time.perf_counter() - start

    n = len(zooms)
    print(f"{width}x{height}, {n} frames of a {plan.frame_count}-frame plan, preset {config.x264_preset}")
    print(f"render only      {n / render_s:6.1f} fps  ({1000 * render_s / n:.1f} ms/frame)")
    print(f"encode only      {n / encode_s:6.1f} fps")
    print(f"render + encode  {n / both_s:6.1f} fps")
    print(f"ratio (render+encode / encode-only) = {encode_s / both_s:.2f}  (goal >= 0.9)")


if __name__ == "__main__":
    main()
