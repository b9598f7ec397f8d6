"""Start-up of the command line: `zoomout --help` and `zoomout engines`, against a bare interpreter.

Each command runs in a fresh process, interleaved with the baseline (`python -c pass`) so a
busy machine slows both alike; the median of the runs is reported, and the modules that would
make start-up slow (numpy's friends: OpenCV, PyAV, SciPy, torch) are checked to stay unloaded.
Goal: each command ≤ 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "zoomout --help": [sys.executable, "-m", "zoomout", "--help"],
    "zoomout make --help": [sys.executable, "-m", "zoomout", "make", "--help"],
    "zoomout engines": [sys.executable, "-m", "zoomout", "engines"],
}
HEAVY = ("cv2", "av", "scipy.signal", "scipy.sparse", "torch", "gradio", "pyloudnorm")
GOAL_S = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, env={**os.environ, "COLUMNS": "100"})
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["python -c pass (baseline)"])
    print(f"{'command':<28} {'median s':>9} {'minus interpreter s':>20}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<28} {median:>9.3f} {median - base:>20.3f}")
    probe = "import sys, zoomout.cli; print(' '.join(m for m in %r if m in sys.modules and type(sys.modules[m]).__name__ != '_LazyModule'))" % (HEAVY,)
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    print(f"heavy modules loaded by the CLI at start: {', '.join(loaded) or 'none'}")
    worst = max(statistics.median(times[name]) for name in COMMANDS if name.startswith("zoomout"))
    print(f"goal <= {GOAL_S} s per command: {'met' if worst <= GOAL_S else 'missed'} ({worst:.3f} s at worst)")


if __name__ == "__main__":
    main()
