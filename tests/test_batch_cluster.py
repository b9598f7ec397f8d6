"""`zoomout batch` on a real multi-node Ray cluster on this machine (`ray.cluster_utils.Cluster`).

Three nodes of 1 CPU: the head (where the driver runs) and two workers that carry a custom
resource `fake_gpu`, standing in for a GPU. The outpaint workers ask for it, so they must land
on those nodes. The cluster is started once for the module and stopped at its end; the last
test removes a node in the middle of a batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from zoomout.batch import BatchSettings, run_batch  # noqa: E402
from zoomout.batch.post import ChainsEnd, OutpaintingFailed, PostedSlots, SlotPost  # noqa: E402
from zoomout.chain import SlotStack  # noqa: E402
from zoomout.container import hash_streams  # noqa: E402
from zoomout.engines import ENGINES  # noqa: E402
from zoomout.progress import ProgressEvent  # noqa: E402

from batch_helpers import TINY_JOB, make_reference, ray_env, write_jobs, write_photos  # noqa: E402
from test_stream import SlowEngine  # noqa: E402

pytestmark = pytest.mark.slow
GPU_STANDIN = (("fake_gpu", 1.0),)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # The nodes' workers inherit this process's environment: their slot cache is the test's own.
    cache = tmp_path_factory.mktemp("node-cache")
    previous = os.environ.get("ZOOMOUT_CACHE")
    os.environ["ZOOMOUT_CACHE"] = str(cache)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    gpu_nodes = [cluster.add_node(num_cpus=1, resources={"fake_gpu": 1}) for _ in range(2)]
    cluster.wait_for_nodes()
    try:
        yield cluster, gpu_nodes
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
        if previous is None:
            os.environ.pop("ZOOMOUT_CACHE", None)
        else:
            os.environ["ZOOMOUT_CACHE"] = previous


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.is_file()]


def test_outpainting_lands_on_the_gpu_nodes_and_bad_jobs_fail_alone(cluster, tmp_path):
    cluster, gpu_nodes = cluster
    photos = write_photos(tmp_path, 3)
    (tmp_path / "broken.jpg").write_bytes(b"GIF89a broken")
    good = [
        {"photos": [photos[0]], "output": "one.mp4", **TINY_JOB, "seed": 3},
        {"photos": [photos[1]], "output": "videos/two.mp4", **TINY_JOB, "sound": "calm"},
        {"photos": [photos[2], photos[0]], "output": "montage.mp4", **TINY_JOB, "transition": "flash"},
    ]
    lines = [good[0], {"photos": ["broken.jpg"], "output": "broken.mp4", **TINY_JOB}, good[1],
             {"photos": [photos[1]], "output": "bad-option.mp4", **TINY_JOB, "fps": 7}, good[2]]  # fmt: skip
    out = tmp_path / "out"
    result = run_batch(
        write_jobs(tmp_path / "jobs.jsonl", lines), f"file://{out}", ray_address=cluster.address,
        settings=BatchSettings(outpaint_workers=2, outpaint_resources=GPU_STANDIN, render_workers=1),
    )  # fmt: skip

    by_line = {r.line: r for r in result.reports}
    assert {line: r.status for line, r in by_line.items()} == {1: "done", 2: "failed", 3: "done", 4: "failed", 5: "done"}
    assert by_line[2].error.startswith(f"{tmp_path / 'broken.jpg'}: truncated") and by_line[4].error.startswith("'fps' should be")
    assert not result.ok and "line 2 (broken.mp4): " in result.summary() and "line 4 (bad-option.mp4): 'fps'" in result.summary()
    gpu_ids = {node.node_id for node in gpu_nodes}
    assert {by_line[line].node["outpaint"] for line in (1, 3, 5)} <= gpu_ids
    assert all(by_line[line].engine == "classic" and by_line[line].slots >= 3 for line in (1, 3, 5))
    for job in good:
        made = out / job["output"]
        assert hash_streams(made) == make_reference(job, tmp_path, tmp_path / f"ref-{made.name}"), job["output"]
        assert json.loads(made.with_suffix(".zoomout.json").read_text())["streams"] == hash_streams(made)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "batch-report.jsonl", "montage.mp4", "montage.zoomout.json", "one.mp4", "one.zoomout.json",
        "videos/two.mp4", "videos/two.zoomout.json",
    ]  # fmt: skip
    report = [json.loads(line) for line in (out / "batch-report.jsonl").read_text().splitlines()]
    assert [r["status"] for r in report] == ["done", "failed", "done", "failed", "done"]
    assert all(r["seconds"] > 0 and r["render_cpu_s"] > 0 for r in report if r["status"] == "done")


def test_the_command_joins_the_cluster_skips_what_is_made_and_force_redoes_it(cluster, tmp_path):
    cluster, _ = cluster
    photos = write_photos(tmp_path, 2)
    jobs = [{"photos": [p], **TINY_JOB, "sound": "none"} for p in photos]
    write_jobs(tmp_path / "jobs.jsonl", jobs)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "RAY_ADDRESS": cluster.address}

    def batch(*more: str) -> tuple[int, list[str], str]:
        done = subprocess.run(
            [sys.executable, "-m", "zoomout", "batch", "jobs.jsonl", "--out", "out", "--outpaint-resource", "fake_gpu", *more],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        report = [json.loads(line)["status"] for line in (tmp_path / "out" / "batch-report.jsonl").read_text().splitlines()]
        return done.returncode, report, done.stderr.strip().splitlines()[-1]

    assert batch()[:2] == (0, ["done", "done"])
    first = (tmp_path / "out" / "photo 0.mp4").stat().st_mtime_ns
    code, statuses, summary = batch()
    assert (code, statuses) == (0, ["skipped", "skipped"]) and summary.startswith("batch: 0 done, 2 skipped, 0 failed")
    assert (tmp_path / "out" / "photo 0.mp4").stat().st_mtime_ns == first

    jobs[1]["seed"] = 4  # another video: made again; the first is still current
    write_jobs(tmp_path / "jobs.jsonl", jobs)
    assert batch()[:2] == (0, ["skipped", "done"])
    assert batch("--force")[:2] == (0, ["done", "done"])
    assert (tmp_path / "out" / "photo 0.mp4").stat().st_mtime_ns != first


def test_a_node_removed_mid_batch_loses_no_video(cluster, tmp_path):
    cluster, gpu_nodes = cluster
    photos = write_photos(tmp_path, 4)
    jobs = [{"photos": [p], "output": f"v{i}.mp4", **TINY_JOB, "slots": 4, "seed": i} for i, p in enumerate(photos)]
    out = tmp_path / "out"
    removed: dict[str, object] = {}

    def remove_the_outpainting_node(event) -> None:
        # at job 2's first slot (slot 0 of 5; 4 outpainted slots of about a second each still to come)
        if not removed and event.slot_line == 2:
            node = next(n for n in gpu_nodes if n.node_id == event.slot_node)
            removed.update(id=node.node_id, jobs_done=event.jobs_done)
            cluster.remove_node(node)

    result = run_batch(
        write_jobs(tmp_path / "jobs.jsonl", jobs), out, ray_address=cluster.address,
        settings=BatchSettings(outpaint_workers=1, outpaint_resources=GPU_STANDIN, render_workers=2),
        progress=remove_the_outpainting_node,
    )  # fmt: skip

    assert removed and removed["jobs_done"] < len(jobs)
    survivor = next(n.node_id for n in gpu_nodes if n.node_id != removed["id"])
    assert [r.status for r in result.reports] == ["done"] * 4, result.summary()
    by_line = {r.line: r for r in result.reports}
    assert by_line[2].node["outpaint"] == survivor  # outpainted again on the other node
    assert by_line[4].node["outpaint"] == survivor
    assert all(r.node["render"] != removed["id"] for r in result.reports[1:])
    for job in jobs:
        made = out / job["output"]
        assert hash_streams(made) == make_reference(job, tmp_path, tmp_path / f"ref-{made.name}"), job["output"]
    assert leftovers(out) == []


LAST_SLOT = 6
DRAFT_BYTES = 32 * 1024  # past the muxer's output buffer: encoded frames have reached the file
WAIT_S = 60.0


class WaitsForFrames(SlowEngine):
    """Before its last slot, waits until a draft video in $ZOOMOUT_TEST_DRAFTS holds DRAFT_BYTES, and notes what it saw.

    A render task that started only once the chain was complete would never get there: the
    engine gives up after WAIT_S. Without $ZOOMOUT_TEST_DRAFTS it is a plain SlowEngine.
    """

    name = "waits-for-frames"

    def __init__(self) -> None:
        super().__init__(0.2)

    def _outpaint(self, image, mask, *, seed, slot):
        folder = os.environ.get("ZOOMOUT_TEST_DRAFTS")
        if folder and slot == LAST_SLOT:
            start = time.monotonic()
            while (seen := draft_bytes(Path(folder))) < DRAFT_BYTES and time.monotonic() - start < WAIT_S:
                time.sleep(0.05)
            note = {"draft_bytes": seen, "waited_s": time.monotonic() - start}
            (Path(folder).parent / "last-slot.json").write_text(json.dumps(note))
        return super()._outpaint(image, mask, seed=seed, slot=slot)


def draft_bytes(folder: Path) -> int:
    """The size of the largest draft video in `folder` (0 if none)."""
    sizes = [0]
    for path in folder.glob(".*.draft.mp4"):
        try:
            sizes.append(path.stat().st_size)
        except FileNotFoundError:  # published or removed meanwhile
            pass
    return max(sizes)


def test_a_job_is_rendered_and_encoded_while_its_last_slot_is_outpainted(cluster, tmp_path, monkeypatch):
    cluster, _ = cluster
    monkeypatch.setitem(ENGINES, WaitsForFrames.name, WaitsForFrames)
    photos = write_photos(tmp_path, 1)
    job = {"photos": photos, "output": "one.mp4", **TINY_JOB, "size": "192x320", "slots": LAST_SLOT,
           "engine": WaitsForFrames.name, "cache": False}  # fmt: skip
    out = tmp_path / "out"
    try:
        ray.init(address=cluster.address, runtime_env=ray_env(WaitsForFrames, ZOOMOUT_TEST_DRAFTS=str(out)))
        result = run_batch(write_jobs(tmp_path / "jobs.jsonl", [job]), out, settings=BatchSettings(outpaint_resources=GPU_STANDIN))
    finally:
        ray.shutdown()

    assert result.ok, result.summary()
    seen = json.loads((tmp_path / "last-slot.json").read_text())
    assert seen["draft_bytes"] >= DRAFT_BYTES and seen["waited_s"] < WAIT_S  # frames encoded before the last slot
    assert hash_streams(out / "one.mp4") == make_reference(job, tmp_path, tmp_path / "reference.mp4")
    assert leftovers(out) == []


def test_posted_slots_are_taken_in_order_until_the_chains_end_or_a_failed_outpainting(cluster):
    cluster, _ = cluster
    images = [np.full((4, 6, 3), k, np.uint8) for k in range(4)]
    masks = [image[..., 0] > 0 for image in images]
    entries = [ProgressEvent("chain", k, 3, image) for k, image in enumerate(images)]
    entries.append(ChainsEnd.of([SlotStack(images, masks, 1.5)], ["a note"]))
    try:
        ray.init(address=cluster.address)
        post = SlotPost.options(num_cpus=0).remote()
        slots = PostedSlots(post, 7)
        assert slots.take(block=False) is None  # nothing posted yet
        for index in reversed(range(len(entries))):  # posted in any order, taken in order
            post.put.remote(7, index, [ray.put(entries[index])])
        assert [slots.take(block=True).done for _ in images] == [0, 1, 2, 3]
        assert slots.take(block=True) is None and slots.take(block=False) is None
        stacks, notes = slots.result()
        assert all(np.array_equal(a, b) for a, b in zip(stacks[0].images, images)) and len(stacks[0].images) == 4
        assert all(np.array_equal(a, b) for a, b in zip(stacks[0].masks, masks)) and notes == ["a note"]

        failing = PostedSlots(post, 8)
        post.put.remote(8, 0, [ray.put(entries[0])])
        assert failing.take(block=True).done == 0
        post.close.remote(8, "cat.jpg: the engine failed")  # while the render waits for slot 1
        with pytest.raises(OutpaintingFailed, match="^cat.jpg: the engine failed$"):
            failing.take(block=True)
    finally:
        ray.shutdown()
