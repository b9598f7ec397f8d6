"""`make_video`: photos in, MP4 out, one call per stage."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .cache import SlotCache, default_cache_dir, prune
from .chain import SlotStack, build_chain, save_slots
from .config import Config
from .encode import EncodeSettings, Mp4Writer
from .engines import create_engine
from .errors import ConfigError, OutputError
from .label import label_frames, make_label
from .load import load_photos
from .plan import Plan
from .progress import ProgressCallback, ProgressEvent
from .provenance import build_manifest, draft_beside, load_signing_credentials, publish_video, sidecar_path
from .render import ZoomRenderer, iter_frames
from .sound import make_soundtrack, plan_timeline


@dataclass(frozen=True)
class VideoResult:
    """What `make_video` made, and how long each stage took."""

    path: Path
    plan: Plan
    slots: SlotStack
    engine: str
    notes: tuple[str, ...]
    seconds: dict[str, float] = field(default_factory=dict)
    manifest_path: Path | None = None  # the sidecar `NAME.zoomout.json`
    manifest: dict[str, object] = field(default_factory=dict)


def make_video(
    photos: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    config: Config = Config(),
    *,
    save_slots_to: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
    cache_dir: str | os.PathLike[str] | None = "default",
    fresh: bool = False,
    sign_cert: str | os.PathLike[str] | None = None,
    sign_key: str | os.PathLike[str] | None = None,
) -> VideoResult:
    """Make a zoom-out video of `photos` at `output` (an `.mp4`).

    Everything that can be checked is checked before the first slot is outpainted; the
    output file appears only when complete. Slots are cached in `cache_dir` ("default":
    `default_cache_dir()`; None: no cache), so a killed run resumes where it was and a run
    that changes only timing, easing or sound re-renders without outpainting; `fresh`
    outpaints every slot again (and refreshes the cache).

    Every video carries a manifest (in the MP4 and beside it as `NAME.zoomout.json`) and,
    unless `config.label` is None, a visible label; with `sign_cert` (PEM chain, leaf first)
    and `sign_key` (PEM) it also carries signed C2PA content credentials.
    """
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = now - clock
        clock = now

    # 1. Check inputs and load photos
    output_path = check_output_path(Path(output), [Path(p) for p in photos])
    if len(photos) != 1:
        raise ConfigError(f"photos should be exactly one photo but are {len(photos)}")
    loaded = load_photos(photos)
    engine = create_engine(config.engine)
    label = make_label(config.label, config.width_px, config.height_px) if config.label else None
    if (sign_cert is None) != (sign_key is None):
        raise ConfigError("sign_cert and sign_key should be given together")
    signing = load_signing_credentials(sign_cert, sign_key) if sign_cert and sign_key else None
    lap("load")

    # 2. Plan the timeline (with sound_sync='beats' the slot changes move onto the track's beats)
    timeline = plan_timeline(config)
    config, plan = timeline.config, timeline.plan

    # 3. Sound (before the chain: a bad audio file fails before minutes of outpainting)
    audio = make_soundtrack(config, plan, timeline.track)
    lap("sound")

    # 4. Outpaint the chain (resuming from cached slots)
    cache = None
    if cache_dir is not None:
        cache_root = default_cache_dir() if cache_dir == "default" else Path(cache_dir)
        key = config.chain_key([photo.sha256 for photo in loaded], engine.revision)
        cache = SlotCache(cache_root, key, read=not fresh)
    stack = build_chain(
        loaded[0].pixels,
        width_px=config.width_px,
        height_px=config.height_px,
        slots=config.slots,
        zoom_per_slot=config.zoom_per_slot,
        fit=config.fit,
        engine=engine,
        seed=config.seed,
        progress=progress,
        cache=cache,
    )
    notes = [f"{photo.path.name}: {note}" for photo in loaded for note in photo.notes]
    if stack.reused:
        notes.append(f"{stack.reused} of {len(stack.images)} slots reused from the cache (--fresh to redo them)")
    if cache is not None:
        if cache.error:
            notes.append(cache.error)
        prune(cache.root, keep=cache.key)
    if save_slots_to is not None:
        save_slots(stack, Path(save_slots_to))
    lap("chain")

    # 5. Render and encode, streamed
    renderer = ZoomRenderer(stack.images, config.zoom_per_slot, (config.width_px, config.height_px))
    settings = EncodeSettings(
        width_px=config.width_px,
        height_px=config.height_px,
        fps=config.fps,
        crf=config.crf,
        x264_preset=config.x264_preset,
        metadata=(("comment", "AI-generated zoom-out made with zoomout"),),
    )
    with draft_beside(output_path) as draft:
        with Mp4Writer(draft, settings, audio) as writer:
            for i, frame in enumerate(label_frames(iter_frames(renderer, plan.frame_zooms()), label)):
                writer.write(frame)
                if progress:
                    progress(ProgressEvent("render", i + 1, plan.frame_count))
        lap("render")

        # 6. Provenance: manifest in the MP4 and beside it, C2PA credentials when signing
        manifest = build_manifest(config, loaded, engine, plan, stack)
        manifest = publish_video(draft, output_path, manifest, photos=loaded, signing=signing)
    lap("provenance")

    return VideoResult(
        path=output_path,
        plan=plan,
        slots=stack,
        engine=engine.name,
        notes=tuple(notes),
        seconds=seconds,
        manifest_path=sidecar_path(output_path),
        manifest=manifest,
    )


def check_output_path(output: Path, inputs: list[Path]) -> Path:
    """An `.mp4` path in an existing, writable folder that is not one of the inputs."""
    if output.suffix.lower() != ".mp4":
        raise OutputError(f"{output}: the output should be an .mp4 file")
    if output.is_dir():
        raise OutputError(f"{output}: the output is a directory")
    folder = output.parent
    if not folder.is_dir():
        raise OutputError(f"{output}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{output}: folder {folder} is not writable")
    resolved = output.resolve()
    if any(p.exists() and p.resolve() == resolved for p in inputs):
        raise OutputError(f"{output}: the output would overwrite an input")
    return output
