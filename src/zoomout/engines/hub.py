"""The Hugging Face hub, asked once before a download: a missing network fails at once, not after minutes of retries."""

from __future__ import annotations

import os
import socket
import time
from urllib.parse import urlparse

ANSWER_KEPT_S = 60.0  # one probe serves every engine of a command; a long-lived server asks again later
_last: tuple[float, str, str | None] | None = None  # (when, host, answer)


def hub_unreachable_reason() -> str | None:
    """Why weights cannot be downloaded now (offline mode, no network), or None when the hub answers."""
    global _last
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    now = time.monotonic()
    if _last is not None and _last[1] == host and now - _last[0] < ANSWER_KEPT_S:
        return _last[2]
    try:
        socket.create_connection((host, 443), timeout=3).close()
        answer = None
    except OSError as error:
        answer = f"{host} is unreachable: {error.strerror or error}"
    _last = (now, host, answer)
    return answer
