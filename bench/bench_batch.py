"""`zoomout batch` on a local Ray against a plain loop of `make_video`: same jobs, same machine, same run.

N small jobs (different photos and seeds) are made twice: by a loop of `make_video` calls in
this process (the baseline), and by `run_batch` on a local Ray started for it (ray.init and
shutdown included). The videos must be identical, packet for packet. Reported: both wall
times and their ratio (goal: Ray's overhead ≤ 15 %, ratio ≤ 1.15), the batch again on the
Ray already running (its start-up left out), and the per-video costs the README's capacity
model uses: outpainting seconds per slot and CPU seconds of render + encode per video.

    python bench/bench_batch.py [--jobs 24] [--size 180x320] [--slots 3] [--capacity]

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

import ray

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from batch_helpers import write_jobs, write_photos  # noqa: E402

from zoomout.batch import BatchSettings, run_batch  # noqa: E402
from zoomout.options import build_request, key_spelling  # noqa: E402
from zoomout.pipeline import make_video  # noqa: E402
from zoomout.container import hash_streams  # noqa: E402


def jobs_for(photos: list[str], count: int, size: str, slots: int) -> list[dict]:
    common = {"size": size, "slots": slots, "seconds_per_slot": 1.0, "fps": 30, "engine": "classic", "cache": False}
    return [{"photos": [photos[i % len(photos)]], "output": f"v{i}.mp4", "seed": i, **common} for i in range(count)]


def loop(jobs: list[dict], folder: Path, out: Path) -> float:
    """The baseline: each job through `make_video`, one after the other; wall seconds."""
    start = time.perf_counter()
    for job in jobs:
        given = {k: v for k, v in job.items() if k != "photos"} | {"output": out / job["output"]}
        request = build_request(job["photos"], given, spell=key_spelling, base=folder)
        make_video(**request.make_video_arguments())
    return time.perf_counter() - start


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
        f"{statistics.median(r['render_s'] for r in report):.2f} s wall per video (medians)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    # Ray's start (a local cluster: ~10-20 s on 2 busy cores) is paid once per batch: 24 jobs make it a fair share
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--size", default="180x320")
    parser.add_argument("--slots", type=int, default=3)
    parser.add_argument("--capacity", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
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
