"""The streamed pipeline against its two stages alone, in the same run (goal: job ≤ 1.15 × the slower stage).

For the demo's job (12 slots, 1080×1920, 30 fps, eerie sound, no cache), each engine is timed
three ways in this process:
- the chain alone (`outpaint_chains`, every slot before any frame), then the sound alone,
- render + encode alone, from those finished slots (`finish_video` with `MadeSlots`),
- the whole streamed job (`make_planned_video`: the engine in its worker, frames rendered as
  their slots arrive), whose video must equal the one rendered from finished slots, packet
  for packet.

Engines: `classic` (it wants the CPU the renderer and the encoder also want), and a stand-in
of fixed cost that sleeps per slot, as a GPU engine leaves the CPU free; its sleep is set so
that the chain takes as long as render + encode, the case where overlapping matters most.
(`bench_render.py` times render + encode against the encoder alone.)

Usage: python bench/bench_stream.py [--size 1080x1920] [--slots 12]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import zoomout  # noqa: I001 — before cv2, as in the product: it sets OpenCV's thread-pool settings

import cv2
import numpy as np

from zoomout import Config
from zoomout.config import parse_size
from zoomout.container import hash_streams
from zoomout.engines import Engine, create_engine
from zoomout.pipeline import finish_video, make_planned_video, outpaint_chains, plan_run
from zoomout.sound import make_soundtrack
from zoomout.stream import MadeSlots

ROOT = Path(__file__).resolve().parents[1]


class FixedCostEngine(Engine):
    """Sleeps `seconds` per slot (the CPU stays free, as with a GPU engine), then stretches the kept centre over the ring."""

    name: ClassVar[str] = "fixed-cost"
    summary: ClassVar[str] = "a stand-in of fixed cost per slot"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def _outpaint(self, image: np.ndarray, mask: np.ndarray, *, seed: int, slot: int) -> np.ndarray:
        time.sleep(self.seconds)
        rows, cols = np.flatnonzero(~mask.all(axis=1)), np.flatnonzero(~mask.all(axis=0))
        centre = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        return cv2.resize(centre, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)


def time_engine(run, engine: Engine, folder: Path, label: str) -> tuple[float, list]:
    """Render + encode alone (s) and the chains, after timing the chain alone, that and the streamed job."""
    start = time.perf_counter()
    stacks, _ = outpaint_chains(run, engine, progress=None)
    chain_s = time.perf_counter() - start

    start = time.perf_counter()
    audio = make_soundtrack(run.config, run.plan, run.timeline.track)
    sound_s = time.perf_counter() - start
    alone = replace(run, output=folder / f"{label}_alone.mp4")
    start = time.perf_counter()
    finish_video(alone, engine, MadeSlots(stacks), audio)
    render_s = time.perf_counter() - start

    streamed = replace(run, output=folder / f"{label}_streamed.mp4")
    start = time.perf_counter()
    result = make_planned_video(streamed, engine)
    job_s = time.perf_counter() - start
    if hash_streams(alone.output) != hash_streams(streamed.output):
        raise SystemExit(f"{label}: the streamed video differs from the one rendered from finished slots")
    slower, sequential = max(chain_s, render_s), chain_s + sound_s + render_s
    print(
        f"{label:<11} chain alone {chain_s:5.1f} s | sound {sound_s:4.1f} s | render + encode alone {render_s:5.1f} s | "
        f"one after the other {sequential:5.1f} s | streamed job {job_s:5.1f} s = {job_s / slower:.2f} × the slower "
        f"stage (goal <= 1.15), {job_s / sequential:.2f} × one after the other; same packets"
    )
    print(f"{'':<11} stages in the streamed job: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()))
    return render_s, stacks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1080x1920")
    parser.add_argument("--slots", type=int, default=12)
    args = parser.parse_args()
    width, height = parse_size(args.size)
    config = Config(width_px=width, height_px=height, slots=args.slots, engine="classic")
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        run = plan_run([ROOT / "examples" / "cat.png"], folder / "demo.mp4", config, cache_dir=None)
        print(f"{width}x{height}, {args.slots} slots, {run.plan.frame_count} frames, preset {config.x264_preset}")
        render_s, _ = time_engine(run, create_engine("classic"), folder, "classic")
        fixed = FixedCostEngine(render_s / (args.slots + 1))
        print(f"{'':<11} fixed-cost engine: {fixed.seconds:.2f} s per slot, so its chain takes as long as render + encode")
        time_engine(run, fixed, folder, "fixed-cost")


if __name__ == "__main__":
    main()
