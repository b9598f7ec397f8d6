"""Exact float placement of one image inside another.

Continuous coordinates throughout: pixel i covers [i, i+1). Placing an image with
`scale` and `offset` maps its point x to `offset + scale·x`. Nothing is rounded to whole
pixels: a pixel that the placed image only partly covers reports its coverage instead.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import sparse

FLOAT_SLACK = 1e-9  # a coverage this near 0 or 1 is rounding in scale × length, not a partly covered pixel


def affine_matrix(scale: float, offset_x: float, offset_y: float) -> np.ndarray:
    """(2, 3) float64 matrix for `cv2.warpAffine` (which works on pixel-centre indices)."""
    shift = 0.5 * scale - 0.5
    return np.array([[scale, 0.0, offset_x + shift], [0.0, scale, offset_y + shift]])


def axis_coverage(src_len: int, dst_len: int, scale: float, offset: float) -> np.ndarray:
    """(dst_len,) float64 fraction of each target pixel covered by `[offset, offset + scale·src_len)`.

    Within FLOAT_SLACK of 0 or 1 it is 0 or 1: a 302-row photo scaled by 480 / 302 spans
    479.99999999994 rows, and its cover fit must not leave the edge rows to generate.
    """
    left = np.arange(dst_len, dtype=np.float64)
    overlap = np.clip(np.minimum(left + 1.0, offset + scale * src_len) - np.maximum(left, offset), 0.0, 1.0)
    return np.where(overlap > 1.0 - FLOAT_SLACK, 1.0, np.where(overlap < FLOAT_SLACK, 0.0, overlap))


def _area_weights(src_len: int, dst_len: int, scale: float, offset: float) -> sparse.csr_matrix:
    """(dst_len, src_len) box-filter weights of a downscale; row sums equal the coverage."""
    lo = (np.arange(dst_len) - offset) / scale  # each target pixel's footprint in source units
    hi = lo + 1.0 / scale
    span = int(np.ceil(1.0 / scale)) + 1
    cols = np.floor(lo).astype(np.int64)[:, None] + np.arange(span)[None, :]
    weights = (np.minimum(hi[:, None], cols + 1) - np.maximum(lo[:, None], cols)) * scale
    keep = (weights > 0) & (cols >= 0) & (cols < src_len)
    rows = np.broadcast_to(np.arange(dst_len)[:, None], cols.shape)
    return sparse.csr_matrix(
        (weights[keep].astype(np.float32), (rows[keep], cols[keep])), shape=(dst_len, src_len)
    )


def _normalise_rows(weights: sparse.csr_matrix, row_sums: np.ndarray) -> sparse.csr_matrix:
    scale = (1.0 / np.maximum(row_sums, 1e-6)).astype(np.float32)
    return sparse.diags(scale) @ weights


def place(
    image: np.ndarray, dst_shape: tuple[int, int], scale: float, offset: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Resample `image` into a `dst_shape` canvas at `scale`, its top-left corner at `offset`.

    Downscales average exactly the source area each target pixel covers (anti-aliased);
    upscales use bicubic interpolation.

    Parameters
    ----------
    image : (h, w[, C]) uint8 ndarray
    dst_shape : (H, W)
    scale : float
        Target pixels per source pixel.
    offset : (x, y) float
        Position of the image's top-left corner in target pixels.

    Returns
    -------
    placed : (H, W[, C]) uint8 ndarray
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
        # rows normalised by their coverage give the mean colour of each pixel's covered part
        weights_x = _normalise_rows(_area_weights(w, dst_w, scale, offset[0]), cover_x)
        weights_y = _normalise_rows(_area_weights(h, dst_h, scale, offset[1]), cover_y)
        c = 1 if image.ndim == 2 else image.shape[2]
        columns = weights_x @ image.reshape(h, w, c).transpose(1, 0, 2).reshape(w, h * c).astype(np.float32)
        rows = weights_y @ columns.reshape(dst_w, h, c).transpose(1, 0, 2).reshape(h, dst_w * c)
        placed = cv2.convertScaleAbs(rows.reshape((dst_h, dst_w, c)[: image.ndim]))
    placed[coverage <= 0] = 0
    return placed, coverage


def centred_offset(src_size: tuple[int, int], dst_size: tuple[int, int], scale: float) -> tuple[float, float]:
    """Offset (x, y) that centres a `src_size` (w, h) image scaled by `scale` in `dst_size` (W, H)."""
    return (dst_size[0] - scale * src_size[0]) / 2, (dst_size[1] - scale * src_size[1]) / 2
