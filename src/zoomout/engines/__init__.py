"""Outpainting engines, one per file, in a plain registry."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError, EngineUnavailableError
from .base import Engine
from .classic import ClassicEngine
from .diffusion import DiffusionEngine, DiffusionOptions, cuda_device_name, weights_problem
from .lama import LamaEngine, LamaOptions

ENGINES: dict[str, type[Engine]] = {
    ClassicEngine.name: ClassicEngine,
    DiffusionEngine.name: DiffusionEngine,
    LamaEngine.name: LamaEngine,
}
# Engines that take options: the frozen dataclass each one takes (all of it shapes the slots).
ENGINE_OPTIONS: dict[str, type] = {DiffusionEngine.name: DiffusionOptions, LamaEngine.name: LamaOptions}
EngineOptions = DiffusionOptions | LamaOptions
AUTO = "auto"


@dataclass(frozen=True)
class EngineStatus:
    name: str
    summary: str
    unavailable_reason: str | None
    note: str | None = None

    @property
    def usable(self) -> bool:
        return self.unavailable_reason is None


def engine_statuses() -> list[EngineStatus]:
    """Every registered engine and whether it can run on this machine."""
    return [
        EngineStatus(cls.name, cls.summary, cls.unavailable_reason(), cls.availability_note())
        for cls in ENGINES.values()
    ]


def engine_class(name: str) -> type[Engine]:
    """The engine class registered under `name`; an unknown name lists the known ones."""
    try:
        return ENGINES[name]
    except KeyError:
        raise ConfigError(f"engine should be one of {', '.join([AUTO, *sorted(ENGINES)])} but is {name!r}") from None


def create_engine(name: str, options: EngineOptions | None = None) -> Engine:
    """An engine ready to outpaint (model loaded), or a one-line error saying what is missing."""
    cls = engine_class(name)
    reason = cls.unavailable_reason()
    if reason is not None:
        raise EngineUnavailableError(f"engine {name!r} cannot run here: {reason}")
    check_engine_options(name, options)
    if name not in ENGINE_OPTIONS:
        return cls()
    try:
        return cls(options)  # type: ignore[call-arg]
    except EngineUnavailableError as error:
        raise EngineUnavailableError(f"engine {name!r} cannot run here: {error}") from None


def check_engine_options(name: str, options: object) -> None:
    """Options are None or the dataclass of engine `name` (`auto` takes the diffusion engine's)."""
    if options is None:
        return
    expected = ENGINE_OPTIONS.get(DiffusionEngine.name if name == AUTO else name)
    if expected is None or not isinstance(options, expected):
        takes = f"takes {expected.__name__}" if expected else "takes no options"
        raise ConfigError(f"engine_options should fit engine {name!r} ({takes}) but are {type(options).__name__}")


def choose_engine(options: EngineOptions | None = None) -> tuple[str, str]:
    """`--engine auto`: (engine, why). Diffusion when a CUDA GPU and the model's weights are here, else classic."""
    chose_classic = "engine auto chose classic:"
    if DiffusionEngine.unavailable_reason() is not None:
        extra = "the diffusion extra is not installed (pip install 'zoomout[diffusion]')"
        return ClassicEngine.name, f"{chose_classic} {extra}"
    gpu = cuda_device_name()
    if gpu is None:
        return ClassicEngine.name, f"{chose_classic} no CUDA GPU (--engine diffusion runs on the CPU, minutes per slot)"
    diffusion_options = options if isinstance(options, DiffusionOptions) else DiffusionOptions()
    problem = weights_problem(diffusion_options)
    if problem is not None:
        return ClassicEngine.name, f"{chose_classic} {problem}"
    model = diffusion_options.model_source
    return DiffusionEngine.name, f"engine auto chose diffusion: CUDA GPU {gpu} and {model} are here"


__all__ = [
    "AUTO", "ENGINES", "ENGINE_OPTIONS", "DiffusionOptions", "Engine", "EngineOptions", "EngineStatus", "LamaOptions",
    "check_engine_options", "choose_engine", "create_engine", "engine_class", "engine_statuses",
]  # fmt: skip
