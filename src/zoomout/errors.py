"""Errors that a user can cause and fix: each prints as one line, without a traceback."""


class ZoomoutError(Exception):
    """Base class for every error caused by input, options or the environment."""


class ConfigError(ZoomoutError, ValueError):
    """An option is out of range or two options contradict each other."""


class PhotoError(ZoomoutError):
    """A photo cannot be used: missing, unreadable, not an image, too large, truncated."""


class EngineUnavailableError(ZoomoutError):
    """An engine was asked for but its extra or its weights are missing."""


class OutputError(ZoomoutError):
    """The output path cannot be written."""


class ProvenanceError(ZoomoutError):
    """A video cannot be signed or inspected: bad certificate or key, c2pa-python missing, unreadable file."""
