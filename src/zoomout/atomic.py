"""Atomic file writes: a reader sees the old file or the complete new one, never half of one.

Every file zoomout writes (video, sidecar, slots, contact sheet, sound, mask video) goes
through `atomic_path`. Its temporary file is created with mode 0o666 filtered by the umask,
as `open()` or `cp` would create the final file, so the renamed result gets the user's
usual mode (`tempfile.mkstemp` would leave every output at 0o600).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

TEMPORARY_SUFFIXES = (".tmp", ".tmp.mp4", ".draft.mp4", ".tagged.mp4")
_TOKEN_BYTES = 4  # random bytes in a temporary name, written as hex


def temporary_name(path: Path, suffix: str = ".tmp", token: str = "0" * 2 * _TOKEN_BYTES) -> str:
    """The name `.NAME.<token><suffix>` of a temporary file beside `path` (the default token: its length)."""
    return f".{path.name}.{token}{suffix}"


def longest_temporary_name(path: Path) -> str:
    """The longest name a writer of `path` may give a temporary file beside it: what the folder must accept."""
    return temporary_name(path, max(TEMPORARY_SUFFIXES, key=len))


@contextmanager
def temporary_beside(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a new empty file `.NAME.<random><suffix>` beside `path`, deleted when the block ends.

    The file is created with the mode a new file gets from the umask. `suffix` should be
    one of TEMPORARY_SUFFIXES, so that `remove_leftovers` finds it after a kill.
    """
    while True:
        tmp = path.with_name(temporary_name(path, suffix, secrets.token_hex(_TOKEN_BYTES)))
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    with temporary_beside(path, suffix) as tmp:
        yield tmp
        os.replace(tmp, path)


def remove_leftovers(path: Path) -> list[Path]:
    """Delete the temporary files a killed writer of `path` left beside it; returns them.

    They are `.NAME.<random><suffix>` with a suffix of TEMPORARY_SUFFIXES. Only one writer
    of a path should run at a time.
    """
    removed = []
    for leftover in path.parent.glob(f".{path.name}.*"):
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
