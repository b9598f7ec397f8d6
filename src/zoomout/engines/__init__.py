"""Outpainting engines, one per file, in a plain registry."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError, EngineUnavailableError
from .base import Engine
from .classic import ClassicEngine

ENGINES: dict[str, type[Engine]] = {ClassicEngine.name: ClassicEngine}


@dataclass(frozen=True)
class EngineStatus:
    name: str
    summary: str
    unavailable_reason: str | None

    @property
    def usable(self) -> bool:
        return self.unavailable_reason is None


def engine_statuses() -> list[EngineStatus]:
    """Every registered engine and whether it can run on this machine."""
    return [EngineStatus(cls.name, cls.summary, cls.unavailable_reason()) for cls in ENGINES.values()]


def engine_class(name: str) -> type[Engine]:
    """The engine class registered under `name`; an unknown name lists the known ones."""
    try:
        return ENGINES[name]
    except KeyError:
        raise ConfigError(f"engine should be one of {', '.join(sorted(ENGINES))} but is {name!r}") from None


def create_engine(name: str) -> Engine:
    """An engine ready to outpaint, or a one-line error saying what is missing."""
    cls = engine_class(name)
    reason = cls.unavailable_reason()
    if reason is not None:
        raise EngineUnavailableError(f"engine {name!r} cannot run here: {reason}")
    return cls()


__all__ = ["ENGINES", "Engine", "EngineStatus", "create_engine", "engine_class", "engine_statuses"]
