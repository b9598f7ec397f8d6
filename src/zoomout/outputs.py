"""Checks of every path zoomout writes, run before any work: one validator, one kind of error.

The video, its contact sheet, the sound file and its spectrogram, the mask video: a file with
the right suffix in an existing, writable folder, not a folder, not one of the inputs. The
slots folder of `--save-slots`: a folder, new or existing, never an existing file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .atomic import longest_temporary_name
from .errors import OutputError


def check_output_file(
    path: Path, suffix: str, *, inputs: Iterable[Path] = (), what: str = "output", companions: Iterable[str] = ()
) -> Path:
    """`path` if a `suffix` file can be written there without touching an input; else OutputError.

    Parameters
    ----------
    path : Path
    suffix : str
        `.mp4`, `.png`, `.wav`, … (any case).
    inputs : paths
        Files that must not be overwritten (the photos).
    what : str
        How the message names the file ("output", "contact sheet", "spectrogram", …).
    companions : suffixes
        Files written beside it under its name with another suffix (the video's `.zoomout.json`).
    """
    if path.suffix.lower() != suffix:
        raise OutputError(f"{path}: the {what} should be a {suffix} file")
    with _looked_up(path, what):
        if path.is_dir():
            raise OutputError(f"{path}: the {what} is a directory")
        _check_writable_folder(path, path.parent)
        _check_name_fits(path, what, companions)
        resolved = path.resolve()
    if any(_is_the_file(p, resolved) for p in inputs):
        raise OutputError(f"{path}: the {what} would overwrite an input")
    return path


def check_output_folder(path: Path, *, what: str = "slots folder") -> Path:
    """`path` if it is a folder, or can be made in an existing writable one; else OutputError."""
    with _looked_up(path, what):
        if path.exists() and not path.is_dir():
            raise OutputError(f"{path}: the {what} is an existing file, not a folder")
        if path.is_dir():
            _check_writable_folder(path, path)
        else:
            _check_writable_folder(path, path.parent)
    return path


@contextmanager
def _looked_up(path: Path, what: str) -> Iterator[None]:
    """An OSError from looking `path` up (a name too long, a loop of links) as an OutputError naming it."""
    try:
        yield
    except OSError as error:
        raise OutputError(f"{path}: the {what} cannot be looked up ({error.strerror or error})") from None


def _is_the_file(candidate: Path, resolved: Path) -> bool:
    """Whether `candidate` is the file `resolved`; False for a name that cannot be looked up (its reader reports that)."""
    try:
        return candidate.exists() and candidate.resolve() == resolved
    except OSError:
        return False


def _check_name_fits(path: Path, what: str, companions: Iterable[str]) -> None:
    """The names written beside `path` fit its folder: its own and its companions', each with its temporary file's.

    A name the folder refuses fails only when the file is written: at the end of a run.
    """
    limit = os.pathconf(path.parent, "PC_NAME_MAX")
    written = [path, *(path.with_suffix(companion) for companion in companions)]
    over = max(len(os.fsencode(longest_temporary_name(p))) for p in written) - limit
    if over > 0:
        raise OutputError(
            f"{path}: the {what}'s name is too long: its folder takes names of up to {limit} bytes, and the files "
            f"written beside it take longer ones, so at most {len(os.fsencode(path.name)) - over} bytes"
        )


def _check_writable_folder(path: Path, folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{path}: {folder} is not a folder")
    if not folder.is_dir():
        raise OutputError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{path}: folder {folder} is not writable")
    try:  # access() says yes to root in read-only places such as /proc: try for real
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OutputError(f"{path}: cannot write in folder {folder} ({error.strerror or error})") from None
