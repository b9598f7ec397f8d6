"""Errors that a user can cause and fix: each prints as one line, without a traceback."""

import re


def printable(text: str) -> str:
    """`text` as one printable line: a newline, tab or other control character is shown escaped (\\n)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


class ZoomoutError(Exception):
    """Base class for every error caused by input, options or the environment.

    Its message is one printable line whatever it quotes: a file name may hold a newline.
    """

    def __str__(self) -> str:
        return printable(super().__str__())


class ConfigError(ZoomoutError, ValueError):
    """An option is out of range or two options contradict each other.

    `field` names the option at fault (`Config` or engine-options field), so that a front end
    can name it as the user typed it; by default it is read from a message that starts
    `NAME should …`, as every message about one option does.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        match = re.match(r"([a-z_][a-z0-9_]*) should\b", message)
        self.field = field or (match[1] if match else None)


class PhotoError(ZoomoutError):
    """A photo cannot be used: missing, unreadable, not an image, too large, truncated."""


class EngineUnavailableError(ZoomoutError):
    """An engine was asked for but its extra or its weights are missing."""


class OutputError(ZoomoutError):
    """The output path cannot be written."""


class ProvenanceError(ZoomoutError):
    """A video cannot be signed or inspected: bad certificate or key, c2pa-python missing, unreadable file."""


class JobsFileError(ZoomoutError):
    """A jobs file (`zoomout batch`) cannot be read or holds no job; a bad line is reported on its own."""
