"""The outpainting chain: slot k+1 is slot k shrunk by the zoom factor, centred, its ring generated."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .engines import Engine
from .geometry import centred_offset, place
from .progress import ProgressCallback, ProgressEvent



@dataclass(frozen=True)
class SlotStack:
    """The chain's result.

    Attributes
    ----------
    images : list of (H, W, 3) uint8 ndarray
        Slot 0 (the fitted photo) to slot N; slot k shows the world `W·s^k × H·s^k`.
    masks : list of (H, W) bool ndarray
        True where a slot's pixels were generated.
    zoom_per_slot : float
    """

    images: list[np.ndarray]
    masks: list[np.ndarray]
    zoom_per_slot: float

    @property
    def generated_fractions(self) -> list[float]:
        return [float(mask.mean()) for mask in self.masks]


def fit_photo(photo: np.ndarray, width_px: int, height_px: int, fit: str) -> tuple[np.ndarray, np.ndarray]:
    """Fit a photo to the canvas: `contain` keeps it whole, `cover` crops it to fill.

    Returns
    -------
    image : (height_px, width_px, 3) uint8 ndarray
    unknown : (height_px, width_px) bool ndarray
        True where the photo does not fully cover a pixel (to be generated).
    """
    h, w = photo.shape[:2]
    pick = min if fit == "contain" else max
    scale = pick(width_px / w, height_px / h)
    offset = centred_offset((w, h), (width_px, height_px), scale)
    image, coverage = place(photo, (height_px, width_px), scale, offset)
    return image, coverage < 1.0


def shrink_slot(slot: np.ndarray, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """Slot k shrunk by `zoom`, centred on a canvas of its own size (anti-aliased, exact float geometry).

    Returns
    -------
    image : (H, W, 3) uint8 ndarray
    unknown : (H, W) bool ndarray
        True where pixels are not fully covered by the shrunk slot: the ring to generate.
    """
    h, w = slot.shape[:2]
    scale = 1.0 / zoom
    image, coverage = place(slot, (h, w), scale, centred_offset((w, h), (w, h), scale))
    return image, coverage < 1.0


def build_chain(
    photo: np.ndarray,
    *,
    width_px: int,
    height_px: int,
    slots: int,
    zoom_per_slot: float,
    fit: str,
    engine: Engine,
    seed: int,
    progress: ProgressCallback | None = None,
) -> SlotStack:
    """Outpaint slot after slot. Slot k is generated with seed `seed + k`, so one slot can be redone.

    After each slot the invariant is checked: its kept centre equals the shrunk previous slot.
    """
    image, unknown = fit_photo(photo, width_px, height_px, fit)
    images = [engine.outpaint(image, unknown, seed=seed, slot=0)]
    masks = [unknown]
    if progress:
        progress(ProgressEvent("chain", 1, slots + 1, images[0]))
    for k in range(1, slots + 1):
        shrunk, unknown = shrink_slot(images[-1], zoom_per_slot)
        slot = engine.outpaint(shrunk, unknown, seed=seed + k, slot=k)
        if not np.array_equal(slot[~unknown], shrunk[~unknown]):
            raise RuntimeError(f"slot {k}: engine {engine.name!r} changed the kept centre")
        images.append(slot)
        masks.append(unknown)
        if progress:
            progress(ProgressEvent("chain", k + 1, slots + 1, slot))
    return SlotStack(images=images, masks=masks, zoom_per_slot=zoom_per_slot)


def save_slots(stack: SlotStack, folder: Path) -> list[Path]:
    """Write `slot_00.png` … and `mask_00.png` … (white = generated), each file atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for k, (image, mask) in enumerate(zip(stack.images, stack.masks)):
        for name, pixels in ((f"slot_{k:02d}.png", image), (f"mask_{k:02d}.png", mask.astype(np.uint8) * 255)):
            path = folder / name
            write_png_atomic(pixels, path)
            written.append(path)
    return written


def write_png_atomic(pixels: np.ndarray, path: Path) -> None:
    """Write a PNG so that a reader never sees a half-written file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            Image.fromarray(pixels).save(handle, format="PNG", compress_level=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
