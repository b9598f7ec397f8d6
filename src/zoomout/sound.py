"""The sound step: a 48 kHz stereo track exactly as long as the video's timeline.

A designed preset (`eerie`, `calm`, see `sound_design`) or a user's audio file, mastered
(`mastering`) to −14 LUFS integrated with true peaks at or below −1 dBTP. With
`sound_sync='beats'` the timeline (`plan.plan_timeline`) first moves the slot changes onto the
beats of the user's track (`beats`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw
from scipy.io import wavfile

from .atomic import atomic_path
from .outputs import check_output_file
from .config import SOUND_PRESETS, Config
from .errors import ConfigError
from .mastering import loudness_lufs, normalise_loudness, true_peak_dbtp
from .plan import AUDIO_RATE_HZ, Plan, Timeline, plan_timeline
from .sound_design import design_sound

RATE = AUDIO_RATE_HZ
FADE_OUT_S = 1.5


class SoundError(ConfigError):
    """The sound options or the user's audio file cannot be used (a message about an option names it: `sound_sync should …`)."""


@dataclass(frozen=True)
class UserTrack:
    """A user's audio file decoded to (samples, 2) float32 at 48 kHz, and where in it the video starts."""

    path: Path
    samples: np.ndarray
    offset_s: float = 0.0


def has_soundtrack(config: Config) -> bool:
    """Whether the video gets a sound track (every `sound` but 'none')."""
    return config.sound != "none"


def make_soundtrack(config: Config, plan: Plan, track: UserTrack | None = None) -> np.ndarray | None:
    """The video's sound track at −14 LUFS, ≤ −1 dBTP, or None for `sound='none'`.

    Returns
    -------
    (plan.audio_samples, 2) float32 ndarray in [-1, 1], or None
    """
    if not has_soundtrack(config):
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
    output = check_output_file(Path(output), ".wav")
    if spectrogram is not None:
        check_output_file(Path(spectrogram), ".png", what="spectrogram")
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
    from scipy import signal

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
