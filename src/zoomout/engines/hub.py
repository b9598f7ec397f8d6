"""The Hugging Face hub, asked once before a download: a missing network fails at once, not after minutes of retries."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse


def hub_unreachable_reason() -> str | None:
    """Why weights cannot be downloaded now (offline mode, no network), or None when the hub answers."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError as error:
        return f"{host} is unreachable: {error.strerror or error}"
    return None
