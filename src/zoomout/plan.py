"""The timeline: which zoom position every frame shows, and when each slot change happens.

Zoom position `z` is continuous: `z = k` shows exactly slot k full frame, i.e. the world
rectangle `W·s^k × H·s^k` (units: slot-0 pixels). Linear in `z` is linear in log-scale,
a constant perceived speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import Config

AUDIO_RATE_HZ = 48_000


def ease_linear(u: np.ndarray) -> np.ndarray:
    return u


def ease_in_out(u: np.ndarray) -> np.ndarray:
    """Sine ease: starts and ends at rest, fastest in the middle."""
    return 0.5 - 0.5 * np.cos(np.pi * u)


EASINGS = {"linear": ease_linear, "in-out": ease_in_out}


@dataclass(frozen=True)
class Plan:
    """Frame-exact timeline of one video.

    Attributes
    ----------
    frame_count : int
        Frames in the video; its duration is `frame_count / fps` exactly.
    slot_change_times_s : tuple of float
        Time at which the view passes slot k for k = 1..slots (the zoom reaches `z = k`).
    """

    width_px: int
    height_px: int
    slots: int
    zoom_per_slot: float
    fps: int
    hold_start_s: float
    zoom_s: float
    hold_end_s: float
    ease: str
    frame_count: int
    slot_change_times_s: tuple[float, ...]

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps

    @property
    def audio_samples(self) -> int:
        """Audio length that matches the video to the sample (48 kHz divides every fps)."""
        return self.frame_count * AUDIO_RATE_HZ // self.fps

    def zoom_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """Zoom position z(t) in [0, slots]: holds, then `slots · ease(u)`."""
        u = np.clip((np.asarray(t_s, dtype=np.float64) - self.hold_start_s) / self.zoom_s, 0.0, 1.0)
        return self.slots * EASINGS[self.ease](u)

    def frame_zooms(self) -> np.ndarray:
        """(frame_count,) float64 zoom position of every frame."""
        return self.zoom_at(np.arange(self.frame_count) / self.fps)


def plan_video(config: Config) -> Plan:
    """Lay out the timeline of `config`: holds, the zoom, and the time of each slot change."""
    zoom_s = config.slots * config.seconds_per_slot
    frame_count = round((config.hold_start_s + zoom_s + config.hold_end_s) * config.fps)
    ease = EASINGS[config.ease]
    changes = tuple(
        config.hold_start_s + zoom_s * _invert_monotonic(ease, k / config.slots)
        for k in range(1, config.slots + 1)
    )
    return Plan(
        width_px=config.width_px,
        height_px=config.height_px,
        slots=config.slots,
        zoom_per_slot=config.zoom_per_slot,
        fps=config.fps,
        hold_start_s=config.hold_start_s,
        zoom_s=zoom_s,
        hold_end_s=config.hold_end_s,
        ease=config.ease,
        frame_count=max(frame_count, 1),
        slot_change_times_s=changes,
    )


def _invert_monotonic(ease, target: float) -> float:
    """u in [0, 1] with ease(u) = target, by bisection (every easing is monotonic)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if float(ease(np.float64(mid))) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi) if not math.isclose(target, 1.0) else 1.0
