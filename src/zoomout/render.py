"""Frames of the zoom: every pixel from the finest slot that covers it, at exact float scale.

A frame at zoom position z shows the world rectangle `W·s^z × H·s^z`. The outermost slot
that covers it (`ceil(z)`) is drawn first, then each finer slot on top, centred, at scale
`r·s^(k−z)` (r = output pixels per slot pixel), with a soft alpha edge, until a slot is
smaller than a pixel. Downscaled slots are sampled trilinearly from a mipmap, so fine
texture does not shimmer and switching mip levels does not pop.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np

from .geometry import affine_matrix

FEATHER_PX = 3.0


def build_mipmap(image: np.ndarray) -> list[np.ndarray]:
    """Levels 0..L of exact 2×2 box averages (level L pixel j covers level-0 [j·2^L, (j+1)·2^L)).

    An odd side is padded by repeating its last pixel before halving, which keeps that
    correspondence exact; the pad lies outside the slot and is never shown opaque.
    """
    levels = [image]
    while min(levels[-1].shape[:2]) > 1:
        level = levels[-1]
        h, w = level.shape[:2]
        if h % 2 or w % 2:
            level = cv2.copyMakeBorder(level, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
        levels.append(cv2.resize(level, (level.shape[1] // 2, level.shape[0] // 2), interpolation=cv2.INTER_AREA))
    return levels


class ZoomRenderer:
    """Renders frames of a slot stack at any zoom position.

    Parameters
    ----------
    slots : list of (H, W, 3) uint8 ndarray
        Slot 0 … N, all the same size.
    zoom_per_slot : float
    output_size : (width, height)
        Frame size; the same aspect ratio as the slots (e.g. a smaller preview).
    """

    def __init__(self, slots: list[np.ndarray], zoom_per_slot: float, output_size: tuple[int, int]) -> None:
        self.slot_h, self.slot_w = slots[0].shape[:2]
        self.out_w, self.out_h = output_size
        if abs(self.out_w / self.out_h - self.slot_w / self.slot_h) > 0.01:
            raise ValueError(
                f"output size {self.out_w}x{self.out_h} should have the slots' aspect ratio "
                f"({self.slot_w}x{self.slot_h})"
            )
        self.zoom = zoom_per_slot
        self.pixels_per_slot_px = self.out_w / self.slot_w
        self.mipmaps = [build_mipmap(slot) for slot in slots]

    @property
    def deepest(self) -> int:
        return len(self.mipmaps) - 1

    def render(self, z: float) -> np.ndarray:
        """(out_h, out_w, 3) uint8 frame at zoom position z in [0, N]."""
        if not 0.0 <= z <= self.deepest + 1e-9:
            raise ValueError(f"z should be in [0, {self.deepest}] but is {z}")
        top = min(math.ceil(z - 1e-9), self.deepest)
        frame = self._sample(top, self._scale(top, z), 0, 0, self.out_w, self.out_h)
        for k in range(top - 1, -1, -1):
            scale = self._scale(k, z)
            width, height = self.slot_w * scale, self.slot_h * scale
            if min(width, height) < 1.0:
                break
            x0, y0 = (self.out_w - width) / 2, (self.out_h - height) / 2
            x_lo, y_lo = max(math.floor(x0), 0), max(math.floor(y0), 0)
            x_hi, y_hi = min(math.ceil(x0 + width), self.out_w), min(math.ceil(y0 + height), self.out_h)
            layer = self._sample(k, scale, x0 - x_lo, y0 - y_lo, x_hi - x_lo, y_hi - y_lo)
            alpha = np.minimum.outer(
                _edge_ramp(y_lo, y_hi, y0, y0 + height), _edge_ramp(x_lo, x_hi, x0, x0 + width)
            ).astype(np.float32)
            roi = frame[y_lo:y_hi, x_lo:x_hi]
            roi[...] = cv2.blendLinear(layer, roi, alpha, 1.0 - alpha)
        return frame

    def _scale(self, k: int, z: float) -> float:
        return self.pixels_per_slot_px * self.zoom ** (k - z)

    def _sample(self, k: int, scale: float, x0: float, y0: float, width: int, height: int) -> np.ndarray:
        """Slot k at `scale`, its corner at (x0, y0), into a `width × height` patch (trilinear)."""
        levels = self.mipmaps[k]
        lod = max(-math.log2(scale), 0.0)
        base = min(int(lod), len(levels) - 1)
        frac = lod - base if base + 1 < len(levels) else 0.0
        patch = self._warp(levels[base], scale * 2**base, x0, y0, width, height)
        if frac > 1e-3:
            coarse = self._warp(levels[base + 1], scale * 2 ** (base + 1), x0, y0, width, height)
            patch = cv2.addWeighted(patch, 1.0 - frac, coarse, frac, 0.0)
        return patch

    @staticmethod
    def _warp(level: np.ndarray, scale: float, x0: float, y0: float, width: int, height: int) -> np.ndarray:
        return cv2.warpAffine(
            level, affine_matrix(scale, x0, y0), (width, height),
            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
        )


def _edge_ramp(lo: int, hi: int, start: float, end: float) -> np.ndarray:
    """(hi − lo,) opacity of pixels lo..hi−1: 0 outside [start, end), rising over FEATHER_PX inside."""
    centres = np.arange(lo, hi, dtype=np.float64) + 0.5
    inside = np.minimum(centres - start, end - centres)
    feather = min(FEATHER_PX, (end - start) / 4)
    return np.clip(inside / feather + 0.5 / feather, 0.0, 1.0)


def iter_frames(renderer: ZoomRenderer, zooms: np.ndarray) -> Iterator[np.ndarray]:
    """Frames one at a time, for streaming to the encoder."""
    for z in zooms:
        yield renderer.render(float(z))
