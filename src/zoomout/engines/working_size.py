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

import numpy as np

from ..lazy import lazy_import

cv2 = lazy_import("cv2")  # imported when an engine first runs, not when the engines are listed

# `run(image, mask)`: (h, w, 3) uint8 RGB and (h, w) bool (True = generate) → (h, w, 3) uint8
ModelRun = Callable[[np.ndarray, np.ndarray], np.ndarray]

_DILATE_WORK_PX = 3  # the model regenerates this far into the known side: resampled edge pixels, and the colour band
_FEATHER_BANDS = 2.0  # the residual fades out over this many dilation widths inside the ring (working px)
_GAIN_RANGE = (0.5, 2.0)  # a colour correction never scales contrast beyond this
_OWN_WEIGHT = 8.0  # a pyramid pixel with 1/8 of known support trusts its own average over the coarser level
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
    top, left, h, w = geometry.box

    # 1. Slot → working canvas: known colours averaged over known pixels only, the rest prefilled
    truth, known = _known_at_working_size(image, mask, (h, w))
    canvas_known = np.zeros(geometry.canvas_hw, bool)
    canvas_known[top : top + h, left : left + w] = known
    canvas = np.zeros((*geometry.canvas_hw, 3), np.float32)
    canvas[top : top + h, left : left + w] = truth
    canvas = smooth_fill(canvas, canvas_known)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _DILATE_WORK_PX + 1,) * 2)
    work_mask = cv2.dilate((~canvas_known).astype(np.uint8), kernel).astype(bool)

    # 2. Model
    work_out = run(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), work_mask)
    if work_out.shape != (*geometry.canvas_hw, 3) or work_out.dtype != np.uint8:
        raise RuntimeError(
            f"model returned {work_out.shape} {work_out.dtype}, expected {(*geometry.canvas_hw, 3)} uint8"
        )

    # 3. Colours and seam, at the working size: known pixels the model regenerated show its drift
    band = work_mask & canvas_known
    out = match_colours(work_out, canvas, band)
    out = feather_into_known(out, canvas, canvas_known, band, feather_px=_FEATHER_BANDS * _DILATE_WORK_PX)

    # 4. Working canvas → slot, exactly (cv2.resize maps pixel edges onto pixel edges)
    content = np.clip(out[top : top + h, left : left + w] + 0.5, 0, 255).astype(np.uint8)
    return _resize(content, (width, height), cv2.INTER_AREA if h * w > height * width else cv2.INTER_CUBIC)


def smooth_fill(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill the unknown pixels with a smooth extension of the known ones (Gaussian push-pull pyramid).

    Parameters
    ----------
    image : (H, W, C) float32 ndarray
    known : (H, W) bool ndarray

    Returns
    -------
    (H, W, C) float32 ndarray
        Known pixels unchanged; unknown pixels a blend of the nearest known colours, which
        meets them without a step (Gaussian levels keep each average centred close by).
    """
    weight = known.astype(np.float32)
    levels = [(image * weight[..., None], weight)]
    while min(levels[-1][1].shape) > 1:
        colour, weight = levels[-1]
        size = ((colour.shape[1] + 1) // 2, (colour.shape[0] + 1) // 2)
        levels.append((_channels(cv2.pyrDown(colour, dstsize=size)), cv2.pyrDown(weight, dstsize=size)))
    colour, weight = levels[-1]
    filled = colour / np.maximum(weight, 1e-6)[..., None]
    for colour, weight in reversed(levels[1:-1]):
        up = _channels(cv2.pyrUp(filled, dstsize=(colour.shape[1], colour.shape[0])))
        alpha = np.clip(weight * _OWN_WEIGHT, 0.0, 1.0)[..., None]
        filled = alpha * (colour / np.maximum(weight, 1e-6)[..., None]) + (1.0 - alpha) * up
    up = _channels(cv2.pyrUp(filled, dstsize=(image.shape[1], image.shape[0])))
    return np.where(known[..., None], image, up).astype(np.float32)  # the finest level's support is 0 or 1


def _channels(array: np.ndarray) -> np.ndarray:
    return array if array.ndim == 3 else array[..., None]  # OpenCV drops a single channel axis


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
    out: np.ndarray, truth: np.ndarray, known: np.ndarray, band: np.ndarray, *, feather_px: float
) -> np.ndarray:
    """Make the generated pixels meet the known ones without a seam.

    The residual (truth − model) on the band is extended smoothly into the generated region
    and added with a weight that falls from 1 at the known pixels to 0 at `feather_px` from
    them, so the model's detail is kept and only its offset at the boundary is removed (a
    cheap gradient-domain blend).

    Returns (H, W, 3) float32.
    """
    if not band.any():
        return out
    residual = smooth_fill(np.where(band[..., None], truth - out, 0.0).astype(np.float32), band)
    depth = cv2.distanceTransform((~known).astype(np.uint8), cv2.DIST_L2, 3)  # px from the nearest known pixel
    t = np.clip(1.0 - depth / feather_px, 0.0, 1.0)
    return out + (t * t * (3.0 - 2.0 * t))[..., None] * residual


def _known_at_working_size(
    image: np.ndarray, mask: np.ndarray, size_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The slot at the working size, averaging known pixels only; and which working pixels are wholly known."""
    h, w = size_hw
    known = (~mask).astype(np.uint8)
    shrinking = h * w < mask.size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    # resampled as uint8 (full-size slots are large): a rounding error of 1/2 level, only on wholly known pixels
    colour_sum = _resize(cv2.bitwise_and(image, image, mask=known), (w, h), interpolation).astype(np.float32)
    known_share = _resize(known.astype(np.float32), (w, h), interpolation)
    truth = colour_sum / np.maximum(known_share, 1e-6)[..., None]
    return truth, known_share > 1.0 - 1e-4  # a working pixel touched by the ring is generated


def _resize(array: np.ndarray, size_wh: tuple[int, int], interpolation: int) -> np.ndarray:
    if (array.shape[1], array.shape[0]) == size_wh:
        return array
    return cv2.resize(array, size_wh, interpolation=interpolation)
