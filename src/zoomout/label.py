"""The visible label ("AI-generated"): drawn once into a small RGBA patch, blended into every frame.

Placement keeps clear of the short-video apps' own interface: TikTok, Reels and Shorts put
their tabs over the top ~10 % of a vertical video, the like/comment/share column over the
right ~15 % and the caption over the bottom ~20 %. The label sits top-left, just below the
top band, in white on a translucent dark box so it reads on any background. Its size is
relative to the frame height (about 2.4 %, i.e. 46 px text on a 1920 px video, roughly 4 mm
on a phone), never smaller than MIN_FONT_PX.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from importlib import resources

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import ConfigError
from .render import rgb_to_i420_planes

FONT_FILE = "DejaVuSans-Bold.ttf"
FONT_HEIGHT_SHARE = 0.024
MIN_FONT_PX = 9
TOP_MARGIN_SHARE = 0.11  # below the apps' top tabs
LEFT_MARGIN_SHARE = 0.05
RIGHT_MARGIN_SHARE = 0.15  # clear of the action buttons
BACKING_RGBA = (0, 0, 0, 150)  # ~60 % opaque black
TEXT_RGBA = (255, 255, 255, 255)


@dataclass(frozen=True)
class Label:
    """A label ready to blend.

    Attributes
    ----------
    text : str
    x, y : int
        Top-left corner of the patch in the frame, in pixels.
    rgba : (h, w, 4) uint8 ndarray
        The patch: white text on a translucent dark box, straight (not premultiplied) alpha.
    """

    text: str
    x: int
    y: int
    rgba: np.ndarray
    missing_glyphs: tuple[str, ...] = ()  # characters the bundled font cannot draw (shown as boxes)

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x_lo, y_lo, x_hi, y_hi) of the pixels the label may change."""
        h, w = self.rgba.shape[:2]
        return self.x, self.y, self.x + w, self.y + h

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Blend the label into `frame` in place and return it; only its box is touched.

        `frame` is (H, W, 3) uint8 RGB, or (H·3/2, W) uint8 I420 (BT.709), the renderer's format.
        """
        if frame.ndim == 3:
            _blend(frame, self.x, self.y, self.rgba[:, :, :3], self.rgba[:, :, 3])
            return frame
        h, w = frame.shape[0] * 2 // 3, frame.shape[1]
        y, u, v = self._i420_planes
        alpha_half = cv2.resize(self.rgba[:, :, 3], (u.shape[1], u.shape[0]), interpolation=cv2.INTER_AREA)
        _blend(frame[:h], self.x, self.y, y, self.rgba[:, :, 3])
        for i, plane in enumerate((u, v)):
            chroma = frame[h + i * h // 4 : h + (i + 1) * h // 4].reshape(h // 2, w // 2)
            _blend(chroma, self.x // 2, self.y // 2, plane, alpha_half)
        return frame

    @cached_property
    def _i420_planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return rgb_to_i420_planes(self.rgba[:, :, :3])


def make_label(text: str, width_px: int, height_px: int) -> Label:
    """Render `text` for a `width_px × height_px` video with the bundled font.

    Raises `ConfigError` when the text is empty or cannot fit between the margins even at
    the smallest legible size.
    """
    text = " ".join(text.split())
    if not text:
        raise ConfigError("label should be a non-empty text (for none: no_label)")
    font_px = max(MIN_FONT_PX, round(height_px * FONT_HEIGHT_SHARE))
    x = round(width_px * LEFT_MARGIN_SHARE)
    available_px = width_px - x - round(width_px * RIGHT_MARGIN_SHARE)
    while True:
        rgba = _draw(text, font_px)
        if rgba.shape[1] <= available_px:
            break
        if font_px == MIN_FONT_PX:
            raise ConfigError(
                f"label should fit a {width_px}x{height_px} video but {text!r} is {rgba.shape[1]} px wide at the "
                f"smallest size, {available_px} px available (a shorter label or a wider size fits)"
            )
        font_px -= 1
    # even corner and size: the label lines up with 4:2:0 chroma pixels
    rgba = np.pad(rgba, ((0, rgba.shape[0] % 2), (0, rgba.shape[1] % 2), (0, 0)))
    return Label(
        text=text, x=x - x % 2, y=round(height_px * TOP_MARGIN_SHARE) // 2 * 2, rgba=rgba,
        missing_glyphs=missing_glyphs(text, load_font(font_px)),
    )  # fmt: skip


def missing_glyphs(text: str, font: ImageFont.FreeTypeFont) -> tuple[str, ...]:
    """The characters of `text` that `font` has no glyph for: FreeType draws its "missing" box for them."""
    def drawn(char: str) -> tuple[bytes, tuple[int, int]]:
        mask = font.getmask(char)
        return bytes(mask), mask.size

    missing_box = drawn("\uffff")  # a noncharacter: no font has it
    return tuple(dict.fromkeys(c for c in text if not c.isspace() and drawn(c) == missing_box))


def _blend(target: np.ndarray, x: int, y: int, colour: np.ndarray, alpha: np.ndarray) -> None:
    """Blend `colour` (h, w[, C]) with straight `alpha` (h, w) into `target` at (x, y), in place."""
    region = target[y : y + alpha.shape[0], x : x + alpha.shape[1]]
    a = alpha.astype(np.uint16).reshape(alpha.shape + (1,) * (region.ndim - 2))
    region[...] = ((region * (255 - a) + colour * a + 127) // 255).astype(np.uint8)


def label_frames(frames: Iterable[np.ndarray], label: Label | None) -> Iterator[np.ndarray]:
    """`frames` with `label` blended in (unchanged when `label` is None)."""
    for frame in frames:
        yield frame if label is None else label.apply(frame)


def _draw(text: str, font_px: int) -> np.ndarray:
    """(h, w, 4) uint8 patch: the text on a rounded translucent box, padded by ~0.45 em."""
    font = load_font(font_px)
    left, top, right, bottom = font.getbbox(text)
    pad_x, pad_y = max(2, round(font_px * 0.45)), max(1, round(font_px * 0.3))
    width, height = right - left + 2 * pad_x, bottom - top + 2 * pad_y
    patch = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(patch)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=max(1, font_px // 4), fill=BACKING_RGBA)
    # Text drawn onto a separate layer and composited, so its antialiased edges blend over the box
    text_layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(text_layer).text((pad_x - left, pad_y - top), text, font=font, fill=TEXT_RGBA)
    return np.asarray(Image.alpha_composite(patch, text_layer))


def load_font(size_px: int) -> ImageFont.FreeTypeFont:
    """The bundled DejaVu Sans Bold at `size_px` pixels (licence: fonts/LICENSE-DejaVu.txt)."""
    with resources.as_file(resources.files("zoomout") / "fonts" / FONT_FILE) as path:
        return ImageFont.truetype(str(path), size_px)
