"""Shared fixtures: small real photos and a deterministic test engine."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from zoomout.engines import Engine

# The tiny test models gain nothing from threads, and on a busy 2-core machine two OpenMP
# threads stall each other (25x slower). The diffusion engine runs with OMP_NUM_THREADS threads,
# here and in the command lines the tests start.
os.environ.setdefault("OMP_NUM_THREADS", "1")

EXAMPLE_CAT = Path(__file__).resolve().parents[1] / "examples" / "cat.png"


class SmoothNoiseEngine(Engine):
    """Fills the ring with seeded, band-limited noise: rich texture, cheap, deterministic."""

    name = "smooth-noise"
    summary = "test engine"

    def _outpaint(self, image, mask, *, seed, slot):
        rng = np.random.default_rng(seed)
        h, w = mask.shape
        noise = rng.integers(0, 256, size=(h // 4 + 2, w // 4 + 2, 3), dtype=np.uint8)
        return cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own slot cache, never the user's."""
    monkeypatch.setenv("ZOOMOUT_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def noise_engine() -> Engine:
    return SmoothNoiseEngine()


@pytest.fixture(scope="session")
def cat_pixels() -> np.ndarray:
    """The bundled example photo, (300, 451, 3) uint8."""
    return np.asarray(Image.open(EXAMPLE_CAT).convert("RGB"))


@pytest.fixture
def small_cat(tmp_path) -> Path:
    """The example cat at 1/3 size, as a JPEG file."""
    path = tmp_path / "cat small.jpg"
    Image.open(EXAMPLE_CAT).convert("RGB").resize((150, 100)).save(path, quality=92)
    return path
