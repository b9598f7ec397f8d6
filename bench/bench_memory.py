"""The `--dry-run` memory and disk estimates against a real run: peak RSS and the MP4's size.

Each size runs `zoomout make` in a child process (classic engine, no cache, the bundled cat)
and reads its peak RSS from the kernel (`tests/peak_memory.py`, which the memory test uses too). The estimate is
an upper bound: the ratio estimate / measured should be ≥ 1 and not far above it.
Usage: python bench/bench_memory.py [--sizes 180x320:6,540x960:6]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from zoomout import Config
from zoomout.config import parse_size
from zoomout.pipeline import plan_run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from peak_memory import peak_rss  # noqa: E402

CAT = Path(__file__).resolve().parents[1] / "examples" / "cat.png"


def measure(size: str, slots: int, folder: Path) -> tuple[int, int]:
    """(peak RSS in bytes, MP4 bytes) of one real run in a child process."""
    output = folder / f"{size}.mp4"
    command = [sys.executable, "-m", "zoomout", "make", str(CAT), "-o", str(output), "--size", size, "--slots", str(slots), "--engine", "classic", "--no-cache"]  # fmt: skip
    try:
        peak = peak_rss(command, folder)
    except RuntimeError as error:
        raise SystemExit(str(error)) from None
    return peak, output.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="180x320:6,540x960:6")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"{'size':>10} {'slots':>5} {'estimate MB':>12} {'peak RSS MB':>12} {'ratio':>6} {'MP4 bound MB':>13} {'MP4 MB':>7}")
        for item in args.sizes.split(","):
            size, slots = item.split(":")
            width_px, height_px = parse_size(size)
            config = Config(width_px=width_px, height_px=height_px, slots=int(slots), engine="classic")
            planned = plan_run([CAT], folder / "planned.mp4", config, cache_dir=None)
            peak, mp4 = measure(size, int(slots), folder)
            estimate = planned.memory.total
            bound = (planned.disk_needed_bytes - 16 * 2**20) / 2
            print(f"{size:>10} {slots:>5} {estimate / 1e6:12.0f} {peak / 1e6:12.0f} {estimate / peak:6.2f} {bound / 1e6:13.1f} {mp4 / 1e6:7.2f}")


if __name__ == "__main__":
    os.environ.setdefault("ZOOMOUT_CACHE", tempfile.mkdtemp(prefix="zoomout-bench-cache-"))
    main()
