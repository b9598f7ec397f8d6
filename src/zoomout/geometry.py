"""Exact float placement of one image inside another.

Continuous coordinates throughout: pixel i covers [i, i+1). Placing an image with
`scale` and `offset` maps its point x to `offset + scale·x`. Nothing is rounded to whole
pixels: a pixel that the placed image only partly covers reports its coverage instead.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import sparse


def affine_matrix(scale: float, offset_x: float, offset_y: float) -> np.ndarray:
    """(2, 3) float64 matrix for `cv2.warpAffine` (which works on pixel-centre indices)."""
    shift = 0.5 * scale - 0.5
    return np.array([[scale, 0.0, offset_x + shift], [0.0, scale, offset_y + shift]])


def axis_coverage(src_len: int, dst_len: int, scale: float, offset: float) -> np.ndarray:
    """(dst_len,) float64 fraction of each target pixel covered by `[offset, offset + scale·src_len)`."""
    left = np.arange(dst_len, dtype=np.float64)
    overlap = np.minimum(left + 1.0, offset + scale * src_len) - np.maximum(left, offset)
    return np.clip(overlap, 0.0, 1.0)


def _area_weights(src_len: int, dst_len: int, scale: float, offset: float) -> sparse.csr_matrix:
    """(dst_len, src_len) box-filter weights of a downscale; row sums equal the coverage."""
    rows, cols, vals = [], [], []
    for i in range(dst_len):
        lo = (i - offset) / scale
        hi = (i + 1 - offset) / scale
        j0, j1 = max(int(np.floor(lo)), 0), min(int(np.ceil(hi)), src_len)
        for j in range(j0, j1):
            w = (min(hi, j + 1) - max(lo, j)) * scale
            if w > 0:
                rows.append(i)
                cols.append(j)
                vals.append(w)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(dst_len, src_len))


def place(
    image: np.ndarray, dst_shape: tuple[int, int], scale: float, offset: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Resample `image` into a `dst_shape` canvas at `scale`, its top-left corner at `offset`.

    Downscales average exactly the source area each target pixel covers (anti-aliased);
    upscales use bicubic interpolation.

    Parameters
    ----------
    image : (h, w, 3) uint8 ndarray
    dst_shape : (H, W)
    scale : float
        Target pixels per source pixel.
    offset : (x, y) float
        Position of the image's top-left corner in target pixels.

    Returns
    -------
    placed : (H, W, 3) uint8 ndarray
        The covered pixels' colours (the mean over the covered part where partly covered);
        zero where nothing covers.
    coverage : (H, W) float64 ndarray
        Fraction of each pixel covered by the image, in [0, 1].
    """
    h, w = image.shape[:2]
    dst_h, dst_w = dst_shape
    cover_x = axis_coverage(w, dst_w, scale, offset[0])
    cover_y = axis_coverage(h, dst_h, scale, offset[1])
    coverage = np.outer(cover_y, cover_x)
    if scale >= 1.0:
        placed = cv2.warpAffine(
            image, affine_matrix(scale, *offset), (dst_w, dst_h),
            flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE,
        )
    else:
        weights_x = _area_weights(w, dst_w, scale, offset[0])
        weights_y = _area_weights(h, dst_h, scale, offset[1])
        columns = weights_x @ image.transpose(1, 0, 2).reshape(w, h * 3).astype(np.float64)
        rows = weights_y @ columns.reshape(dst_w, h, 3).transpose(1, 0, 2).reshape(h, dst_w * 3)
        summed = rows.reshape(dst_h, dst_w, 3)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(coverage[..., None] > 0, summed / coverage[..., None], 0.0)
        placed = np.clip(np.rint(mean), 0, 255).astype(np.uint8)
    placed[coverage <= 0] = 0
    return placed, coverage


def centred_offset(src_size: tuple[int, int], dst_size: tuple[int, int], scale: float) -> tuple[float, float]:
    """Offset (x, y) that centres a `src_size` (w, h) image scaled by `scale` in `dst_size` (W, H)."""
    return (dst_size[0] - scale * src_size[0]) / 2, (dst_size[1] - scale * src_size[1]) / 2
