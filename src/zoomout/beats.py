"""Beat tracking, and landing the slot changes on a user's track's beats (`sound_sync='beats'`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage, signal

from .config import Config
from .plan import AUDIO_RATE_HZ, plan_video
from .sound import SoundError

RATE = AUDIO_RATE_HZ
SYNC_RANGE = (0.75, 1.25)  # seconds per slot may move this far to land on the beats
MIN_BEAT_CLARITY = 0.15  # below it there is no beat to sync to (see `track_beats`)
BEAT_RATE_HZ = 24_000
BEAT_HOP = 120  # 5 ms frames
BEAT_WINDOW = 512
TEMPO_PRIOR_BPM = 120.0  # the tempo search prefers tempi near this, one octave wide (as librosa)
TIGHTNESS = 100.0  # how strictly beats keep the tempo in the dynamic programme (as librosa)


@dataclass(frozen=True)
class BeatSync:
    """How to land the slot changes on the track's beats: a new seconds per slot and a start offset."""

    seconds_per_slot: float
    offset_s: float  # the video starts this far into the track
    tempo_bpm: float
    beats_s: np.ndarray  # detected beats, seconds into the track
    error_s: float  # the largest distance from a slot change to its nearest beat
    clarity: float  # how periodic the onsets are (see `track_beats`)


def track_beats(samples: np.ndarray) -> tuple[float, np.ndarray, float]:
    """Tempo (BPM), beat times (s) and beat clarity of (n, 2) samples at 48 kHz.

    Ellis' dynamic-programming beat tracker (the one librosa uses): a spectral-flux onset
    envelope, a tempo from its autocorrelation weighted by a log-normal prior around 120 BPM,
    then the beat sequence that best balances onset strength against keeping that tempo.
    The clarity is the onset envelope's autocorrelation at its strongest period between 40
    and 240 BPM, over its energy: about 1 for a click track, ~0.3–0.6 for a drum loop, below
    0.1 for steady noise or a held tone (measured: white noise 0.05, a sine 0.07).
    """
    mono = signal.resample_poly(np.asarray(samples, dtype=np.float64).mean(axis=1), 1, RATE // BEAT_RATE_HZ)
    _, _, spectrum = signal.stft(mono, fs=BEAT_RATE_HZ, nperseg=BEAT_WINDOW, noverlap=BEAT_WINDOW - BEAT_HOP)
    log_mag = np.log1p(1000 * np.abs(spectrum))
    flux = np.maximum(np.diff(log_mag, axis=1, prepend=log_mag[:, :1]), 0).sum(axis=0)
    onset = flux - ndimage.uniform_filter1d(flux, 2 * round(0.1 * BEAT_RATE_HZ / BEAT_HOP) + 1)
    onset = np.maximum(onset, 0)
    if onset.std() == 0:
        return 0.0, np.zeros(0), 0.0
    onset /= onset.std()
    frame_s = BEAT_HOP / BEAT_RATE_HZ

    # tempo: autocorrelation peak between 40 and 240 BPM, weighted towards 120 BPM
    lags = np.arange(round(60 / 240 / frame_s), min(round(60 / 40 / frame_s), len(onset) - 1))
    if len(lags) < 3:
        return 0.0, np.zeros(0), 0.0
    centred = np.abs(np.fft.rfft(onset - onset.mean(), 2 * len(onset))) ** 2
    energy_ac = np.fft.irfft(centred)
    clarity = float(energy_ac[lags].max() / energy_ac[0])
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
        return 60 / (period * frame_s), np.zeros(0), clarity
    last = int(peaks[score[peaks] >= 0.5 * np.median(score[peaks])][-1])
    beats = [last]
    while previous[beats[-1]] >= 0:
        beats.append(int(previous[beats[-1]]))
    # a frame's flux peaks once the onset is about a quarter window past the frame's centre
    return 60 / (period * frame_s), np.array(beats[::-1]) * frame_s + BEAT_WINDOW / 4 / BEAT_RATE_HZ, clarity


def sync_to_beats(config: Config, samples: np.ndarray, photo_count: int = 1) -> BeatSync:
    """Seconds per slot (within ±25 %) and a start offset into the track that put the slot changes on beats.

    Every slot change is `a_k + seconds_per_slot · g_k` (holds in a_k, the easing in g_k), so a
    grid of seconds per slot × every beat as the first change's anchor is scored by how far the
    changes fall from their nearest beats, and the best is refined by least squares.
    """
    tempo_bpm, beats, clarity = track_beats(samples)
    if len(beats) < 2 or clarity < MIN_BEAT_CLARITY:
        raise SoundError(
            f"sound_sync should be none for this sound file: it has no clear beat to put the slot changes on "
            f"(beat clarity {clarity:.2f}, at least {MIN_BEAT_CLARITY} needed)"
        )
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
        raise SoundError("sound_sync should be none for this sound file: it is too short to sync the slot changes to")
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
    return BeatSync(sps, offset_s, tempo_bpm, beats, float(final_error.max()), clarity)


# ---------------------------------------------------------------------------------------------
# the track alone: WAV and spectrogram
