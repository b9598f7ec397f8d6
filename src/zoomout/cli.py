"""The `zoomout` command: builds a Config and calls the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .cache import clear as clear_cache
from .cache import default_cache_dir, describe_age, list_entries
from .config import Config, parse_size
from .engines import DiffusionOptions, EngineOptions, LamaOptions, engine_statuses
from .engines.diffusion import MEMORY_OPTIONS, load_prompts
from .errors import ConfigError, ProvenanceError, ZoomoutError
from .pipeline import RunPlan, make_video, plan_run, resolve_engine
from .sound import write_sound
from .progress import ProgressEvent

app = typer.Typer(add_completion=False, no_args_is_help=True, help="AI Zoom Out videos from your photos.")
console = Console(stderr=True)

STAGE_LABELS = {"chain": "outpainting slots", "render": "rendering frames"}

# Options that `make` and `sound` share
Slots = Annotated[int, typer.Option(help="Outpainted slots (zoom steps), 1–50.")]
SecondsPerSlot = Annotated[float, typer.Option(help="Seconds the zoom takes per slot.")]
Fps = Annotated[int, typer.Option(help="Frames per second: 24, 25, 30, 50 or 60.")]
Ease = Annotated[str, typer.Option(help="linear (constant speed), in-out, in-out-cubic or punchy.")]
HoldStart = Annotated[float, typer.Option(help="Seconds on the photo before the zoom.")]
HoldEnd = Annotated[float, typer.Option(help="Seconds on the last slot after the zoom.")]
SoundSeed = Annotated[int, typer.Option(help="Seed of the designed sound.")]
SoundSync = Annotated[str, typer.Option(help="beats: move slot changes onto the audio file's beats.")]

@app.command()
def make(
    photos: Annotated[list[Path], typer.Argument(help="Photos: one, several (a montage) or a --nest.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output .mp4 file.")] = Path("zoomout.mp4"),
    slots: Slots = Config.slots,
    zoom: Annotated[float, typer.Option(help="Zoom factor per slot, 1.25–4.")] = Config.zoom_per_slot,
    seconds_per_slot: SecondsPerSlot = Config.seconds_per_slot,
    fps: Fps = Config.fps,
    size: Annotated[str, typer.Option(help="9:16, 1:1, 16:9 or WxH (even).")] = "9:16",
    fit: Annotated[str, typer.Option(help="contain (photo whole, rest generated) or cover (crop).")] = Config.fit,
    ease: Ease = Config.ease,
    direction: Annotated[str, typer.Option(help="out, in or out-in.")] = Config.direction,
    loop: Annotated[bool, typer.Option("--loop", help="The last frame flows into the first.")] = False,
    duration: Annotated[Optional[float], typer.Option(help="Total seconds (instead of --seconds-per-slot).")] = None,
    slots_per_photo: Annotated[Optional[int], typer.Option(help="Montage: slots of each photo's part.")] = None,
    transition: Annotated[str, typer.Option(help="Montage: cut, flash or fade between parts.")] = Config.transition,
    nest: Annotated[bool, typer.Option("--nest", help="Each further photo becomes an outer slot of one chain.")] = False,
    hold: Annotated[Optional[float], typer.Option(help="Seconds held at start and at end (sets both).")] = None,
    contact_sheet: Annotated[Optional[Path], typer.Option(help="Write all slots in a numbered grid (PNG).")] = None,
    hold_start: HoldStart = Config.hold_start_s,
    hold_end: HoldEnd = Config.hold_end_s,
    engine: Annotated[str, typer.Option(help="Outpainting engine (see `zoomout engines`).")] = Config.engine,
    seed: Annotated[int, typer.Option(help="Seed; slot k uses seed + k.")] = Config.seed,
    model: Annotated[Optional[str], typer.Option(help="diffusion: hub id, model folder, sd15 (default) or sdxl.")] = None,
    prompt: Annotated[Optional[str], typer.Option(help="diffusion: prompt of every slot.")] = None,
    prompts: Annotated[Optional[Path], typer.Option(help="diffusion: one prompt per line (line k = slot k) or JSON {slot: prompt}.")] = None,
    negative_prompt: Annotated[Optional[str], typer.Option(help="diffusion: what the ring should not show.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="diffusion: denoising steps (30).")] = None,
    guidance: Annotated[Optional[float], typer.Option(help="diffusion: guidance scale (7.5).")] = None,
    strength: Annotated[Optional[float], typer.Option(help="diffusion: how much of the prefilled ring is replaced, (0, 1] (0.99).")] = None,
    no_strangers: Annotated[Optional[bool], typer.Option("--no-strangers/--allow-strangers", help="diffusion: keep people and faces out of the invented surroundings (default on).", show_default=False)] = None,
    memory: Annotated[Optional[str], typer.Option(help=f"diffusion, small GPUs: comma list of {', '.join(MEMORY_OPTIONS)}.")] = None,
    device: Annotated[Optional[str], typer.Option(help="diffusion/lama: auto, cpu, cuda, cuda:N or mps.")] = None,
    lama_model: Annotated[Optional[Path], typer.Option(help="lama: the LaMa .onnx file (default: downloaded once).")] = None,
    sound: Annotated[str, typer.Option(help="eerie, calm, none or an audio file.")] = Config.sound,
    sound_seed: SoundSeed = Config.sound_seed,
    sound_sync: SoundSync = Config.sound_sync,
    crf: Annotated[int, typer.Option(help="H.264 quality, 0–51 (lower is better).")] = Config.crf,
    preset: Annotated[str, typer.Option(help="x264 preset (speed vs size).")] = Config.x264_preset,
    save_slots: Annotated[Optional[Path], typer.Option(help="Write slot_NN.png and mask_NN.png here.")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Outpaint every slot again, ignoring cached slots.")] = False,
    use_cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Keep slots in the cache to resume.")] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check everything and print the plan and memory estimate; write nothing.")] = False,
    label: Annotated[str, typer.Option(help="Visible label on every frame.")] = "AI-generated",
    no_label: Annotated[bool, typer.Option("--no-label", help="No visible label.")] = False,
    sign_cert: Annotated[Optional[Path], typer.Option(help="C2PA: signing certificate chain (PEM, leaf first).")] = None,
    sign_key: Annotated[Optional[Path], typer.Option(help="C2PA: the certificate's private key (PEM).")] = None,
) -> None:
    """Make a zoom-out video from a photo (several: a montage, or a --nest)."""
    width_px, height_px = parse_size(size)
    config = Config(
        width_px=width_px, height_px=height_px, slots=slots, zoom_per_slot=zoom,
        seconds_per_slot=seconds_per_slot, fps=fps,
        hold_start_s=hold_start if hold is None else hold, hold_end_s=hold_end if hold is None else hold,
        fit=fit, ease=ease, direction=direction, loop=loop, duration_s=duration, slots_per_photo=slots_per_photo,
        transition=transition, nest=nest, engine=engine, seed=seed, sound=sound, sound_seed=sound_seed, sound_sync=sound_sync,
        engine_options=engine_options_from_flags(
            engine, model=model, prompt=prompt, prompts=prompts, negative_prompt=negative_prompt, steps=steps,
            guidance=guidance, strength=strength, no_strangers=no_strangers, memory=memory, device=device,
            lama_model=lama_model,
        ),
        crf=crf, x264_preset=preset,
        label=None if no_label else label,
    )  # fmt: skip
    columns = (
        TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    if dry_run:
        planned = plan_run(
            photos, output, config, cache_dir="default" if use_cache else None, fresh=fresh, contact_sheet=contact_sheet
        )
        print(describe_plan(planned))
        return
    config, engine_choice = resolve_engine(config)
    with Progress(*columns, console=console, transient=False) as bars:
        tasks: dict[str, int] = {}

        def progress(event: ProgressEvent) -> None:
            if engine_choice and not tasks:  # said once the checks have passed: an error stays one line
                bars.console.print(engine_choice, highlight=False)
            if event.stage not in tasks:
                tasks[event.stage] = bars.add_task(STAGE_LABELS[event.stage], total=event.total)
            bars.update(tasks[event.stage], completed=event.done)

        result = make_video(
            photos, output, config, save_slots_to=save_slots, progress=progress,
            cache_dir="default" if use_cache else None, fresh=fresh, sign_cert=sign_cert, sign_key=sign_key,
            contact_sheet=contact_sheet,
        )  # fmt: skip
    for note in result.notes:
        console.print(f"note: {escape(note)}", highlight=False)
    timings = ", ".join(f"{stage} {s:.1f}s" for stage, s in result.seconds.items())
    console.print(
        f"wrote {escape(str(result.path))} ({result.plan.frame_count} frames, {result.plan.duration_s:.2f} s, "
        f"{config.width_px}x{config.height_px}, engine {result.engine}; {timings})"
    )
    signed = ", C2PA-signed" if result.manifest.get("content_credentials") else ""
    console.print(f"manifest: inside the video and in {escape(str(result.manifest_path))}{signed}", highlight=False)


def describe_plan(planned: RunPlan) -> str:
    """What `make --dry-run` prints: the plan, cache hits, disk and memory."""
    config, plan, memory = planned.config, planned.plan, planned.memory
    mb = 1e6
    lines = [
        f"would write {planned.output}: {config.width_px}x{config.height_px}, {plan.frame_count} frames at "
        f"{config.fps} fps = {plan.duration_s:.2f} s",
        f"slots: {planned.total_slots} in {len(plan.segments)} chain(s) (zoom {config.zoom_per_slot:g} per slot), "
        f"{planned.cached_slots} already in the cache",
        f"engine: {config.engine}" + (f" ({planned.engine_choice})" if planned.engine_choice else ""),
        f"sound: {config.sound}",
        *(f"note: {p.path.name}: {note}" for p in planned.photos for note in p.notes),
        f"disk: at most {planned.disk_needed_bytes / mb:.1f} MB needed, {planned.disk_free_bytes / mb:.0f} MB free",
        f"memory: about {memory.total / mb:.0f} MB at peak (slots {memory.slots / mb:.0f}, mipmaps "
        f"{memory.mipmaps / mb:.0f}, engine {memory.engine / mb:.0f}, encoder {memory.encoder / mb:.0f}, photos "
        f"{memory.photos / mb:.0f}, audio {memory.audio / mb:.0f}, process {memory.process / mb:.0f}; model weights not included)",
        "dry run: nothing written",
    ]
    return "\n".join(lines)


@app.command()
def inspect(
    video: Annotated[Path, typer.Argument(help="A video made by zoomout.", show_default=False)],
    json_: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
    mask_video: Annotated[
        Optional[Path], typer.Option(help="Render which pixels are invented (white) to this .mp4.")
    ] = None,
    trust: Annotated[
        Optional[Path], typer.Option(help="PEM file of CA certificates to trust when checking C2PA credentials.")
    ] = None,
) -> None:
    """Show how a video was made, whether it changed since, and its C2PA credentials."""
    from .inspection import inspect_video, render_mask_video, report

    found = inspect_video(video, trust_anchors=trust)
    if json_:
        print(json.dumps(found.to_dict(), indent=2, ensure_ascii=False))
    else:
        Console().print(report(found))
    if mask_video is not None:
        if found.manifest is None:
            raise ProvenanceError(f"{video}: no zoomout manifest, so no record of which pixels are invented")
        masks = render_mask_video(found.manifest, mask_video)
        console.print(
            f"wrote {masks.path} ({masks.frame_count} frames; invented share {masks.invented_shares[0]:.1%} "
            f"at the first frame, {masks.invented_shares[-1]:.1%} at the last)", highlight=False,
        )


@app.command()
def sound(
    output: Annotated[Path, typer.Option("-o", "--output", help="Output .wav file.")] = Path("sound.wav"),
    sound: Annotated[str, typer.Option(help="eerie, calm or an audio file.")] = Config.sound,
    sound_seed: SoundSeed = Config.sound_seed,
    sound_sync: SoundSync = Config.sound_sync,
    slots: Slots = Config.slots,
    seconds_per_slot: SecondsPerSlot = Config.seconds_per_slot,
    fps: Fps = Config.fps,
    ease: Ease = Config.ease,
    hold_start: HoldStart = Config.hold_start_s,
    hold_end: HoldEnd = Config.hold_end_s,
    spectrogram: Annotated[Optional[Path], typer.Option(help="Also write a spectrogram .png.")] = None,
) -> None:
    """Render a video's sound track alone (no photo, no video), to look and listen."""
    config = Config(
        slots=slots, seconds_per_slot=seconds_per_slot, fps=fps, ease=ease, hold_start_s=hold_start,
        hold_end_s=hold_end, sound=sound, sound_seed=sound_seed, sound_sync=sound_sync,
    )  # fmt: skip
    report = write_sound(config, output, spectrogram=spectrogram)
    plan = report.timeline.plan
    console.print(
        f"wrote {report.path} ({plan.duration_s:.2f} s, {plan.slots} slots, {report.loudness_lufs:.1f} LUFS, "
        f"{report.true_peak_dbtp:.1f} dBTP)" + (f" and {report.spectrogram}" if report.spectrogram else "")
    )
    if report.timeline.sync:
        sync = report.timeline.sync
        console.print(
            f"synced to {sync.tempo_bpm:.1f} BPM: {sync.seconds_per_slot:.3f} s per slot, "
            f"starting {sync.offset_s:.2f} s into the file (slot changes within {1000 * sync.error_s:.0f} ms of a beat)"
        )


@app.command()
def engines() -> None:
    """List the outpainting engines and whether each can run here."""
    table = Table("engine", "usable", "what it is / what is missing")
    for status in engine_statuses():
        about = escape(status.summary if status.usable else status.unavailable_reason or "")  # 'zoomout[lama]' is no markup
        table.add_row(status.name, "yes" if status.usable else "no", about + (f"\n[dim]{escape(status.note)}[/dim]" if status.note else ""))
    Console().print(table)


@app.command()
def cache(
    list_: Annotated[bool, typer.Option("--list", help="List cached chains.")] = False,
    clear_: Annotated[bool, typer.Option("--clear", help="Delete every cached slot.")] = False,
) -> None:
    """Manage the slot cache (where killed runs resume from)."""
    root = default_cache_dir()
    if clear_:
        print(f"removed {clear_cache(root)} cached chains from {root}")
        return
    entries = list_entries(root)
    table = Table("key", "slots", "MB", "last used", title=f"slot cache: {root}")
    for entry in entries:
        table.add_row(entry.key, str(entry.slots), f"{entry.bytes / 1e6:.1f}", describe_age(entry.last_used))
    Console().print(table)
    print(f"{len(entries)} chains, {sum(e.bytes for e in entries) / 1e6:.1f} MB")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps the app to this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the web app.")] = 7860,
) -> None:
    """Open the web app (needs the web extra): drop a photo, watch the slots, download the video."""
    from .web import serve as serve_web  # imports gradio: only for this command

    serve_web(host, port)


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


def engine_options_from_flags(engine: str, *, lama_model: Path | None, device: str | None, **diffusion: object) -> EngineOptions | None:
    """The engine's options from the flags given (None: defaults); a flag for another engine is an error."""
    given = {name: value for name, value in diffusion.items() if value is not None}
    if isinstance(given.get("prompts"), Path):
        given["slot_prompts"] = load_prompts(given.pop("prompts"))  # type: ignore[arg-type]
    if isinstance(given.get("memory"), str):
        given["memory"] = tuple(m.strip() for m in str(given["memory"]).split(",") if m.strip())
    flags = [f"--{name.replace('_', '-')}" for name in diffusion if diffusion[name] is not None]
    if engine in ("auto", "diffusion"):
        if lama_model is not None:
            raise ConfigError(f"--lama-model applies to the lama engine but the engine is {engine}")
        if device is not None:
            given["device"] = device
        return DiffusionOptions(**given) if given else None  # type: ignore[arg-type]
    if flags:
        raise ConfigError(f"{', '.join(flags)} applies to the diffusion engine but the engine is {engine}")
    if engine == "lama":
        lama = {"model_path": None if lama_model is None else str(lama_model), "device": device or "auto"}
        return LamaOptions(**lama) if lama_model is not None or device is not None else None  # type: ignore[arg-type]
    if lama_model is not None or device is not None:
        raise ConfigError(f"{'--lama-model' if lama_model is not None else '--device'} applies to the lama or diffusion engine but the engine is {engine}")
    return None


def main() -> None:
    try:
        code = app(standalone_mode=False)  # an int when typer stops early: --help (0), Ctrl-C (130)
    except ZoomoutError as error:
        # escaped: a message such as "pip install 'zoomout[heif]'" is no markup
        console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, markup=True, soft_wrap=True)  # one line, unwrapped
        sys.exit(2)
    except KeyboardInterrupt:
        code = 130
    except Exception as error:  # usage errors arrive here in non-standalone mode
        if not isinstance(error, _usage_error_types()):
            raise
        # one line like every other error (click would print the usage first)
        console.print(f"[red]error:[/red] {escape(error.format_message())} (see --help)", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    if code == 130:
        console.print("interrupted: no output was written")
    sys.exit(code if isinstance(code, int) else 0)


def _usage_error_types() -> tuple[type[Exception], ...]:
    """Typer's own usage errors (typer ≥ 0.20 carries its own click) and click's (older typer)."""
    import click

    return (click.ClickException, *([typer.TyperException] if hasattr(typer, "TyperException") else []))
