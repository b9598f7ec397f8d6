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
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from zoomout.batch import BatchSettings, run_batch  # noqa: E402
from zoomout.container import hash_streams  # noqa: E402

from batch_helpers import TINY_JOB, make_reference, write_jobs, write_photos  # noqa: E402

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
