"""zoomout: AI Zoom Out videos — outpaint a photo slot after slot, render a smooth zoom-out.

The names below are imported when first used (PEP 562), so `import zoomout` and the
command line's `--help` start without loading numpy, OpenCV, PyAV or SciPy.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# OpenCV's idle worker threads spin after each parallel call before they sleep. The renderer
# makes many short calls while x264's threads want the same cores, so the spinning is taken
# from the encoder (bench/bench_render.py: the renderer's CPU per frame 25 → 20 ms). OpenCV
# reads these when it loads: they are set before any zoomout module imports cv2.
os.environ.setdefault("OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER", "0")
os.environ.setdefault("OPENCV_THREAD_POOL_ACTIVE_WAIT_MAIN", "0")

_EXPORTS = {
    "Config": ".config", "ConfigError": ".errors", "EngineUnavailableError": ".errors", "OutputError": ".errors",
    "PhotoError": ".errors", "ZoomoutError": ".errors", "Plan": ".plan", "plan_video": ".plan",
    "SlotStack": ".chain", "build_chain": ".chain", "VideoResult": ".pipeline", "make_video": ".pipeline",
    "ZoomRenderer": ".render",
}  # fmt: skip

if TYPE_CHECKING:
    from .chain import SlotStack, build_chain
    from .config import Config
    from .errors import ConfigError, EngineUnavailableError, OutputError, PhotoError, ZoomoutError
    from .pipeline import VideoResult, make_video
    from .plan import Plan, plan_video
    from .render import ZoomRenderer


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module 'zoomout' has no attribute {name!r}")


__all__ = [*_EXPORTS, "__version__"]
