"""A contact sheet: every slot of every chain in one grid, numbered, for a quick look."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .atomic import write_png_atomic
from .chain import SlotStack

THUMB_HEIGHT_PX = 320
GAP_PX = 8


def contact_sheet(stacks: list[SlotStack], columns: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 grid of all slots, labelled `k` (one chain) or `part.k` (a montage)."""
    tiles = [
        (f"{k}" if len(stacks) == 1 else f"{part}.{k}", image)
        for part, stack in enumerate(stacks, start=1)
        for k, image in enumerate(stack.images)
    ]
    h, w = tiles[0][1].shape[:2]
    thumb_w = max(1, round(w * THUMB_HEIGHT_PX / h))
    columns = columns or min(len(tiles), 7)
    rows = math.ceil(len(tiles) / columns)
    sheet = Image.new("RGB", (columns * (thumb_w + GAP_PX) + GAP_PX, rows * (THUMB_HEIGHT_PX + GAP_PX) + GAP_PX), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=max(12, THUMB_HEIGHT_PX // 12))
    for i, (name, image) in enumerate(tiles):
        x = GAP_PX + (i % columns) * (thumb_w + GAP_PX)
        y = GAP_PX + (i // columns) * (THUMB_HEIGHT_PX + GAP_PX)
        thumb = cv2.resize(image, (thumb_w, THUMB_HEIGHT_PX), interpolation=cv2.INTER_AREA)
        sheet.paste(Image.fromarray(thumb), (x, y))
        draw.text((x + 6, y + 4), name, fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
    return np.asarray(sheet)


def write_contact_sheet(stacks: list[SlotStack], path: Path) -> Path:
    """Write the contact sheet as a PNG, atomically."""
    if path.suffix.lower() != ".png":
        raise ValueError(f"contact sheet should be a .png path but is {path}")
    write_png_atomic(contact_sheet(stacks), path)
    return path
