"""`make demo`'s job timed end to end: wall time and peak memory (goal ≤ 60 s and ≤ 1.5 GB on 2 cores).

Runs the same command as `make demo` in a child process and reads its peak resident
memory from the kernel (ru_maxrss of the waited-for child).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "demo.mp4"
        # --no-cache: every slot is outpainted, as on a first run
        command = [sys.executable, "-m", "zoomout", "make", str(ROOT / "examples" / "cat.png"), "-o", str(out), "--no-cache"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        wall_s = time.perf_counter() - start
        if done.returncode:
            sys.exit(done.stderr)
        peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        print(" ".join(line for line in done.stderr.splitlines() if line.startswith(("wrote", "sound", "0.")) or "chain" in line))
        print(f"wall {wall_s:.1f} s (goal <= 60), peak memory {peak_gib:.2f} GiB (goal <= 1.5)")


if __name__ == "__main__":
    main()
