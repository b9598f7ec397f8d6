"""The sound stage: a 48 kHz stereo track exactly as long as the video's timeline."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from .errors import ZoomoutError
from .plan import AUDIO_RATE_HZ, Plan

FADE_OUT_S = 1.5
PEAK_LIMIT = 10 ** (-1.0 / 20)  # −1 dBFS


class SoundError(ZoomoutError):
    """The sound option or the user's audio file cannot be used."""


def make_soundtrack(sound: str, plan: Plan) -> np.ndarray | None:
    """The video's sound track, or None for `sound='none'`.

    Returns
    -------
    (plan.audio_samples, 2) float32 ndarray in [-1, 1], or None
    """
    if sound == "none":
        return None
    return fit_to_length(decode_audio_file(Path(sound)), plan.audio_samples)


def decode_audio_file(path: Path) -> np.ndarray:
    """Decode any audio PyAV can read, resampled to 48 kHz stereo float32, shape (samples, 2)."""
    if not path.is_file():
        raise SoundError(f"{path}: sound file not found")
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE_HZ)
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
    """Trim or pad with silence to `length`, fade out the end, keep the peak at or below −1 dBFS."""
    out = np.zeros((length, 2), dtype=np.float32)
    n = min(length, len(samples))
    out[:n] = samples[:n]
    fade = min(int(FADE_OUT_S * AUDIO_RATE_HZ), n)
    if fade:
        out[n - fade : n] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    peak = float(np.abs(out).max(initial=0.0))
    if peak > PEAK_LIMIT:
        out *= PEAK_LIMIT / peak
    return out
