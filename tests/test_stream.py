"""The streamed pipeline: frames rendered while the engine outpaints, the same video as one after the other."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from zoomout import Config
from zoomout.container import hash_streams
from zoomout.engines import Engine
from zoomout.pipeline import finish_video, make_planned_video, outpaint_chains, plan_run
from zoomout.sound import make_soundtrack
from zoomout.stream import MadeSlots

from test_determinism import JOBS, TINY, job_config, write_photos


class EngineFailed(RuntimeError):
    pass


class SlowEngine(Engine):
    """Sleeps per slot, as a GPU engine leaves the CPU free, and records which slots it made."""

    name = "slow"
    summary = "test engine"

    def __init__(self, seconds: float, fail_at: int | None = None) -> None:
        self.seconds, self.fail_at = seconds, fail_at
        self.made: list[int] = []

    def _outpaint(self, image, mask, *, seed, slot):
        time.sleep(self.seconds)
        if slot == self.fail_at:
            raise EngineFailed(f"slot {slot}: the engine failed")
        self.made.append(slot)
        rng = np.random.default_rng(seed)
        return rng.integers(0, 256, size=image.shape, dtype=np.uint8)


def packets(path) -> dict[str, str]:
    return {stream: record["sha256"] for stream, record in hash_streams(path).items()}


def outpaint_workers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "zoomout-outpaint"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["single", "montage-fade", "montage-flash", "nest", "loop", "out-in-punchy"])
def test_streamed_video_equals_the_one_rendered_after_every_slot(tmp_path, name, noise_engine):
    """Each frame is rendered as soon as its slots exist; the packets equal rendering from finished chains."""
    config = job_config(name, {})
    photos = write_photos(tmp_path, JOBS[name][0])
    run = plan_run(photos, tmp_path / "streamed.mp4", config, cache_dir=None)
    streamed = make_planned_video(run, noise_engine)

    after = plan_run(photos, tmp_path / "after.mp4", config, cache_dir=None)
    stacks, _ = outpaint_chains(after, noise_engine, progress=None)
    chain_events = []
    progress = lambda e: chain_events.append((e.done, e.total, e.part)) if e.stage == "chain" else None  # noqa: E731
    finish_video(after, noise_engine, MadeSlots(stacks), make_soundtrack(config, after.plan, after.timeline.track), progress=progress)
    streamed_events = []
    make_planned_video(
        plan_run(photos, tmp_path / "again.mp4", config, cache_dir=None), noise_engine,
        progress=lambda e: streamed_events.append((e.done, e.total, e.part)) if e.stage == "chain" else None,
    )  # fmt: skip
    assert chain_events == streamed_events  # finished chains report their slots as the worker does

    assert packets(streamed.path) == packets(after.output)
    for made, expected in zip(streamed.chains, stacks):
        assert all(np.array_equal(a, b) for a, b in zip(made.images, expected.images))


def test_frames_are_encoded_while_later_slots_are_outpainted(tmp_path, small_cat):
    engine = SlowEngine(0.15)
    run = plan_run([small_cat], tmp_path / "v.mp4", Config(**{**TINY, "slots": 6}), cache_dir=None)
    events = []
    result = make_planned_video(run, engine, progress=lambda e: events.append((e.stage, e.done, e.total)))

    last_slot = events.index(("chain", 6, 6))
    assert any(stage == "render" for stage, _, _ in events[:last_slot])  # both bars moved together
    assert [done for stage, done, _ in events if stage == "chain"] == list(range(7))  # the photo's slot, then 6
    assert [done for stage, done, _ in events if stage == "render"] == list(range(1, run.plan.frame_count + 1))
    assert result.seconds["outpaint"] >= 7 * 0.15


def test_an_engine_error_mid_chain_reaches_the_caller_and_writes_nothing(tmp_path, small_cat):
    engine = SlowEngine(0.05, fail_at=3)
    run = plan_run([small_cat], tmp_path / "v.mp4", Config(**{**TINY, "slots": 5}), cache_dir=None)
    with pytest.raises(EngineFailed, match="slot 3: the engine failed"):
        make_planned_video(run, engine)
    assert list(tmp_path.iterdir()) == [small_cat]
    assert outpaint_workers() == []


def test_cancelling_while_rendering_stops_the_outpainting_after_its_slot(tmp_path, small_cat):
    engine = SlowEngine(0.2)
    run = plan_run([small_cat], tmp_path / "v.mp4", Config(**{**TINY, "slots": 8}), cache_dir=None)

    class Cancelled(Exception):
        pass

    def cancel_at_first_frame(event):
        if event.stage == "render":
            raise Cancelled

    with pytest.raises(Cancelled):
        make_planned_video(run, engine, progress=cancel_at_first_frame)
    assert outpaint_workers() == []  # the worker was waited for: no engine runs behind the call
    assert len(engine.made) < 8  # it stopped at the slot after the cancel, not at the end of the chain
    assert list(tmp_path.iterdir()) == [small_cat]
