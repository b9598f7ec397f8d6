"""`make_video`: photos in, MP4 out, one call per numbered step."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import remove_leftovers, temporary_beside
from .cache import chain_key, count_cached, default_cache_dir, open_slot_cache, prune
from .chain import SlotStack, build_chain, save_slots
from .config import Config
from .container import publish_video
from .credentials import SigningCredentials, load_signing_credentials
from .encode import EncodeSettings, Mp4Writer
from .engines import AUTO, Engine, check_engine_options, choose_engine, create_engine, engine_class, options_class
from .errors import ConfigError, EngineUnavailableError, OutputError, PhotoError
from .frames import iter_video_frames
from .label import Label, label_frames, make_label
from .load import MIN_SIDE_PX, Photo, load_photos
from .manifest import SIDECAR_SUFFIX, DescribesEngine, build_manifest, sidecar_path
from .mastering import CEILING_DBTP, TARGET_LUFS, loudness_lufs
from .outputs import check_output_file, check_output_folder
from .plan import Plan, Timeline, plan_timeline, segment_slot_counts
from .progress import ProgressCallback, ProgressEvent
from .resources import MemoryEstimate, check_disk_space, disk_bytes_needed, estimate_memory
from .sheet import write_contact_sheet
from .sound import has_soundtrack, make_soundtrack
from .stream import Outpainting, SlotFeed, SlotSource


@dataclass(frozen=True)
class VideoResult:
    """What `make_video` made, and how long each step took."""

    path: Path
    config: Config  # as run: a concrete engine, and with sound_sync='beats' the synced timing
    plan: Plan
    slots: SlotStack
    chains: tuple[SlotStack, ...]
    engine: str
    notes: tuple[str, ...]
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per step; outpaint, sound and render overlap
    manifest_path: Path | None = None  # the sidecar `NAME.zoomout.json`
    manifest: dict[str, object] = field(default_factory=dict)
    engine_choice: str | None = None  # with engine 'auto': which engine was chosen, and why


@dataclass(frozen=True)
class RunPlan:
    """Everything checked and planned before the model loads (what `--dry-run` prints)."""

    output: Path
    photos: list[Photo]
    config: Config  # with a concrete engine and, with sound_sync='beats', the synced timing
    timeline: Timeline
    engine_choice: str | None
    engine_notes: tuple[str, ...]  # what the engine's options trade or leave out (`Engine.run_notes`)
    cache_root: Path | None
    fresh: bool
    cached_slots: int  # slots of this run already in the cache (0 with fresh)
    disk_needed_bytes: int
    disk_free_bytes: int
    memory: MemoryEstimate
    label: Label | None
    signing: SigningCredentials | None
    save_slots_to: Path | None
    contact_sheet: Path | None

    @property
    def plan(self) -> Plan:
        return self.timeline.plan

    @property
    def notes(self) -> tuple[str, ...]:
        """What the user should know before the work starts."""
        notes = [self.engine_choice] if self.engine_choice else []
        notes += self.engine_notes
        if self.config.transition != Config().transition and len(self.plan.segments) == 1:
            one = "a nest is one chain" if self.config.nest else "one photo makes one part"
            notes.append(f"transition {self.config.transition} has no effect: {one}, with no next part to join")
        if self.label is not None and self.label.missing_glyphs:
            notes.append(
                f"label: the bundled font (DejaVu Sans) has no glyph for {' '.join(self.label.missing_glyphs)}: "
                "they show as boxes"
            )
        return tuple(notes)

    @property
    def total_slots(self) -> int:
        """Every chain's slots, its photo's slot 0 included."""
        return sum(segment.slots + 1 for segment in self.plan.segments)

    @property
    def outpainted_slots(self) -> int:
        """The slots the engine invents (every chain's, without the photos' slots 0): what progress counts."""
        return sum(segment.slots for segment in self.plan.segments)


def plan_run(
    photos: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    config: Config = Config(),
    *,
    cache_dir: str | os.PathLike[str] | None = "default",
    fresh: bool = False,
    save_slots_to: str | os.PathLike[str] | None = None,
    contact_sheet: str | os.PathLike[str] | None = None,
    sign_cert: str | os.PathLike[str] | None = None,
    sign_key: str | os.PathLike[str] | None = None,
) -> RunPlan:
    """Check and plan a `make_video` call without writing anything or loading a model.

    Checks every output path and its free space, loads the photos, resolves and checks the
    engine (its extra, options and weights), the label, the signing pair, the sound file, and
    counts the slots already cached. Raises the ZoomoutError that `make_video` would raise
    before starting.
    """
    inputs = [Path(p) for p in photos]
    output_path = check_output_file(Path(output), ".mp4", inputs=inputs, companions=[SIDECAR_SUFFIX])
    if contact_sheet is not None:
        check_output_file(Path(contact_sheet), ".png", inputs=inputs, what="contact sheet")
    if save_slots_to is not None:
        check_output_folder(Path(save_slots_to))
    config.check_photo_count(len(photos))
    if (sign_cert is None) != (sign_key is None):
        given, missing = ("sign_cert", "sign_key") if sign_key is None else ("sign_key", "sign_cert")
        raise ConfigError(f"{given} should come with {missing}: a certificate chain signs with its private key")
    signing = load_signing_credentials(sign_cert, sign_key) if sign_cert and sign_key else None
    label = make_label(config.label, config.width_px, config.height_px) if config.label else None
    loaded = load_photos(photos)
    check_photos_fit(loaded, config)
    config, engine_choice = resolve_engine(config)
    check_engine_options(config.engine, config.engine_options)
    reason = engine_class(config.engine).unavailable_reason(config.engine_options)
    if reason is not None:
        raise EngineUnavailableError(f"engine {config.engine!r} cannot run here: {reason}")
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
            key = chain_key(config, [p.sha256 for p in group], revision)
            cached += count_cached(cache_root, key, (config.width_px, config.height_px), segment.slots)
    return RunPlan(
        output=output_path, photos=loaded, config=config, timeline=timeline, engine_choice=engine_choice,
        engine_notes=engine_class(config.engine).run_notes(config.engine_options),
        cache_root=cache_root, fresh=fresh, cached_slots=cached, disk_needed_bytes=needed, disk_free_bytes=free,
        memory=estimate_memory(config, plan, [p.pixels.shape for p in loaded]), label=label, signing=signing,
        save_slots_to=None if save_slots_to is None else Path(save_slots_to),
        contact_sheet=None if contact_sheet is None else Path(contact_sheet),
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

    Everything that can be checked is checked before the model loads; the output file (and
    the slots and contact sheet asked for) appear only when the video is complete. Slots are
    cached in `cache_dir` ("default": `default_cache_dir()`; None: no cache), so a killed run
    resumes where it was and a run that changes only timing, easing or sound re-renders
    without outpainting; `fresh` outpaints every slot again (and refreshes the cache).

    Every video carries a manifest (in the MP4 and beside it as `NAME.zoomout.json`) and,
    unless `config.label` is None, a visible label; with `sign_cert` (PEM chain, leaf first)
    and `sign_key` (PEM) it also carries signed C2PA content credentials.
    """
    clock = StageClock()

    # 1. Prepare: check every input and output, load the photos, plan the timeline
    run = plan_run(
        photos, output, config, cache_dir=cache_dir, fresh=fresh, save_slots_to=save_slots_to,
        contact_sheet=contact_sheet, sign_cert=sign_cert, sign_key=sign_key,
    )  # fmt: skip
    if progress:
        progress(ProgressEvent("ready", 0, 0, notes=run.notes))
    clock.lap("prepare")

    # 2. Load the engine (the model, if it has one)
    engine = create_engine(run.config.engine, run.config.engine_options)
    clock.lap("load")

    return make_planned_video(run, engine, progress=progress, clock=clock)


def make_planned_video(
    run: RunPlan, engine: Engine, *, progress: ProgressCallback | None = None, clock: StageClock | None = None
) -> VideoResult:
    """Steps 3–6 of `make_video`, for a run that `plan_run` checked and an engine that is loaded.

    Outpainting and rendering overlap: the engine works in a worker thread and each frame is
    rendered and encoded as soon as the slots it draws exist (`stream`). The video is the
    same, bit for bit, as when every slot is made first.
    """
    clock = clock or StageClock()
    sound_clock = StageClock()

    def soundtrack() -> np.ndarray | None:
        audio = make_soundtrack(run.config, run.plan, run.timeline.track)
        sound_clock.lap("sound")
        return audio

    # 3. Outpaint the chains in a worker, resuming from cached slots; each slot goes on to step 5 as it is made
    with Outpainting(lambda report: outpaint_chains(run, engine, progress=report)) as outpainting:
        # 4. Sound, in its own thread: the encoder waits for it only when it first muxes audio
        with ThreadPoolExecutor(1, thread_name_prefix="zoomout-sound") as sound:
            audio = sound.submit(soundtrack) if has_soundtrack(run.config) else None

            # 5. Render and encode every frame once its slots exist, into a draft beside the output; 6. publish it
            finished = finish_video(run, engine, outpainting, audio, progress=progress, clock=clock)
    # outpainting and sound ran in their threads, alongside the render
    seconds = clock.seconds
    clock.seconds = {
        **{step: seconds.pop(step) for step in ("prepare", "load") if step in seconds},
        "outpaint": outpainting.seconds, **sound_clock.seconds, **seconds,
    }  # fmt: skip
    stacks, track = finished.stacks, audio.result() if audio else None
    return VideoResult(
        path=run.output, config=run.config, plan=run.plan, slots=stacks[0], chains=tuple(stacks), engine=engine.name,
        notes=(*run.notes[1 if run.engine_choice else 0 :], *finished.notes, *loudness_notes(run, track)),
        seconds=clock.seconds, manifest_path=sidecar_path(run.output), manifest=finished.manifest,
        engine_choice=run.engine_choice,
    )  # fmt: skip


LOUDNESS_NOTE_LU = 1.0  # a user's track this far from the target is worth a word


def loudness_notes(run: RunPlan, audio: np.ndarray | None) -> list[str]:
    """A note when a user's track could not reach the target loudness without crushing its peaks."""
    if audio is None or run.timeline.track is None:
        return []
    reached = loudness_lufs(audio)
    if abs(reached - TARGET_LUFS) <= LOUDNESS_NOTE_LU:
        return []
    return [
        f"sound: your track reaches {reached:.1f} LUFS, not {TARGET_LUFS:g}: its peaks would pass "
        f"{CEILING_DBTP:g} dBTP, and the limiter does not crush them"
    ]


class StageClock:
    """Seconds each step took, in order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = now - self._last
        self._last = now


@dataclass(frozen=True)
class FinishedVideo:
    """What steps 5 and 6 leave: the published video's manifest, and the chains it was rendered from."""

    manifest: dict[str, Any]
    stacks: list[SlotStack]
    notes: list[str]  # on the outpainting: slots reused from the cache, sizes adapted


def finish_video(
    run: RunPlan,
    engine: DescribesEngine,
    slots: SlotSource,
    audio: np.ndarray | Future[np.ndarray] | None,
    *,
    progress: ProgressCallback | None = None,
    clock: StageClock | None = None,
) -> FinishedVideo:
    """Steps 5 and 6: render and encode into a draft beside `run.output` as `slots` arrive, then publish it.

    The video and its sidecar appear complete or not at all; leftovers of a killed writer of
    the same output are removed first. `engine` is the engine that makes the slots, or its
    `EngineRecord` (a batch renders on another machine than the model's). `slots` is the
    outpainting worker (`stream.Outpainting`), a batch worker's slots as they are posted
    (`batch.post.PostedSlots`) or chains already made (`stream.MadeSlots`); their "chain"
    events reach `progress` as the renderer takes them.
    """
    for path in (run.output, sidecar_path(run.output)):
        remove_leftovers(path)  # of a run to the same output that was killed
    try:
        with temporary_beside(run.output, suffix=".draft.mp4") as draft:
            # 5. Render and encode, streamed, into a draft beside the output
            render_video(run, slots, audio, draft, progress=progress)
            stacks, notes = slots.result()
            if clock:
                clock.lap("render")

            # 6. Publish: the video with its manifest (and C2PA credentials), the sidecar, the slots
            manifest = publish(run, engine, stacks, draft)
    except OSError as error:  # the disk filled up or went away while writing; the slots are cached
        raise OutputError(f"{run.output}: writing the video failed ({error.strerror or error})") from None
    if clock:
        clock.lap("publish")
    return FinishedVideo(manifest, stacks, notes)


def render_video(
    run: RunPlan,
    slots: SlotSource,
    audio: np.ndarray | Future[np.ndarray] | None,
    path: Path,
    *,
    progress: ProgressCallback | None,
) -> None:
    """Render every frame of the plan (label blended in) as its slots arrive, and encode it with `audio` into `path`."""
    config, plan = run.config, run.plan
    feed = SlotFeed(slots, [segment.slots for segment in plan.segments], config.zoom_per_slot,
                    (config.width_px, config.height_px), progress)  # fmt: skip
    settings = EncodeSettings(
        width_px=config.width_px, height_px=config.height_px, fps=config.fps, crf=config.crf,
        x264_preset=config.x264_preset, metadata=(("comment", "AI-generated zoom-out made with zoomout"),),
    )  # fmt: skip
    with Mp4Writer(path, settings, audio) as writer:
        for i, frame in enumerate(label_frames(iter_video_frames(plan, feed.renderers), run.label)):
            writer.write(frame)
            feed.poll()
            if progress:
                progress(ProgressEvent("render", i + 1, plan.frame_count))
        feed.finish()


def publish(run: RunPlan, engine: DescribesEngine, stacks: list[SlotStack], draft: Path) -> dict[str, Any]:
    """Move the finished draft into place with its manifest; then the slots and the contact sheet asked for.

    `engine` is the engine that made the slots, or its `EngineRecord` where the model stayed on another machine.
    """
    manifest = build_manifest(run.config, run.photos, engine, run.plan, stacks)
    manifest = publish_video(draft, run.output, manifest, photos=run.photos, signing=run.signing)
    if run.save_slots_to is not None:
        save_all_slots(stacks, run.save_slots_to)
    if run.contact_sheet is not None:
        write_contact_sheet(stacks, run.contact_sheet)
    return manifest


def resolve_engine(config: Config) -> tuple[Config, str | None]:
    """The config with a concrete engine and its options, and (for `auto`) which engine was chosen and why.

    Default options are filled in, so that the same slots always get the same cache key.
    """
    choice = None
    if config.engine == AUTO:
        name, choice = choose_engine(config.engine_options)
        options = config.engine_options if isinstance(config.engine_options, options_class(name) or ()) else None
        options = engine_class(name).auto_options(options)
        config = replace(config, engine=name, engine_options=options)
    defaults = options_class(config.engine)
    if config.engine_options is None and defaults is not None:
        config = replace(config, engine_options=defaults())
    return config, choice


def outpaint_chains(
    run: RunPlan, engine: Engine, *, progress: ProgressCallback | None
) -> tuple[list[SlotStack], list[str]]:
    """The slot chains of the plan's segments, and notes on what was reused or adapted.

    A montage has one chain per photo (each cached under its own key); a nest has one chain
    whose slots at evenly spread indices take the further photos as their outside.
    """
    config, plan, photos, cache_root, fresh = run.config, run.plan, run.photos, run.cache_root, run.fresh
    notes = [f"{photo.path.name}: {note}" for photo in photos for note in photo.notes]
    groups = chain_groups(config, photos)
    total = run.outpainted_slots
    stacks: list[SlotStack] = []
    used_keys: list[str] = []
    for (group, outer), segment in zip(groups, plan.segments):
        offset = sum(len(s.images) - 1 for s in stacks)  # slots outpainted in the chains before
        cache = None
        size = (config.width_px, config.height_px)
        if cache_root is not None:
            key = chain_key(config, [photo.sha256 for photo in group], engine.revision)
            about = {"photos": [photo.path.name for photo in group], "engine": engine.name, "slots": segment.slots}
            cache = open_slot_cache(cache_root, key, size, segment.slots, fresh=fresh, about=about)
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
            progress=(lambda e, o=offset, part=len(stacks): progress(replace(e, done=e.done + o, total=total, part=part))) if progress else None,
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
    sync = run.timeline.sync
    if sync is not None:
        notes.append(
            f"slot changes on the beats: {sync.seconds_per_slot:.3f} s per slot at {sync.tempo_bpm:.0f} BPM, "
            f"the track from {sync.offset_s:.2f} s; farthest change {1000 * sync.error_s:.0f} ms from its beat"
            + (" (no whole number of beats fits: try another --seconds-per-slot)" if sync.error_s > SYNC_WARN_S else "")
        )
    return stacks, notes


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


