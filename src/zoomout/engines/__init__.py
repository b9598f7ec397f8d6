"""Outpainting engines, one per file, in a plain registry that owns all engine knowledge.

Adding an engine is one new file (an `Engine` subclass with its options dataclass) and one
line in `ENGINES`. The command line, the web form, jobs files, `zoomout engines`, `--engine
auto` and the manifest all read the engines from here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ConfigError, EngineUnavailableError
from .base import Engine
from .classic import ClassicEngine
from .diffusion import DiffusionEngine, DiffusionOptions
from .lama import LamaEngine, LamaOptions

ENGINES: dict[str, type[Engine]] = {
    ClassicEngine.name: ClassicEngine,
    DiffusionEngine.name: DiffusionEngine,
    LamaEngine.name: LamaEngine,
}
AUTO = "auto"
EngineOptions = Any  # an instance of an engine's `options_class`


@dataclass(frozen=True)
class EngineStatus:
    name: str
    summary: str
    unavailable_reason: str | None
    note: str | None = None

    @property
    def usable(self) -> bool:
        return self.unavailable_reason is None


@dataclass(frozen=True)
class EngineFlag:
    """One command-line flag of the engines' options (`--device` serves every engine that has a `device`).

    Attributes
    ----------
    name : str
        The option's name in jobs files and the web form: the flag without dashes, with underscores.
    flag : str
        As typed: `--model`, or a boolean pair `--no-strangers/--allow-strangers`.
    fields : dict of engine name → options field name
    type : type
        What the user types (str, int, float, bool, Path).
    help : str
    parse : callable or None
        Turns what the user typed into the field's value.
    """

    name: str
    flag: str
    fields: dict[str, str]
    type: type
    help: str
    parse: Callable[[Any], Any] | None


def engine_statuses(*, download: bool = True) -> list[EngineStatus]:
    """Every registered engine and whether `make` can run it here, weights included.

    With `download` False, weights must be on disk (no network call is made).
    """
    statuses = []
    for cls in ENGINES.values():
        reason = cls.unavailable_reason(download=download)
        statuses.append(EngineStatus(cls.name, cls.summary, reason, None if reason else cls.availability_note()))
    return statuses


def engine_class(name: str) -> type[Engine]:
    """The engine class registered under `name`; an unknown name lists the known ones."""
    try:
        return ENGINES[name]
    except KeyError:
        raise ConfigError(f"engine should be one of {', '.join([AUTO, *sorted(ENGINES)])} but is {name!r}") from None


def options_class(name: str) -> type | None:
    """The options dataclass engine `name` takes (`auto` takes those of the engines it may pick), or None."""
    if name == AUTO:
        return next((cls.options_class for cls in _auto_order() if cls.options_class), None)
    return engine_class(name).options_class


def create_engine(name: str, options: EngineOptions | None = None) -> Engine:
    """An engine ready to outpaint (model loaded), or a one-line error saying what is missing."""
    cls = engine_class(name)
    check_engine_options(name, options)
    reason = cls.unavailable_reason(options)
    if reason is not None:
        raise EngineUnavailableError(f"engine {name!r} cannot run here: {reason}")
    try:
        return cls(options) if cls.options_class else cls()  # type: ignore[call-arg]
    except EngineUnavailableError as error:
        raise EngineUnavailableError(f"engine {name!r} cannot run here: {error}") from None


def check_engine_options(name: str, options: object) -> None:
    """Options are None or the dataclass of engine `name`."""
    if options is None:
        return
    expected = options_class(name)
    if expected is None or not isinstance(options, expected):
        takes = f"takes {expected.__name__}" if expected else "takes no options"
        raise ConfigError(f"engine_options should fit engine {name!r} ({takes}) but are {type(options).__name__}")


def choose_engine(options: EngineOptions | None = None) -> tuple[str, str]:
    """`--engine auto`: (engine, why). The first engine by rank that suits this machine; the last always does."""
    problems = []
    for cls in _auto_order():
        fitting = options if cls.options_class and isinstance(options, cls.options_class) else None
        problem = cls.auto_problem(fitting) if cls.auto_rank else None
        if problem is None:
            why = cls.auto_note(fitting) if cls.auto_rank else "; ".join(problems)
            return cls.name, f"engine auto chose {cls.name}: {why}"
        problems.append(problem)
    raise AssertionError("the engine of rank 0 always runs")


def _auto_order() -> list[type[Engine]]:
    return sorted(ENGINES.values(), key=lambda cls: -cls.auto_rank)


def engine_flags() -> list[EngineFlag]:
    """The flags of every engine's options, one per flag, in registry order."""
    flags: dict[str, EngineFlag] = {}
    for name, cls in ENGINES.items():
        for field in dataclasses.fields(cls.options_class) if cls.options_class else ():
            meta = field.metadata
            flag = meta.get("flag") or f"--{field.name.replace('_', '-')}"
            key = flag.split("/")[0].removeprefix("--").replace("-", "_")
            kind = meta.get("cli_type") or {"str": str, "int": int, "float": float, "bool": bool}.get(
                str(field.type).split(" |")[0], str
            )
            help_text = meta.get("help", "")
            if key in flags:  # shared by several engines: each one's help, named
                known = flags[key]
                first = known.help if len(known.fields) > 1 else f"{next(iter(known.fields))}: {known.help}"
                flags[key] = dataclasses.replace(
                    known, fields={**known.fields, name: field.name}, help=f"{first} {name}: {help_text}"
                )
            else:
                flags[key] = EngineFlag(key, flag, {name: field.name}, kind, help_text, meta.get("parse"))
    return list(flags.values())


def engine_options_from(engine: str, given: dict[str, Any], *, spell: Callable[[EngineFlag], str]) -> EngineOptions | None:
    """The options of `engine` from the engine flags the user gave (name → value as typed; None: not given).

    A flag of another engine is an error naming it as the user wrote it (`spell`). `auto`
    takes the options of the engines it may pick. None when no flag was given (defaults).
    """
    target = options_class(engine)
    owners = [name for name, cls in ENGINES.items() if cls.options_class is target]
    values: dict[str, Any] = {}
    for flag in engine_flags():
        value = given.get(flag.name)
        if value is None:
            continue
        field = next((flag.fields[o] for o in owners if o in flag.fields), None)
        if field is None:
            users = " or ".join(flag.fields)
            raise ConfigError(f"{spell(flag)} applies to the {users} engine but the engine is {engine}")
        values[field] = flag.parse(value) if flag.parse else value
    return target(**values) if values and target else None


__all__ = [
    "AUTO", "ENGINES", "DiffusionOptions", "Engine", "EngineFlag", "EngineOptions", "EngineStatus", "LamaOptions",
    "check_engine_options", "choose_engine", "create_engine", "engine_class", "engine_flags", "engine_options_from",
    "engine_statuses", "options_class",
]  # fmt: skip
