"""Where a batch's videos go: a folder that every node sees, or any fsspec URL.

A plain path is a folder mounted at the same path on every node (NFS, a shared disk): the
render stage writes there as `zoomout make` does, a draft beside the output renamed when
complete, then the sidecar. A URL (`s3://…`, `gs://…`, `file://…`) is written through
fsspec: the render stage makes the files in a temporary folder on its own node and uploads
each under a hidden temporary name beside its place (`.NAME.<random>.tmp`), then moves it
into place, the video before its sidecar. An object store's move is a copy that appears
whole; a local or NFS move is a rename. Either way a reader sees no half-written file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from ..atomic import remove_leftovers, write_bytes_atomic
from ..errors import ConfigError, OutputError

LEFTOVER_SUFFIX = ".tmp"  # one of atomic.TEMPORARY_SUFFIXES


class Destination:
    """The output folder of a batch: `location` is a path or an fsspec URL.

    Attributes
    ----------
    location : str
        As the user gave it.
    local : Path or None
        The folder, for a plain path; None for a URL.
    """

    def __init__(self, location: str | os.PathLike[str]) -> None:
        self.location = os.fspath(location)
        self.local = None if "://" in self.location else Path(self.location).expanduser().absolute()
        self._fs: Any = None
        self._root = ""

    def __getstate__(self) -> dict[str, Any]:  # sent to the render tasks: each opens its own filesystem
        return {**self.__dict__, "_fs": None}

    @property
    def fs(self) -> Any:
        """The fsspec filesystem of a URL destination (opened on first use, in each process)."""
        if self._fs is None:
            try:
                import fsspec
            except ImportError:
                raise ConfigError("an output URL needs fsspec: pip install 'zoomout[batch]'") from None
            try:
                self._fs, self._root = fsspec.core.url_to_fs(self.location)
            except (ImportError, ValueError) as error:  # an unknown protocol, or its package is missing
                raise OutputError(f"{self.location}: cannot open this output location ({error})") from None
        return self._fs

    def prepare(self) -> None:
        """Create the folder if need be; OutputError when that is not possible."""
        try:
            if self.local is not None:
                self.local.mkdir(parents=True, exist_ok=True)
            else:
                self.fs.makedirs(self._root, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{self.location}: cannot create the output folder ({error.strerror or error})") from None

    def url(self, name: str) -> str:
        """Where `name` (a path relative to the folder, `/`-separated) is, as a path or URL to show."""
        return str(self.local / name) if self.local is not None else f"{self.location.rstrip('/')}/{name}"

    def exists(self, name: str) -> bool:
        if self.local is not None:
            return (self.local / name).is_file()
        return bool(self.fs.isfile(self._path(name)))

    def read_text(self, name: str) -> str | None:
        """The file's text, or None when it is missing or unreadable."""
        try:
            if self.local is not None:
                return (self.local / name).read_text(encoding="utf-8")
            with self.fs.open(self._path(name), "rt", encoding="utf-8") as file:
                return file.read()
        except (OSError, UnicodeDecodeError):
            return None

    def write_text(self, name: str, text: str) -> None:
        """Write `name` atomically."""
        if self.local is not None:
            write_bytes_atomic(text.encode(), self.local / name)
            return
        tmp = self._temporary(name)
        try:
            with self.fs.open(tmp, "wb") as file:
                file.write(text.encode())
            self.fs.mv(tmp, self._path(name))
        finally:
            self._discard(tmp)

    def upload(self, files: Iterable[tuple[Path, str]]) -> None:
        """Put each local file at its name, in the order given, each appearing complete (URL destinations)."""
        for local, name in files:
            self.fs.makedirs(self._path(str(PurePosixPath(name).parent)), exist_ok=True)
            tmp = self._temporary(name)
            try:
                self.fs.put_file(str(local), tmp)
                self.fs.mv(tmp, self._path(name))
            finally:
                self._discard(tmp)

    def remove_leftovers(self, name: str) -> None:
        """Delete the temporary files a killed writer of `name` left beside it."""
        if self.local is not None:
            remove_leftovers(self.local / name)
            return
        path = PurePosixPath(self._path(name))
        for leftover in self.fs.glob(f"{path.parent}/.{path.name}.*{LEFTOVER_SUFFIX}"):
            self._discard(leftover)

    def _path(self, name: str) -> str:
        return f"{self._root.rstrip('/')}/{name}" if self._root else name

    def _temporary(self, name: str) -> str:
        path = PurePosixPath(self._path(name))
        return str(path.with_name(f".{path.name}.{secrets.token_hex(4)}{LEFTOVER_SUFFIX}"))

    def _discard(self, path: str) -> None:
        try:
            if self.fs.exists(path):
                self.fs.rm(path)
        except OSError:
            pass


def inside_name(value: object, key: str) -> str:
    """`value` as a `/`-separated path inside the output folder; ConfigError naming `key` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key!r} should be a file name inside the output folder but is {value!r}")
    path = PurePosixPath(value.replace(os.sep, "/"))
    if path.is_absolute() or ".." in path.parts or "://" in value:
        raise ConfigError(f"{key!r} should be a path inside the output folder (--out) but is {value!r}")
    return path.as_posix()
