"""Every option that shapes a video, in one frozen dataclass checked before any work."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from .errors import ConfigError

if TYPE_CHECKING:
    from .engines import EngineOptions

SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "9:16": (1080, 1920),
    "1:1": (1080, 1080),
    "16:9": (1920, 1080),
}
FPS_CHOICES = (24, 25, 30, 50, 60)
FITS = ("contain", "cover")
EASES = ("linear", "in-out", "in-out-cubic", "punchy")
DIRECTIONS = ("out", "in", "out-in")
TRANSITIONS = ("cut", "flash", "fade")
MAX_PHOTOS = 12
SOUND_PRESETS = ("eerie", "calm")
SOUND_SYNCS = ("none", "beats")
X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
)
SLOTS_RANGE = (1, 50)
ZOOM_RANGE = (1.25, 4.0)
SIDE_RANGE_PX = (64, 4096)
LABEL_MAX_CHARS = 60

Fit = Literal["contain", "cover"]
Ease = Literal["linear", "in-out", "in-out-cubic", "punchy"]
Direction = Literal["out", "in", "out-in"]
Transition = Literal["cut", "flash", "fade"]

def parse_size(text: str) -> tuple[int, int]:
    """`'9:16'`, `'1:1'`, `'16:9'` or `'WxH'` → (width, height) in pixels."""
    if text in SIZE_PRESETS:
        return SIZE_PRESETS[text]
    # at most 9 digits a side: a longer number is no size, and int() refuses over 4300 digits
    match = re.fullmatch(r"\s*(\d{1,9})\s*[xX×]\s*(\d{1,9})\s*", text)
    if match is None:
        shown = text if len(text) <= 40 else f"{text[:40]}…"
        raise ConfigError(
            f"size should be one of {', '.join(SIZE_PRESETS)} or WxH (e.g. 1080x1920) but is {shown!r}"
        )
    return int(match[1]), int(match[2])


@dataclass(frozen=True)
class Config:
    """Options of one video. Sizes in pixels, times in seconds.

    Raises `ConfigError` naming the option and its value as soon as one is out of range.
    """

    width_px: int = 1080
    height_px: int = 1920
    slots: int = 12
    zoom_per_slot: float = 2.0
    seconds_per_slot: float = 1.5
    fps: int = 30
    hold_start_s: float = 0.5
    hold_end_s: float = 1.0
    fit: Fit = "contain"
    ease: Ease = "linear"
    direction: Direction = "out"
    loop: bool = False  # the last frame flows into the first
    duration_s: float | None = None  # total length; replaces seconds_per_slot when given
    slots_per_photo: int | None = None  # montage: slots of each photo's part (default slots // photos)
    transition: Transition = "cut"  # montage: how one photo's part joins the next
    nest: bool = False  # the photos become the outer slots of one chain instead of a montage
    engine: str = "auto"  # auto: diffusion with a CUDA GPU and its weights, else classic
    engine_options: EngineOptions | None = None  # the engine's own options (model, prompts…): they shape the slots
    seed: int = 0
    sound: str = "eerie"
    sound_seed: int = 0
    sound_sync: str = "none"
    crf: int = 20
    x264_preset: str = "veryfast"
    label: str | None = "AI-generated"  # visible label drawn on every frame; None for none

    def __post_init__(self) -> None:
        for name in ("width_px", "height_px"):
            value = getattr(self, name)
            _check_int(name, value)
            lo, hi = SIDE_RANGE_PX
            if not lo <= value <= hi or value % 2:
                raise ConfigError(f"{name} should be an even number in [{lo}, {hi}] but is {value}")
        _check_int("slots", self.slots)
        if not SLOTS_RANGE[0] <= self.slots <= SLOTS_RANGE[1]:
            raise ConfigError(f"slots should be in [{SLOTS_RANGE[0]}, {SLOTS_RANGE[1]}] but is {self.slots}")
        _check_float("zoom_per_slot", self.zoom_per_slot, *ZOOM_RANGE)
        _check_float("seconds_per_slot", self.seconds_per_slot, 0.1, 60.0)
        _check_float("hold_start_s", self.hold_start_s, 0.0, 60.0)
        _check_float("hold_end_s", self.hold_end_s, 0.0, 60.0)
        _check_int("fps", self.fps)
        if self.fps not in FPS_CHOICES:
            raise ConfigError(f"fps should be one of {', '.join(map(str, FPS_CHOICES))} but is {self.fps}")
        _check_choice("fit", self.fit, FITS)
        _check_choice("ease", self.ease, EASES)
        _check_choice("direction", self.direction, DIRECTIONS)
        _check_choice("transition", self.transition, TRANSITIONS)
        for name in ("loop", "nest"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} should be True or False but is {getattr(self, name)!r}")
        if self.loop and self.direction == "out-in":
            raise ConfigError("loop cannot be combined with direction 'out-in', which already returns to its start")
        if self.duration_s is not None:
            _check_float("duration_s", self.duration_s, 0.5, 600.0)
        if self.slots_per_photo is not None:
            _check_int("slots_per_photo", self.slots_per_photo)
            if not SLOTS_RANGE[0] <= self.slots_per_photo <= SLOTS_RANGE[1]:
                raise ConfigError(
                    f"slots_per_photo should be in [{SLOTS_RANGE[0]}, {SLOTS_RANGE[1]}] but is {self.slots_per_photo}"
                )
        if not isinstance(self.engine, str) or not self.engine:
            raise ConfigError(f"engine should be an engine name (see `zoomout engines`) but is {self.engine!r}")
        self._check_engine_options()
        _check_int("seed", self.seed)
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed should be in [0, 2**32) but is {self.seed}")
        _check_int("crf", self.crf)
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"crf should be in [0, 51] but is {self.crf}")
        _check_choice("x264_preset", self.x264_preset, X264_PRESETS)
        if self.label is not None and (
            not isinstance(self.label, str) or not self.label.strip() or len(self.label) > LABEL_MAX_CHARS
            or not self.label.isprintable()
        ):
            raise ConfigError(
                f"label should be one line of 1–{LABEL_MAX_CHARS} printable characters (for none: no_label) "
                f"but is {self.label!r}"
            )
        if not isinstance(self.sound, str) or not self.sound:
            raise ConfigError(
                f"sound should be {', '.join(SOUND_PRESETS)}, none or an audio file path but is {self.sound!r}"
            )
        _check_int("sound_seed", self.sound_seed)
        if not 0 <= self.sound_seed < 2**32:
            raise ConfigError(f"sound_seed should be in [0, 2**32) but is {self.sound_seed}")
        _check_choice("sound_sync", self.sound_sync, SOUND_SYNCS)
        if self.sound_sync == "beats" and (self.sound == "none" or self.sound in SOUND_PRESETS):
            raise ConfigError(f"sound_sync 'beats' needs sound to be an audio file but sound is {self.sound!r}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def _check_engine_options(self) -> None:
        from .engines import check_engine_options  # engines import nothing from here: no cycle, but keep config light

        check_engine_options(self.engine, self.engine_options)
        slot_prompts = getattr(self.engine_options, "slot_prompts", ())
        last = max((slot for slot, _ in slot_prompts), default=0)
        if last > self.slots:
            raise ConfigError(f"slot_prompts should be for slots up to {self.slots}, the number of slots, but one is for slot {last}")

    def check_photo_count(self, count: int) -> None:
        """Refuse photo counts this config cannot use, before any work."""
        if not 1 <= count <= MAX_PHOTOS:
            raise ConfigError(f"give 1 to {MAX_PHOTOS} photos, not {count}")
        if self.nest and count > self.slots + 1:
            raise ConfigError(
                f"nest needs at most slots + 1 = {self.slots + 1} photos (one per slot) but got {count}"
            )
        if self.nest and count < 2:
            raise ConfigError("nest needs at least 2 photos")

def _check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} should be an integer but is {value!r}")


def _check_float(name: str, value: object, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} should be a finite number but is {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} should be in [{lo}, {hi}] but is {value}")


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} should be one of {', '.join(choices)} but is {value!r}")
