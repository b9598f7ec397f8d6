"""The outpainting chain: slot k+1 is slot k shrunk by the zoom factor, centred, its ring generated."""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import atomic_path, write_png_atomic
from .engines import Engine
from .engines.base import Guide
from .geometry import centred_offset, place
from .progress import ProgressCallback, ProgressEvent

if TYPE_CHECKING:
    from .cache import SlotCache

NEST_BAND = 0.35  # share of the margin around the kept centre generated to blend into a nested photo
GUIDED_SLOTS = 2  # the slots before a nested photo whose rings go over into its colours (engines with `uses_guide`)
EDGE_STEP_RATIO = 1.35  # an outermost row whose step to the next is this many times the steps inside is an artefact
EDGE_ROWS = 8  # the rows inside each edge whose steps set the photo's own



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
    reused : int
        Slots taken from the cache instead of outpainted.
    cached_in : Path or None
        The cache folder that holds these slots as the very files `save_slots` writes.
    """

    images: list[np.ndarray]
    masks: list[np.ndarray]
    zoom_per_slot: float
    reused: int = 0
    cached_in: Path | None = None

    @property
    def generated_fractions(self) -> list[float]:
        return [float(mask.mean()) for mask in self.masks]


def trim_edges(photo: np.ndarray) -> np.ndarray:
    """(h', w', C) the photo without the outermost row or column of each edge where that is an artefact.

    Encoders, resizers and lenses can leave a photo's outermost row unlike the rows inside:
    the cheetah photo's top row is 5–8 levels darker than the next ones (86 against 91–94).
    A fitted photo is enlarged, so over a chain such a row is a thin frame drawn around the
    photo in every slot: a line at the ring's border that no fill can hide. An edge's
    outermost row goes when its step to the next row is more than EDGE_STEP_RATIO times the
    median step between the EDGE_ROWS rows inside it. Of the 44 edges of the eleven photos
    of `bench/bench_picture.py`, three are (1.43–1.83); the others step 0.56–1.24 times.
    """
    height, width = photo.shape[:2]
    if min(height, width) <= 2 * (EDGE_ROWS + 1):
        return photo
    edges = (photo, photo[::-1], photo.swapaxes(0, 1), photo.swapaxes(0, 1)[::-1])  # each with its outermost row first
    top, bottom, left, right = (int(_is_artefact(edge[: EDGE_ROWS + 1])) for edge in edges)
    return photo[top : height - bottom, left : width - right]


def _is_artefact(rows: np.ndarray) -> bool:
    """Whether the first of (EDGE_ROWS + 1, n, C) rows, outermost first, steps to the next far more than the others do."""
    steps = np.abs(np.diff(rows.astype(np.float32), axis=0)).mean(axis=tuple(range(1, rows.ndim)))
    return bool(steps[0] > EDGE_STEP_RATIO * max(float(np.median(steps[1:])), 1.0))


def fit_photo(photo: np.ndarray, width_px: int, height_px: int, fit: str) -> tuple[np.ndarray, np.ndarray]:
    """Fit a photo to the canvas: `contain` keeps it whole, `cover` crops it to fill.

    The photo's edges are trimmed first (`trim_edges`).

    Returns
    -------
    image : (height_px, width_px, 3) uint8 ndarray
    unknown : (height_px, width_px) bool ndarray
        True where the photo does not fully cover a pixel (to be generated).
    """
    photo = trim_edges(photo)
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
    image : (H, W[, C]) uint8 ndarray, like `slot`
    unknown : (H, W) bool ndarray
        True where pixels are not fully covered by the shrunk slot: the ring to generate.
    """
    h, w = slot.shape[:2]
    scale = 1.0 / zoom
    image, coverage = place(slot, (h, w), scale, centred_offset((w, h), (w, h), scale))
    return image, coverage < 1.0


def nest_photo(
    previous: np.ndarray, frame: tuple[np.ndarray, np.ndarray], zoom: float, band_share: float = NEST_BAND
) -> tuple[np.ndarray, np.ndarray]:
    """A given photo as the next slot: its frame area around the shrunk previous slot.

    The previous slot shrunk by `zoom` keeps the centre (the chain's invariant); the photo,
    fitted to the canvas (`frame`, as `fit_photo` gives it), keeps the outside; a band between
    them (`band_share` of the margin) is left to generate so that one blends into the other.

    Returns
    -------
    image : (H, W, 3) uint8 ndarray
    unknown : (H, W) bool ndarray
    """
    h, w = previous.shape[:2]
    centre, centre_unknown = shrink_slot(previous, zoom)
    outer, outer_unknown = frame
    grow_x, grow_y = band_share * w * (1 - 1 / zoom) / 2, band_share * h * (1 - 1 / zoom) / 2
    x_lo, y_lo = (w - w / zoom) / 2 - grow_x, (h - h / zoom) / 2 - grow_y
    cols, rows = np.arange(w) + 0.5, np.arange(h) + 0.5
    band = np.outer((rows > y_lo) & (rows < h - y_lo), (cols > x_lo) & (cols < w - x_lo))
    unknown = centre_unknown & (band | outer_unknown)
    image = np.where(centre_unknown[..., None], outer, centre)
    image[unknown] = 0
    return image, unknown


def nest_guide(frame: tuple[np.ndarray, np.ndarray], zoom: float, slots_before: int = 1) -> Guide:
    """A nested photo as a slot `zoom` times closer in sees it: the middle of its fitted frame, enlarged.

    Parameters
    ----------
    frame : ((H, W, 3) uint8 ndarray, (H, W) bool ndarray)
        The photo fitted to the slot and where it does not cover it (`fit_photo`).
    zoom : float
        How much closer the slot is than the photo's: zoom_per_slotᵈ, d slots before it.
    slots_before : int
        d.
    """
    image, unknown = frame
    height, width = unknown.shape
    offset = centred_offset((width, height), (width, height), zoom)
    enlarged, _ = place(image, unknown.shape, zoom, offset)
    covered, _ = place(np.where(unknown, 0, 255).astype(np.uint8), unknown.shape, zoom, offset)
    return Guide(enlarged, covered == 255, slots_before)


def _guided_by(k: int, photo: np.ndarray, outer_photos: dict[int, np.ndarray]) -> int | None:
    """The slot of the nested photo that slot k goes over into: the next one, within GUIDED_SLOTS, unless it is the chain's own photo.

    A loop that closes on its own photo gets none: enlarging the photo's middle would paint a
    blurred giant of its subject around the chain, the ghost a loop must not have.
    """
    following = min((n for n in outer_photos if n > k), default=None)
    if k == 0 or k in outer_photos or following is None or following - k > GUIDED_SLOTS:
        return None
    outer = outer_photos[following]
    if outer is photo or (outer.shape == photo.shape and np.array_equal(outer, photo)):
        return None
    return following


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
    cache: SlotCache | None = None,
    outer_photos: dict[int, np.ndarray] | None = None,
) -> SlotStack:
    """Outpaint slot after slot. Slot k is generated with seed `seed + k`, so one slot can be redone.

    After each slot the invariant is checked: its kept centre equals the shrunk previous slot.
    A slot found in `cache` that passes the same check is reused instead of outpainted, so a
    killed run that starts again redoes at most the slot it was working on. `outer_photos`
    maps slot indices to photos that become those slots' outside (a nest).
    """
    outer_photos = outer_photos or {}
    images: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    reference: np.ndarray | None = None
    reference_slot: int | None = None
    reused = 0

    @functools.lru_cache(maxsize=1)  # a nested photo is fitted once for its slot and the slots it guides
    def fitted(n: int) -> tuple[np.ndarray, np.ndarray]:
        return fit_photo(outer_photos[n], width_px, height_px, fit)

    guided_by = None
    for k in range(slots + 1):
        if k == 0:
            known, unknown = fit_photo(photo, width_px, height_px, fit)
        elif k in outer_photos:
            # a guided slot before ends in the photo's own pixels already: no band to blend them
            known, unknown = nest_photo(images[-1], fitted(k), zoom_per_slot, 0.0 if guided_by is not None else NEST_BAND)
        else:
            known, unknown = shrink_slot(images[-1], zoom_per_slot)
        guided_by = _guided_by(k, photo, outer_photos) if engine.uses_guide else None
        cached = cache.load(k) if cache is not None else None
        if cached is not None and _keeps_centre(cached[0], known, unknown) and np.array_equal(cached[1], unknown):
            slot = cached[0]
            reused += 1
        else:
            guide = None if guided_by is None else nest_guide(fitted(guided_by), zoom_per_slot ** (guided_by - k), guided_by - k)
            slot = engine.outpaint(
                known, unknown, seed=seed + k, slot=k, reference=reference, reference_slot=reference_slot, guide=guide
            )  # fmt: skip
            if not _keeps_centre(slot, known, unknown):
                raise RuntimeError(f"slot {k}: engine {engine.name!r} changed the kept centre")
            if cache is not None:
                cache.store(k, slot, unknown)
        if k == 0 or k in outer_photos:
            # the latest photo at full size: a texture source at the ring's own pixel scale
            # that does not fade from slot to slot as generated texture would
            reference, reference_slot = slot, k
        images.append(slot)
        masks.append(unknown)
        if progress:  # slot 0 is the photo's: done 0 of `slots`, with its image for a gallery
            progress(ProgressEvent("chain", k, slots, slot))
    cached_in = cache.folder if cache is not None and cache.error is None else None
    return SlotStack(images=images, masks=masks, zoom_per_slot=zoom_per_slot, reused=reused, cached_in=cached_in)


def _keeps_centre(slot: np.ndarray, known: np.ndarray, unknown: np.ndarray) -> bool:
    return slot.shape == known.shape and np.array_equal(slot[~unknown], known[~unknown])


def save_slots(stack: SlotStack, folder: Path) -> list[Path]:
    """Write `slot_00.png` … and `mask_00.png` … (white = generated), each file atomically.

    Files the cache already holds are copied rather than encoded again (they are the same bytes).
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for k, (image, mask) in enumerate(zip(stack.images, stack.masks)):
        for name, pixels in ((f"slot_{k:02d}.png", image), (f"mask_{k:02d}.png", mask.astype(np.uint8) * 255)):
            path = folder / name
            cached = stack.cached_in / name if stack.cached_in is not None else None
            if cached is not None and cached.is_file():
                with atomic_path(path) as tmp:
                    shutil.copyfile(cached, tmp)
            else:
                write_png_atomic(pixels, path)
            written.append(path)
    return written
