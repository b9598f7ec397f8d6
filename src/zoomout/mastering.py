"""Mastering: loudness (BS.1770 integrated, pyloudnorm), true peaks, and normalising a track to both.

Every track zoomout writes ends at −14 LUFS integrated (phones and short-video platforms)
with true peaks at or below −1 dBTP; a quiet one is raised and its peaks limited.
"""

from __future__ import annotations

import numpy as np
import pyloudnorm
from scipy import ndimage, signal

from .plan import AUDIO_RATE_HZ

RATE = AUDIO_RATE_HZ
TARGET_LUFS = -14.0  # phones and short-video platforms
CEILING_DBTP = -1.0


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
