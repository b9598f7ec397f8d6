"""`zoomout batch` without a cluster: the jobs file's checks, the destination, resume, the command's exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoomout.batch import BatchSettings, Destination, parse_resource, read_jobs
from zoomout.batch.jobs import BatchJob
from zoomout.batch.resume import made_before
from zoomout.errors import ConfigError, JobsFileError
from zoomout.options import build_request, key_spelling
from zoomout.pipeline import make_video, plan_run

from batch_helpers import TINY_JOB, write_jobs, write_photos

pytest.importorskip("fsspec")


def test_every_bad_line_is_reported_with_its_number_and_the_good_ones_are_jobs(tmp_path):
    photos = write_photos(tmp_path, 2)
    out = tmp_path / "out"
    out.mkdir()
    lines = [
        {"photos": [photos[0]], "output": "a.mp4", **TINY_JOB},  # 1
        "{not json",  # 2
        '["a list"]',  # 3
        {"output": "b.mp4"},  # 4: no photos
        {"photos": [photos[1]], "output": "../escape.mp4"},  # 5
        {"photos": [photos[1]], "output": "/abs/c.mp4"},  # 6
        {"photos": [photos[1]], "output": "a.mp4"},  # 7: line 1's output
        {"photos": [photos[1]], "output": "d.mp4", "slots": 0},  # 8
        {"photos": [photos[1]], "output": "e.mp4", "slotz": 3},  # 9
        {"photos": [photos[1]], "output": "f.mp4", "label": "AI", "no_label": True},  # 10
        {"photos": [photos[1]], "output": "g.mp4", "dry_run": True},  # 11
        "",  # 12: blank, skipped
        {"photos": photos[1], "contact_sheet": "sheets/b.png", "size": "540x960"},  # 13: output from the photo's name
    ]
    jobs, bad = read_jobs(write_jobs(tmp_path / "jobs.jsonl", lines), out)

    assert [(job.line, job.output) for job in jobs] == [(1, "a.mp4"), (13, "photo 1.mp4")]
    assert jobs[0].request.photos == (tmp_path / photos[0],)  # relative to the jobs file
    assert jobs[0].request.output == out / "a.mp4"
    assert jobs[1].outputs == (("output", "photo 1.mp4"), ("contact_sheet", "sheets/b.png"))
    assert (out / "sheets").is_dir()
    errors = {b.line: b.error for b in bad}
    assert sorted(errors) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert errors[2].startswith("not JSON")
    assert "JSON object" in errors[3]
    assert "'photos'" in errors[4]
    assert "'output'" in errors[5] and "inside the output folder" in errors[5]
    assert "'output'" in errors[6]
    assert errors[7] == "output 'a.mp4' is also made by line 1"
    assert errors[8].startswith("'slots' should be")
    assert "unknown option 'slotz'" in errors[9]
    assert errors[10].startswith("'label' and 'no_label' cannot be given together")
    assert "'dry_run'" in errors[11]
    assert all("\n" not in error for error in errors.values())
    assert {b.line: b.output for b in bad}[7] == "a.mp4"


def test_an_unreadable_or_empty_jobs_file_stops_the_batch(tmp_path):
    with pytest.raises(JobsFileError, match="jobs file not found"):
        read_jobs(tmp_path / "missing.jsonl", tmp_path)
    with pytest.raises(JobsFileError, match="no jobs"):
        read_jobs(write_jobs(tmp_path / "blank.jsonl", ["", "  "]), tmp_path)


def test_settings_and_resources_are_checked():
    assert parse_resource("fake_gpu") == ("fake_gpu", 1.0)
    assert parse_resource("a100=0.5") == ("a100", 0.5)
    for text in ("", "=2", "x=0", "x=-1", "x=nan", "x=two"):
        with pytest.raises(ConfigError, match="outpaint_resource should be"):
            parse_resource(text)
    with pytest.raises(ConfigError, match="outpaint_workers should be at least 1 but is 0"):
        BatchSettings(outpaint_workers=0)
    with pytest.raises(ConfigError, match="render_workers"):
        BatchSettings(render_workers=0)
    with pytest.raises(ConfigError, match="gpus_per_outpaint"):
        BatchSettings(gpus_per_outpaint=-1)


def test_a_url_destination_puts_each_file_whole_and_clears_leftovers(tmp_path):
    destination = Destination(f"file://{tmp_path}/out")
    destination.prepare()
    source = tmp_path / "video.bin"
    source.write_bytes(b"x" * 100_000)
    leftover = tmp_path / "out" / "sub" / ".v.mp4.deadbeef.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half")

    destination.remove_leftovers("sub/v.mp4")
    destination.upload([(source, "sub/v.mp4")])
    destination.write_text("report.jsonl", "{}\n")

    assert not leftover.exists()
    assert (tmp_path / "out" / "sub" / "v.mp4").read_bytes() == source.read_bytes()
    assert destination.exists("sub/v.mp4") and not destination.exists("sub/w.mp4")
    assert destination.read_text("report.jsonl") == "{}\n" and destination.read_text("nothing.json") is None
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["report.jsonl", "sub", "v.mp4"]
    assert destination.url("sub/v.mp4") == f"file://{tmp_path}/out/sub/v.mp4"


def test_a_video_counts_as_made_only_with_a_sidecar_of_the_same_options_and_photos(tmp_path):
    photos = write_photos(tmp_path, 1)
    out = Destination(tmp_path / "out")
    out.prepare()

    def job(**options) -> tuple[BatchJob, object]:
        given = {**TINY_JOB, "sound": "none", **options, "output": out.local / "a.mp4", "cache": False}
        request = build_request(photos, given, spell=key_spelling, base=tmp_path)
        return BatchJob(1, "a.mp4", request, (("output", "a.mp4"),)), request

    first, request = job()
    assert not made_before(out, first, plan_run(**request.make_video_arguments()))
    make_video(**request.make_video_arguments())
    assert made_before(out, first, plan_run(**request.make_video_arguments()))

    other_seed, request = job(seed=9)
    assert not made_before(out, other_seed, plan_run(**request.make_video_arguments()))

    (tmp_path / photos[0]).write_bytes((tmp_path / photos[0]).read_bytes() + b"\0")  # same pixels, other file
    assert not made_before(out, first, plan_run(**job()[1].make_video_arguments()))

    (out.local / "a.zoomout.json").unlink()
    assert not made_before(out, first, plan_run(**job()[1].make_video_arguments()))


def zoomout(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "zoomout", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_command_reports_every_failure_by_line_and_exits_1(tmp_path):
    write_photos(tmp_path, 1)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    write_jobs(tmp_path / "jobs.jsonl", [
        {"photos": ["broken.jpg"], "output": "a.mp4", **TINY_JOB},
        {"photos": ["photo 0.jpg"], "output": "b.mp4", **TINY_JOB, "zoom": 9},
        {"photos": ["missing.jpg"], "output": "c.mp4"},
    ])  # fmt: skip
    done = zoomout("batch", "jobs.jsonl", "--out", "videos", cwd=tmp_path)

    assert done.returncode == 1, done.stderr
    summary = done.stderr.strip().splitlines()[-1]
    assert summary.startswith("batch: 0 done, 0 skipped, 3 failed (line 1 (a.mp4): broken.jpg: ")
    assert "line 2 (b.mp4): 'zoom' should be" in summary and "line 3 (c.mp4): missing.jpg: file not found" in summary
    assert "Traceback" not in done.stderr
    report = [json.loads(line) for line in (tmp_path / "videos" / "batch-report.jsonl").read_text().splitlines()]
    assert [(r["line"], r["output"], r["status"]) for r in report] == [(1, "a.mp4", "failed"), (2, "b.mp4", "failed"), (3, "c.mp4", "failed")]
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == ["batch-report.jsonl"]

    missing = zoomout("batch", "nothing.jsonl", "--out", "videos", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip() == "error: nothing.jsonl: jobs file not found"
