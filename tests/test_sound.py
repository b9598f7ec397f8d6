"""The sound stage, measured on the rendered track: loudness, peaks, hit timing, the glissando, the flock, beat sync."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import signal
from scipy.io import wavfile

from zoomout import Config
from zoomout.errors import ConfigError, OutputError
from zoomout.mastering import loudness_lufs, normalise_loudness, true_peak_dbtp
from zoomout.plan import plan_timeline, plan_video
from zoomout.sound import SoundError, make_soundtrack, write_sound
from zoomout.sound_design import RATE, flock_schedule, shepard_glissando

SHORT = dict(slots=4, seconds_per_slot=1.0, hold_start_s=0.5, hold_end_s=1.0)


def hit_onsets(audio: np.ndarray, count: int, window_s: float = 0.02) -> tuple[np.ndarray, float]:
    """The `count` strongest low-band (20–300 Hz) onsets, in s, and how much weaker the next one is.

    Onset strength is log(energy in the next 20 ms / energy in the last 20 ms), every 1 ms, on
    a causal filter so nothing rings before an attack.
    """
    low = signal.sosfilt(signal.butter(2, (20, 300), "bandpass", fs=RATE, output="sos"), audio.mean(axis=1))
    energy = np.concatenate([[0.0], np.cumsum(low.astype(np.float64) ** 2)])
    w, hop = int(window_s * RATE), RATE // 1000
    at = np.arange(w, len(low) - w, hop)
    strength = np.log((energy[at + w] - energy[at] + 1e-12) / (energy[at] - energy[at - w] + 1e-12))
    peaks, _ = signal.find_peaks(strength, distance=300)
    order = np.argsort(strength[peaks])[::-1]
    return np.sort(at[peaks[order[:count]]]) / RATE, strength[peaks[order[count]]] / strength[peaks[order[count - 1]]]


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    wavfile.write(path, rate, np.round(np.clip(samples, -1, 1) * 32767).astype(np.int16))
    return path


@pytest.mark.parametrize("preset", ["eerie", "calm"])
def test_designed_sound_is_at_target_loudness_below_ceiling(preset):
    config = Config(**SHORT, sound=preset)
    audio = make_soundtrack(config, plan_video(config))
    assert audio.dtype == np.float32 and audio.shape == (plan_video(config).audio_samples, 2)
    assert abs(loudness_lufs(audio) - (-14.0)) <= 0.5
    assert true_peak_dbtp(audio) <= -1.0
    assert np.abs(audio).max() < 1.0


@pytest.mark.parametrize(
    "timing",
    [dict(fps=24, seconds_per_slot=0.7, hold_start_s=0.0, hold_end_s=0.0), dict(fps=25, ease="in-out"), dict(fps=60, slots=1)],
)
def test_length_equals_the_video_to_the_sample(timing):
    config = Config(**{**SHORT, **timing})
    plan = plan_video(config)
    assert len(make_soundtrack(config, plan)) == plan.audio_samples == plan.frame_count * RATE // plan.fps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hits_land_on_the_slot_changes(seed):
    config = Config(**SHORT, sound_seed=seed)
    plan = plan_video(config)
    onsets, next_ratio = hit_onsets(make_soundtrack(config, plan), plan.slots)
    assert np.abs(onsets - np.array(plan.slot_change_times_s)).max() <= 0.010
    assert next_ratio < 0.8  # the hits stand out from everything else in the low band


def test_glissando_pitch_rises_the_whole_time_while_its_spectrum_stays():
    config = Config(slots=12, seconds_per_slot=0.5)  # the glissando rises a third of an octave per slot
    plan = plan_video(config)
    octaves_per_s = plan.slots / (3 * plan.zoom_s)
    tone = shepard_glissando(plan.audio_samples, octaves_per_s)
    freqs, times, spectrum = signal.stft(tone, fs=RATE, nperseg=8192, noverlap=8192 - 2400)
    power = np.abs(spectrum[(freqs > 40) & (freqs < 8000)]) ** 2
    freqs = freqs[(freqs > 40) & (freqs < 8000)]
    # pitch class: the power-weighted circular mean of log2(f) modulo one octave
    pitch_class = np.unwrap(np.angle((power * np.exp(2j * np.pi * np.log2(freqs))[:, None]).sum(axis=0))) / (2 * np.pi)
    centroid_octaves = np.log2((power * freqs[:, None]).sum(axis=0) / power.sum(axis=0))
    inner = slice(2, -2)  # frames that see only the tone, not the padding
    steps = np.diff(pitch_class[inner])
    assert steps.min() > 0.5 * octaves_per_s * (times[1] - times[0])  # rising in every frame
    rise = pitch_class[inner][-1] - pitch_class[inner][0]
    assert rise == pytest.approx(octaves_per_s * (times[inner][-1] - times[inner][0]), rel=0.02)
    assert rise > 3.0 and np.ptp(centroid_octaves[inner]) < 0.25  # 3+ octaves up, the spectrum stays put


def test_flock_grows_denser_with_each_slot():
    config = Config(slots=6, seconds_per_slot=1.0, hold_start_s=0.5, hold_end_s=0.5)
    plan = plan_video(config)
    per_slot = np.bincount([call.slot for call in flock_schedule(plan, np.random.default_rng(0))], minlength=7)[1:]
    assert np.all(np.diff(per_slot) >= 0) and per_slot[-1] >= 4 * per_slot[0]
    # and on the rendered track: energy above 2 kHz (birds, ticks, glissando) per slot
    high = signal.sosfilt(signal.butter(4, 2000, "highpass", fs=RATE, output="sos"), make_soundtrack(config, plan), axis=0)
    bounds = np.round(np.array((plan.hold_start_s, *plan.slot_change_times_s)) * RATE).astype(int)
    energy = np.array([np.mean(high[a:b] ** 2) for a, b in zip(bounds[:-1], bounds[1:])])
    assert np.corrcoef(np.arange(6), energy)[0, 1] > 0.8 and energy[-2:].mean() > 2 * energy[:2].mean()


def test_flock_spreads_across_the_stereo_field():
    calls = flock_schedule(plan_video(Config()), np.random.default_rng(0))
    pans = np.array([call.pan for call in calls])
    assert pans.min() < -0.6 and pans.max() > 0.6 and {call.kind for call in calls} == {"chirp", "caw"}


def test_same_seed_same_samples_other_seed_other_samples():
    plan = plan_video(Config(**SHORT))
    first = make_soundtrack(Config(**SHORT, sound_seed=3), plan)
    assert np.array_equal(first, make_soundtrack(Config(**SHORT, sound_seed=3), plan))
    assert not np.allclose(first, make_soundtrack(Config(**SHORT, sound_seed=4), plan), atol=1e-3)


@pytest.mark.parametrize(("amplitude", "seconds"), [(0.01, 2.0), (1.0, 9.0)])
def test_user_file_is_normalised_and_fitted(tmp_path, amplitude, seconds):
    """A quiet short file (looped) and a clipped square wave (limited) both end at −14 LUFS, ≤ −1 dBTP."""
    t = np.arange(int(seconds * 22050)) / 22050
    wave = np.sin(2 * np.pi * 330 * t) if amplitude < 1 else np.sign(np.sin(2 * np.pi * 110 * t))
    path = write_wav(tmp_path / "user.wav", amplitude * wave, rate=22050)
    config = Config(**SHORT, sound=str(path))
    plan = plan_video(config)
    audio = make_soundtrack(config, plan)
    assert len(audio) == plan.audio_samples
    assert abs(loudness_lufs(audio) - (-14.0)) <= 0.5 and true_peak_dbtp(audio) <= -1.0
    if seconds < plan.duration_s:  # looped: the tone is still there after the file's end
        assert np.abs(audio[int(2.5 * RATE) : int(3 * RATE)]).max() > 0.1


def test_normalise_leaves_silence_silent():
    silence = np.zeros((RATE, 2))
    assert not normalise_loudness(silence).any()


def click_track(bpm: float, first_s: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Stereo clicks (5 ms decaying 1 kHz bursts on a quiet pad) at `bpm` from `first_s`; and their times."""
    times = np.arange(first_s, seconds - 0.1, 60 / bpm)
    t = np.arange(int(seconds * RATE)) / RATE
    audio = 0.02 * np.sin(2 * np.pi * 220 * t)
    burst_t = np.arange(int(0.03 * RATE)) / RATE
    burst = np.sin(2 * np.pi * 1000 * burst_t) * np.exp(-burst_t / 0.005)
    for time_s in times:
        start = round(time_s * RATE)
        audio[start : start + len(burst)] += 0.8 * burst
    return np.stack([audio, audio], axis=1), times


@pytest.mark.parametrize(("bpm", "ease"), [(100.0, "linear"), (128.0, "linear"), (90.0, "in-out")])
def test_beat_sync_moves_slot_changes_onto_the_beats(tmp_path, bpm, ease):
    audio, clicks = click_track(bpm, first_s=0.37, seconds=20.0)
    path = write_wav(tmp_path / "clicks.wav", audio)
    config = Config(**SHORT, ease=ease, sound=str(path), sound_sync="beats")
    timeline = plan_timeline(config)
    sync = timeline.sync
    assert abs(sync.seconds_per_slot / config.seconds_per_slot - 1) <= 0.25
    assert timeline.config.seconds_per_slot == sync.seconds_per_slot
    in_track = np.array(timeline.plan.slot_change_times_s) + sync.offset_s
    assert np.abs(in_track[:, None] - clicks[None, :]).min(axis=1).max() <= 0.010
    # the rendered track starts at the offset: a click sits on every slot change
    rendered = make_soundtrack(timeline.config, timeline.plan, timeline.track)
    for change_s in timeline.plan.slot_change_times_s:
        window = slice(round((change_s - 0.1) * RATE), round((change_s + 0.1) * RATE))
        loudest = np.argmax(np.abs(rendered[window, 0])) / RATE + change_s - 0.1
        assert abs(loudest - change_s) <= 0.010


def test_beat_sync_stays_within_a_quarter(tmp_path):
    """At 40 BPM no whole number of beats fits 1 s ± 25 %: the best try keeps the limit."""
    audio, _ = click_track(40.0, first_s=0.2, seconds=30.0)
    config = Config(**SHORT, sound=str(write_wav(tmp_path / "slow.wav", audio)), sound_sync="beats")
    assert 0.75 <= plan_timeline(config).config.seconds_per_slot <= 1.25


@pytest.mark.parametrize("kind", ["white noise", "held tone"])
def test_beat_sync_says_when_there_is_no_beat(tmp_path, kind):
    t = np.arange(20 * RATE) / RATE
    mono = 0.3 * np.random.default_rng(0).standard_normal(len(t)) if kind == "white noise" else 0.3 * np.sin(2 * np.pi * 220 * t)
    config = Config(**SHORT, sound=str(write_wav(tmp_path / "steady.wav", np.stack([mono, mono], 1))), sound_sync="beats")
    with pytest.raises(SoundError, match="^sound_sync should be none for this sound file: it has no clear beat"):
        plan_timeline(config)


def test_clear_beats_report_their_clarity(tmp_path):
    audio, _ = click_track(120.0, first_s=0.2, seconds=20.0)
    config = Config(**SHORT, sound=str(write_wav(tmp_path / "clicks.wav", audio)), sound_sync="beats")
    assert plan_timeline(config).sync.clarity > 0.5


@pytest.mark.slow
def test_make_video_says_when_a_sparse_track_stays_quiet(tmp_path, small_cat):
    from zoomout import make_video

    clicks = np.zeros(8 * RATE)  # a 2 ms click a second, silence between
    burst_t = np.arange(int(0.002 * RATE)) / RATE
    for start in range(0, len(clicks), RATE):
        clicks[start : start + len(burst_t)] = 0.5 * np.sin(2 * np.pi * 3000 * burst_t)
    sound = write_wav(tmp_path / "sparse.wav", np.stack([clicks, clicks], axis=1))
    config = Config(width_px=96, height_px=160, slots=1, seconds_per_slot=1.0, engine="classic", sound=str(sound))
    result = make_video([small_cat], tmp_path / "v.mp4", config, cache_dir=None)
    note = next(n for n in result.notes if n.startswith("sound: your track reaches"))
    reached = float(note.split("reaches ")[1].split(" LUFS")[0])
    assert reached < -15 and "not -14" in note


def test_eerie_track_rings_out_instead_of_stopping_loud():
    """The final boom decays over the end hold: the last 100 ms are far quieter than the loudest 100 ms."""
    config = Config(**SHORT)
    audio = make_soundtrack(config, plan_video(config)).mean(axis=1)
    window = RATE // 10
    rms = np.sqrt((audio[: len(audio) // window * window].reshape(-1, window) ** 2).mean(axis=1))
    assert rms[-1] < 0.05 * rms.max(), (rms[-1], rms.max())


@pytest.mark.parametrize(
    ("option", "value"),
    [("sound", ""), ("sound", 3), ("sound_seed", -1), ("sound_seed", 1.5), ("sound_seed", 2**32), ("sound_sync", "bars")],
)
def test_invalid_sound_options_are_refused(option, value):
    with pytest.raises(ConfigError) as error:
        Config(**{option: value})
    message = str(error.value)
    assert option in message and "\n" not in message and (repr(value) in message or str(value) in message)


def test_beat_sync_needs_an_audio_file():
    with pytest.raises(ConfigError, match="sound_sync 'beats' needs sound to be an audio file"):
        Config(sound="eerie", sound_sync="beats")


def test_missing_sound_file_names_the_presets(tmp_path):
    config = Config(**SHORT, sound=str(tmp_path / "erie"))
    with pytest.raises(SoundError, match="sound file not found .presets: eerie, calm, none"):
        make_soundtrack(config, plan_video(config))


@pytest.mark.parametrize(("output", "message"), [("x.mp3", "should be a .wav"), ("no/dir/x.wav", "does not exist")])
def test_write_sound_refuses_bad_outputs(tmp_path, output, message):
    with pytest.raises(OutputError, match=message):
        write_sound(Config(**SHORT), tmp_path / output)
    with pytest.raises(SoundError, match="is 'none'"):
        write_sound(Config(**SHORT, sound="none"), tmp_path / "x.wav")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "zoomout", *args], cwd=cwd, capture_output=True, text=True, env=env)


def test_cli_renders_the_sound_and_its_spectrogram(tmp_path):
    done = run_cli("sound", "--slots", "3", "--seconds-per-slot", "1", "-o", "e.wav", "--spectrogram", "e.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote e.wav" in done.stderr and "LUFS" in done.stderr
    rate, pcm = wavfile.read(tmp_path / "e.wav")
    plan = plan_video(Config(slots=3, seconds_per_slot=1.0))
    assert rate == RATE and pcm.shape == (plan.audio_samples, 2) and pcm.dtype == np.int16
    image = Image.open(tmp_path / "e.png")
    assert image.mode == "RGB" and image.height > 400 and image.width > 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.png", "e.wav"]  # no temp files left


def test_cli_sound_errors_are_one_line(tmp_path):
    done = run_cli("sound", "--sound", "nope.wav", "-o", "x.wav", cwd=tmp_path)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and "nope.wav: sound file not found" in lines[0]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("bpm", "warned"), [(120.0, False), (40.0, True)])
def test_make_video_says_how_well_the_beats_fit(tmp_path, small_cat, bpm, warned):
    from zoomout import make_video

    audio, _ = click_track(bpm, first_s=0.2, seconds=30.0)
    sound = str(write_wav(tmp_path / "beats.wav", audio))
    config = Config(width_px=96, height_px=160, slots=2, seconds_per_slot=1.0, fps=24, sound=sound, sound_sync="beats", label=None)
    notes = make_video([small_cat], tmp_path / "synced.mp4", config).notes
    note = next(n for n in notes if n.startswith("slot changes on the beats"))
    assert ("no whole number of beats fits" in note) is warned
