"""End to end: the library call and the command line, decoded back."""

import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from scipy.io import wavfile

from zoomout import Config, OutputError, make_video
from zoomout.encode import EncodeSettings, Mp4Writer
from zoomout.errors import ZoomoutError

SMALL = dict(width_px=96, height_px=160, slots=2, seconds_per_slot=0.5, fps=24, hold_start_s=0.25, hold_end_s=0.25)


@pytest.fixture
def tone(tmp_path) -> Path:
    """3 s of a 440 Hz tone, mono 22.05 kHz int16: resampled and upmixed by the sound stage."""
    rate = 22_050
    t = np.arange(3 * rate) / rate
    path = tmp_path / "tone.wav"
    wavfile.write(path, rate, (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16))
    return path


def decode(path: Path):
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        info = {
            "codec": video.codec_context.name,
            "size": (video.width, video.height),
            "pix_fmt": video.codec_context.pix_fmt,
            "primaries": video.codec_context.color_primaries,
            "audio": [(s.codec_context.name, s.sample_rate, s.channels) for s in container.streams.audio],
        }
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        audio = [f.to_ndarray() for f in container.decode(audio=0)] if container.streams.audio else []
    info["audio_samples"] = sum(a.shape[1] for a in audio)
    return info, frames, (np.concatenate(audio, axis=1) if audio else None)


def test_make_video_end_to_end_with_sound(tmp_path, small_cat, tone):
    out = tmp_path / "out.mp4"
    # no label: the frames are compared with the slots below
    result = make_video([small_cat], out, Config(**SMALL, sound=str(tone), label=None), save_slots_to=tmp_path / "slots")
    info, frames, audio = decode(out)
    plan = result.plan
    assert info["codec"] == "h264" and info["size"] == (96, 160) and info["pix_fmt"] == "yuv420p"
    assert info["primaries"] == 1  # BT.709
    assert len(frames) == plan.frame_count == round((0.25 + 2 * 0.5 + 0.25) * 24)
    assert info["audio"] == [("aac", 48_000, 2)]
    # AAC adds a priming delay of one frame; the track otherwise matches the video to the frame
    assert abs(info["audio_samples"] - plan.audio_samples) <= 2048
    assert np.abs(audio).max() <= 10 ** (-1 / 20) + 0.05
    assert sorted(p.name for p in (tmp_path / "slots").iterdir())[-1] == "slot_02.png"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp.mp4")] == []
    # the zoom starts on the photo and ends on the deepest slot
    assert np.abs(frames[0].astype(int) - result.slots.images[0].astype(int)).mean() < 6
    assert np.abs(frames[-1].astype(int) - result.slots.images[-1].astype(int)).mean() < 6


def test_make_video_without_sound_has_no_audio_stream(tmp_path, small_cat):
    out = tmp_path / "silent.mp4"
    make_video([small_cat], out, Config(**SMALL, sound="none"))
    info, frames, _ = decode(out)
    assert info["audio"] == [] and len(frames) == 36


def test_same_seed_same_video_frames(tmp_path, small_cat):
    a = make_video([small_cat], tmp_path / "a.mp4", Config(**SMALL, seed=5))
    b = make_video([small_cat], tmp_path / "b.mp4", Config(**SMALL, seed=5))
    for x, y in zip(a.slots.images, b.slots.images):
        np.testing.assert_array_equal(x, y)
    assert decode(tmp_path / "a.mp4")[1][20].tobytes() == decode(tmp_path / "b.mp4")[1][20].tobytes()


def test_x264_is_told_the_cpu_s_features_below_avx512_only_where_it_has_avx512():
    from zoomout.encode import x264_cpu_features

    avx2 = {"MMX": True, "SSE": True, "SSE2": True, "SSE41": True, "AVX": True, "AVX2": True, "BMI2": True, "XOP": False}
    assert x264_cpu_features(avx2) is None  # x264 detects the features itself
    assert x264_cpu_features({**avx2, "AVX512F": True, "AVX512BW": True}) == "MMX2,SSE,SSE2,SSE4.1,AVX,BMI2,AVX2"
    assert x264_cpu_features({"ASIMD": True, "NEON": True}) is None


def test_interrupted_writer_leaves_nothing(tmp_path):
    out = tmp_path / "broken.mp4"
    with pytest.raises(KeyboardInterrupt):
        with Mp4Writer(out, EncodeSettings(64, 64, 24)) as writer:
            writer.write(np.zeros((64, 64, 3), np.uint8))
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_wrong_frame(tmp_path):
    with pytest.raises(ValueError, match="frame should be"):
        with Mp4Writer(tmp_path / "x.mp4", EncodeSettings(64, 64, 24)) as writer:
            writer.write(np.zeros((64, 66, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("output", "message"),
    [("out.avi", "should be a .mp4"), ("missing/out.mp4", "does not exist"), ("", "is a directory")],
)
def test_bad_output_refused_before_work(tmp_path, small_cat, output, message):
    target = tmp_path / output if output else tmp_path
    if not output:
        target = tmp_path / "dir.mp4"
        target.mkdir()
    with pytest.raises(OutputError, match=message):
        make_video([small_cat], target, Config(**SMALL))


def test_output_equal_to_input_refused(tmp_path, small_cat):
    fake = tmp_path / "photo.mp4"
    fake.write_bytes(small_cat.read_bytes())
    with pytest.raises(OutputError, match="overwrite an input"):
        make_video([fake], fake, Config(**SMALL))


def test_bad_sound_file_fails_before_outpainting(tmp_path, small_cat):
    bad = tmp_path / "noise.mp3"
    bad.write_text("not audio")
    with pytest.raises(ZoomoutError, match="noise.mp3"):
        make_video([small_cat], tmp_path / "o.mp4", Config(**SMALL, sound=str(bad)))
    assert not (tmp_path / "o.mp4").exists()


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "zoomout", *args], cwd=cwd, capture_output=True, text=True, env=env)


def test_cli_makes_a_video(tmp_path, small_cat):
    done = run_cli(
        "make", str(small_cat), "-o", "cli.mp4", "--size", "96x160", "--slots", "1", "--seconds-per-slot", "0.5",
        "--fps", "24", "--seed", "7", "--save-slots", "slots", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "wrote cli.mp4" in done.stderr
    assert (tmp_path / "cli.mp4").stat().st_size > 1000
    assert (tmp_path / "slots" / "mask_01.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["make", "nope.jpg", "-o", "o.mp4"], "nope.jpg"),
        (["make", "{cat}", "-o", "o.mp4", "--zoom", "1.0"], "--zoom should be in"),
        (["make", "{cat}", "-o", "o.mp4", "--slots", "0"], "--slots should be in"),
        (["make", "{cat}", "-o", "o.mp4", "--fps", "0"], "--fps should be one of"),
        (["make", "{cat}", "-o", "o.mp4", "--size", "1x1"], "--size width should be"),
        (["make", "{cat}", "-o", "o.mp4", "--size", "101x200"], "--size width should be an even"),
        (["make", "{cat}", "-o", "o.mp4", "--zoom", "nan"], "--zoom should be a finite"),
        (["make", "{cat}", "-o", "o.mp4", "--engine", "magic"], "--engine should be one of"),
        (["make", "{cat}", "-o", "o.mp4", "--preset", "turbo"], "--preset should be one of"),
        (["make", "{cat}", "-o", "o.mp4", "--duration", "0.1"], "--duration should be in"),
        (["make", "{cat}", "-o", "o.mp4", "--label", "a [b]", "--no-label"], "--label and --no-label cannot be given together"),
        (["make", "{cat}", "-o", "o.mp4", "--duration", "5", "--seconds-per-slot", "2"], "--duration and --seconds-per-slot"),
        (["make", "{cat}", "-o", "o.mp4", "--hold", "1", "--hold-start", "2"], "--hold and --hold-start"),
        (["make", "{cat}", "-o", "o.mp4", "--nest", "--slots-per-photo", "2"], "--nest and --slots-per-photo"),
        (["make", "{cat}", "-o", "o.mp4", "--save-slots", "{cat}"], "is an existing file, not a folder"),
        (["make", "{cat}", "-o", "o.mp4", "--sign-cert", "{cat}"], "--sign-cert should come with --sign-key"),
        (["make", "{cat}", "-o", "no/such/dir/o.mp4"], "does not exist"),
    ],
)
def test_cli_user_errors_are_one_line_without_traceback(tmp_path, small_cat, args, message):
    done = run_cli(*[a.format(cat=small_cat) for a in args], cwd=tmp_path)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not list(tmp_path.glob("**/*.mp4"))


def test_cli_lists_engines(tmp_path):
    done = run_cli("engines", cwd=tmp_path)
    assert done.returncode == 0 and "classic" in done.stdout and "yes" in done.stdout


@pytest.mark.parametrize("stage", ["chain", "render"])
def test_progress_callback_can_cancel_and_nothing_is_written(tmp_path, small_cat, stage):
    class Cancelled(Exception):
        pass

    def progress(event):
        if event.stage == stage and event.done == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        make_video([small_cat], tmp_path / "c.mp4", Config(**SMALL), progress=progress)
    assert list(tmp_path.glob("*.mp4")) == []


def test_progress_counts_the_outpainted_slots_of_every_chain(tmp_path, small_cat):
    """8 slots make "8/8", not "9/9": the photos' slots 0 are shown but not counted; a montage counts all its chains."""
    other = tmp_path / "other.jpg"
    other.write_bytes(small_cat.read_bytes())
    events = []
    config = Config(**{**SMALL, "slots": 5, "engine": "classic", "sound": "none"})
    make_video([small_cat, other], tmp_path / "m.mp4", config, cache_dir=None, progress=lambda e: events.append(e))
    chain = [(e.done, e.total) for e in events if e.stage == "chain"]
    assert len(chain) == 5 + 2  # every slot's image, the two photos' slots 0 included
    assert {total for _, total in chain} == {5}
    assert [done for done, _ in chain] == sorted(done for done, _ in chain) and chain[-1] == (5, 5)
    assert [done for done, _ in chain].count(0) == 1  # the first photo's slot: nothing outpainted yet


def test_killed_run_resumes_from_cached_slots_and_retiming_reuses_them(tmp_path, small_cat):
    config = Config(**{**SMALL, "slots": 3})
    calls = []

    def stop_after_two_new_slots(event):
        if event.stage == "chain":
            calls.append(event.done)
            if event.done == 1:
                raise KeyboardInterrupt  # killed after slot 1 was stored

    with pytest.raises(KeyboardInterrupt):
        make_video([small_cat], tmp_path / "k.mp4", config, progress=stop_after_two_new_slots)
    resumed = make_video([small_cat], tmp_path / "k.mp4", config)
    # slots 0 and 1 came back from the cache, and the slot the worker was making when it was stopped
    assert resumed.slots.reused >= 2
    retimed = make_video([small_cat], tmp_path / "r.mp4", Config(**{**SMALL, "slots": 3, "seconds_per_slot": 1.0, "fps": 30}))
    assert retimed.slots.reused == 4
    fresh = make_video([small_cat], tmp_path / "f.mp4", config, fresh=True)
    assert fresh.slots.reused == 0
    for a, b in zip(resumed.slots.images, fresh.slots.images):
        np.testing.assert_array_equal(a, b)  # the cache is lossless: same slots as outpainting anew
    reseeded = make_video([small_cat], tmp_path / "s.mp4", Config(**{**SMALL, "slots": 3, "seed": 9}))
    assert reseeded.slots.reused == 0


def test_unwritable_cache_is_a_note_not_a_failure(tmp_path, small_cat):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = make_video([small_cat], tmp_path / "o.mp4", Config(**SMALL), cache_dir=blocker / "cache")
    assert any("slot cache" in note for note in result.notes)
    assert (tmp_path / "o.mp4").exists()


def test_cli_cache_list_and_clear(tmp_path, small_cat):
    assert run_cli("make", str(small_cat), "-o", "a.mp4", "--size", "96x160", "--slots", "1", cwd=tmp_path).returncode == 0
    listed = run_cli("cache", "--list", cwd=tmp_path)
    assert listed.returncode == 0 and "1 chains" in listed.stdout
    cleared = run_cli("cache", "--clear", cwd=tmp_path)
    assert "removed 1 cached chains" in cleared.stdout
    assert "0 chains" in run_cli("cache", "--list", cwd=tmp_path).stdout


def test_a_smaller_video_of_the_same_shape_reuses_the_slots(tmp_path, small_cat):
    big = make_video([small_cat], tmp_path / "big.mp4", Config(**{**SMALL, "width_px": 192, "height_px": 320}))
    small = make_video([small_cat], tmp_path / "small.mp4", Config(**SMALL))  # 96x160: same 3:5 shape
    assert small.slots.reused == len(small.slots.images)
    assert small.slots.images[0].shape == (320, 192, 3)  # the cached slots, rendered smaller
    assert any("rendered at 96x160" in note for note in small.notes)
    info, frames, _ = decode(tmp_path / "small.mp4")
    assert info["size"] == (96, 160) and len(frames) == small.plan.frame_count
    other_shape = make_video([small_cat], tmp_path / "sq.mp4", Config(**{**SMALL, "width_px": 96, "height_px": 96}))
    assert other_shape.slots.reused == 0
    assert big.slots.reused == 0


def test_disk_failing_while_encoding_is_a_one_line_error_and_leaves_nothing(tmp_path, small_cat, monkeypatch):
    from zoomout import encode

    def full_disk(self, frame):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(encode.Mp4Writer, "write", full_disk)
    with pytest.raises(OutputError, match="writing the video failed \\(No space left on device\\)"):
        make_video([small_cat], tmp_path / "full.mp4", Config(**SMALL))
    assert [p.name for p in tmp_path.iterdir()] == [small_cat.name]


def test_prune_removes_least_recently_used_chains_but_never_those_kept(tmp_path):
    import os

    from zoomout.cache import prune

    for age, key in enumerate(["new", "kept-a", "old", "kept-b"]):
        folder = tmp_path / key / "96x160"
        folder.mkdir(parents=True)
        (folder / "slot_00.png").write_bytes(b"x" * 1000)
        os.utime(tmp_path / key, (1000 - age, 1000 - age))  # "kept-b" least recently used
    assert prune(tmp_path, limit_bytes=1500, keep=["kept-a", "kept-b"]) == ["old", "new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept-a", "kept-b"]
