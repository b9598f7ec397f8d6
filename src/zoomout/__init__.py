"""zoomout: AI Zoom Out videos — outpaint a photo slot after slot, render a smooth zoom-out."""

__version__ = "0.1.0"

from .chain import SlotStack, build_chain
from .config import Config
from .errors import ConfigError, EngineUnavailableError, OutputError, PhotoError, ZoomoutError
from .pipeline import VideoResult, make_video
from .plan import Plan, plan_video
from .render import ZoomRenderer

__all__ = [
    "Config", "ConfigError", "EngineUnavailableError", "OutputError", "PhotoError", "Plan", "SlotStack",
    "VideoResult", "ZoomRenderer", "ZoomoutError", "__version__", "build_chain", "make_video", "plan_video",
]  # fmt: skip
