"""Seconds per 1080x1920 slot (zoom 2) for the classic engine, next to PyPatchMatch or an earlier revision.

Run: `python bench/bench_classic.py`. PyPatchMatch (`pip install pypatchmatch`, the
invoke-ai build) is optional: without it the bench prints why and times classic alone.

`python bench/bench_classic.py --against REV` times the engine of git revision REV
(`src/zoomout/engines/classic.py` as committed there) in the same process, the two
alternating: on a noisy machine the ratio of their medians holds where the seconds do not.
It also says whether the two give the same bytes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import zoomout  # noqa: I001 — before cv2, as in the product: it sets OpenCV's thread-pool settings

import cv2
import numpy as np

from zoomout.chain import fit_photo
from zoomout.engines.classic import ClassicEngine

WIDTH, HEIGHT, ZOOM = 1080, 1920, 2.0
REPEATS = 3
ALTERNATIONS = 7  # --against: each engine runs this many times, the two alternating


def slot_input(photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A zoom-2 slot: the photo cover-scaled into the centre, the ring to be generated."""
    known_w, known_h = round(WIDTH / ZOOM), round(HEIGHT / ZOOM)
    scale = max(known_w / photo.shape[1], known_h / photo.shape[0])
    scaled = cv2.resize(photo, (round(photo.shape[1] * scale) + 1, round(photo.shape[0] * scale) + 1), interpolation=cv2.INTER_AREA)
    y0, x0 = (scaled.shape[0] - known_h) // 2, (scaled.shape[1] - known_w) // 2
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    mask = np.ones((HEIGHT, WIDTH), bool)
    top, left = (HEIGHT - known_h) // 2, (WIDTH - known_w) // 2
    image[top : top + known_h, left : left + known_w] = scaled[y0 : y0 + known_h, x0 : x0 + known_w]
    mask[top : top + known_h, left : left + known_w] = False
    return image, mask


def best_seconds(fill) -> float:
    fill()  # warm-up: imports, thread pool, library loading
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fill()
        times.append(time.perf_counter() - start)
    return min(times)


def engine_at(revision: str) -> type:
    """The classic engine class as committed at a git revision, loaded beside this one (its imports resolve in this package)."""
    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(
        ["git", "show", f"{revision}:src/zoomout/engines/classic.py"], cwd=root, capture_output=True, text=True
    )  # fmt: skip
    if source.returncode:
        sys.exit(f"--against {revision}: {source.stderr.strip()}")
    module = types.ModuleType("zoomout.engines.classic_then")
    module.__package__ = "zoomout.engines"  # its relative imports (`.base`, `..lazy`) resolve in this package
    sys.modules[module.__name__] = module
    exec(compile(source.stdout, f"{revision}:src/zoomout/engines/classic.py", "exec"), module.__dict__)
    return module.ClassicEngine


def compare(fills: dict[str, object]) -> None:
    """Time the fills alternating, ALTERNATIONS runs each, and print their medians and ratio."""
    outputs = {name: fill() for name, fill in fills.items()}  # warm-up, and the bytes to compare
    times: dict[str, list[float]] = {name: [] for name in fills}
    for _ in range(ALTERNATIONS):
        for name, fill in fills.items():
            start = time.perf_counter()
            fill()
            times[name].append(time.perf_counter() - start)
    (now, now_times), (then, then_times) = times.items()
    same = np.array_equal(*outputs.values())
    print(f"{WIDTH}x{HEIGHT} slot, zoom {ZOOM:g}, {ALTERNATIONS} runs each, alternating; same bytes: {same}")
    for name, runs in times.items():
        print(f"{name:<24} median {statistics.median(runs):5.2f} s, best {min(runs):5.2f} s")
    print(f"{now} / {then}: {statistics.median(now_times) / statistics.median(then_times):.2f} (medians)")


def main() -> None:
    from skimage import data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="a git revision whose classic engine to time alongside")
    args = parser.parse_args()
    image, mask = slot_input(data.chelsea())
    # as in the chain's slot 2: texture sourced from the photo slot (slot 0) at full size, its
    # strength varied by the world field as seen from slot 1 and from slot 2 (the costlier case)
    reference, _ = fit_photo(data.chelsea(), WIDTH, HEIGHT, "cover")

    def filler(engine):
        return lambda: engine.outpaint(image, mask, seed=0, slot=2, reference=reference, reference_slot=0)

    fill = filler(ClassicEngine())
    if args.against:
        compare({"classic (working tree)": fill, f"classic at {args.against}": filler(engine_at(args.against)())})
        return
    rows = [("classic", best_seconds(fill))]
    try:
        from patchmatch import patch_match
    except ImportError:
        print("pypatchmatch is not installed (pip install pypatchmatch): timing classic alone")
    else:
        patch_match.set_random_seed(0)
        # patch radius 3, as in its examples and DESIGN.md's trial; BGR in, as OpenCV
        bgr, holes = image[..., ::-1].copy(), mask.astype(np.uint8) * 255
        rows.append(("pypatchmatch (r=3)", best_seconds(lambda: patch_match.inpaint(bgr, holes, patch_size=3))))

    print(f"{WIDTH}x{HEIGHT} slot, zoom {ZOOM:g}, best of {REPEATS}, {cv2.getNumThreads()} OpenCV threads")
    print(f"{'engine':<20} {'s/slot':>8} {'vs classic':>11}")
    for name, seconds in rows:
        print(f"{name:<20} {seconds:8.2f} {seconds / rows[0][1]:10.1f}x")


if __name__ == "__main__":
    main()
