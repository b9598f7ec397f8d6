"""Render + encode throughput as a ratio to encode-only throughput of the same frames (goal ≥ 0.9).

Frames are rendered as the product renders them: straight into I420 (BT.709, 4:2:0).

All runs happen in this process: first the frames are rendered and kept, then, in
alternating rounds, encoded alone (the baseline), rendered again while streaming to the
encoder (the product path), and the same with every patch sampled by `cv2.warpAffine` (the
previous renderer's sampling); each ratio is the median of the rounds' ratios.
Usage: python bench/bench_render.py [--frames 120] [--size 1080x1920] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import tempfile
import time
from pathlib import Path

import zoomout  # noqa: I001 — before cv2, as in the product: it sets OpenCV's thread-pool settings

import cv2
import numpy as np

from zoomout import Config, plan_video, render
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
    parser.add_argument("--rounds", type=int, default=3, help="alternating encode-only and render + encode runs")
    parser.add_argument("--preset", default=Config.x264_preset, help="x264 preset (the default is zoomout's)")
    args = parser.parse_args()
    width, height = parse_size(args.size)
    config = Config(width_px=width, height_px=height, x264_preset=args.preset)
    plan = plan_video(config)
    zooms = np.linspace(0, config.slots, args.frames)
    renderer = I420ZoomRenderer(synthetic_slots(width, height, config.slots + 1), config.zoom_per_slot, (width, height))
    settings = EncodeSettings(width, height, config.fps, config.crf, config.x264_preset)

    frames = [renderer.render(float(z)) for z in zooms]
    runs: dict[str, list[float]] = {"encode only": [], "render + encode": [], "warp-only render + encode": []}
    render_cpu: dict[str, list[float]] = {"render": [], "warp-only render": []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):  # alternating, so a change of machine load hits all alike
            for name, source in (
                ("encode only", lambda: frames),
                ("render + encode", lambda: (renderer.render(float(z)) for z in zooms)),
                ("warp-only render + encode", lambda: (renderer.render(float(z)) for z in zooms)),
            ):
                with _sampling(warp_only=name.startswith("warp-only")):
                    start = time.perf_counter()
                    with Mp4Writer(Path(folder) / "video.mp4", settings) as writer:
                        writer.write_all(source())
                    runs[name].append(time.perf_counter() - start)
            for name in render_cpu:
                with _sampling(warp_only=name.startswith("warp-only")):
                    start = time.process_time()
                    for z in zooms:
                        renderer.render(float(z))
                    render_cpu[name].append(1000 * (time.process_time() - start) / len(zooms))

    n = len(zooms)
    print(f"{width}x{height}, {n} frames of a {plan.frame_count}-frame plan, preset {config.x264_preset}, {args.rounds} rounds")
    for name, cpu in render_cpu.items():
        print(f"{name:<18} {statistics.median(cpu):5.1f} ms of CPU per frame (median)")
    print(f"encode only        {n / statistics.median(runs['encode only']):5.1f} fps")
    for name in ("render + encode", "warp-only render + encode"):
        ratios = sorted(e / b for e, b in zip(runs["encode only"], runs[name]))
        print(f"{name:<26} ratio to encode only {statistics.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
    print("goal: render + encode >= 0.9 x encode only")


@contextlib.contextmanager
def _sampling(*, warp_only: bool):
    """The renderer as shipped, or (the baseline) with every patch sampled by `cv2.warpAffine`."""
    shipped = render.RESIZE_MIN_PX
    render.RESIZE_MIN_PX = math.inf if warp_only else shipped
    try:
        yield
    finally:
        render.RESIZE_MIN_PX = shipped

if __name__ == "__main__":
    main()
