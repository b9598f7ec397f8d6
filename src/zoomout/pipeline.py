"""`make_video`: photos in, MP4 out, one call per stage."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .atomic import remove_leftovers
from .cache import SlotCache, default_cache_dir, prune
from .chain import SlotStack, build_chain, save_slots
from .engines import Engine
from .load import Photo
from .config import Config
from .encode import EncodeSettings, Mp4Writer
from .engines import AUTO, ENGINE_OPTIONS, check_engine_options, choose_engine, create_engine, engine_class
from .errors import ConfigError, EngineUnavailableError, OutputError, PhotoError
from .label import label_frames, make_label
from .load import MIN_SIDE_PX, load_photos
from .plan import Plan, segment_slot_counts
from .progress import ProgressCallback, ProgressEvent
from .provenance import build_manifest, draft_beside, load_signing_credentials, publish_video, sidecar_path
from .frames import iter_video_frames
from .render import I420ZoomRenderer
from .sheet import write_contact_sheet
from .resources import MemoryEstimate, check_disk_space, disk_bytes_needed, estimate_memory
from .sound import Timeline, make_soundtrack, plan_timeline


@dataclass(frozen=True)
class VideoResult:
    """What `make_video` made, and how long each stage took."""

    path: Path
    plan: Plan
    slots: SlotStack
    chains: tuple[SlotStack, ...]
    engine: str
    notes: tuple[str, ...]
    seconds: dict[str, float] = field(default_factory=dict)
    manifest_path: Path | None = None  # the sidecar `NAME.zoomout.json`
    manifest: dict[str, object] = field(default_factory=dict)
    engine_choice: str | None = None  # with engine 'auto': which engine was chosen, and why


@dataclass(frozen=True)
class RunPlan:
    """Everything checked and planned before the first slot is outpainted (what `--dry-run` prints)."""

    output: Path
    photos: list[Photo]
    config: Config  # with a concrete engine and, with sound_sync='beats', the synced timing
    timeline: Timeline
    engine_choice: str | None
    cache_root: Path | None
    cached_slots: int  # slots of this run already in the cache (0 with fresh)
    disk_needed_bytes: int
    disk_free_bytes: int
    memory: MemoryEstimate

    @property
    def plan(self) -> Plan:
        return self.timeline.plan

    @property
    def total_slots(self) -> int:
        return sum(segment.slots + 1 for segment in self.plan.segments)


def plan_run(
    photos: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    config: Config = Config(),
    *,
    cache_dir: str | os.PathLike[str] | None = "default",
    fresh: bool = False,
    contact_sheet: str | os.PathLike[str] | None = None,
) -> RunPlan:
    """Check and plan a `make_video` call without writing anything or loading a model.

    Loads the photos, checks the output path and its free space, the engine (its extra and
    options, not its weights), the sound file, and counts the slots already cached. Raises
    the ZoomoutError that `make_video` would raise before starting.
    """
    output_path = check_output_path(Path(output), [Path(p) for p in photos])
    config.check_photo_count(len(photos))
    if contact_sheet is not None:
        check_output_path(Path(contact_sheet), [Path(p) for p in photos], suffix=".png")
    loaded = load_photos(photos)
    check_photos_fit(loaded, config)
    config, engine_choice = resolve_engine(config)
    reason = engine_class(config.engine).unavailable_reason()
    if reason is not None:
        raise EngineUnavailableError(f"engine {config.engine!r} cannot run here: {reason}")
    check_engine_options(config.engine, config.engine_options)
    # with sound_sync='beats' the slot changes move onto the track's beats; reads the audio file
    timeline = plan_timeline(config, len(loaded))
    config, plan = timeline.config, timeline.plan
    needed = disk_bytes_needed(config, plan)
    free = check_disk_space(output_path.parent, needed)
    cache_root = None if cache_dir is None else default_cache_dir() if cache_dir == "default" else Path(cache_dir)
    cached = 0
    if cache_root is not None and not fresh:
        revision = engine_class(config.engine).revision
        for (group, _), segment in zip(chain_groups(config, loaded), plan.segments):
            key = config.chain_key([p.sha256 for p in group], revision)
            folder = open_slot_cache(cache_root, key, (config.width_px, config.height_px), segment.slots).folder
            cached += sum((folder / f"slot_{k:02d}.png").is_file() for k in range(segment.slots + 1))
    return RunPlan(
        output=output_path, photos=loaded, config=config, timeline=timeline, engine_choice=engine_choice,
        cache_root=cache_root, cached_slots=cached, disk_needed_bytes=needed, disk_free_bytes=free,
        memory=estimate_memory(config, plan, [p.pixels.shape for p in loaded]),
    )  # fmt: skip


SYNC_WARN_S = 0.05  # a beat-synced slot change farther than this from its beat is worth a word


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
    contact_sheet: str | os.PathLike[str] | None = None,
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

    # 1. Check inputs, load photos and plan the timeline (what `--dry-run` shows)
    planned = plan_run(photos, output, config, cache_dir=cache_dir, fresh=fresh, contact_sheet=contact_sheet)
    output_path, loaded, config, plan, engine_choice = (
        planned.output, planned.photos, planned.config, planned.plan, planned.engine_choice,
    )  # fmt: skip
    engine = create_engine(config.engine, config.engine_options)  # loads the model: a missing one fails here
    label = make_label(config.label, config.width_px, config.height_px) if config.label else None
    if (sign_cert is None) != (sign_key is None):
        raise ConfigError("sign_cert and sign_key should be given together")
    signing = load_signing_credentials(sign_cert, sign_key) if sign_cert and sign_key else None
    lap("load")

    # 3. Sound (before the chain: a bad audio file fails before minutes of outpainting)
    audio = make_soundtrack(config, plan, planned.timeline.track)
    lap("sound")

    # 4. Outpaint the chains (one per montage photo; resuming from cached slots)
    stacks, notes = outpaint_chains(config, plan, loaded, engine, planned.cache_root, fresh=fresh, progress=progress)
    sync = planned.timeline.sync
    if sync is not None:
        notes.append(
            f"slot changes on the beats: {sync.seconds_per_slot:.3f} s per slot at {sync.tempo_bpm:.0f} BPM, "
            f"the track from {sync.offset_s:.2f} s; farthest change {1000 * sync.error_s:.0f} ms from its beat"
            + (" (no whole number of beats fits: try another --seconds-per-slot)" if sync.error_s > SYNC_WARN_S else "")
        )
    stack = stacks[0]
    if save_slots_to is not None:
        save_all_slots(stacks, Path(save_slots_to))
    if contact_sheet is not None:
        write_contact_sheet(stacks, Path(contact_sheet))
    lap("chain")

    # 5. Render and encode, streamed
    size = (config.width_px, config.height_px)
    renderers = [I420ZoomRenderer(s.images, config.zoom_per_slot, size) for s in stacks]
    settings = EncodeSettings(
        width_px=config.width_px,
        height_px=config.height_px,
        fps=config.fps,
        crf=config.crf,
        x264_preset=config.x264_preset,
        metadata=(("comment", "AI-generated zoom-out made with zoomout"),),
    )
    for path in (output_path, sidecar_path(output_path)):
        remove_leftovers(path)  # of a run to the same output that was killed
    try:
        with draft_beside(output_path) as draft:
            with Mp4Writer(draft, settings, audio) as writer:
                for i, frame in enumerate(label_frames(iter_video_frames(plan, renderers), label)):
                    writer.write(frame)
                    if progress:
                        progress(ProgressEvent("render", i + 1, plan.frame_count))
            lap("render")

            # 6. Provenance: manifest in the MP4 and beside it, C2PA credentials when signing
            manifest = build_manifest(config, loaded, engine, plan, stacks)
            manifest = publish_video(draft, output_path, manifest, photos=loaded, signing=signing)
    except OSError as error:  # the disk filled up or went away while writing; the slots are cached
        raise OutputError(f"{output_path}: writing the video failed ({error.strerror or error})") from None
    lap("provenance")

    return VideoResult(
        path=output_path,
        plan=plan,
        slots=stack,
        chains=tuple(stacks),
        engine=engine.name,
        notes=tuple(notes),
        seconds=seconds,
        manifest_path=sidecar_path(output_path),
        manifest=manifest,
        engine_choice=engine_choice,
    )


def resolve_engine(config: Config) -> tuple[Config, str | None]:
    """The config with a concrete engine and its options, and (for `auto`) which engine was chosen and why.

    Default options are filled in, so that the same slots always get the same cache key.
    """
    choice = None
    if config.engine == AUTO:
        name, choice = choose_engine(config.engine_options)
        config = replace(config, engine=name, engine_options=config.engine_options if name in ENGINE_OPTIONS else None)
    if config.engine_options is None and config.engine in ENGINE_OPTIONS:
        config = replace(config, engine_options=ENGINE_OPTIONS[config.engine]())
    return config, choice


def outpaint_chains(
    config: Config,
    plan: Plan,
    photos: list[Photo],
    engine: Engine,
    cache_root: Path | None,
    *,
    fresh: bool,
    progress: ProgressCallback | None,
) -> tuple[list[SlotStack], list[str]]:
    """The slot chains of the plan's segments, and notes on what was reused or adapted.

    A montage has one chain per photo (each cached under its own key); a nest has one chain
    whose slots at evenly spread indices take the further photos as their outside.
    """
    notes = [f"{photo.path.name}: {note}" for photo in photos for note in photo.notes]
    groups = chain_groups(config, photos)
    total = sum(segment.slots + 1 for segment in plan.segments)
    stacks: list[SlotStack] = []
    used_keys: list[str] = []
    for (group, outer), segment in zip(groups, plan.segments):
        offset = sum(len(s.images) for s in stacks)
        cache = None
        size = (config.width_px, config.height_px)
        if cache_root is not None:
            key = config.chain_key([photo.sha256 for photo in group], engine.revision)
            cache = open_slot_cache(cache_root, key, size, segment.slots, fresh=fresh)
            if cache.size != size:
                notes.append(f"slots made at {cache.size[0]}x{cache.size[1]} are rendered at {size[0]}x{size[1]}")
                size = cache.size
        stack = build_chain(
            group[0].pixels,
            width_px=size[0],
            height_px=size[1],
            slots=segment.slots,
            zoom_per_slot=config.zoom_per_slot,
            fit=config.fit,
            engine=engine,
            seed=config.seed,
            progress=(lambda e, o=offset: progress(replace(e, done=e.done + o, total=total))) if progress else None,
            cache=cache,
            outer_photos=outer,
        )
        stacks.append(stack)
        if stack.reused:
            notes.append(f"{stack.reused} of {len(stack.images)} slots reused from the cache (--fresh to redo them)")
        if cache is not None:
            used_keys.append(cache.key)
            if cache.error:
                notes.append(cache.error)
    if cache_root is not None:
        prune(cache_root, keep=used_keys)  # once, after every chain: none of this run's chains goes
    return stacks, notes


def open_slot_cache(root: Path, key: str, size: tuple[int, int], slots: int, *, fresh: bool = False) -> SlotCache:
    """The chain's cache at `size`, or at a larger size of the same shape where it is complete:
    those slots are rendered smaller instead of outpainted again."""
    cache = SlotCache(root, key, size, read=not fresh)
    larger = cache.larger_complete_size(slots)
    return SlotCache(root, key, larger) if larger else cache


def chain_groups(config: Config, photos: list[Photo]) -> list[tuple[list[Photo], dict[int, np.ndarray]]]:
    """The photos of each chain and the slots they become the outside of (a nest's further photos).

    A loop closes on itself: the last slot of the chain at the seam takes as its outside the
    photo the video returns to, so the seam only blends what truly differs (see `frames`).
    A nest whose last slot is already a photo stays open.
    """
    if config.nest:
        step = config.slots / (len(photos) - 1)
        groups = [(photos, {round(i * step): p.pixels for i, p in enumerate(photos) if i})]
    else:
        groups = [([photo], {}) for photo in photos]
    if config.loop:
        seam, other = (-1, 0) if config.direction == "out" else (0, -1)
        last = segment_slot_counts(config, len(photos))[seam]
        group, outer = groups[seam]
        closing = groups[other][0][0]
        if last not in outer:
            groups[seam] = ([*group, closing], {**outer, last: closing.pixels})
    return groups


def save_all_slots(stacks: list[SlotStack], folder: Path) -> None:
    """`slot_NN.png`/`mask_NN.png` in `folder`; a montage's parts in `folder/part_1`, `part_2`, …"""
    if len(stacks) == 1:
        save_slots(stacks[0], folder)
        return
    for i, stack in enumerate(stacks, start=1):
        save_slots(stack, folder / f"part_{i}")


def check_photos_fit(photos: list[Photo], config: Config) -> None:
    """Refuse a photo that `fit='contain'` would shrink below MIN_SIDE_PX on a side (a thin strip)."""
    if config.fit != "contain":
        return
    for photo in photos:
        h, w = photo.pixels.shape[:2]
        scale = min(config.width_px / w, config.height_px / h)
        if min(w * scale, h * scale) < MIN_SIDE_PX:
            raise PhotoError(
                f"{photo.path.name}: too thin for a {config.width_px}×{config.height_px} video with fit 'contain' "
                f"({w}×{h} px would be {w * scale:.1f}×{h * scale:.1f} px); crop it or use fit 'cover'"
            )


def check_output_path(output: Path, inputs: list[Path], suffix: str = ".mp4") -> Path:
    """A `suffix` path in an existing, writable folder that is not one of the inputs."""
    if output.suffix.lower() != suffix:
        raise OutputError(f"{output}: the output should be a {suffix} file")
    if output.is_dir():
        raise OutputError(f"{output}: the output is a directory")
    folder = output.parent
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{output}: {folder} is not a folder")
    if not folder.is_dir():
        raise OutputError(f"{output}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{output}: folder {folder} is not writable")
    try:  # access() says yes to root in read-only places such as /proc: try for real
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OutputError(f"{output}: cannot write in folder {folder} ({error.strerror or error})") from None
    resolved = output.resolve()
    if any(p.exists() and p.resolve() == resolved for p in inputs):
        raise OutputError(f"{output}: the output would overwrite an input")
    return output
