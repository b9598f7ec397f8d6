"""`make_video`: photos in, MP4 out, one call per stage."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .chain import SlotStack, build_chain, save_slots
from .config import Config
from .encode import EncodeSettings, Mp4Writer
from .engines import create_engine
from .errors import ConfigError, OutputError
from .load import load_photos
from .plan import Plan, plan_video
from .progress import ProgressCallback, ProgressEvent
from .render import ZoomRenderer, iter_frames
from .sound import make_soundtrack


@dataclass(frozen=True)
class VideoResult:
    """What `make_video` made, and how long each stage took."""

    path: Path
    plan: Plan
    slots: SlotStack
    engine: str
    photo_notes: tuple[str, ...]
    seconds: dict[str, float] = field(default_factory=dict)


def make_video(
    photos: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    config: Config = Config(),
    *,
    save_slots_to: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
) -> VideoResult:
    """Make a zoom-out video of `photos` at `output` (an `.mp4`).

    Everything that can be checked is checked before the first slot is outpainted; the
    output file appears only when complete.
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
    lap("load")

    # 2. Plan the timeline
    plan = plan_video(config)

    # 3. Sound (before the chain: a bad audio file fails before minutes of outpainting)
    audio = make_soundtrack(config.sound, plan)
    lap("sound")

    # 4. Outpaint the chain
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
    )
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
    with Mp4Writer(output_path, settings, audio) as writer:
        for i, frame in enumerate(iter_frames(renderer, plan.frame_zooms())):
            writer.write(frame)
            if progress:
                progress(ProgressEvent("render", i + 1, plan.frame_count))
    lap("render")

    return VideoResult(
        path=output_path,
        plan=plan,
        slots=stack,
        engine=engine.name,
        photo_notes=tuple(note for photo in loaded for note in photo.notes),
        seconds=seconds,
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
