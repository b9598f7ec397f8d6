"""`zoomout batch` on a local Ray: many jobs against a loop of `make_video`, and one job against its stages alone.

Many jobs: N small jobs (different photos and seeds) are made twice: by a loop of
`make_video` calls in this process (the baseline), and by `run_batch` on a local Ray started
for it (ray.init and shutdown included). The videos must be identical, packet for packet.
Reported: both wall times and their ratio (goal: Ray's overhead ≤ 15 %, ratio ≤ 1.15), the
batch again on the Ray already running (its start-up left out), and the per-video costs the
README's capacity model uses: outpainting seconds per slot and CPU seconds of render + encode
per video.

One job: the demo's job (1080×1920, 12 slots, eerie sound) with a stand-in engine of fixed
cost that sleeps per slot, as a GPU engine leaves the CPU free; its cost is set so that the
chain takes as long as sound + render + encode. Timed in the same run: sound + render +
encode alone (`finish_video` from finished slots), the chain alone, the same job streamed
by `zoomout make` in this process (`make_planned_video`), then the one-job batch on a local
Ray already running, where the render task takes each slot as the worker makes it.
Reported: the batch's job (from its worker's start to the published video, as the batch
report counts it) against the slower stage alone (goal ≤ 1.15, issue 17), against the
stages one after the other and against `zoomout make`'s. Every video must be the same,
packet for packet.

    python bench/bench_batch.py [--case all|jobs|one-job] [--jobs 24] [--size 180x320] [--slots 3] [--capacity]

--capacity also makes one `make demo`-sized job (1080×1920, 12 slots) through the batch and
reports its costs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import ray

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from batch_helpers import ray_env, write_jobs, write_photos  # noqa: E402
from bench_stream import FixedCostEngine  # noqa: E402

from zoomout.batch import BatchSettings, run_batch  # noqa: E402
from zoomout.engines import ENGINES  # noqa: E402
from zoomout.options import build_request, key_spelling  # noqa: E402
from zoomout.pipeline import finish_video, make_planned_video, make_video, outpaint_chains, plan_run  # noqa: E402
from zoomout.container import hash_streams  # noqa: E402
from zoomout.sound import make_soundtrack  # noqa: E402
from zoomout.stream import MadeSlots  # noqa: E402


def jobs_for(photos: list[str], count: int, size: str, slots: int) -> list[dict]:
    common = {"size": size, "slots": slots, "seconds_per_slot": 1.0, "fps": 30, "engine": "classic", "cache": False}
    return [{"photos": [photos[i % len(photos)]], "output": f"v{i}.mp4", "seed": i, **common} for i in range(count)]


def loop(jobs: list[dict], folder: Path, out: Path) -> float:
    """The baseline: each job through `make_video`, one after the other; wall seconds."""
    start = time.perf_counter()
    for job in jobs:
        make_video(**request_for(job, folder, out / job["output"]))
    return time.perf_counter() - start


def request_for(job: dict, folder: Path, output: Path) -> dict:
    """`make_video`'s arguments for a jobs-file `job` whose photos are in `folder`."""
    given = {k: v for k, v in job.items() if k != "photos"} | {"output": output}
    return build_request(job["photos"], given, spell=key_spelling, base=folder).make_video_arguments()


def batch(jobs_file: Path, out: Path) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    result = run_batch(jobs_file, out, settings=BatchSettings(force=True))
    wall_s = time.perf_counter() - start
    if not result.ok:
        sys.exit(result.summary())
    return wall_s, [json.loads(line) for line in (out / "batch-report.jsonl").read_text().splitlines()]


def costs(report: list[dict]) -> str:
    per_slot = [r["outpaint_s"] / (r["slots"] - 1) for r in report]  # slot 0 is the photo, not outpainted
    return (
        f"outpainting {statistics.median(per_slot):.2f} s per slot, render + encode + publish "
        f"{statistics.median(r['render_cpu_s'] for r in report):.2f} CPU s and "
        f"{statistics.median(r['render_s'] for r in report):.2f} s wall per render task, waits for slots included (medians)"
    )


class StandIn(FixedCostEngine):
    """bench_stream's fixed-cost engine as the batch's workers make it (without arguments): set `seconds_per_slot` first."""

    seconds_per_slot: ClassVar[float] = 0.0

    def __init__(self) -> None:
        super().__init__(self.seconds_per_slot)


def one_job(folder: Path) -> None:
    """The demo's job with the fixed-cost stand-in: the streamed one-job batch against its stages alone."""
    ENGINES[StandIn.name] = StandIn
    job = {"photos": [str(ROOT / "examples" / "cat.png")], "output": "one.mp4", "engine": StandIn.name, "cache": False}
    run = plan_run(**request_for(job, folder, folder / "alone.mp4"))
    slots = run.plan.segments[0].slots
    stacks, _ = outpaint_chains(run, StandIn(), progress=None)  # free: the cost is set below
    start = time.perf_counter()
    finish_video(run, StandIn(), MadeSlots(stacks), make_soundtrack(run.config, run.plan, run.timeline.track))
    render_s = time.perf_counter() - start

    StandIn.seconds_per_slot = render_s / (slots + 1)  # the chain takes as long as sound + render + encode
    start = time.perf_counter()
    outpaint_chains(run, StandIn(), progress=None)
    chain_s = time.perf_counter() - start

    made = plan_run(**request_for(job, folder, folder / "make.mp4"))
    start = time.perf_counter()
    make_planned_video(made, StandIn())
    make_s = time.perf_counter() - start

    ray.init(address="local", include_dashboard=False, logging_level="WARNING", runtime_env=ray_env(StandIn))
    batch_s, report = batch(write_jobs(folder / "one.jsonl", [job]), folder / "one")
    ray.shutdown()
    if not hash_streams(folder / "one" / "one.mp4") == hash_streams(made.output) == hash_streams(run.output):
        sys.exit("one job: the batch's, make's and the finished slots' videos differ")
    r = report[0]
    slower, sequential = max(chain_s, render_s), chain_s + render_s
    print(f"one job, {run.config.width_px}x{run.config.height_px}, {slots} slots, {run.plan.frame_count} frames, "
          f"stand-in engine of {StandIn.seconds_per_slot:.2f} s per slot (its CPU free, as with a GPU):")  # fmt: skip
    print(f"  sound + render + encode alone {render_s:5.1f} s | chain alone {chain_s:5.1f} s | one after the other {sequential:5.1f} s")
    print(f"  zoomout make, streamed {make_s:5.1f} s = {make_s / slower:.2f} x the slower stage")
    print(f"  batch job              {r['seconds']:5.1f} s = {r['seconds'] / slower:.2f} x the slower stage (goal <= 1.15), "
          f"{r['seconds'] / sequential:.2f} x one after the other, {r['seconds'] / make_s:.2f} x zoomout make; same packets")  # fmt: skip
    print(f"  run_batch on a running Ray {batch_s:5.1f} s = {batch_s / slower:.2f} x the slower stage (job checks, "
          f"worker start, report included); outpainting {r['outpaint_s']:.1f} s, render task {r['render_s']:.1f} s "
          f"from its start, {r['seconds'] - r['render_s'] - r['load_s']:.1f} s after the outpainting's")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    # Ray's start (a local cluster: ~10-20 s on 2 busy cores) is paid once per batch: 24 jobs make it a fair share
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--size", default="180x320")
    parser.add_argument("--slots", type=int, default=3)
    parser.add_argument("--capacity", action="store_true")
    parser.add_argument("--case", choices=("all", "jobs", "one-job"), default="all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if args.case != "jobs":
            one_job(folder)
        if args.case == "one-job":
            return
        jobs = jobs_for(write_photos(folder, 4), args.jobs, args.size, args.slots)
        jobs_file = write_jobs(folder / "jobs.jsonl", jobs)
        (folder / "loop").mkdir()

        loop_s = loop(jobs, folder, folder / "loop")
        batch_s, report = batch(jobs_file, folder / "batch")
        for job in jobs:
            if hash_streams(folder / "loop" / job["output"]) != hash_streams(folder / "batch" / job["output"]):
                sys.exit(f"{job['output']}: the batch video differs from make_video's")
        ray.init(address="local", include_dashboard=False, logging_level="WARNING")
        warm_s, _ = batch(jobs_file, folder / "batch-warm")
        ray.shutdown()

        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{args.jobs} jobs of {args.slots} slots at {args.size}, 30 fps, classic, eerie sound (load average now {load}):")
        print(f"  loop of make_video   {loop_s:6.1f} s  ({loop_s / args.jobs:.2f} s per video)")
        print(f"  zoomout batch        {batch_s:6.1f} s  ratio {batch_s / loop_s:.3f} (goal <= 1.15; Ray start and stop included)")
        print(f"  batch, Ray running   {warm_s:6.1f} s  ratio {warm_s / loop_s:.3f}")
        print(f"  videos identical to make_video's (packets); per video: {costs(report)}")

        if args.capacity:
            big = [{"photos": ["photo 0.jpg"], "output": "big.mp4", "size": "1080x1920", "slots": 12, "cache": False}]
            _, big_report = batch(write_jobs(folder / "big.jsonl", big), folder / "big")
            r = big_report[0]
            print(f"1080x1920, 12 slots, classic: {costs(big_report)}; outpainting {r['outpaint_s']:.1f} s, "
                  f"render {r['render_s']:.1f} s wall / {r['render_cpu_s']:.1f} CPU s")  # fmt: skip


if __name__ == "__main__":
    main()
