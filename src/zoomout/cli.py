"""The `zoomout` command: builds a Config and calls the library."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from inspect import Parameter, Signature
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from . import __version__
from .engines import engine_statuses
from .errors import ProvenanceError, ZoomoutError
from .options import MAKE_OPTIONS, MakeOption, build_request, cli_spelling, naming_options
from .progress import STAGE_LABELS, ProgressEvent

if TYPE_CHECKING:
    from .batch import BatchProgress
    from .pipeline import RunPlan


class _PlainHelp:
    """Help as a person reads it: `PHOTO...` in the usage line (typer ≥ 0.2x writes `{PHOTO}...`),
    flags (`-h`, `--json`) without a `<bool>` after them, arguments without their Python type."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []  # type: ignore[attr-defined]
        for param in self.get_params(ctx):
            if param.param_type_name != "argument":
                pieces += param.get_usage_pieces(ctx)
                continue
            name = (param.metavar or (param.name or "").upper()) + ("..." if param.nargs != 1 else "")
            pieces.append(name if param.required else f"[{name}]")
        return pieces + ([self.subcommand_metavar] if isinstance(self, TyperGroup) else [])

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""  # a flag takes no value
            elif param.param_type_name == "argument":  # PHOTO says what it takes; no `<list[Path]>` beside it
                param.display_type_rich = lambda ctx: None
        return params


class Command(_PlainHelp, TyperCommand):
    pass


class Group(_PlainHelp, TyperGroup):
    pass


HELP_SETTINGS = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="AI Zoom Out videos from your photos.",
    context_settings=HELP_SETTINGS, rich_markup_mode="rich", cls=Group,
)  # fmt: skip
console = Console(stderr=True)


def _typer_parameter(option: MakeOption, *, default: Any = ...) -> Parameter:
    """`option` as a keyword parameter of a typer command (flag, type, help, panel)."""
    default = option.default if default is ... else default
    kind = option.kind
    is_pair = kind is bool and "/" in option.flag
    decls = [option.flag] if is_pair or kind is not bool and "/" not in option.flag else option.flag.split("/")
    if kind is not bool and "/" in option.flag:
        decls = option.flag.split("/")
    metavar = "[" + "|".join(map(str, option.choices)) + "]" if option.choices else "" if kind is bool else None
    show_default = default is not None and not (kind is bool and not is_pair)
    annotation = Annotated[
        Optional[kind] if default is None else kind,
        typer.Option(*decls, help=option.help, rich_help_panel=option.panel, metavar=metavar, show_default=show_default),
    ]
    return Parameter(option.name, Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _given(ctx: typer.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The options the user typed (or set in the environment), not the defaults typer filled in."""
    # by name: typer carries its own copy of click, whose enum is not click's
    typed = ("COMMANDLINE", "ENVIRONMENT", "PROMPT")
    return {name: value for name, value in values.items() if getattr(ctx.get_parameter_source(name), "name", "") in typed}


def make(ctx: typer.Context, photos: list[Path], **values: Any) -> None:
    """Make a zoom-out video from a photo (several: a montage, or a --nest)."""
    from .pipeline import make_video, plan_run

    given = _given(ctx, values)
    request = build_request(photos, given)
    if request.dry_run:
        with naming_options(cli_spelling, given):
            print(describe_plan(plan_run(**request.make_video_arguments())))
        return
    columns = (
        TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console, transient=False) as bars:
        tasks: dict[str, int] = {}
        shown: set[str] = set()

        def progress(event: ProgressEvent) -> None:
            if event.stage == "ready":  # every check has passed: an error stays one line
                for note in event.notes:
                    bars.console.print(note, highlight=False, markup=False)
                shown.update(event.notes)
                return
            if event.stage not in tasks:
                tasks[event.stage] = bars.add_task(STAGE_LABELS[event.stage], total=event.total)
            bars.update(tasks[event.stage], completed=event.done)

        with naming_options(cli_spelling, given):
            result = make_video(**request.make_video_arguments(), progress=progress)
    for note in result.notes:
        if note not in shown:  # the engine's notes came before the work
            console.print(f"note: {note}", highlight=False, markup=False)
    timings = ", ".join(f"{stage} {s:.1f}s" for stage, s in result.seconds.items()) + " (outpaint, sound and render overlap)"
    config = result.config
    console.print(
        f"wrote {result.path} ({result.plan.frame_count} frames, {result.plan.duration_s:.2f} s, "
        f"{config.width_px}x{config.height_px}, engine {result.engine}; {timings})", highlight=False, markup=False,
    )  # fmt: skip
    signed = ", C2PA-signed" if result.manifest.get("content_credentials") else ""
    console.print(f"manifest: inside the video and in {result.manifest_path}{signed}", highlight=False, markup=False)


make.__signature__ = Signature(  # type: ignore[attr-defined]
    [
        Parameter("ctx", Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        Parameter(
            "photos", Parameter.POSITIONAL_OR_KEYWORD,
            annotation=Annotated[list[Path], typer.Argument(help="Photos: one, several (a montage) or a --nest.", metavar="PHOTO", show_default=False)],
        ),
        *(_typer_parameter(o, default=None if o.engine else ...) for o in MAKE_OPTIONS.values()),
    ]
)  # fmt: skip
app.command(context_settings=HELP_SETTINGS, cls=Command)(make)


def describe_plan(planned: RunPlan) -> str:
    """What `make --dry-run` prints: the plan, cache hits, disk and memory."""
    config, plan, memory = planned.config, planned.plan, planned.memory
    mb = 1e6
    lines = [
        f"would write {planned.output}: {config.width_px}x{config.height_px}, {plan.frame_count} frames at "
        f"{config.fps} fps = {plan.duration_s:.2f} s",
        f"slots: {planned.total_slots - len(plan.segments)} outpainted + {len(plan.segments)} photo slot(s), in "
        f"{len(plan.segments)} chain(s) (zoom {config.zoom_per_slot:g} per slot); {planned.cached_slots} of the "
        f"{planned.total_slots} already in the cache",
        f"engine: {config.engine}" + (f" ({planned.engine_choice})" if planned.engine_choice else ""),
        f"sound: {config.sound}",
        *(f"note: {note}" for note in planned.notes if note != planned.engine_choice),
        *(f"note: {p.path.name}: {note}" for p in planned.photos for note in p.notes),
        f"disk: at most {planned.disk_needed_bytes / mb:.1f} MB needed, {planned.disk_free_bytes / mb:.0f} MB free",
        f"memory: about {memory.total / mb:.0f} MB at peak (slots {memory.slots / mb:.0f}, mipmaps "
        f"{memory.mipmaps / mb:.0f}, engine {memory.engine / mb:.0f}, encoder {memory.encoder / mb:.0f}, photos "
        f"{memory.photos / mb:.0f}, audio {memory.audio / mb:.0f}, process {memory.process / mb:.0f}; model weights not included)",
        "dry run: nothing written",
    ]
    return "\n".join(lines)


@app.command(cls=Command)
def inspect(
    video: Annotated[Path, typer.Argument(help="A video made by zoomout.", metavar="VIDEO", show_default=False)],
    json_: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
    mask_video: Annotated[
        Optional[Path], typer.Option(help="Render which pixels are invented (white) to this .mp4.")
    ] = None,
    trust: Annotated[
        Optional[Path], typer.Option(help="PEM file of CA certificates to trust when checking C2PA credentials.")
    ] = None,
) -> None:
    """Show how a video was made, whether it changed since, and its C2PA credentials.

    Exits 0 when the video is unchanged since zoomout wrote it, 1 when it changed or carries
    no zoomout manifest (as `sha256sum -c` does for a file that does not match).
    """
    from .inspection import inspect_video, render_mask_video, report
    from .outputs import check_output_file

    if mask_video is not None:
        check_output_file(mask_video, ".mp4", inputs=[video], what="mask video")
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
            f"at the first frame, {masks.invented_shares[-1]:.1%} at the last)", highlight=False, markup=False,
        )
    if not found.streams_unchanged:
        raise typer.Exit(1)


SOUND_OPTIONS = ("sound", "sound_seed", "sound_sync", "slots", "seconds_per_slot", "fps", "ease", "hold_start", "hold_end")


def sound(ctx: typer.Context, output: Path, spectrogram: Path | None, **values: Any) -> None:
    """Render a video's sound track alone (no photo, no video), to look and listen."""
    from .sound import write_sound

    given = _given(ctx, values)
    config = build_request([], given).config
    with naming_options(cli_spelling, given):
        report = write_sound(config, output, spectrogram=spectrogram)
    plan = report.timeline.plan
    console.print(
        f"wrote {report.path} ({plan.duration_s:.2f} s, {plan.slots} slots, {report.loudness_lufs:.1f} LUFS, "
        f"{report.true_peak_dbtp:.1f} dBTP)" + (f" and {report.spectrogram}" if report.spectrogram else ""),
        highlight=False, markup=False,
    )  # fmt: skip
    if report.timeline.sync:
        sync = report.timeline.sync
        console.print(
            f"synced to {sync.tempo_bpm:.1f} BPM: {sync.seconds_per_slot:.3f} s per slot, "
            f"starting {sync.offset_s:.2f} s into the file (slot changes within {1000 * sync.error_s:.0f} ms of a beat)"
        )


sound.__signature__ = Signature(  # type: ignore[attr-defined]
    [
        Parameter("ctx", Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        Parameter(
            "output", Parameter.KEYWORD_ONLY, default=Path("sound.wav"),
            annotation=Annotated[Path, typer.Option("-o", "--output", help="Output .wav file.")],
        ),
        Parameter(
            "spectrogram", Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[Optional[Path], typer.Option(help="Also write a spectrogram .png.")],
        ),
        *(_typer_parameter(MAKE_OPTIONS[name]) for name in SOUND_OPTIONS),
    ]
)  # fmt: skip
app.command(context_settings=HELP_SETTINGS, cls=Command)(sound)


@app.command(cls=Command)
def batch(
    jobs: Annotated[Path, typer.Argument(help="Jobs file: one JSON object per line, e.g. {\"photos\": [\"cat.jpg\"], \"output\": \"cat.mp4\", \"slots\": 6}.", metavar="JOBS.jsonl", show_default=False)],
    out: Annotated[str, typer.Option("--out", help="Output folder every node sees, or an fsspec URL (s3://…, file://…).", metavar="DIR|URL", show_default=False)],
    ray_address: Annotated[Optional[str], typer.Option("--ray", envvar="RAY_ADDRESS", metavar="ADDRESS", help="Join this Ray cluster (ray start --head prints it); default: a local Ray on this machine's cores.", show_default=False)] = None,
    outpaint_workers: Annotated[int, typer.Option(help="Outpaint workers (Ray actors, each keeps its model loaded, 1 CPU each).")] = 1,
    gpus_per_outpaint: Annotated[float, typer.Option(help="GPUs per outpaint worker (fractions share a GPU).")] = 0.0,
    outpaint_resource: Annotated[Optional[list[str]], typer.Option(help="Custom Ray resource each outpaint worker needs (repeatable).", metavar="NAME[=AMOUNT]", show_default=False)] = None,
    render_workers: Annotated[Optional[int], typer.Option(help="Render + encode tasks at once, 1 CPU each; default: the CPUs the outpaint workers leave.", show_default=False)] = None,
    retries: Annotated[int, typer.Option(help="How often a job whose worker or node died is run again.")] = 3,
    force: Annotated[bool, typer.Option("--force", help="Make every video again, even those already made with the same options and photos.", metavar="")] = False,
) -> None:
    """Make the videos of a jobs file on Ray, on this machine or a cluster; exit 1 if any job failed."""
    from .batch import BatchSettings, describe_failure, parse_resource, run_batch

    settings = BatchSettings(
        outpaint_workers=outpaint_workers, gpus_per_outpaint=gpus_per_outpaint, render_workers=render_workers,
        outpaint_resources=tuple(parse_resource(r) for r in outpaint_resource or ()), retries=retries, force=force,
    )  # fmt: skip
    columns = (TextColumn("{task.description:<6}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bars = Progress(*columns, console=console, transient=False)
    bar_of: dict[str, TaskID] = {}

    def progress(event: BatchProgress) -> None:
        if not bar_of:  # the first event comes once every line is checked: an error before it stays one line
            bars.start()
            bar_of.update(jobs=bars.add_task("jobs"), slots=bars.add_task("slots"))
        bars.update(bar_of["jobs"], completed=event.jobs_done, total=event.jobs_total)
        bars.update(bar_of["slots"], completed=event.slots_done, total=event.slots_total)
        if event.finished is not None and event.finished.status == "failed":
            bars.console.print(f"failed: {describe_failure(event.finished)}", highlight=False, markup=False)

    try:
        result = run_batch(jobs, out, ray_address=ray_address, settings=settings, progress=progress)
    finally:
        bars.stop()
    for note in result.notes:
        console.print(f"note: {note}", highlight=False, markup=False)
    console.print(result.summary(), highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(0 if result.ok else 1)


@app.command(cls=Command)
def engines() -> None:
    """List the outpainting engines and whether each can run here."""
    table = Table("engine", "usable", "what it is / what is missing")
    for status in engine_statuses():
        about = Text(status.summary if status.usable else status.unavailable_reason or "")  # 'zoomout[lama]' is no markup
        if status.note:
            about.append(f"\n{status.note}", style="dim")
        table.add_row(status.name, "yes" if status.usable else "no", about)
    Console().print(table)


@app.command(cls=Command)
def cache(
    list_: Annotated[bool, typer.Option("--list", help="List cached chains.")] = False,
    clear_: Annotated[bool, typer.Option("--clear", help="Delete every cached slot.")] = False,
) -> None:
    """Manage the slot cache (where killed runs resume from)."""
    from .cache import clear as clear_cache
    from .cache import default_cache_dir, describe_age, list_entries

    root = default_cache_dir()
    if clear_:
        print(f"removed {clear_cache(root)} cached chains from {root}")
        return
    entries = list_entries(root)
    table = Table("key", "photos", "engine", "sizes", "slots", "MB", "made", "last used", title=Text(f"slot cache: {root}"))
    for entry in entries:
        made = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.created)) if entry.created else "-"
        cells = (
            entry.key, ", ".join(entry.photos) or "-", entry.engine or "-", ", ".join(entry.sizes), str(entry.slots),
            f"{entry.bytes / 1e6:.1f}", made, describe_age(entry.last_used),
        )  # fmt: skip
        table.add_row(*(Text(cell) for cell in cells))
    Console().print(table)
    print(f"{len(entries)} chains, {sum(e.bytes for e in entries) / 1e6:.1f} MB")


@app.command(cls=Command)
def serve(
    host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps the app to this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the web app.")] = 7860,
) -> None:
    """Open the web app (needs the web extra): drop a photo, watch the slots, download the video."""
    from .web import serve as serve_web  # imports gradio: only for this command

    serve_web(host, port)


@app.command(cls=Command)
def version() -> None:
    """Print the version."""
    print(__version__)


def _print_version(asked: bool) -> None:
    if asked:
        print(__version__)
        raise typer.Exit()


@app.callback()
def about(
    show_version: Annotated[
        bool,
        typer.Option("-V", "--version", help="Print the version and exit.", is_eager=True, callback=_print_version),
    ] = False,
) -> None:
    """AI Zoom Out videos from your photos."""


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
