"""Atomic writes: complete files only, nothing left behind, and the user's usual file mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from zoomout import Config, make_video
from zoomout.atomic import TEMPORARY_SUFFIXES, atomic_path, remove_leftovers, temporary_beside
from zoomout.inspection import render_mask_video
from zoomout.sound import write_sound

TINY = dict(width_px=96, height_px=160, slots=2, seconds_per_slot=0.5, fps=24, hold_start_s=0.25, hold_end_s=0.25)


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    """Run the test under a umask, restored afterwards; yields the mode a new file should get."""
    previous = os.umask(request.param)
    try:
        yield 0o666 & ~request.param
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_path_gives_the_umask_mode_and_leaves_nothing_on_failure(tmp_path, umask):
    target = tmp_path / "a.bin"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"done")
    assert target.read_bytes() == b"done" and mode(target) == umask
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError
    assert target.read_bytes() == b"done"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_temporary_beside_is_found_by_remove_leftovers(tmp_path):
    target = tmp_path / "v.mp4"
    for suffix in TEMPORARY_SUFFIXES:
        with temporary_beside(target, suffix) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".v.mp4.") and tmp.name.endswith(suffix)
            assert remove_leftovers(target) == [tmp]  # as after a kill
    (tmp_path / ".v.mp4.notes.txt").write_text("a user's file")
    assert remove_leftovers(target) == []


@pytest.mark.slow
def test_every_output_gets_the_users_usual_mode(tmp_path, small_cat, umask):
    out = tmp_path / "v.mp4"
    result = make_video(
        [small_cat], out, Config(**TINY), save_slots_to=tmp_path / "slots", contact_sheet=tmp_path / "sheet.png"
    )
    masks = render_mask_video(result.manifest, tmp_path / "mask.mp4")
    report = write_sound(Config(**TINY), tmp_path / "s.wav", spectrogram=tmp_path / "s.png")
    written = [out, result.manifest_path, tmp_path / "sheet.png", masks.path, report.path, report.spectrogram]
    written += sorted((tmp_path / "slots").iterdir())
    cached = [p for p in Path(os.environ["ZOOMOUT_CACHE"]).rglob("*.png")]
    assert cached and len(written) > 6
    assert {str(p): oct(mode(p)) for p in written + cached} == {str(p): oct(umask) for p in written + cached}
