"""Run a model at its working size and map its result back to the slot, without a seam.

The AI engines share this: a model works best near the resolution it was trained at, but a
slot is any size. `outpaint_at_working_size` resizes the slot to a working size (or letterboxes
it into a fixed canvas), runs the model, maps the result back exactly to the slot, matches the
generated colours to the known ones and feathers the boundary. The engine only supplies `run`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

# `run(image, mask)`: (h, w, 3) uint8 RGB and (h, w) bool (True = generate) → (h, w, 3) uint8
ModelRun = Callable[[np.ndarray, np.ndarray], np.ndarray]

_DILATE_WORK_PX = 3  # the model regenerates this far into the known side: resampled edge pixels, and the colour band
_FEATHER_BANDS = 2.0  # the residual fades out over this many dilation widths inside the ring
_GAIN_RANGE = (0.5, 2.0)  # a colour correction never scales contrast beyond this
_MIN_BAND_PX = 32  # fewer band pixels than this give no reliable colour statistics


@dataclass(frozen=True)
class WorkingBox:
    """Where the slot lies in the model's input.

    Attributes
    ----------
    canvas_hw : (int, int)
        Size of the model's input.
    box : (top, left, height, width)
        The slot's area in the canvas; the rest (letterbox) is generated and discarded.
    """

    canvas_hw: tuple[int, int]
    box: tuple[int, int, int, int]


def working_size(height_px: int, width_px: int, *, native_px: int, multiple: int) -> tuple[int, int]:
    """(h, w) with the slot's aspect, area close to `native_px`², each a multiple of `multiple`."""
    if height_px < 1 or width_px < 1:
        raise ValueError(f"slot size should be positive but is {height_px}x{width_px}")
    if native_px < multiple or multiple < 1:
        raise ValueError(f"native_px should be >= multiple >= 1 but are {native_px} and {multiple}")
    scale = native_px / math.sqrt(height_px * width_px)
    return tuple(max(multiple, round(side * scale / multiple) * multiple) for side in (height_px, width_px))  # type: ignore[return-value]


def working_box(height_px: int, width_px: int, *, native_px: int, multiple: int,
                canvas_hw: tuple[int, int] | None = None) -> WorkingBox:  # fmt: skip
    """The working geometry: the whole input at `working_size`, or the slot centred in a fixed canvas."""
    if canvas_hw is None:
        h, w = working_size(height_px, width_px, native_px=native_px, multiple=multiple)
        return WorkingBox((h, w), (0, 0, h, w))
    ch, cw = canvas_hw
    scale = min(ch / height_px, cw / width_px)
    h, w = min(ch, max(1, round(height_px * scale))), min(cw, max(1, round(width_px * scale)))
    return WorkingBox((ch, cw), ((ch - h) // 2, (cw - w) // 2, h, w))


def outpaint_at_working_size(
    image: np.ndarray,
    mask: np.ndarray,
    run: ModelRun,
    *,
    native_px: int,
    multiple: int,
    canvas_hw: tuple[int, int] | None = None,
) -> np.ndarray:
    """Generate the masked pixels of `image` with `run`, called once at the working size.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        The slot; pixels under `mask` are undefined.
    mask : (H, W) bool ndarray
        True where pixels are to be generated.
    run : callable
        The model: `run(image, mask)` at the working size, returning (h, w, 3) uint8.
    native_px : int
        Side of the square the model was trained at; the working area is close to its square.
    multiple : int
        The working sides are multiples of it (8 for latent diffusion).
    canvas_hw : (int, int), optional
        A fixed input size (a model exported with a static shape): the slot is letterboxed in it.

    Returns
    -------
    (H, W, 3) uint8 ndarray
        The generated ring; its colours match the known pixels and it meets them without a seam.
        The caller pastes the known pixels back.
    """
    height, width = mask.shape
    geometry = working_box(height, width, native_px=native_px, multiple=multiple, canvas_hw=canvas_hw)

    # 1. Slot → working canvas: prefill the ring (resampling never pulls undefined pixels in)
    prefilled = smooth_fill(image.astype(np.float32), ~mask)
    work_image, work_mask = _to_canvas(prefilled, mask, geometry)

    # 2. Model
    work_out = run(work_image, work_mask)
    ch, cw = geometry.canvas_hw
    if work_out.shape != (ch, cw, 3) or work_out.dtype != np.uint8:
        raise RuntimeError(f"model returned {work_out.shape} {work_out.dtype}, expected {(ch, cw, 3)} uint8")

    # 3. Working canvas → slot, exactly (cv2.resize maps pixel edges onto pixel edges)
    out = _from_canvas(work_out, geometry, (height, width))
    regenerated = _from_canvas(work_mask.astype(np.float32), geometry, (height, width)) > 0.5
    band = regenerated & ~mask  # known pixels that the model regenerated: truth and model side by side

    # 4. Colours and seam
    feather_px = _FEATHER_BANDS * _DILATE_WORK_PX * max(height / geometry.box[2], width / geometry.box[3])
    out = match_colours(out, image, band)
    return feather_into_known(out, image.astype(np.float32), mask, band, feather_px=max(2.0, feather_px))


def smooth_fill(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill the unknown pixels with a smooth extension of the known ones (push-pull pyramid).

    Parameters
    ----------
    image : (H, W, C) float32 ndarray
    known : (H, W) bool ndarray

    Returns
    -------
    (H, W, C) float32 ndarray
        Known pixels unchanged; unknown pixels a smooth blend of the nearest known colours.
    """
    weight = known.astype(np.float32)
    levels = [(image * weight[..., None], weight)]
    while min(levels[-1][1].shape) > 1:
        colour, weight = levels[-1]
        size = (max(1, colour.shape[1] // 2), max(1, colour.shape[0] // 2))
        levels.append((_resize(colour, size, cv2.INTER_AREA), _resize(weight, size, cv2.INTER_AREA)))
    colour, weight = levels[-1]
    filled = colour / np.maximum(weight, 1e-6)[..., None]
    for colour, weight in reversed(levels[:-1]):
        up = _resize(filled, (colour.shape[1], colour.shape[0]), cv2.INTER_LINEAR)
        alpha = np.clip(weight * 4.0, 0.0, 1.0)[..., None]  # a quarter-covered pixel trusts its own colour
        own = colour / np.maximum(weight, 1e-6)[..., None]
        filled = alpha * own + (1.0 - alpha) * up
    return np.where(known[..., None], image, filled).astype(np.float32)


def match_colours(out: np.ndarray, truth: np.ndarray, band: np.ndarray) -> np.ndarray:
    """Map `out`'s colours so that, on the `band` pixels, each channel's mean and spread equal `truth`'s.

    The band holds known pixels that the model regenerated: the same content seen by both, so
    any difference is the model's colour drift (a VAE's desaturation, a shifted white balance),
    which would otherwise compound from slot to slot. One affine map per channel is smooth by
    construction; the gain is bounded so that a flat band cannot blow up the contrast.

    Returns (H, W, 3) float32.
    """
    out = out.astype(np.float32)
    if band.sum() < _MIN_BAND_PX:
        return out
    model_side, true_side = out[band], truth[band].astype(np.float32)
    gain = np.clip(true_side.std(0) / np.maximum(model_side.std(0), 1.0), *_GAIN_RANGE)
    return (out - model_side.mean(0)) * gain + true_side.mean(0)


def feather_into_known(
    out: np.ndarray, truth: np.ndarray, mask: np.ndarray, band: np.ndarray, *, feather_px: float
) -> np.ndarray:
    """Make the ring meet the known pixels without a seam.

    The residual (truth − model) on the band is extended smoothly into the ring and added with
    a weight that falls from 1 at the boundary to 0 at `feather_px` inside, so the model's detail
    is kept and only its offset at the boundary is removed (a cheap gradient-domain blend).

    Returns (H, W, 3) uint8.
    """
    if band.any():
        residual = smooth_fill(np.where(band[..., None], truth - out, 0.0).astype(np.float32), band)
        depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)  # px from the nearest known pixel
        t = np.clip(1.0 - depth / feather_px, 0.0, 1.0)
        out = out + (t * t * (3.0 - 2.0 * t))[..., None] * residual
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _to_canvas(image: np.ndarray, mask: np.ndarray, geometry: WorkingBox) -> tuple[np.ndarray, np.ndarray]:
    top, left, h, w = geometry.box
    ch, cw = geometry.canvas_hw
    shrinking = h * w < mask.size
    content = _resize(image, (w, h), cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    # a working pixel is generated when any part of it is: the known pixels stay clean
    coverage = _resize(mask.astype(np.float32), (w, h), cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    work_mask = np.ones((ch, cw), bool)
    work_mask[top : top + h, left : left + w] = coverage > 1e-3
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _DILATE_WORK_PX + 1,) * 2)
    work_mask = cv2.dilate(work_mask.astype(np.uint8), kernel).astype(bool)
    canvas = np.zeros((ch, cw, 3), np.float32)
    canvas[top : top + h, left : left + w] = content
    if (ch, cw) != (h, w):  # letterbox: a smooth extension, generated over by the model anyway
        known = np.zeros((ch, cw), bool)
        known[top : top + h, left : left + w] = True
        canvas = smooth_fill(canvas, known)
    return np.clip(canvas + 0.5, 0, 255).astype(np.uint8), work_mask


def _from_canvas(work: np.ndarray, geometry: WorkingBox, slot_hw: tuple[int, int]) -> np.ndarray:
    top, left, h, w = geometry.box
    height, width = slot_hw
    content = work[top : top + h, left : left + w].astype(np.float32)
    return _resize(content, (width, height), cv2.INTER_AREA if h * w > height * width else cv2.INTER_CUBIC)


def _resize(array: np.ndarray, size_wh: tuple[int, int], interpolation: int) -> np.ndarray:
    if (array.shape[1], array.shape[0]) == size_wh:
        return array
    return cv2.resize(array, size_wh, interpolation=interpolation)
