"""Kill and resume: the real command line, SIGKILLed mid-run at fixed points, then run to the end.

Every restart must reuse every slot that was finished before the kill (so it redoes at most
the one slot that was being outpainted), the finished video must equal, frame by frame, one
made in a single run, and nothing half-written may be left in the cache or beside the video.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from zoomout.atomic import TEMPORARY_SUFFIXES

SLOTS = 6
ARGS = ["--size", "180x320", "--slots", str(SLOTS), "--seconds-per-slot", "0.5", "--fps", "24", "--hold", "0.25", "--sound", "none"]
KILL_AFTER = (1, 2, 4)  # of SLOTS + 1 slot files: at least 3 slots and the render remain at each kill
REUSED = re.compile(r"note: (\d+) of (\d+) slots reused from the cache")


def command(photo: Path, output: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "zoomout", "make", str(photo), "-o", str(output), *ARGS, *options]


def environment(cache: Path) -> dict[str, str]:
    return {**os.environ, "ZOOMOUT_CACHE": str(cache), "COLUMNS": "200"}


def cached_slots(cache: Path) -> dict[str, int]:
    """Finished slot files in the cache, by name, with their inode (a rewrite changes it)."""
    return {str(p.relative_to(cache)): p.stat().st_ino for p in cache.glob("*/*/slot_*.png")}


def reused(stderr: str) -> int:
    match = REUSED.search(stderr)
    return int(match[1]) if match else 0


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def temporaries(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*") if p.name.endswith(TEMPORARY_SUFFIXES)]


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "cat.jpg"
    Image.open(Path(__file__).resolve().parents[1] / "examples" / "cat.png").convert("RGB").resize((225, 150)).save(path)
    return path


@pytest.mark.slow
def test_killed_runs_resume_and_finish_with_the_same_video(tmp_path, photo):
    # 1. The reference: one uninterrupted run, with its own cache
    reference = tmp_path / "reference.mp4"
    done = subprocess.run(command(photo, reference), env=environment(tmp_path / "cache-reference"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    # 2. Kill a run at fixed points, each restart resuming the last: as soon as the cache holds
    #    KILL_AFTER[i] slots (the next slot is then being outpainted, and at least three more
    #    and the render remain, so the kill lands mid-run on any machine)
    cache, out = tmp_path / "cache", tmp_path / "out" / "video.mp4"
    out.parent.mkdir()
    for target in KILL_AFTER:
        before = cached_slots(cache)
        process = subprocess.Popen(command(photo, out), env=environment(cache), stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300  # a guard against a hung run, not a timing condition
        while process.poll() is None and len(cached_slots(cache)) < target:
            assert time.monotonic() < deadline, f"no slot {target} after 300 s"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL, process.stderr.read()
        after = cached_slots(cache)
        # the slots finished before this run started were reused, not outpainted again
        assert {name: after[name] for name in before} == before
        assert target <= len(after) < SLOTS + 1
        assert not out.exists(), "a killed run published the video"

    # 3. The run that finishes: every slot finished before it is reused
    before = cached_slots(cache)
    done = subprocess.run(command(photo, out), env=environment(cache), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert reused(done.stderr) == len(before), done.stderr
    finished = cached_slots(cache)
    assert len(finished) == SLOTS + 1

    # 4. The same video as the uninterrupted run, and no leftovers
    ours, theirs = frames(out), frames(reference)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    assert temporaries(cache, out.parent) == []
    assert sorted(p.name for p in out.parent.iterdir()) == ["video.mp4", "video.zoomout.json"]

    # 5. Only timing, easing and sound changed: every slot reused, nothing outpainted
    changed = tmp_path / "out" / "retimed.mp4"
    options = ("--seconds-per-slot", "0.3", "--fps", "30", "--ease", "in-out", "--sound", "calm", "--hold", "0")
    done = subprocess.run(command(photo, changed, *options), env=environment(cache), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"note: {SLOTS + 1} of {SLOTS + 1} slots reused" in done.stderr, done.stderr
    assert cached_slots(cache) == finished  # no slot file rewritten

