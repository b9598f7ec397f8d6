"""Frames of the zoom: every pixel from the finest slot that covers it, at exact float scale.

A frame at zoom position z shows the world rectangle `W·s^z × H·s^z`. The outermost slot
that covers it (`ceil(z)`) is drawn first, then each finer slot on top, centred, at scale
`r·s^(k−z)` (r = output pixels per slot pixel), with a soft alpha edge, until a slot is
smaller than a pixel. Downscaled slots are sampled trilinearly from a mipmap, so fine
texture does not shimmer and switching mip levels does not pop.
"""

from __future__ import annotations

import math
import cv2
import numpy as np

from .geometry import affine_matrix, centred_offset

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


def top_slot(z: float, deepest: int) -> int:
    """The outermost slot a frame at zoom position z draws (`ceil(z)`, within 0..deepest): the last one it needs."""
    return min(max(math.ceil(z - 1e-9), 0), deepest)


class ZoomRenderer:
    """Renders frames of a slot stack at any zoom position.

    Parameters
    ----------
    slots : list of (H, W[, C]) uint8 ndarray
        Slot 0 … N, all the same size (any number of channels: RGB, or one plane).
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

    def white_frame(self) -> np.ndarray:
        return np.full((self.out_h, self.out_w, 3), 255, np.uint8)

    def render(self, z: float, out: np.ndarray | None = None) -> np.ndarray:
        """(out_h, out_w[, C]) uint8 frame at zoom position z in [−N, N], into `out` when given.

        Negative z magnifies slot 0 beyond its size (the loop's cross-zoom uses it).
        """
        if not -self.deepest - 1e-9 <= z <= self.deepest + 1e-9:
            raise ValueError(f"z should be in [{-self.deepest}, {self.deepest}] but is {z}")
        layers = self._visible_layers(z)
        shape = (self.out_h, self.out_w, *self.mipmaps[0][0].shape[2:])
        frame = np.empty(shape, np.uint8) if out is None else out
        if frame.shape != shape or frame.dtype != np.uint8:
            raise ValueError(f"out should be a {shape} uint8 array but is {frame.shape} {frame.dtype}")
        for layer, finer in zip(layers, layers[1:] + [None]):
            # Each pixel is drawn once per layer that shows through: skip what the finer
            # layer covers opaquely, since it is drawn over it next.
            hole = finer.opaque_box if finer is not None else None
            for box in _subtract(layer.box, hole):
                self._draw(frame, layer, box)
        return frame

    def append(self, slot: np.ndarray) -> None:
        """Add the next slot (of the slots' size and channels): a chain's slots may arrive one by one."""
        if slot.shape != self.mipmaps[0][0].shape:
            raise ValueError(f"slot should have shape {self.mipmaps[0][0].shape} but has {slot.shape}")
        self.mipmaps.append(build_mipmap(slot))

    def _visible_layers(self, z: float) -> list[_Layer]:
        """From the outermost slot that covers the frame (`ceil(z)`) to the finest over a pixel wide."""
        top = top_slot(z, self.deepest)
        layers = []
        for k in range(top, -1, -1):
            scale = self.pixels_per_slot_px * self.zoom ** (k - z)
            width, height = self.slot_w * scale, self.slot_h * scale
            if k < top and min(width, height) < 1.0:
                break
            x0, y0 = centred_offset((self.slot_w, self.slot_h), (self.out_w, self.out_h), scale)
            layers.append(_Layer(k, scale, x0, y0, width, height, self.out_w, self.out_h, opaque=k == top))
        return layers

    def _draw(self, frame: np.ndarray, layer: _Layer, box: tuple[int, int, int, int]) -> None:
        """Draw `layer` over `box` of `frame`: sampled in place, then its soft edge blended over what was below."""
        x_lo, y_lo, x_hi, y_hi = box
        # Only the soft edge needs what is below (a blend at alpha 1 gives the same bytes, at
        # several times the cost): keep those thin strips, then sample the box straight into the frame.
        edges = [(part, frame[part[1] : part[3], part[0] : part[2]].copy()) for part in _subtract(box, _intersect(box, layer.opaque_box))]
        self._sample(layer, x_lo, y_lo, x_hi - x_lo, y_hi - y_lo, out=frame[y_lo:y_hi, x_lo:x_hi])
        for (a_lo, b_lo, a_hi, b_hi), below in edges:
            alpha_y = layer.alpha_y[b_lo - layer.box[1] : b_hi - layer.box[1]]
            alpha_x = layer.alpha_x[a_lo - layer.box[0] : a_hi - layer.box[0]]
            alpha = np.minimum(alpha_y[:, None], alpha_x[None, :])
            target = frame[b_lo:b_hi, a_lo:a_hi]
            cv2.blendLinear(target, below, alpha, 1.0 - alpha, dst=target)

    def _sample(
        self, layer: _Layer, x_lo: int, y_lo: int, width: int, height: int, out: np.ndarray | None = None
    ) -> np.ndarray:
        """The `width × height` patch of `layer` whose corner is frame pixel (x_lo, y_lo), sampled trilinearly."""
        levels, scale = self.mipmaps[layer.slot], layer.scale
        x0, y0 = layer.x0 - x_lo, layer.y0 - y_lo
        lod = max(-math.log2(scale), 0.0)
        base = min(int(lod), len(levels) - 1)
        frac = lod - base if base + 1 < len(levels) else 0.0
        patch = self._warp(levels[base], scale * 2**base, x0, y0, width, height, out)
        if frac > 1e-3:
            coarse = self._warp(levels[base + 1], scale * 2 ** (base + 1), x0, y0, width, height)
            patch = cv2.addWeighted(patch, 1.0 - frac, coarse, frac, 0.0, dst=patch)
        return patch

    @staticmethod
    def _warp(
        level: np.ndarray, scale: float, x0: float, y0: float, width: int, height: int, out: np.ndarray | None = None
    ) -> np.ndarray:
        return cv2.warpAffine(
            level, affine_matrix(scale, x0, y0), (width, height), dst=out,
            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
        )


class _Layer:
    """Slot `slot` as drawn in one frame: its float rectangle, the pixel box it touches, its opacity."""

    def __init__(self, slot, scale, x0, y0, width, height, out_w, out_h, *, opaque):
        self.slot, self.scale, self.x0, self.y0 = slot, scale, x0, y0
        x_lo, y_lo = max(math.floor(x0), 0), max(math.floor(y0), 0)
        x_hi, y_hi = min(math.ceil(x0 + width), out_w), min(math.ceil(y0 + height), out_h)
        self.box = (x_lo, y_lo, x_hi, y_hi)
        if opaque:  # the outermost layer covers the whole frame
            self.alpha_x = np.ones(x_hi - x_lo, np.float32)
            self.alpha_y = np.ones(y_hi - y_lo, np.float32)
        else:
            self.alpha_x = _edge_ramp(x_lo, x_hi, x0, x0 + width)
            self.alpha_y = _edge_ramp(y_lo, y_hi, y0, y0 + height)
        full_x, full_y = np.flatnonzero(self.alpha_x >= 1.0), np.flatnonzero(self.alpha_y >= 1.0)
        self.opaque_box = (
            (x_lo + full_x[0], y_lo + full_y[0], x_lo + full_x[-1] + 1, y_lo + full_y[-1] + 1)
            if full_x.size and full_y.size
            else None
        )


def _subtract(box, hole):
    """`box` minus `hole` (both (x_lo, y_lo, x_hi, y_hi), hole inside box) as up to four boxes."""
    if hole is None:
        return [box]
    x_lo, y_lo, x_hi, y_hi = box
    hx_lo, hy_lo, hx_hi, hy_hi = hole
    parts = [
        (x_lo, y_lo, x_hi, hy_lo),  # above
        (x_lo, hy_hi, x_hi, y_hi),  # below
        (x_lo, hy_lo, hx_lo, hy_hi),  # left
        (hx_hi, hy_lo, x_hi, hy_hi),  # right
    ]
    return [p for p in parts if p[2] > p[0] and p[3] > p[1]]


def _intersect(box, other):
    """The overlap of two (x_lo, y_lo, x_hi, y_hi) boxes, or None."""
    if other is None:
        return None
    x_lo, y_lo = max(box[0], other[0]), max(box[1], other[1])
    x_hi, y_hi = min(box[2], other[2]), min(box[3], other[3])
    return (x_lo, y_lo, x_hi, y_hi) if x_hi > x_lo and y_hi > y_lo else None


def _edge_ramp(lo: int, hi: int, start: float, end: float) -> np.ndarray:
    """(hi − lo,) float32 opacity of pixels lo..hi−1: 0 outside [start, end), rising over FEATHER_PX inside."""
    centres = np.arange(lo, hi, dtype=np.float64) + 0.5
    inside = np.minimum(centres - start, end - centres)
    feather = min(FEATHER_PX, (end - start) / 4)
    return np.clip((inside + 0.5) / feather, 0.0, 1.0).astype(np.float32)


# BT.709, limited ("MPEG") range: what the encoder's stream is tagged with.
_BT709_RGB_TO_YCBCR = np.array(
    [
        [0.2126, 0.7152, 0.0722],
        [-0.2126 / 1.8556, -0.7152 / 1.8556, 0.9278 / 1.8556],
        [0.7874 / 1.5748, -0.7152 / 1.5748, -0.0722 / 1.5748],
    ]
) * (np.array([219.0, 224.0, 224.0]) / 255.0)[:, None]
_BT709_OFFSET = np.array([16.0, 128.0, 128.0])
I420_WHITE = (235, 128, 128)


def rgb_to_i420_planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.709 limited-range Y (H, W) and 2×2-averaged U, V (H/2, W/2) uint8 planes of an RGB image (even sides)."""
    ycbcr = cv2.transform(image.astype(np.float32), np.hstack([_BT709_RGB_TO_YCBCR, _BT709_OFFSET[:, None]]).astype(np.float32))
    h, w = image.shape[:2]
    chroma = cv2.resize(ycbcr[:, :, 1:], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    planes = (ycbcr[:, :, 0], chroma[:, :, 0], chroma[:, :, 1])
    return tuple(np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in planes)  # type: ignore[return-value]


class I420ZoomRenderer:
    """Renders frames straight into the encoder's format: I420 (Y, then U, then V; 4:2:0, BT.709).

    One `ZoomRenderer` per plane, each in its own continuous coordinates (a chroma pixel
    covers 2×2 luma pixels), so the geometry is the RGB renderer's exactly; the work is half
    of rendering RGB, and the encoder needs no colour conversion.
    """

    def __init__(self, slots: list[np.ndarray], zoom_per_slot: float, output_size: tuple[int, int]) -> None:
        out_w, out_h = output_size
        if out_w % 2 or out_h % 2:
            raise ValueError(f"output size should be even for 4:2:0 but is {out_w}x{out_h}")
        planes = [rgb_to_i420_planes(slot) for slot in slots]
        self.out_w, self.out_h = out_w, out_h
        self.slot_shape = slots[0].shape
        self.planes = [
            ZoomRenderer([p[0] for p in planes], zoom_per_slot, (out_w, out_h)),
            ZoomRenderer([p[1] for p in planes], zoom_per_slot, (out_w // 2, out_h // 2)),
            ZoomRenderer([p[2] for p in planes], zoom_per_slot, (out_w // 2, out_h // 2)),
        ]

    @property
    def deepest(self) -> int:
        return self.planes[0].deepest

    def append(self, slot: np.ndarray) -> None:
        """Add the next (H, W, 3) RGB slot."""
        if slot.shape != self.slot_shape:
            raise ValueError(f"slot should have shape {self.slot_shape} but has {slot.shape}")
        for renderer, plane in zip(self.planes, rgb_to_i420_planes(slot)):
            renderer.append(plane)

    def white_frame(self) -> np.ndarray:
        frame = np.empty((self.out_h * 3 // 2, self.out_w), np.uint8)
        frame[: self.out_h], frame[self.out_h :] = I420_WHITE[0], I420_WHITE[1]
        return frame

    def render(self, z: float) -> np.ndarray:
        """(out_h·3/2, out_w) uint8 I420 frame at zoom position z: each plane rendered in place."""
        frame = np.empty((self.out_h * 3 // 2, self.out_w), np.uint8)
        flat, start = frame.reshape(-1), 0
        for plane in self.planes:
            size = plane.out_h * plane.out_w
            plane.render(z, out=flat[start : start + size].reshape(plane.out_h, plane.out_w))
            start += size
        return frame
