"""Seconds per 1080x1920 slot (zoom 2) for the classic engine, next to PyPatchMatch.

Run: `python bench/bench_classic.py`. PyPatchMatch (`pip install pypatchmatch`, the
invoke-ai build) is optional: without it the bench prints why and times classic alone.
"""

from __future__ import annotations

import time

import zoomout  # noqa: I001 — before cv2, as in the product: it sets OpenCV's thread-pool settings

import cv2
import numpy as np

from zoomout.chain import fit_photo
from zoomout.engines.classic import ClassicEngine

WIDTH, HEIGHT, ZOOM = 1080, 1920, 2.0
REPEATS = 3


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


def main() -> None:
    from skimage import data

    image, mask = slot_input(data.chelsea())
    engine = ClassicEngine()
    # as in the chain's slot 2: texture sourced from the photo slot (slot 0) at full size, its
    # strength varied by the world field as seen from slot 1 and from slot 2 (the costlier case)
    reference, _ = fit_photo(data.chelsea(), WIDTH, HEIGHT, "cover")
    fill = lambda: engine.outpaint(image, mask, seed=0, slot=2, reference=reference, reference_slot=0)  # noqa: E731
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
