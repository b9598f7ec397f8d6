"""The options of `zoomout make`, declared once, and the one way to turn them into a request.

The command line, the web form and jobs files (`zoomout batch`) all read `MAKE_OPTIONS`
(flags, types, defaults, help, help panels) and all call `build_request` with the options the
user gave, by name (`seconds_per_slot`, `size`, `model`, …). It fills the defaults, refuses
options that contradict each other, builds the `Config` (engine options included) and names
the option the user typed in every error: `--size` on the command line, `"size"` in a jobs
file, the control's label on the web page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import (
    DIRECTIONS, EASES, FITS, FPS_CHOICES, SOUND_SYNCS, TRANSITIONS, X264_PRESETS, Config, parse_size,
)  # fmt: skip
from .engines import AUTO, ENGINES, engine_flags, engine_options_from
from .errors import ConfigError

PANELS = ("Input and output", "Timing", "Picture", "Montage", "Engine", "Sound", "Honesty", "Cache")  # + one per engine


@dataclass(frozen=True)
class MakeOption:
    """One option of `zoomout make`.

    Attributes
    ----------
    name : str
        Its name in jobs files and the web form, and the Python name of the CLI parameter.
    kind : type
        What the user gives: str, int, float, bool or Path.
    default
        Its value when not given (None: unset).
    help : str
    panel : str
        The `--help` panel it is listed in (one of PANELS).
    flag : str
        As typed: `--seconds-per-slot`, `-o/--output`, a boolean pair `--cache/--no-cache`.
    fields : tuple of str
        The `Config` fields it sets (none: it is an argument of `make_video`, or an engine option).
    choices : tuple or None
        The values it takes, when they are few.
    engine : bool
        An engine option (from the engine registry).
    """

    name: str
    kind: type
    default: Any
    help: str
    panel: str
    flag: str = ""
    fields: tuple[str, ...] = ()
    choices: tuple | None = None
    engine: bool = False

    def __post_init__(self) -> None:
        if not self.flag:
            object.__setattr__(self, "flag", f"--{self.name.replace('_', '-')}")

    @property
    def long_flag(self) -> str:
        """The flag a user types to set it: `--output`, `--cache`, `--no-label`."""
        return next(part for part in self.flag.split("/") if part.startswith("--"))


def _opt(name: str, kind: type, default: Any, help: str, panel: str, **more: Any) -> MakeOption:
    return MakeOption(name, kind, default, help, panel, **more)


DEFAULTS = Config()
GENERAL_OPTIONS: tuple[MakeOption, ...] = (
    _opt("output", Path, Path("zoomout.mp4"), "Output .mp4 file.", "Input and output", flag="-o/--output"),
    _opt("save_slots", Path, None, "Write slot_NN.png and mask_NN.png to this folder.", "Input and output"),
    _opt("contact_sheet", Path, None, "Write all slots in a numbered grid (PNG).", "Input and output"),
    _opt("dry_run", bool, False, "Check everything and print the plan and memory estimate; write nothing.", "Input and output", flag="--dry-run"),
    _opt("slots", int, DEFAULTS.slots, "Outpainted slots (zoom steps), 1–50.", "Timing", fields=("slots",)),
    _opt("zoom", float, DEFAULTS.zoom_per_slot, "Zoom factor per slot, 1.25–4.", "Timing", fields=("zoom_per_slot",)),
    _opt("seconds_per_slot", float, DEFAULTS.seconds_per_slot, "Seconds the zoom takes per slot.", "Timing", fields=("seconds_per_slot",)),
    _opt("duration", float, None, "Total seconds (instead of --seconds-per-slot).", "Timing", fields=("duration_s",)),
    _opt("fps", int, DEFAULTS.fps, "Frames per second.", "Timing", fields=("fps",), choices=FPS_CHOICES),
    _opt("hold", float, None, "Seconds held at start and at end (sets both).", "Timing", fields=("hold_start_s", "hold_end_s")),
    _opt("hold_start", float, DEFAULTS.hold_start_s, "Seconds on the photo before the zoom.", "Timing", fields=("hold_start_s",)),
    _opt("hold_end", float, DEFAULTS.hold_end_s, "Seconds on the last slot after the zoom.", "Timing", fields=("hold_end_s",)),
    _opt("ease", str, DEFAULTS.ease, "Speed over time: linear (constant), in-out, in-out-cubic or punchy.", "Timing", fields=("ease",), choices=EASES),
    _opt("direction", str, DEFAULTS.direction, "Zoom out, in, or out and back in.", "Timing", fields=("direction",), choices=DIRECTIONS),
    _opt("loop", bool, DEFAULTS.loop, "The last frame flows into the first.", "Timing", flag="--loop", fields=("loop",)),
    _opt("size", str, "9:16", "9:16, 1:1, 16:9 or WxH (even).", "Picture", fields=("width_px", "height_px")),
    _opt("fit", str, DEFAULTS.fit, "contain (the photo whole, the rest invented) or cover (cropped).", "Picture", fields=("fit",), choices=FITS),
    _opt("crf", int, DEFAULTS.crf, "H.264 quality, 0–51 (lower is better).", "Picture", fields=("crf",)),
    _opt("preset", str, DEFAULTS.x264_preset, "x264 preset (speed vs size).", "Picture", fields=("x264_preset",), choices=X264_PRESETS),
    _opt("slots_per_photo", int, None, "Montage: slots of each photo's part.", "Montage", fields=("slots_per_photo",)),
    _opt("transition", str, DEFAULTS.transition, "Montage: how one photo's part joins the next.", "Montage", fields=("transition",), choices=TRANSITIONS),
    _opt("nest", bool, DEFAULTS.nest, "Each further photo becomes an outer slot of one chain.", "Montage", flag="--nest", fields=("nest",)),
    _opt("engine", str, DEFAULTS.engine, "Outpainting engine (see `zoomout engines`).", "Engine", fields=("engine",), choices=(AUTO, *ENGINES)),
    _opt("seed", int, DEFAULTS.seed, "Seed; slot k uses seed + k.", "Engine", fields=("seed",)),
    _opt("sound", str, DEFAULTS.sound, "eerie, calm, none or an audio file.", "Sound", fields=("sound",)),
    _opt("sound_seed", int, DEFAULTS.sound_seed, "Seed of the designed sound.", "Sound", fields=("sound_seed",)),
    _opt("sound_sync", str, DEFAULTS.sound_sync, "beats: move slot changes onto the audio file's beats.", "Sound", fields=("sound_sync",), choices=SOUND_SYNCS),
    _opt("label", str, DEFAULTS.label, "Visible label on every frame.", "Honesty", fields=("label",)),
    _opt("no_label", bool, False, "No visible label.", "Honesty", flag="--no-label", fields=("label",)),
    _opt("sign_cert", Path, None, "C2PA: signing certificate chain (PEM, leaf first).", "Honesty"),
    _opt("sign_key", Path, None, "C2PA: the certificate's private key (PEM).", "Honesty"),
    _opt("fresh", bool, False, "Outpaint every slot again, ignoring cached slots.", "Cache", flag="--fresh"),
    _opt("cache", bool, True, "Keep slots in the cache to resume.", "Cache", flag="--cache/--no-cache"),
)  # fmt: skip
ENGINE_OPTIONS: tuple[MakeOption, ...] = tuple(
    MakeOption(
        f.name, f.type, None, f.help, f"Engine: {next(iter(f.fields))}" if len(f.fields) == 1 else "Engine",
        flag=f.flag, engine=True,
    )
    for f in engine_flags()
)
MAKE_OPTIONS: dict[str, MakeOption] = {o.name: o for o in (*GENERAL_OPTIONS, *ENGINE_OPTIONS)}

# Options that cannot be given together: (option, option, why)
CONFLICTS = (
    ("label", "no_label", "a label and no label"),
    ("duration", "seconds_per_slot", "the duration sets the seconds per slot"),
    ("hold", "hold_start", "one hold sets both"),
    ("hold", "hold_end", "one hold sets both"),
    ("nest", "slots_per_photo", "a nest is one chain, not a part per photo"),
)


@dataclass(frozen=True)
class MakeRequest:
    """Everything one `zoomout make` is asked to do: the photos, the output, the `Config`, the extras."""

    photos: tuple[Path, ...]
    output: Path
    config: Config
    save_slots: Path | None = None
    contact_sheet: Path | None = None
    sign_cert: Path | None = None
    sign_key: Path | None = None
    cache: bool = True
    fresh: bool = False
    dry_run: bool = False

    def make_video_arguments(self) -> dict[str, Any]:
        """Keyword arguments of `make_video` and `plan_run` (with `photos`, `output` and `config`)."""
        return dict(
            photos=self.photos, output=self.output, config=self.config, save_slots_to=self.save_slots,
            contact_sheet=self.contact_sheet, sign_cert=self.sign_cert, sign_key=self.sign_key,
            cache_dir="default" if self.cache else None, fresh=self.fresh,
        )  # fmt: skip


def cli_spelling(option: MakeOption) -> str:
    return option.long_flag


def key_spelling(option: MakeOption) -> str:
    return repr(option.name)


def build_request(
    photos: list[str | Path],
    given: Mapping[str, Any],
    *,
    spell: Callable[[MakeOption], str] = cli_spelling,
    base: Path | None = None,
) -> MakeRequest:
    """The request for `photos` with the options the user `given` (name → value; None or absent: default).

    Parameters
    ----------
    photos : list of path
    given : mapping of option name → value
        Names are those of MAKE_OPTIONS; an unknown name is an error.
    spell : callable
        How an option is named in errors: `--size` (the CLI), `'size'` (a jobs file), a label.
    base : Path, optional
        Folder that relative paths (photos, outputs, sound, model files) are relative to.

    Raises
    ------
    ConfigError
        Unknown or contradicting options, or a value out of range: one line naming the option.
    """
    unknown = [name for name in given if name not in MAKE_OPTIONS]
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r} (options: {', '.join(MAKE_OPTIONS)})")
    given = {name: value for name, value in given.items() if value is not None}
    for first, second, why in CONFLICTS:
        if first in given and second in given and given[first] is not False and given[second] is not False:
            a, b = spell(MAKE_OPTIONS[first]), spell(MAKE_OPTIONS[second])
            raise ConfigError(f"{a} and {b} cannot be given together ({why})")
    value = {name: given.get(name, option.default) for name, option in MAKE_OPTIONS.items()}

    def path(name: str) -> Path | None:
        raw = value[name]
        return None if raw is None else _resolve(Path(raw), base)

    with naming_options(spell, given):
        width_px, height_px = _parse_size(value["size"])
        engine = value["engine"]
        engine_given = {o.name: value[o.name] for o in ENGINE_OPTIONS}
        for name, flag in ((f.name, f) for f in engine_flags()):
            if flag.type is Path and isinstance(engine_given.get(name), (str, Path)):  # a file, not lines typed in
                engine_given[name] = _resolve(Path(engine_given[name]), base)
        engine_options = engine_options_from(
            engine, engine_given, spell=lambda flag: spell(MAKE_OPTIONS[flag.name])
        ) if isinstance(engine, str) else None
        hold = value["hold"]
        sound = value["sound"]
        if isinstance(sound, str) and sound not in ("eerie", "calm", "none") and base is not None:
            sound = str(_resolve(Path(sound), base))
        config = Config(
            width_px=width_px, height_px=height_px, slots=value["slots"], zoom_per_slot=value["zoom"],
            seconds_per_slot=value["seconds_per_slot"], fps=value["fps"],
            hold_start_s=value["hold_start"] if hold is None else hold, hold_end_s=value["hold_end"] if hold is None else hold,
            fit=value["fit"], ease=value["ease"], direction=value["direction"], loop=value["loop"],
            duration_s=value["duration"], slots_per_photo=value["slots_per_photo"], transition=value["transition"],
            nest=value["nest"], engine=engine, engine_options=engine_options, seed=value["seed"], sound=sound,
            sound_seed=value["sound_seed"], sound_sync=value["sound_sync"], crf=value["crf"],
            x264_preset=value["preset"], label=None if value["no_label"] else value["label"],
        )  # fmt: skip
    return MakeRequest(
        photos=tuple(_resolve(Path(p), base) for p in photos), output=path("output"), config=config,
        save_slots=path("save_slots"), contact_sheet=path("contact_sheet"), sign_cert=path("sign_cert"),
        sign_key=path("sign_key"), cache=bool(value["cache"]), fresh=bool(value["fresh"]), dry_run=bool(value["dry_run"]),
    )  # fmt: skip


def options_for_field(field: str) -> list[MakeOption]:
    """The options that set `Config` field `field` (an engine field: the engine flag that sets it)."""
    engine_fields = {flag.name: flag.fields.values() for flag in engine_flags()}
    return [
        o for o in MAKE_OPTIONS.values()
        if field in o.fields or o.name == field or (o.engine and field in engine_fields.get(o.name, ()))
    ]  # fmt: skip


@contextmanager
def naming_options(spell: Callable[[MakeOption], str], given: Mapping[str, Any] = {}) -> Iterator[None]:
    """Re-raise a `ConfigError` about a field (`width_px should …`) as one about the option typed (`--size width should …`)."""
    try:
        yield
    except ConfigError as error:
        renamed = rename_option(error, spell, given)
        if renamed is None:
            raise
        raise renamed from None


def rename_option(
    error: ConfigError, spell: Callable[[MakeOption], str], given: Mapping[str, Any] = {}
) -> ConfigError | None:
    """`error` naming the option as the user typed it (`spell`), or None when it names no option."""
    field, message = error.field, str(error)
    candidates = options_for_field(field or "")
    if not field or not candidates or not message.startswith(field):
        return None
    option = next((o for o in candidates if o.name in given), candidates[0])
    part = f" {field.removesuffix('_px')}" if len(option.fields) > 1 and field.endswith("_px") else ""
    rest = message[len(field) :]
    for other in MAKE_OPTIONS.values():  # options the message points to (`for none: no_label`)
        if "_" in other.name:
            rest = re.sub(rf"\b{other.name}\b", lambda _, other=other: spell(other), rest)
    return ConfigError(spell(option) + part + rest, field=field)


def respell_flags(text: str, spell: Callable[[MakeOption], str | None]) -> str:
    """A library note (which names options by their flags, `--fresh to redo them`) in a front end's words.

    `spell` names an option as that front end does, or None where it has no such option: a
    parenthesis that points to it is dropped, since the user could not follow it.
    """
    for option in MAKE_OPTIONS.values():
        flags = [f for f in option.flag.split("/") if f.startswith("--")]
        for flag in flags:
            typed = rf"{re.escape(flag)}(?![\w-])"
            if not re.search(typed, text):
                continue
            spelled = spell(option)
            if spelled is None:
                text = re.sub(rf" ?\([^()]*{typed}[^()]*\)", "", text)
            else:
                text = re.sub(typed, lambda _: spelled, text)
    return text


def _parse_size(size: object) -> tuple[int, int]:
    if not isinstance(size, str):
        raise ConfigError(f"size should be text such as 9:16 or 1080x1920 but is {size!r}")
    return parse_size(size)


def _resolve(path: Path, base: Path | None) -> Path:
    path = path.expanduser()
    return path if base is None or path.is_absolute() else base / path


__all__ = ["CONFLICTS", "MAKE_OPTIONS", "PANELS", "MakeOption", "MakeRequest", "build_request"]
