"""Peak resident memory of a command, measured by the kernel: used by the memory test and by bench/bench_memory.py.

A child's peak RSS (ru_maxrss) counts from its fork, and survives its exec: a command started
straight from a large process (the test suite after a Ray cluster, say) reports that process's
size as its own. So the command runs under a bare Python wrapper, which reads the peak of its
one waited-for child.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_WRAPPER = (
    "import resource, subprocess, sys; "
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if done.returncode == 0 else -1); "
    "print(done.stderr, file=sys.stderr)"
)


def peak_rss(command: list[str], cwd: Path) -> int:
    """Peak RSS in bytes of `command` run to completion in `cwd`; raises RuntimeError with its stderr if it fails."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *command], cwd=cwd, capture_output=True, text=True, check=True)
    peak_kib = int(done.stdout.strip())  # Linux reports KiB
    if peak_kib < 0:
        raise RuntimeError(done.stderr)
    return peak_kib * 1024
