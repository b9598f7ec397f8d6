"""The sound stage: a 48 kHz stereo track exactly as long as the video's timeline.

A designed preset (`eerie`, `calm`, see `sound_design`) or a user's audio file, normalised to
−14 LUFS integrated (BS.1770, pyloudnorm) with true peaks at or below −1 dBTP. With
`sound_sync='beats'` the slot changes first move onto the beats of the user's track.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np
import pyloudnorm
from PIL import Image, ImageDraw
from scipy import ndimage, signal
from scipy.io import wavfile

from .atomic import atomic_path
from .config import SOUND_PRESETS, Config
from .errors import ZoomoutError
from .plan import AUDIO_RATE_HZ, Plan, plan_video
from .sound_design import design_sound

RATE = AUDIO_RATE_HZ
FADE_OUT_S = 1.5
TARGET_LUFS = -14.0  # phones and short-video platforms
CEILING_DBTP = -1.0
SYNC_RANGE = (0.75, 1.25)  # seconds per slot may move this far to land on the beats


class SoundError(ZoomoutError):
    """The sound option or the user's audio file cannot be used."""


@dataclass(frozen=True)
class UserTrack:
    """A user's audio file decoded to (samples, 2) float32 at 48 kHz, and where in it the video starts."""

    path: Path
    samples: np.ndarray
    offset_s: float = 0.0


@dataclass(frozen=True)
class BeatSync:
    """How to land the slot changes on the track's beats: a new seconds per slot and a start offset."""

    seconds_per_slot: float
    offset_s: float  # the video starts this far into the track
    tempo_bpm: float
    beats_s: np.ndarray  # detected beats, seconds into the track
    error_s: float  # the largest distance from a slot change to its nearest beat


@dataclass(frozen=True)
class Timeline:
    """The plan of a video and the user's track that goes with it (None for a preset)."""

    config: Config  # with sound_sync='beats', seconds_per_slot is the synced one
    plan: Plan
    track: UserTrack | None
    sync: BeatSync | None = None


def plan_timeline(config: Config, photo_count: int = 1) -> Timeline:
    """Plan the video; with `sound_sync='beats'` first move its slot changes onto the track's beats."""
    track = read_user_track(config.sound)
    sync = None
    if config.sound_sync == "beats":
        assert track is not None, "Config refuses sound_sync='beats' without an audio file"
        sync = sync_to_beats(config, track.samples, photo_count)
        config = replace(config, seconds_per_slot=sync.seconds_per_slot, duration_s=None)
        track = replace(track, offset_s=sync.offset_s)
    return Timeline(config, plan_video(config, photo_count), track, sync)


def make_soundtrack(config: Config, plan: Plan, track: UserTrack | None = None) -> np.ndarray | None:
    """The video's sound track at −14 LUFS, ≤ −1 dBTP, or None for `sound='none'`.

    Returns
    -------
    (plan.audio_samples, 2) float32 ndarray in [-1, 1], or None
    """
    if config.sound == "none":
        return None
    if config.sound in SOUND_PRESETS:
        return normalise_loudness(design_sound(config.sound, plan, config.sound_seed))
    track = track or read_user_track(config.sound)
    start = round(track.offset_s * RATE)
    return normalise_loudness(fit_to_length(track.samples[start:], plan.audio_samples))


def read_user_track(sound: str) -> UserTrack | None:
    """The decoded audio file named by `sound`, or None for a preset or 'none'."""
    if sound == "none" or sound in SOUND_PRESETS:
        return None
    return UserTrack(Path(sound), decode_audio_file(Path(sound)))


def decode_audio_file(path: Path) -> np.ndarray:
    """Decode any audio PyAV can read, resampled to 48 kHz stereo float32, shape (samples, 2)."""
    if not path.is_file():
        raise SoundError(f"{path}: sound file not found (presets: {', '.join(SOUND_PRESETS)}, none)")
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
    chunks = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise SoundError(f"{path}: has no audio stream")
            for frame in container.decode(audio=0):
                chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray() for f in resampler.resample(None))
    except av.FFmpegError as error:
        raise SoundError(f"{path}: cannot decode audio ({error.strerror or error})") from None
    if not chunks:
        raise SoundError(f"{path}: audio stream is empty")
    return np.ascontiguousarray(np.concatenate(chunks, axis=1).T, dtype=np.float32)


def fit_to_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Trim or loop to `length` samples, fade in 10 ms and fade out the last 1.5 s."""
    if len(samples) == 0:
        raise SoundError("the sound track is empty from its start offset on")
    out = np.resize(samples, (length, 2)).astype(np.float64)  # np.resize repeats: a short track loops
    fade_in, fade_out = min(RATE // 100, length), min(int(FADE_OUT_S * RATE), length)
    out[:fade_in] *= np.linspace(0.0, 1.0, fade_in)[:, None]
    out[length - fade_out :] *= np.linspace(1.0, 0.0, fade_out)[:, None]
    return out


# ---------------------------------------------------------------------------------------------
# loudness


def loudness_lufs(samples: np.ndarray) -> float:
    """Integrated loudness (BS.1770-4, gated) of (n, 2) samples at 48 kHz; −inf for silence."""
    block = int(0.4 * RATE)
    if len(samples) < block:  # the meter needs one 400 ms block: measure the sound repeated
        samples = np.resize(samples, (block, samples.shape[1]))
    return float(pyloudnorm.Meter(RATE).integrated_loudness(samples))


def true_peak_dbtp(samples: np.ndarray) -> float:
    """True peak in dBTP, estimated on a 4× oversampled copy (BS.1770 annex 2)."""
    over = signal.resample_poly(samples, 4, 1, axis=0)
    peak = max(float(np.abs(over).max(initial=0.0)), float(np.abs(samples).max(initial=0.0)))
    return 20 * np.log10(peak) if peak > 0 else -np.inf


def normalise_loudness(samples: np.ndarray, target_lufs: float = TARGET_LUFS, ceiling_dbtp: float = CEILING_DBTP) -> np.ndarray:
    """Gain to `target_lufs` with peaks limited to `ceiling_dbtp` true peak; float32. Silence stays silent.

    Limiting takes a little loudness away, so the gain is raised by what was lost and the
    original is limited again; should the limited track's true peak (between samples) still
    pass the ceiling, the limiter's sample threshold comes down by the excess.
    """
    original = np.asarray(samples, dtype=np.float64)
    loudness = loudness_lufs(original)
    if not np.isfinite(loudness):
        return original.astype(np.float32)
    ceiling = 10 ** (ceiling_dbtp / 20)
    threshold = ceiling * 10 ** (-0.3 / 20)  # a little room for inter-sample peaks
    gain_db = target_lufs - loudness
    for _ in range(4):
        for _ in range(6):
            out, limited = limit_peaks(original * 10 ** (gain_db / 20), threshold)
            if not limited:
                break
            error_db = target_lufs - loudness_lufs(out)
            if abs(error_db) <= 0.05:
                break
            gain_db += error_db
        peak = 10 ** (true_peak_dbtp(out) / 20)
        if peak <= ceiling:
            break
        threshold *= ceiling / peak * 0.995
    else:  # not reached in practice: the ceiling wins over the loudness target
        out *= ceiling / peak
    return out.astype(np.float32)


def limit_peaks(samples: np.ndarray, limit: float, *, hold_s: float = 0.05, smooth_s: float = 0.02) -> tuple[np.ndarray, bool]:
    """Look-ahead peak limiter: a smooth gain, never above the one each sample needs to stay ≤ limit.

    The needed gain is min-filtered over ±hold then averaged over ±smooth (≤ hold), so every
    sample's gain is an average of values that are each at most its own need.
    """
    peak = np.abs(samples).max(axis=1)
    if peak.max(initial=0.0) <= limit:
        return samples, False
    need = np.minimum(1.0, limit / np.maximum(peak, 1e-12))
    gain = ndimage.minimum_filter1d(need, 2 * int(hold_s * RATE) + 1, mode="nearest")
    gain = ndimage.uniform_filter1d(gain, 2 * int(smooth_s * RATE) + 1, mode="nearest")
    return samples * gain[:, None], True


# ---------------------------------------------------------------------------------------------
# beat sync

BEAT_RATE_HZ = 24_000
BEAT_HOP = 120  # 5 ms frames
BEAT_WINDOW = 512
TEMPO_PRIOR_BPM = 120.0  # the tempo search prefers tempi near this, one octave wide (as librosa)
TIGHTNESS = 100.0  # how strictly beats keep the tempo in the dynamic programme (as librosa)


def track_beats(samples: np.ndarray) -> tuple[float, np.ndarray]:
    """Tempo (BPM) and beat times (s) of (n, 2) samples at 48 kHz.

    Ellis' dynamic-programming beat tracker (the one librosa uses): a spectral-flux onset
    envelope, a tempo from its autocorrelation weighted by a log-normal prior around 120 BPM,
    then the beat sequence that best balances onset strength against keeping that tempo.
    """
    mono = signal.resample_poly(np.asarray(samples, dtype=np.float64).mean(axis=1), 1, RATE // BEAT_RATE_HZ)
    _, _, spectrum = signal.stft(mono, fs=BEAT_RATE_HZ, nperseg=BEAT_WINDOW, noverlap=BEAT_WINDOW - BEAT_HOP)
    log_mag = np.log1p(1000 * np.abs(spectrum))
    flux = np.maximum(np.diff(log_mag, axis=1, prepend=log_mag[:, :1]), 0).sum(axis=0)
    onset = flux - ndimage.uniform_filter1d(flux, 2 * round(0.1 * BEAT_RATE_HZ / BEAT_HOP) + 1)
    onset = np.maximum(onset, 0)
    if onset.std() == 0:
        return 0.0, np.zeros(0)
    onset /= onset.std()
    frame_s = BEAT_HOP / BEAT_RATE_HZ

    # tempo: autocorrelation peak between 40 and 240 BPM, weighted towards 120 BPM
    lags = np.arange(round(60 / 240 / frame_s), min(round(60 / 40 / frame_s), len(onset) - 1))
    if len(lags) < 3:
        return 0.0, np.zeros(0)
    spectrum_ac = np.fft.rfft(onset, 2 * len(onset))
    autocorr = np.fft.irfft(spectrum_ac * np.conj(spectrum_ac))[lags]
    prior = np.exp(-0.5 * np.log2(60 / (lags * frame_s) / TEMPO_PRIOR_BPM) ** 2)
    best = int(np.argmax(autocorr * prior))
    period = float(lags[best])
    if 0 < best < len(lags) - 1:  # parabolic refinement of the peak for a sub-frame period
        a, b, c = autocorr[best - 1 : best + 2]
        period += 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c else 0.0

    # beats: score[i] = onset[i] + best(score[j] − tightness·log²((i−j)/period)), j ∈ [i−2p, i−p/2]
    local = np.convolve(onset, signal.windows.gaussian(int(period) | 1, period / 32), mode="same")
    back_lags = np.arange(max(1, round(period / 2)), round(2 * period) + 1)
    penalty = -TIGHTNESS * np.log(back_lags / period) ** 2
    score, previous = local.copy(), np.full(len(local), -1)
    for i in range(back_lags[0], len(local)):
        valid = back_lags <= i
        candidates = score[i - back_lags[valid]] + penalty[valid]
        j = int(np.argmax(candidates))
        if candidates[j] > 0:
            score[i] += candidates[j]
            previous[i] = i - back_lags[valid][j]
    peaks = signal.argrelmax(score, mode="wrap")[0] if len(score) > 2 else np.zeros(0, int)
    if not len(peaks):
        return 60 / (period * frame_s), np.zeros(0)
    last = int(peaks[score[peaks] >= 0.5 * np.median(score[peaks])][-1])
    beats = [last]
    while previous[beats[-1]] >= 0:
        beats.append(int(previous[beats[-1]]))
    # a frame's flux peaks once the onset is about a quarter window past the frame's centre
    return 60 / (period * frame_s), np.array(beats[::-1]) * frame_s + BEAT_WINDOW / 4 / BEAT_RATE_HZ


def sync_to_beats(config: Config, samples: np.ndarray, photo_count: int = 1) -> BeatSync:
    """Seconds per slot (within ±25 %) and a start offset into the track that put the slot changes on beats.

    Every slot change is `a_k + seconds_per_slot · g_k` (holds in a_k, the easing in g_k), so a
    grid of seconds per slot × every beat as the first change's anchor is scored by how far the
    changes fall from their nearest beats, and the best is refined by least squares.
    """
    tempo_bpm, beats = track_beats(samples)
    if len(beats) < 2:
        raise SoundError("sound_sync 'beats': no beats found in the sound file")
    # slot changes are affine in seconds per slot (c_k = a_k + sps·g_k): read a and g off two plans
    plan = plan_video(config, photo_count)
    sps0 = plan.zoom_s / plan.slots  # the effective one, also when a total duration set it
    config = replace(config, seconds_per_slot=sps0, duration_s=None)
    doubled = np.array(plan_video(replace(config, seconds_per_slot=2 * sps0), photo_count).slot_change_times_s)
    g = (doubled - np.array(plan.slot_change_times_s)) / sps0
    a = np.array(plan.slot_change_times_s) - sps0 * g
    track_s = len(samples) / RATE
    max_offset_s = max(track_s - plan.duration_s, 2 * 60 / max(tempo_bpm, 1e-9))

    def distances(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        index = np.clip(np.searchsorted(beats, times), 1, len(beats) - 1)
        left, right = beats[index - 1], beats[index]
        nearest = np.where(times - left < right - times, left, right)
        return np.abs(times - nearest), nearest

    sps_grid = sps0 * np.linspace(*SYNC_RANGE, 201)
    changes = a + sps_grid[:, None] * g[None, :]  # (grid, slots)
    offsets = beats[None, :] - changes[:, :1]  # (grid, beats): first change on each beat
    error, _ = distances(offsets[:, :, None] + changes[:, None, :])
    # mean distance (capped at 100 ms), ties going to the smaller change of tempo, then the earlier start
    score = np.minimum(error, 0.1).mean(axis=2) + 1e-4 * np.abs(sps_grid / sps0 - 1)[:, None] + 1e-4 * offsets / track_s
    score[(offsets < 0) | (offsets > max_offset_s)] = np.inf
    if not np.isfinite(score).any():
        raise SoundError("sound_sync 'beats': the sound file is too short to sync to")
    i, j = np.unravel_index(np.argmin(score), score.shape)

    # least squares: beat_k − a_k ≈ sps · g_k + offset, over the changes that found their beat
    error, nearest = distances(offsets[i, j] + changes[i])
    matched = error < 0.05
    sps, offset_s = sps_grid[i], float(offsets[i, j])
    if matched.sum() >= 2:
        design = np.stack([g[matched], np.ones(matched.sum())], axis=1)
        (sps, offset_s), *_ = np.linalg.lstsq(design, nearest[matched] - a[matched], rcond=None)
    lo, hi = (sps0 * r for r in SYNC_RANGE)
    sps = float(np.clip(sps, lo, hi))
    offset_s = float(np.clip(np.mean(nearest[matched] - a[matched] - sps * g[matched]) if matched.any() else offset_s, 0, None))
    final_error, _ = distances(offset_s + a + sps * g)
    return BeatSync(sps, offset_s, tempo_bpm, beats, float(final_error.max()))


# ---------------------------------------------------------------------------------------------
# the track alone: WAV and spectrogram


@dataclass(frozen=True)
class SoundReport:
    """What `write_sound` wrote, and how loud it is."""

    path: Path
    timeline: Timeline
    loudness_lufs: float
    true_peak_dbtp: float
    spectrogram: Path | None


def write_sound(config: Config, output: str | os.PathLike[str], *, spectrogram: str | os.PathLike[str] | None = None) -> SoundReport:
    """Render the video's sound track alone to a 16-bit WAV, and optionally a spectrogram PNG."""
    output = Path(output)
    targets = [(output, ".wav")] + ([(Path(spectrogram), ".png")] if spectrogram is not None else [])
    for path, suffix in targets:
        if path.suffix.lower() != suffix:
            raise SoundError(f"{path}: the output should be a {suffix} file")
        if not path.parent.is_dir():
            raise SoundError(f"{path}: folder {path.parent} does not exist")
    if config.sound == "none":
        raise SoundError("sound should be eerie, calm or an audio file to render but is 'none'")
    timeline = plan_timeline(config)
    audio = make_soundtrack(timeline.config, timeline.plan, timeline.track)
    assert audio is not None
    pcm = np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16)
    with atomic_path(output) as tmp:
        wavfile.write(tmp, RATE, pcm)
    if spectrogram is not None:
        image = spectrogram_image(audio, timeline.plan.slot_change_times_s)
        with atomic_path(Path(spectrogram)) as tmp:
            image.save(tmp, format="PNG")
    return SoundReport(output, timeline, loudness_lufs(audio), true_peak_dbtp(audio), Path(spectrogram) if spectrogram else None)


def spectrogram_image(samples: np.ndarray, marks_s: tuple[float, ...] = (), *, height_px: int = 480, low_hz: float = 25.0) -> Image.Image:
    """Log-frequency, log-magnitude spectrogram (80 dB range) of (n, 2) samples, with a time axis.

    The bottom strip has a tick every second and a cyan mark at each time in `marks_s`
    (the slot changes), so the hits can be checked by eye.
    """
    mono = np.asarray(samples, dtype=np.float64).mean(axis=1)
    hop = max(240, len(mono) // 2400)
    freqs, _, spectrum = signal.stft(mono, fs=RATE, nperseg=4096, noverlap=4096 - hop)
    level_db = 20 * np.log10(np.abs(spectrum) + 1e-12)
    level_db = np.clip((level_db - level_db.max() + 80) / 80, 0, 1)
    rows_hz = np.geomspace(low_hz, RATE / 2, height_px)[::-1]  # top row is the highest frequency
    position = rows_hz / freqs[1]
    lower = np.minimum(position.astype(int), len(freqs) - 2)
    frac = (position - lower)[:, None]
    image = level_db[lower] * (1 - frac) + level_db[lower + 1] * frac
    anchors = np.array([[0, 0, 0], [40, 10, 90], [180, 30, 80], [250, 140, 30], [255, 250, 210]], float)
    lut = np.stack([np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(anchors)), anchors[:, c]) for c in range(3)], 1)
    pixels = lut[np.round(image * 255).astype(int)].astype(np.uint8)
    width = pixels.shape[1]
    axis_px = 22
    canvas = Image.new("RGB", (width, height_px + axis_px), (20, 20, 20))
    canvas.paste(Image.fromarray(pixels), (0, 0))
    draw = ImageDraw.Draw(canvas)
    px_per_s = RATE / hop
    for second in range(int(len(mono) / RATE) + 1):
        x = round(second * px_per_s)
        draw.line([(x, height_px), (x, height_px + 5)], fill=(200, 200, 200))
        draw.text((x + 2, height_px + 6), f"{second}s", fill=(200, 200, 200))
    for time_s in marks_s:
        x = round(time_s * px_per_s)
        draw.line([(x, height_px), (x, height_px + axis_px)], fill=(0, 220, 255), width=2)
    for hz in (50, 100, 500, 1000, 5000, 10000):
        y = round((np.log(RATE / 2) - np.log(hz)) / (np.log(RATE / 2) - np.log(low_hz)) * (height_px - 1))
        draw.line([(0, y), (6, y)], fill=(230, 230, 230))
        draw.text((8, y - 6), f"{hz // 1000}k" if hz >= 1000 else str(hz), fill=(230, 230, 230))
    return canvas
