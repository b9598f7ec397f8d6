"""Atomic file writes: a reader sees the old file or the complete new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


TEMPORARY_SUFFIXES = (".tmp", ".tmp.mp4", ".draft.mp4", ".c2pa.mp4")


def remove_leftovers(path: Path) -> list[Path]:
    """Delete the temporary files a killed writer of `path` left beside it; returns them.

    They are `.NAME.<random><suffix>` (and `..NAME.…` for a temporary file's own temporary) with
    a suffix of TEMPORARY_SUFFIXES. Only one writer of a path should run at a time.
    """
    removed = []
    for pattern in (f".{path.name}.*", f"..{path.name}.*"):
        for leftover in path.parent.glob(pattern):
            if leftover.name.endswith(TEMPORARY_SUFFIXES) and leftover.is_file():
                leftover.unlink(missing_ok=True)
                removed.append(leftover)
    return removed


def write_bytes_atomic(data: bytes, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_png_atomic(pixels: np.ndarray, path: Path) -> None:
    """Write (H, W[, 3]) uint8 pixels as a PNG, atomically."""
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG", compress_level=1)
