"""The command line as a newcomer meets it: help, versions, brackets printed verbatim, exit codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from peak_memory import peak_rss

from zoomout import __version__


def zoomout(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zoomout", *args], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=600,
    )  # fmt: skip


TINY = ["--size", "96x160", "--slots", "2", "--seconds-per-slot", "0.5", "--fps", "24", "--sound", "none", "--engine", "classic"]


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_short_and_long_help(tmp_path, flag):
    done = zoomout(flag, cwd=tmp_path)
    assert done.returncode == 0 and "make" in done.stdout
    make = zoomout("make", flag, cwd=tmp_path)
    assert make.returncode == 0
    for panel in ("Input and output", "Timing", "Picture", "Montage", "Engine", "Sound", "Honesty", "Cache"):
        assert panel in make.stdout, panel
    assert "make [OPTIONS] PHOTO..." in make.stdout and "{PHOTO}" not in make.stdout
    inspect = zoomout("inspect", flag, cwd=tmp_path)
    assert "inspect [OPTIONS] VIDEO" in inspect.stdout and "{" not in inspect.stdout
    for shown in (done, make, inspect, zoomout("cache", flag, cwd=tmp_path)):
        assert "<bool>" not in shown.stdout  # flags (-h, --json, --list, --loop) show without type noise
    assert "<list[Path]>" not in make.stdout and "<Path>" not in inspect.stdout  # nor do arguments


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_flags(tmp_path, flag):
    done = zoomout(flag, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == __version__


@pytest.mark.slow
def test_brackets_in_names_labels_and_messages_print_verbatim(tmp_path, small_cat):
    photo = tmp_path / "photo [red].jpg"
    photo.write_bytes(small_cat.read_bytes())
    out = "v [1].mp4"
    made = zoomout("make", photo.name, "-o", out, *TINY, "--size", "270x480", "--label", "Made with AI [zoomout]", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "wrote v [1].mp4" in made.stderr
    seen = zoomout("inspect", out, cwd=tmp_path)
    assert seen.returncode == 0, seen.stderr
    assert "'Made with AI [zoomout]'" in seen.stdout and "photo [red].jpg" in seen.stdout
    made = zoomout("make", photo.name, "-o", "w.mp4", *TINY, "--label", "[/]", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    seen = zoomout("inspect", "w.mp4", cwd=tmp_path)
    assert seen.returncode == 0 and "'[/]'" in seen.stdout, seen.stderr
    sound = zoomout("sound", "-o", "s [i].wav", "--slots", "1", "--seconds-per-slot", "0.5", cwd=tmp_path)
    assert sound.returncode == 0 and "wrote s [i].wav" in sound.stderr, sound.stderr


@pytest.mark.slow
def test_inspect_exits_non_zero_when_the_video_changed(tmp_path, small_cat):
    assert zoomout("make", str(small_cat), "-o", "v.mp4", *TINY, cwd=tmp_path).returncode == 0
    assert zoomout("inspect", "v.mp4", cwd=tmp_path).returncode == 0
    import av

    with av.open(str(tmp_path / "v.mp4")) as source, av.open(str(tmp_path / "edited.mp4"), "w") as target:
        stream = target.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 96, 160, "yuv420p"
        for key, value in source.metadata.items():
            target.metadata[key] = value  # the manifest travels with the re-encode
        for frame in source.decode(video=0):
            target.mux(stream.encode(frame.reformat(format="yuv420p")))
        target.mux(stream.encode(None))
    changed = zoomout("inspect", "edited.mp4", cwd=tmp_path)
    assert changed.returncode == 1 and "CHANGED" in changed.stdout


@pytest.mark.slow
def test_mask_video_of_a_montage_and_a_bad_mask_path(tmp_path, small_cat):
    other = tmp_path / "other.jpg"
    other.write_bytes(small_cat.read_bytes())
    made = zoomout("make", str(small_cat), str(other), "-o", "m.mp4", *TINY, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    masks = zoomout("inspect", "m.mp4", "--mask-video", "mask.mp4", cwd=tmp_path)
    assert masks.returncode == 0 and "wrote mask.mp4" in masks.stderr, masks.stderr
    bad = zoomout("inspect", "m.mp4", "--mask-video", "/no/such/dir/m.mp4", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == "error: /no/such/dir/m.mp4: folder /no/such/dir does not exist"


def test_dry_run_counts_the_photo_slot_apart_and_warns_of_missing_glyphs(tmp_path, small_cat):
    done = zoomout("make", str(small_cat), "-o", "v.mp4", *TINY, "--label", "AI ✨ 很好", "--dry-run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "slots: 2 outpainted + 1 photo slot(s)" in done.stdout
    assert "no glyph for ✨ 很 好" in done.stdout
    assert not list(tmp_path.glob("*.mp4"))


@pytest.mark.slow
@pytest.mark.parametrize("size", ["180x320", "540x960"])
def test_the_dry_run_memory_estimate_bounds_the_real_run_s_peak(tmp_path, small_cat, size):
    """`--dry-run`'s memory figure is at least the real run's peak RSS, and not far above it (it was half of it once)."""
    args = ["make", str(small_cat), "-o", "v.mp4", "--size", size, "--slots", "3", "--engine", "classic", "--no-cache"]
    planned = zoomout(*args, "--dry-run", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    estimate_mb = float(re.search(r"memory: about (\d+) MB at peak", planned.stdout).group(1))
    peak_mb = peak_rss([sys.executable, "-m", "zoomout", *args], tmp_path) / 1e6
    assert peak_mb <= estimate_mb <= 1.5 * peak_mb, (estimate_mb, peak_mb)


def test_transition_with_one_photo_is_a_note_not_silence(tmp_path, small_cat):
    done = zoomout("make", str(small_cat), *TINY, "--transition", "flash", "--dry-run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "note: transition flash has no effect: one photo makes one part, with no next part to join" in done.stdout
    montage = zoomout("make", str(small_cat), str(small_cat), *TINY, "--transition", "flash", "--dry-run", cwd=tmp_path)
    assert montage.returncode == 0 and "transition" not in montage.stdout, montage.stderr


def test_errors_from_the_library_name_the_flags(tmp_path, small_cat):
    import numpy as np
    from scipy.io import wavfile

    noise = 0.3 * np.random.default_rng(0).standard_normal(20 * 48_000)
    wavfile.write(tmp_path / "noise.wav", 48_000, (noise.clip(-1, 1) * 32767).astype(np.int16))
    args = [*TINY[:-4], "--sound", "noise.wav", "--sound-sync", "beats", "--engine", "classic"]  # TINY ends with --sound none --engine classic
    for done in (
        zoomout("make", str(small_cat), *args, "--dry-run", cwd=tmp_path),
        zoomout("sound", "--sound", "noise.wav", "--sound-sync", "beats", cwd=tmp_path),
    ):
        assert done.returncode == 2 and done.stderr.startswith("error: --sound-sync should be none for this sound file"), done.stderr
    label = zoomout("make", str(small_cat), *TINY, "--label", "Made with AI [zoomout] " * 2, "--dry-run", cwd=tmp_path)
    assert label.returncode == 2 and label.stderr.startswith("error: --label should fit a 96x160 video"), label.stderr


def test_dry_run_refuses_what_the_run_refuses(tmp_path, small_cat):
    done = zoomout("make", str(small_cat), "-o", "v.mp4", *TINY, "--sign-cert", str(small_cat), "--dry-run", cwd=tmp_path)
    assert done.returncode == 2 and "error: --sign-cert should come with --sign-key: a certificate chain signs with its private key" in done.stderr


@pytest.mark.slow
def test_cache_list_names_photos_engine_size_and_date(tmp_path, small_cat):
    env = {"ZOOMOUT_CACHE": str(tmp_path / "cache")}
    assert zoomout("make", str(small_cat), "-o", "v.mp4", *TINY, cwd=tmp_path, env=env).returncode == 0
    listed = zoomout("cache", "--list", cwd=tmp_path, env=env)
    assert listed.returncode == 0
    row = next(line for line in listed.stdout.splitlines() if small_cat.name in line)
    assert "classic" in row and "96x160" in row and "min ago" in row
