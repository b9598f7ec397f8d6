"""The engine interface: fill the masked ring of a slot, and say what the engine is.

An engine only implements `_outpaint`; `Engine.outpaint` owns the shared work
(input checks, pasting the known pixels back, output checks), as IOPaint's
`InpaintModel` does for its models. Everything else zoomout knows about an engine is
declared on its class: its options (a frozen dataclass whose fields carry their command-line
flag and help, see `option`), whether it can run here (weights included), whether `--engine
auto` may pick it, and how it describes itself in the manifest.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import numpy as np


class Guide(NamedTuple):
    """What a slot's ring is to turn into: the next nested photo as this slot sees its centre.

    In a nest, slot N is a given photo around the shrunk chain; slot N − d shows the middle
    1/zoomᵈ of that photo's frame. An engine that takes the guide lets the ring's colours go
    over into it, so the chain reaches the photo already in its colours instead of as a
    rectangle of another scene pasted into it.

    Attributes
    ----------
    image : (H, W, 3) uint8 ndarray
        The photo's fitted frame, its middle enlarged to the slot (blurred: enlarged zoomᵈ times).
    known : (H, W) bool ndarray
        Where the photo covers the slot (all of it with fit 'cover').
    slots_before : int
        d: how many slots before the photo this slot is.
    """

    image: np.ndarray
    known: np.ndarray
    slots_before: int = 1


def option(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    parse: Callable[[Any], Any] | None = None,
    cli_type: type | None = None,
) -> Any:
    """A field of an engine's options dataclass, declared with what the CLI, the web form and jobs files need.

    Parameters
    ----------
    default
        The field's default (a tuple default is fine: the dataclass is frozen).
    help : str
        One line for `--help` and the web form.
    flag : str, optional
        The long flag, `--model`; default: the field name with dashes. Engines that share a
        flag (`--device`) share one option on the command line. A boolean pair reads
        `--no-strangers/--allow-strangers`.
    parse : callable, optional
        Turns what the user typed (a file path, a comma list) into the field's value.
    cli_type : type, optional
        The type the user types, when it differs from the field's (a `Path` parsed into prompts).
    """
    return dataclasses.field(default=default, metadata={"help": help, "flag": flag, "parse": parse, "cli_type": cli_type})


class Engine(ABC):
    """Base class of the outpainting engines.

    Subclasses set `name` and `summary`, and implement `_outpaint`. Engines with options set
    `options_class` and take an instance in `__init__`. Engines that need packages of an
    extra list them in `packages` and name the `extra`; engines that need more (weights)
    extend `unavailable_reason`.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    # The frozen dataclass of the engine's options (fields declared with `option`), or None.
    options_class: ClassVar[type | None] = None
    # Whether the slots come from a model trained on images (the manifest says so).
    trained_model: ClassVar[bool] = True
    # `--engine auto` tries engines from the highest rank down and takes the first whose
    # `auto_problem` is None; the engine of rank 0 is the fallback that always runs.
    auto_rank: ClassVar[int] = 0
    # Part of the slot cache key: bump it whenever the engine's output for the same input changes.
    revision: ClassVar[str] = "1"
    # Whether `_outpaint` takes `reference`: the latest photo slot at full size (a texture
    # source at the ring's own pixel scale).
    uses_reference: ClassVar[bool] = False
    # Whether `_outpaint` takes `guide` (a `Guide`: the next nested photo at this slot's scale).
    uses_guide: ClassVar[bool] = False
    # Importable packages the engine needs, and the zoomout extra that installs them.
    packages: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str] = ""

    @classmethod
    def unavailable_reason(cls, options: Any = None, *, download: bool = True) -> str | None:
        """Why `make` cannot run this engine here with `options` (None: the defaults), with the fix; None when it can.

        Engines with weights extend this: weights that are not on disk make the engine
        unavailable unless `download` is allowed and the hub answers now (a network call).
        """
        missing = [p for p in cls.packages if importlib.util.find_spec(p) is None]
        if missing:
            return f"{', '.join(missing)} not installed: pip install 'zoomout[{cls.extra}]'"
        return None

    @classmethod
    def availability_note(cls) -> str | None:
        """What a usable engine still lacks here (no GPU: slow; weights: downloaded on the first run), or None."""
        return None

    @classmethod
    def auto_problem(cls, options: Any = None) -> str | None:
        """Why `--engine auto` should not pick this engine here, or None when it may."""
        return cls.unavailable_reason(options)

    @classmethod
    def auto_note(cls, options: Any = None) -> str:
        """Why `--engine auto` picked this engine (when `auto_problem` is None)."""
        return "it suits this machine"

    @classmethod
    def auto_options(cls, options: Any = None) -> Any:
        """The options `--engine auto` runs this engine with (e.g. a faster mode on this machine); default: as given."""
        return options

    @classmethod
    def run_notes(cls, options: Any = None) -> tuple[str, ...]:
        """What the user should know before a run with `options` (a trade-off, an option that has no effect)."""
        return ()

    def describe(self) -> dict[str, Any]:
        """What the manifest records of the engine that made the slots."""
        return {"name": self.name, "summary": self.summary, "revision": self.revision, "trained_model": self.trained_model}

    def outpaint(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        *,
        seed: int,
        slot: int,
        reference: np.ndarray | None = None,
        reference_slot: int | None = None,
        guide: Guide | None = None,
    ) -> np.ndarray:
        """Generate the masked pixels of `image`.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
            RGB slot; pixels under `mask` are undefined and must not be relied on.
        mask : (H, W) bool ndarray
            True where pixels are to be generated.
        seed : int
            The whole result is a function of (image, mask, seed, slot, reference, reference_slot, guide).
        slot : int
            Index of the slot in the chain (engines may vary prompts per slot).
        reference : (H, W, 3) uint8 ndarray, optional
            The latest photo slot (slot 0, or a nested photo) at full size, for engines with
            `uses_reference`.
        reference_slot : int, optional
            The index of that photo slot in the chain.
        guide : Guide, optional
            For the slots just before a nested photo: that photo at this slot's scale, for
            engines with `uses_guide`.

        Returns
        -------
        (H, W, 3) uint8 ndarray
            `image` with the masked pixels generated; unmasked pixels are unchanged.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image should be (H, W, 3) uint8 but is {image.shape} {image.dtype}")
        if mask.shape != image.shape[:2] or mask.dtype != bool:
            raise ValueError(f"mask should be {image.shape[:2]} bool but is {mask.shape} {mask.dtype}")
        if not mask.any():
            return image.copy()
        if mask.all():
            raise ValueError("mask covers the whole image: there is nothing to extend")
        if guide is not None and (guide.image.shape != image.shape or guide.known.shape != mask.shape):
            raise ValueError(f"guide should be {image.shape} with a {mask.shape} mask but is {guide.image.shape}, {guide.known.shape}")
        extra = {"reference": reference, "reference_slot": reference_slot} if self.uses_reference and reference is not None else {}
        if self.uses_guide and guide is not None:
            extra["guide"] = guide
        filled = self._outpaint(image, mask, seed=seed, slot=slot, **extra)
        if filled.shape != image.shape or filled.dtype != np.uint8:
            raise RuntimeError(
                f"engine {self.name!r} returned {filled.shape} {filled.dtype}, expected {image.shape} uint8"
            )
        return np.where(mask[..., None], filled, image)  # 8× faster than boolean indexing on a full slot

    @abstractmethod
    def _outpaint(self, image: np.ndarray, mask: np.ndarray, *, seed: int, slot: int) -> np.ndarray:
        """Return an (H, W, 3) uint8 image whose masked pixels are generated."""
