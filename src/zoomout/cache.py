"""Slots cached on disk under a key of everything that shaped them.

A run killed at any moment and started again redoes at most the slot it was working on; a
run that changes only timing, easing or sound renders from the cached slots, and so does a
smaller video of the same shape (the slots are rendered smaller).
Each entry is written atomically (temporary file + rename), so a reader never sees half a slot.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import write_bytes_atomic, write_png_atomic
from .config import Config

# The Config fields that shape the outpainted slots: all of them are in the cache key.
CHAIN_FIELDS = (
    "slots", "slots_per_photo", "nest", "zoom_per_slot", "fit", "engine", "engine_options", "seed",
)  # fmt: skip
# The fields that only change the render, so cached slots stay valid when they change. The canvas
# size is in the key as its aspect ratio only: a smaller video of the same shape reuses the slots.
RENDER_FIELDS = (
    "width_px", "height_px", "seconds_per_slot", "fps", "hold_start_s", "hold_end_s", "ease", "direction", "loop",
    "duration_s", "transition", "sound", "sound_seed", "sound_sync", "crf", "x264_preset", "label",
)  # fmt: skip


def chain_key(config: Config, photo_sha256s: list[str], engine_revision: str = "") -> str:
    """Cache key of a chain's slots: the photos, the engine's revision, every option that shaped them
    and the canvas's aspect ratio (its size names a folder under the key: see `SlotCache`)."""
    shaping = {name: getattr(config, name) for name in CHAIN_FIELDS}
    divisor = math.gcd(config.width_px, config.height_px)
    aspect = f"{config.width_px // divisor}:{config.height_px // divisor}"
    blob = json.dumps(
        {"photos": photo_sha256s, "engine_revision": engine_revision, "aspect": aspect, **shaping},
        sort_keys=True,
        default=_jsonable,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _jsonable(value: object) -> object:
    if callable(getattr(value, "cache_identity", None)):  # options that name weights by file hashes
        return value.cache_identity()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot put {type(value).__name__} into a cache key")

DEFAULT_LIMIT_BYTES = 2 * 2**30
ABOUT_FILE = "about.json"


def default_cache_dir() -> Path:
    """`$ZOOMOUT_CACHE`, else `$XDG_CACHE_HOME/zoomout`, else `~/.cache/zoomout`."""
    if env := os.environ.get("ZOOMOUT_CACHE"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zoomout"


@dataclass(frozen=True)
class CacheEntry:
    """One cached chain: its key, what it holds, and what made it (from its `about.json`)."""

    key: str
    slots: int
    bytes: int
    last_used: float
    photos: tuple[str, ...] = ()
    engine: str = ""
    sizes: tuple[str, ...] = ()
    created: float | None = None


class SlotCache:
    """Slots of one chain in `root/<key>/<W>x<H>/`: `slot_KK.png` and `mask_KK.png`.

    The key holds the canvas's aspect ratio, not its size, so that the same chain made at
    another size of the same shape can be found (`larger_complete_size`) and rendered smaller
    instead of outpainted again. With `read=False` (a fresh run) nothing is loaded but every
    new slot is still stored.
    """

    def __init__(
        self, root: Path, key: str, size: tuple[int, int], *, read: bool = True, about: dict | None = None
    ) -> None:
        self.root, self.key, self.size, self.read, self.about = root, key, size, read, about
        self.folder = root / key / f"{size[0]}x{size[1]}"
        self.error: str | None = None
        if self.folder.is_dir():  # temporary files of a run that was killed while storing a slot
            for leftover in self.folder.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)

    def load(self, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Slot k and its mask, or None when not cached (or unreadable: it is then redone)."""
        image_path, mask_path = self._paths(k)
        if not self.read or not (image_path.is_file() and mask_path.is_file()):
            return None
        try:
            image = np.asarray(Image.open(image_path).convert("RGB"))
            mask = np.asarray(Image.open(mask_path).convert("L")) > 127
        except OSError:
            return None
        os.utime(self.root / self.key)  # oldest-first cleanup goes by last use
        return image, mask

    def store(self, k: int, image: np.ndarray, mask: np.ndarray) -> None:
        """Keep slot k; a cache that cannot be written (full disk, read-only) is noted, not fatal."""
        if self.error is not None:
            return
        image_path, mask_path = self._paths(k)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            about = self.root / self.key / ABOUT_FILE
            if self.about is not None and not about.is_file():  # what made the chain, for `zoomout cache --list`
                write_bytes_atomic(json.dumps({**self.about, "created": time.time()}).encode(), about)
            write_png_atomic(mask.astype(np.uint8) * 255, mask_path)
            write_png_atomic(image, image_path)  # written last: its presence marks a complete entry
        except OSError as error:
            self.error = f"slot cache {self.folder} not written ({error.strerror or error}); the run goes on"

    def larger_complete_size(self, slots: int) -> tuple[int, int] | None:
        """The smallest size above `self.size` at which all slots 0..`slots` are cached, if any."""
        if not self.read:
            return None
        sizes = []
        for folder in (self.root / self.key).glob("*x*"):
            match = re.fullmatch(r"(\d+)x(\d+)", folder.name)
            if match and int(match[1]) > self.size[0]:
                if all((folder / name).is_file() for k in range(slots + 1) for name in (f"slot_{k:02d}.png", f"mask_{k:02d}.png")):
                    sizes.append((int(match[1]), int(match[2])))
        return min(sizes, default=None)

    def _paths(self, k: int) -> tuple[Path, Path]:
        return self.folder / f"slot_{k:02d}.png", self.folder / f"mask_{k:02d}.png"


def open_slot_cache(
    root: Path, key: str, size: tuple[int, int], slots: int, *, fresh: bool = False, about: dict | None = None
) -> SlotCache:
    """The chain's cache at `size`, or at a larger size of the same shape where it is complete:
    those slots are rendered smaller instead of outpainted again. `about` (photos, engine) is
    written beside a new chain's slots for `zoomout cache --list`."""
    cache = SlotCache(root, key, size, read=not fresh, about=about)
    larger = cache.larger_complete_size(slots)
    return SlotCache(root, key, larger, about=about) if larger else cache


def count_cached(root: Path, key: str, size: tuple[int, int], slots: int) -> int:
    """How many of the chain's slots 0..`slots` a run at `size` would take from the cache."""
    folder = open_slot_cache(root, key, size, slots).folder
    return sum((folder / f"slot_{k:02d}.png").is_file() for k in range(slots + 1))


def list_entries(root: Path) -> list[CacheEntry]:
    """Cached chains, least recently used first."""
    if not root.is_dir():
        return []
    entries = []
    for folder in root.iterdir():
        if folder.is_dir():
            files = list(folder.rglob("*.png"))
            try:
                about = json.loads((folder / ABOUT_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                about = {}
            entries.append(
                CacheEntry(
                    key=folder.name,
                    slots=len([f for f in files if f.name.startswith("slot_")]),
                    bytes=sum(f.stat().st_size for f in files),
                    last_used=folder.stat().st_mtime,
                    photos=tuple(str(p) for p in about.get("photos", ())),
                    engine=str(about.get("engine", "")),
                    sizes=tuple(sorted(f.name for f in folder.iterdir() if f.is_dir())),
                    created=about.get("created"),
                )
            )
    return sorted(entries, key=lambda e: e.last_used)


def prune(root: Path, limit_bytes: int = DEFAULT_LIMIT_BYTES, keep: Collection[str] = ()) -> list[str]:
    """Delete the least recently used chains until the cache fits `limit_bytes`; never those in `keep`."""
    entries = list_entries(root)
    total = sum(e.bytes for e in entries)
    removed = []
    for entry in entries:
        if total <= limit_bytes:
            break
        if entry.key in keep:
            continue
        shutil.rmtree(root / entry.key, ignore_errors=True)
        total -= entry.bytes
        removed.append(entry.key)
    return removed


def clear(root: Path) -> int:
    """Delete every cached chain; returns how many."""
    entries = list_entries(root)
    for entry in entries:
        shutil.rmtree(root / entry.key, ignore_errors=True)
    return len(entries)


def describe_age(seconds_ago: float) -> str:
    minutes = (time.time() - seconds_ago) / 60
    return f"{minutes:.0f} min ago" if minutes < 120 else f"{minutes / 60:.0f} h ago"
