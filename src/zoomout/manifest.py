"""The manifest: what a video says about itself, as one JSON object.

It records the zoomout version, the whole config, the SHA-256 of each input photo, the
engine (as the engine describes itself: model id, revision and prompts when it has them), the
seed of every slot, which pixels of every slot were generated (the masks, losslessly), the
timeline down to each frame's zoom position, and (added by `container.publish_video`) a
SHA-256 of the encoded video and audio streams. It is stored twice: in the MP4 and beside it
as `NAME.zoomout.json`. The manifest itself is not signed: anyone can rewrite it. Only C2PA
credentials (`credentials.py`) bind the file, the embedded manifest included, to a signer.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import __version__
from .chain import SlotStack, shrink_slot
from .config import Config
from .errors import ProvenanceError
from .load import Photo
from .plan import Plan

MANIFEST_FORMAT = "zoomout-manifest"
MANIFEST_VERSION = 1
MANIFEST_TAG = "description"  # the MP4 container tag that holds the compact manifest JSON
SIDECAR_SUFFIX = ".zoomout.json"
MASK_ENCODING = "packbits+zlib+base64"


class DescribesEngine(Protocol):
    """What the manifest needs of the engine that made the slots: an `Engine`, or its `EngineRecord`."""

    name: str

    def describe(self) -> dict[str, Any]: ...


@dataclasses.dataclass(frozen=True)
class EngineRecord:
    """An engine's name and manifest record without the engine and its model: small, picklable, sent between machines."""

    name: str
    record: dict[str, Any]

    @classmethod
    def of(cls, engine: DescribesEngine) -> EngineRecord:
        return cls(engine.name, engine.describe())

    def describe(self) -> dict[str, Any]:
        return dict(self.record)


def build_manifest(
    config: Config, photos: Sequence[Photo], engine: DescribesEngine, plan: Plan, stacks: Sequence[SlotStack]
) -> dict[str, Any]:
    """The manifest of a video before encoding (`publish_video` adds the stream hashes).

    `stacks` are the plan's chains: one per montage photo, or one for one photo or a nest.
    """
    config_dict = config_record(config)
    chains, zooms = plan.frame_views()
    return {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "ai_generated": True,
        "statement": (
            f"Made with zoomout {__version__}: the input photo was shrunk slot after slot and the "
            f"surroundings were invented by the {engine.name!r} engine. Only the pixels that come "
            "from the photo are real; 'slots' says how much of each slot was invented."
        ),
        "zoomout_version": __version__,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": config_dict,
        "inputs": [
            {"name": os.fsencode(photo.path.name).decode("utf-8", "backslashreplace"), "sha256": photo.sha256, "notes": list(photo.notes)} for photo in photos
        ],
        "engine": engine.describe(),
        "chains": [
            {
                "photos": list(range(len(photos))) if len(stacks) == 1 else [index],
                "slots": [
                    {
                        "index": k,
                        "seed": config.seed + k,
                        "generated_fraction": float(mask.mean()),
                        "invented_fraction": float(share.mean(dtype=np.float64)),
                    }
                    for k, (mask, share) in enumerate(zip(stack.masks, invented_shares(stack.masks, stack.zoom_per_slot)))
                ],
                "generated_masks": encode_masks(stack.masks),
            }
            for index, stack in enumerate(stacks)
        ],
        "timeline": {
            **_jsonable(dataclasses.asdict(plan)),
            # properties the frame compositing reads, and every frame's view
            **{name: getattr(plan, name) for name in ("slots", "hold_start_s", "zoom_s", "hold_end_s", "duration_s")},
            "frame_chains": [int(c) for c in chains],
            "frame_zooms": [float(z) for z in zooms],
        },
        "label": getattr(config, "label", None),
    }


def config_record(config: Config) -> dict[str, Any]:
    """The config as the manifest records it (plain JSON types): what a rerun compares to know a video is current."""
    return _jsonable(config.to_dict())


def _jsonable(value: Any) -> Any:
    """Plain JSON types: dataclasses become dicts, paths and other objects strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def encode_masks(masks: Sequence[np.ndarray]) -> dict[str, Any]:
    """(H, W) bool masks → a small JSON record: bits packed, deflated, base64 (lossless)."""
    h, w = masks[0].shape
    return {
        "encoding": MASK_ENCODING,
        "shape": [h, w],
        "slots": [base64.b64encode(zlib.compress(np.packbits(m, axis=None).tobytes(), 9)).decode() for m in masks],
    }


def decode_masks(record: dict[str, Any]) -> list[np.ndarray]:
    """The inverse of `encode_masks`: (H, W) bool masks, True = generated."""
    if record.get("encoding") != MASK_ENCODING:
        raise ProvenanceError(f"masks encoded as {record.get('encoding')!r}, expected {MASK_ENCODING!r}")
    h, w = record["shape"]
    return [
        np.unpackbits(np.frombuffer(zlib.decompress(base64.b64decode(text)), np.uint8), count=h * w)
        .reshape(h, w)
        .astype(bool)
        for text in record["slots"]
    ]


def invented_shares(masks: Sequence[np.ndarray], zoom_per_slot: float) -> list[np.ndarray]:
    """(H, W) float32 share of each slot pixel that is invented, in [0, 1], per slot.

    A slot's own mask marks only its new ring; its centre is the previous slot shrunk, which
    carries that slot's invented pixels along. So: slot 0's share is its mask, and slot k's is
    1 on its ring, slot k−1's share shrunk (with the chain's own geometry) where the shrunk
    slot covers it fully, and 0 on the rest (in a nest, a further real photo around it).
    """
    shares = [masks[0].astype(np.float32)]
    for mask in masks[1:]:
        previous = np.rint(shares[-1] * 255).astype(np.uint8)
        shrunk, outside_centre = shrink_slot(previous, zoom_per_slot)
        kept = np.where(outside_centre, 0.0, shrunk / np.float32(255.0))
        shares.append(np.where(mask, 1.0, kept).astype(np.float32))
    return shares


def sidecar_path(video: str | os.PathLike[str]) -> Path:
    """`out.mp4` → `out.zoomout.json`."""
    return Path(video).with_suffix(SIDECAR_SUFFIX)


def manifest_json(manifest: dict[str, Any], *, compact: bool) -> str:
    if compact:
        return json.dumps(manifest, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
