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
# How far a resized patch may land from its exact place: `cv2.warpAffine` itself rounds every
# sample's position to 1/32 of a source pixel (1/16 of an output pixel at 2× magnification).
SHIFT_TOLERANCE_PX = 1 / 32
_SHIFT_STEPS = np.arange(512, dtype=np.float64)  # crop starts tried, each a level pixel earlier (the extra output is cut away)
LEVEL_PAD = 32  # pixels repeated around each mip level, where crops starting before the level begin
RESIZE_MIN_PX = 8192  # smaller patches are warped: resize's set-up then costs more than it saves


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
        self.slot_shape = slots[0].shape
        self.mipmaps = [_padded(build_mipmap(slot)) for slot in slots]

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
        shape = (self.out_h, self.out_w, *self.slot_shape[2:])
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
        if slot.shape != self.slot_shape:
            raise ValueError(f"slot should have shape {self.slot_shape} but has {slot.shape}")
        self.mipmaps.append(_padded(build_mipmap(slot)))

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
        self._sample(layer, x_lo, y_lo, frame[y_lo:y_hi, x_lo:x_hi])
        for (a_lo, b_lo, a_hi, b_hi), below in edges:
            alpha_y = layer.alpha_y[b_lo - layer.box[1] : b_hi - layer.box[1]]
            alpha_x = layer.alpha_x[a_lo - layer.box[0] : a_hi - layer.box[0]]
            alpha = np.minimum(alpha_y[:, None], alpha_x[None, :])
            target = frame[b_lo:b_hi, a_lo:a_hi]
            cv2.blendLinear(target, below, alpha, 1.0 - alpha, dst=target)

    def _sample(self, layer: _Layer, x_lo: int, y_lo: int, out: np.ndarray) -> None:
        """Sample `layer` trilinearly into `out`, the patch of the frame whose corner is frame pixel (x_lo, y_lo)."""
        levels, scale = self.mipmaps[layer.slot], layer.scale
        height, width = out.shape[:2]
        x0, y0 = layer.x0 - x_lo, layer.y0 - y_lo
        lod = max(-math.log2(scale), 0.0)
        base = min(int(lod), len(levels) - 1)
        frac = lod - base if base + 1 < len(levels) else 0.0

        def warp(level: int, into: np.ndarray | None = None) -> np.ndarray:
            level_scale = scale * 2**level
            pad = LEVEL_PAD * level_scale  # where the padded level's first pixel lies, before the slot's
            return self._warp(levels[level], level_scale, x0 - pad, y0 - pad, width, height, into)

        if frac <= 1e-3:
            warp(base, out)
        else:
            cv2.addWeighted(warp(base), 1.0 - frac, warp(base + 1), frac, 0.0, dst=out)

    @staticmethod
    def _warp(
        level: np.ndarray, scale: float, x0: float, y0: float, width: int, height: int, out: np.ndarray | None = None
    ) -> np.ndarray:
        """The `width × height` bilinear sampling of `level` placed at `scale` with its corner at (x0, y0).

        Sampling is separable for a scale and a shift, which `cv2.resize` does several times
        faster than `cv2.warpAffine`: resize's grid is fixed by the scale alone, so a crop whose
        first pixel lands within `SHIFT_TOLERANCE_PX` of the exact place is resized and cut.
        Where no crop lands that close (scales near a fraction of small denominator), the
        general warp does it.
        """
        fits = (
            (_resize_fit(x0, scale, width), _resize_fit(y0, scale, height))
            if width * height >= RESIZE_MIN_PX
            else (None, None)
        )
        if None in fits:
            return cv2.warpAffine(
                level, affine_matrix(scale, x0, y0), (width, height), dst=out,
                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
            )
        (cx, cx_end, ox), (cy, cy_end, oy) = fits
        resized = cv2.resize(_crop(level, cy, cy_end, cx, cx_end), None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        patch = resized[oy : oy + height, ox : ox + width]
        if out is None:
            return patch
        np.copyto(out, patch)
        return out


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


def i420_mipmap_bytes(width: int, height: int) -> int:
    """Bytes of one `width × height` slot's luma and chroma mipmaps in `I420ZoomRenderer`, pads included."""
    total = 0
    for h, w, channels in ((height, width, 1), (height // 2, width // 2, 2)):
        while True:
            total += (h + 2 * LEVEL_PAD) * (w + 2 * LEVEL_PAD) * channels
            if min(h, w) <= 1:
                break
            h, w = (h + 1) // 2, (w + 1) // 2
    return total


def _padded(levels: list[np.ndarray]) -> list[np.ndarray]:
    """Each level with `LEVEL_PAD` pixels of its edges repeated around it: most crops then lie inside it."""
    return [cv2.copyMakeBorder(level, *[LEVEL_PAD] * 4, cv2.BORDER_REPLICATE) for level in levels]


def _resize_fit(origin: float, scale: float, size: int) -> tuple[int, int, int] | None:
    """How `cv2.resize` at `scale` samples output pixels 0..size−1 of a level whose pixel 0 starts at `origin`.

    Resize maps output pixel d of a crop starting at level pixel c to the level's point
    c + (d + ½)/scale, which is the exact placement's iff origin + c·scale is a whole
    output pixel o. Returns (c, crop end, −o) for the largest c whose o is within
    `SHIFT_TOLERANCE_PX`, and at or before the first output pixel (a pixel before it when
    magnifying, as resize clamps its first sample to the crop), or None. The crop may reach
    outside the level (`_crop`).
    """
    first = -1.0 if scale > 1.0 else 0.0
    c_max = math.floor((first - origin) / scale + 1e-9)
    steps = _SHIFT_STEPS[: int(2 * size / scale) + 1]  # cutting away more than twice what is kept costs more than a warp
    landings = origin + (c_max - steps) * scale
    misses = np.abs(landings - np.rint(landings))
    step = int(np.argmax(misses <= SHIFT_TOLERANCE_PX))
    if misses[step] > SHIFT_TOLERANCE_PX:
        return None
    c, o = c_max - step, round(landings[step])
    if o > first:  # the landing was rounded up past the first output pixel
        return None
    end = c + math.ceil((size - o) / scale) + 2
    if round((end - c) * scale) < size - o:  # resize's output size rounds (end − c)·scale
        end += 1
    return c, end, -o


def _crop(level: np.ndarray, y_lo: int, y_hi: int, x_lo: int, x_hi: int) -> np.ndarray:
    """`level[y_lo:y_hi, x_lo:x_hi]`, its part outside the level filled by repeating the edge pixels."""
    h, w = level.shape[:2]
    if y_lo >= 0 and x_lo >= 0 and y_hi <= h and x_hi <= w:
        return level[y_lo:y_hi, x_lo:x_hi]
    inside = level[max(y_lo, 0) : min(max(y_hi, 1), h), max(x_lo, 0) : min(max(x_hi, 1), w)]
    top, left = max(-y_lo, 0), max(-x_lo, 0)
    bottom = (y_hi - y_lo) - top - inside.shape[0]
    right = (x_hi - x_lo) - left - inside.shape[1]
    return cv2.copyMakeBorder(inside, top, bottom, left, right, cv2.BORDER_REPLICATE)


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


def rgb_to_luma_chroma(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BT.709 limited-range Y (H, W) and 2×2-averaged U, V side by side (H/2, W/2, 2) uint8 of an RGB image (even sides)."""
    ycbcr = cv2.transform(image.astype(np.float32), np.hstack([_BT709_RGB_TO_YCBCR, _BT709_OFFSET[:, None]]).astype(np.float32))
    h, w = image.shape[:2]
    chroma = cv2.resize(ycbcr[:, :, 1:], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return tuple(np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (ycbcr[:, :, 0], chroma))  # type: ignore[return-value]


def rgb_to_i420_planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.709 limited-range Y (H, W), U and V (H/2, W/2) uint8 planes of an RGB image (`rgb_to_luma_chroma`)."""
    luma, chroma = rgb_to_luma_chroma(image)
    return luma, chroma[:, :, 0], chroma[:, :, 1]


class I420ZoomRenderer:
    """Renders frames straight into the encoder's format: I420 (Y, then U, then V; 4:2:0, BT.709).

    One `ZoomRenderer` for luma and one for chroma (U and V side by side in one two-channel
    image, drawn by the same calls), each in its own continuous coordinates (a chroma pixel
    covers 2×2 luma pixels), so the geometry is the RGB renderer's exactly; the work is half
    of rendering RGB, and the encoder needs no colour conversion.
    """

    def __init__(self, slots: list[np.ndarray], zoom_per_slot: float, output_size: tuple[int, int]) -> None:
        out_w, out_h = output_size
        if out_w % 2 or out_h % 2:
            raise ValueError(f"output size should be even for 4:2:0 but is {out_w}x{out_h}")
        planes = [rgb_to_luma_chroma(slot) for slot in slots]
        self.out_w, self.out_h = out_w, out_h
        self.slot_shape = slots[0].shape
        self.luma = ZoomRenderer([p[0] for p in planes], zoom_per_slot, (out_w, out_h))
        self.chroma = ZoomRenderer([p[1] for p in planes], zoom_per_slot, (out_w // 2, out_h // 2))

    @property
    def deepest(self) -> int:
        return self.luma.deepest

    def append(self, slot: np.ndarray) -> None:
        """Add the next (H, W, 3) RGB slot."""
        if slot.shape != self.slot_shape:
            raise ValueError(f"slot should have shape {self.slot_shape} but has {slot.shape}")
        luma, chroma = rgb_to_luma_chroma(slot)
        self.luma.append(luma)
        self.chroma.append(chroma)

    def white_frame(self) -> np.ndarray:
        frame = np.empty((self.out_h * 3 // 2, self.out_w), np.uint8)
        frame[: self.out_h], frame[self.out_h :] = I420_WHITE[0], I420_WHITE[1]
        return frame

    def render(self, z: float) -> np.ndarray:
        """(out_h·3/2, out_w) uint8 I420 frame at zoom position z: luma rendered in place, chroma split into U and V."""
        frame = np.empty((self.out_h * 3 // 2, self.out_w), np.uint8)
        self.luma.render(z, out=frame[: self.out_h])
        chroma_h, chroma_w = self.out_h // 2, self.out_w // 2
        u, v = frame[self.out_h :].reshape(2, chroma_h, chroma_w)
        cv2.split(self.chroma.render(z), [u, v])
        return frame

