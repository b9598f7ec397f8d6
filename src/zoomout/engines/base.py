"""The engine interface: fill the masked ring of a slot.

An engine only implements `_outpaint`; `Engine.outpaint` owns the shared work
(input checks, pasting the known pixels back, output checks), as IOPaint's
`InpaintModel` does for its models.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np


class Engine(ABC):
    """Base class of the outpainting engines.

    Subclasses set `name` and `summary`, and implement `_outpaint`. Engines that need
    packages of an extra list them in `packages` and name the `extra`; engines that need
    more (weights) extend `unavailable_reason`.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    # Part of the slot cache key: bump it whenever the engine's output for the same input changes.
    revision: ClassVar[str] = "1"
    # Whether `_outpaint` takes `reference`: the latest photo slot at full size (a texture
    # source at the ring's own pixel scale).
    uses_reference: ClassVar[bool] = False
    # Importable packages the engine needs, and the zoomout extra that installs them.
    packages: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str] = ""

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this engine cannot run here (with the fix), or None when it can."""
        missing = [p for p in cls.packages if importlib.util.find_spec(p) is None]
        if missing:
            return f"{', '.join(missing)} not installed: pip install 'zoomout[{cls.extra}]'"
        return None

    @classmethod
    def availability_note(cls) -> str | None:
        """What a usable engine still lacks here (no GPU: slow; weights: downloaded on first use), or None."""
        return None

    def outpaint(
        self, image: np.ndarray, mask: np.ndarray, *, seed: int, slot: int, reference: np.ndarray | None = None
    ) -> np.ndarray:
        """Generate the masked pixels of `image`.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
            RGB slot; pixels under `mask` are undefined and must not be relied on.
        mask : (H, W) bool ndarray
            True where pixels are to be generated.
        seed : int
            The whole result is a function of (image, mask, seed, slot).
        slot : int
            Index of the slot in the chain (engines may vary prompts per slot).
        reference : (H, W, 3) uint8 ndarray, optional
            The latest photo slot (slot 0, or a nested photo) at full size, for engines with
            `uses_reference`.

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
        extra = {"reference": reference} if self.uses_reference and reference is not None else {}
        filled = self._outpaint(image, mask, seed=seed, slot=slot, **extra)
        if filled.shape != image.shape or filled.dtype != np.uint8:
            raise RuntimeError(
                f"engine {self.name!r} returned {filled.shape} {filled.dtype}, expected {image.shape} uint8"
            )
        return np.where(mask[..., None], filled, image)  # 8× faster than boolean indexing on a full slot

    @abstractmethod
    def _outpaint(self, image: np.ndarray, mask: np.ndarray, *, seed: int, slot: int) -> np.ndarray:
        """Return an (H, W, 3) uint8 image whose masked pixels are generated."""
