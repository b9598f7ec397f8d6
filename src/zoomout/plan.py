"""The timeline: which slot view every frame shows, and when each slot change and cut happens.

A video is one or more segments (one per montage part). In a segment the zoom position `z`
is continuous: `z = k` shows exactly slot k full frame, the world rectangle `W·s^k × H·s^k`
(units: slot-0 pixels). Linear in `z` is linear in log-scale, a constant perceived speed.
Direction and easing are functions of the segment's normalised time `u`; the renderer never
special-cases them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .config import Config
from .errors import ConfigError

if TYPE_CHECKING:
    from .beats import BeatSync
    from .sound import UserTrack

AUDIO_RATE_HZ = 48_000

# An easing maps normalised time u in [0, 1] to progress in [0, 1]; `slots` lets an easing
# shape each slot (punchy). Every easing is monotonic with ease(0) = 0 and ease(1) = 1.
Easing = Callable[[np.ndarray, int], np.ndarray]


def ease_linear(u: np.ndarray, slots: int) -> np.ndarray:
    return u


def ease_in_out_sine(u: np.ndarray, slots: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * u)


def ease_in_out_cubic(u: np.ndarray, slots: int) -> np.ndarray:
    return np.where(u < 0.5, 4 * u**3, 1 - (-2 * u + 2) ** 3 / 2)


def ease_punchy(u: np.ndarray, slots: int) -> np.ndarray:
    """A fast move into every slot that settles on it (ease-out cubic per slot)."""
    steps = np.asarray(u, dtype=np.float64) * slots
    whole = np.minimum(np.floor(steps), slots - 1)
    frac = steps - whole
    return (whole + 1 - (1 - frac) ** 3) / slots


EASINGS: dict[str, Easing] = {
    "linear": ease_linear,
    "in-out": ease_in_out_sine,
    "in-out-cubic": ease_in_out_cubic,
    "punchy": ease_punchy,
}


@dataclass(frozen=True)
class Segment:
    """One zoom over one chain: frames [start_frame, start_frame + frame_count)."""

    chain: int
    slots: int
    start_frame: int
    frame_count: int
    start_s: float
    hold_start_s: float
    zoom_s: float
    hold_end_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.hold_start_s + self.zoom_s + self.hold_end_s


@dataclass(frozen=True)
class Plan:
    """Frame-exact timeline of one video.

    Attributes
    ----------
    segments : tuple of Segment
        One per montage part (one for a single photo).
    slots : int
        Slot changes on the whole timeline (the zoom passes a slot boundary).
    slot_change_times_s : tuple of float
        Time of every slot change, in order.
    cut_times_s : tuple of float
        Time of every cut between montage parts.
    frame_count : int
        Frames in the video; its duration is `frame_count / fps` exactly.
    """

    width_px: int
    height_px: int
    zoom_per_slot: float
    fps: int
    ease: str
    direction: str
    loop: bool
    transition: str
    segments: tuple[Segment, ...]
    frame_count: int
    slot_change_times_s: tuple[float, ...]
    cut_times_s: tuple[float, ...]

    @property
    def slots(self) -> int:
        return len(self.slot_change_times_s)

    @property
    def hold_start_s(self) -> float:
        return self.segments[0].hold_start_s

    @property
    def hold_end_s(self) -> float:
        return self.segments[-1].hold_end_s

    @property
    def zoom_s(self) -> float:
        return sum(segment.zoom_s for segment in self.segments)

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps

    @property
    def audio_samples(self) -> int:
        """Audio length that matches the video to the sample (48 kHz divides every fps)."""
        return self.frame_count * AUDIO_RATE_HZ // self.fps

    def segment_view(self, segment: Segment, t_s: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """(z, progress) of `segment` at absolute times: the view shown, and slot changes passed."""
        u = np.clip((np.asarray(t_s, dtype=np.float64) - segment.start_s - segment.hold_start_s) / segment.zoom_s, 0, 1)
        n, ease = segment.slots, EASINGS[self.ease]
        if self.direction == "out":
            z = n * ease(u, n)
            return z, z
        if self.direction == "in":
            z = n * (1 - ease(u, n))
            return z, n - z
        outward = u < 0.5  # out-in: out in the first half, back in the second
        z = n * ease(np.where(outward, 2 * u, 2 - 2 * u), n)
        return z, np.where(outward, z, 2 * n - z)

    def zoom_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """Slot changes passed by time t, continuous, in [0, slots]: the depth the sound follows."""
        t = np.asarray(t_s, dtype=np.float64)
        passed = np.zeros_like(t)
        for segment in self.segments:
            _, progress = self.segment_view(segment, t)
            passed = passed + progress
        return passed

    def frame_views(self) -> tuple[np.ndarray, np.ndarray]:
        """(frame_count,) int chain index and (frame_count,) float64 zoom position of every frame."""
        chains = np.empty(self.frame_count, np.int64)
        zooms = np.empty(self.frame_count, np.float64)
        for segment in self.segments:
            frames = slice(segment.start_frame, segment.start_frame + segment.frame_count)
            chains[frames] = segment.chain
            zooms[frames], _ = self.segment_view(segment, np.arange(frames.start, frames.stop) / self.fps)
        return chains, zooms

    def frame_zooms(self) -> np.ndarray:
        """(frame_count,) float64 zoom position of every frame (in its own segment's chain)."""
        return self.frame_views()[1]


def segment_slot_counts(config: Config, photo_count: int) -> list[int]:
    """Outpainted slots of each chain: one chain per montage photo, one for a single photo or a nest."""
    if photo_count == 1 or config.nest:
        return [config.slots]
    if config.slots_per_photo is not None:
        return [config.slots_per_photo] * photo_count
    if config.slots < photo_count:
        raise ConfigError(
            f"slots should be at least one per photo of a montage ({photo_count}) but is {config.slots} "
            "(or set slots_per_photo)"
        )
    # split exactly: the first parts take one more when the slots do not divide evenly
    share, extra = divmod(config.slots, photo_count)
    return [share + (k < extra) for k in range(photo_count)]


def plan_video(config: Config, photo_count: int = 1) -> Plan:
    """Lay out the timeline: per segment a hold, the zoom and a hold; the time of each slot change."""
    counts = segment_slot_counts(config, photo_count)
    changes_per_slot = 2 if config.direction == "out-in" else 1
    changes = sum(counts) * changes_per_slot
    holds_s = len(counts) * (config.hold_start_s + config.hold_end_s)
    seconds_per_slot = config.seconds_per_slot
    if config.duration_s is not None:
        seconds_per_slot = (config.duration_s - holds_s) / changes
        if seconds_per_slot < 0.1:
            raise ConfigError(
                f"duration_s should leave at least 0.1 s per slot change after {holds_s:g} s of holds "
                f"({changes} changes) but is {config.duration_s:g}"
            )
    segments = []
    start_s = 0.0
    for chain, count in enumerate(counts):
        zoom_s = count * changes_per_slot * seconds_per_slot
        end_s = start_s + config.hold_start_s + zoom_s + config.hold_end_s
        start_frame, end_frame = round(start_s * config.fps), round(end_s * config.fps)
        segments.append(
            Segment(chain, count, start_frame, end_frame - start_frame, start_s, config.hold_start_s, zoom_s, config.hold_end_s)
        )
        start_s = end_s
    plan = Plan(
        width_px=config.width_px,
        height_px=config.height_px,
        zoom_per_slot=config.zoom_per_slot,
        fps=config.fps,
        ease=config.ease,
        direction=config.direction,
        loop=config.loop,
        transition=config.transition,
        segments=tuple(segments),
        frame_count=max(segments[-1].start_frame + segments[-1].frame_count, 1),
        slot_change_times_s=(),
        cut_times_s=tuple(segment.start_s for segment in segments[1:]),
    )
    times = tuple(
        _invert_monotonic(lambda t, s=segment: float(plan.segment_view(s, t)[1]), k, segment.start_s, segment.end_s)
        for segment in segments
        for k in range(1, segment.slots * changes_per_slot + 1)
    )
    return replace(plan, slot_change_times_s=times)


def _invert_monotonic(f: Callable[[float], float], target: float, lo: float, hi: float) -> float:
    """The first t in [lo, hi] with f(t) >= target, by bisection (f is non-decreasing)."""
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        if f(mid) < target - 1e-9:
            lo = mid
        else:
            hi = mid
    return hi if not math.isclose(lo, hi) else 0.5 * (lo + hi)


@dataclass(frozen=True)
class Timeline:
    """The plan of a video and the user's track that goes with it (None for a preset)."""

    config: Config  # with sound_sync='beats', seconds_per_slot is the synced one
    plan: Plan
    track: UserTrack | None
    sync: BeatSync | None = None


def plan_timeline(config: Config, photo_count: int = 1) -> Timeline:
    """Plan the video; with `sound_sync='beats'` first move its slot changes onto the track's beats."""
    from .beats import sync_to_beats  # scipy's signal module: only for a user's track
    from .sound import read_user_track

    track = read_user_track(config.sound)
    sync = None
    if config.sound_sync == "beats":
        assert track is not None, "Config refuses sound_sync='beats' without an audio file"
        sync = sync_to_beats(config, track.samples, photo_count)
        config = replace(config, seconds_per_slot=sync.seconds_per_slot, duration_s=None)
        track = replace(track, offset_s=sync.offset_s)
    return Timeline(config, plan_video(config, photo_count), track, sync)
