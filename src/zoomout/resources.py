"""Disk and memory a video needs, estimated before any work, so a run does not die half-way.

Both are upper-bound estimates from the options alone: the encoded size from a bound on
H.264's bits per pixel, the memory from the arrays the stages hold at their peak (the slots
and their mipmaps while frames are rendered and encoded).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .encode import QUEUE_FRAMES
from .errors import OutputError
from .plan import Plan
from .render import i420_mipmap_bytes

# H.264 at CRF 20 with a fast preset stays below ~0.15 bit per pixel even on noisy, invented
# texture; 0.25 leaves room for the worst frames and for CRFs down to ~16.
VIDEO_BITS_PER_PIXEL = 0.25
AUDIO_BITS_PER_S = 192_000  # the AAC bit rate of encode.py
DISK_MARGIN_BYTES = 16 * 2**20  # the manifest, the container's index, the file system's slack

# Memory: a Python process with numpy, OpenCV, PyAV and SciPy loaded, encoder and its threads
# started (measured: 146 MB after the imports; a 180x320 one-slot run peaks at 272 MiB, 26 MiB of
# it the sound's).
BASE_PROCESS_BYTES = 240 * 2**20
X264_FRAMES = 24  # frames x264 holds (lookahead, references, threads), each as YUV 4:2:0
# The engine's working arrays, in slot-sized RGB uint8 units, while the renderer and encoder run
# beside it: the classic engine holds its padded float32 layers, pyramids and distance maps, and
# a chain's texture reference at four scales. Measured: a one-slot run peaks 664 MiB higher at
# 1080x1920 than at 540x960, 149 slot units, of which the slots, mipmaps and encoder's are 23.
ENGINE_WORKING_SLOTS = 136
# The designed sound works on whole-length float64 stereo arrays, about 15 of them at its peak
# (measured: +177 MiB for 11 more slots, 16.5 s, of 'eerie' at 180x320).
SOUND_WORKING_COPIES = 15


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak memory of a run, by part, in bytes."""

    process: int
    photos: int
    slots: int
    mipmaps: int
    engine: int
    encoder: int
    audio: int

    @property
    def total(self) -> int:
        return self.process + self.photos + self.slots + self.mipmaps + self.engine + self.encoder + self.audio


def estimate_video_bytes(config: Config, plan: Plan) -> int:
    """An upper bound on the MP4's size: video at VIDEO_BITS_PER_PIXEL, audio at its bit rate."""
    pixels = config.width_px * config.height_px * plan.frame_count
    audio_bits = 0 if config.sound == "none" else AUDIO_BITS_PER_S * plan.duration_s
    return int((pixels * VIDEO_BITS_PER_PIXEL + audio_bits) / 8)


def disk_bytes_needed(config: Config, plan: Plan) -> int:
    """Room needed in the output folder: the encoder's draft and the finished copy exist together."""
    return 2 * estimate_video_bytes(config, plan) + DISK_MARGIN_BYTES


def check_disk_space(folder: Path, needed_bytes: int, *, disk_usage: Callable[[Path], Any] | None = None) -> int:
    """Free bytes in `folder`; raises OutputError when fewer than `needed_bytes` are free.

    `disk_usage` (default `shutil.disk_usage`, looked up at call time) is injectable for tests.
    """
    try:
        free = (disk_usage or shutil.disk_usage)(folder).free
    except OSError as error:
        raise OutputError(f"{folder}: cannot tell how much room is left ({error.strerror or error})") from None
    if free < needed_bytes:
        raise OutputError(
            f"{folder.resolve()}: not enough room for the video: {needed_bytes / 1e6:.1f} MB needed, {free / 1e6:.1f} MB free"
        )
    return free


def estimate_memory(config: Config, plan: Plan, photo_shapes: Sequence[tuple[int, ...]]) -> MemoryEstimate:
    """Peak memory of `make_video` for these options and photos ((H, W, 3) shapes), model weights excluded.

    Every slot of every chain is held (as RGB plus a bool mask) while frames are rendered;
    the renderer holds their I420 mipmaps; the encoder holds a queue of RGB frames and x264 its YUV frames.
    """
    frame_bytes = config.width_px * config.height_px * 3
    slot_count = sum(segment.slots + 1 for segment in plan.segments)
    photos = sum(2 * h * w * 3 for h, w, *_ in photo_shapes)  # the decoded image and its RGB array
    audio = 0 if config.sound == "none" else plan.audio_samples * 2 * 8 * SOUND_WORKING_COPIES
    return MemoryEstimate(
        process=BASE_PROCESS_BYTES,
        photos=photos,
        slots=slot_count * (frame_bytes + config.width_px * config.height_px),
        mipmaps=slot_count * i420_mipmap_bytes(config.width_px, config.height_px),
        engine=ENGINE_WORKING_SLOTS * frame_bytes,
        encoder=(QUEUE_FRAMES + 2) * frame_bytes + X264_FRAMES * frame_bytes // 2,
        audio=audio,
    )
