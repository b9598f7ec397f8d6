"""The `zoomout` command: builds a Config and calls the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .config import Config, parse_size
from .engines import engine_statuses
from .errors import ZoomoutError
from .pipeline import make_video
from .progress import ProgressEvent

app = typer.Typer(add_completion=False, no_args_is_help=True, help="AI Zoom Out videos from your photos.")
console = Console(stderr=True)

STAGE_LABELS = {"chain": "outpainting slots", "render": "rendering frames"}


@app.command()
def make(
    photos: Annotated[list[Path], typer.Argument(help="The photo to zoom out of.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output .mp4 file.")] = Path("zoomout.mp4"),
    slots: Annotated[int, typer.Option(help="Outpainted slots (zoom steps), 1–50.")] = Config.slots,
    zoom: Annotated[float, typer.Option(help="Zoom factor per slot, 1.25–4.")] = Config.zoom_per_slot,
    seconds_per_slot: Annotated[float, typer.Option(help="Seconds the zoom takes per slot.")] = Config.seconds_per_slot,
    fps: Annotated[int, typer.Option(help="Frames per second: 24, 25, 30, 50 or 60.")] = Config.fps,
    size: Annotated[str, typer.Option(help="9:16, 1:1, 16:9 or WxH (even).")] = "9:16",
    fit: Annotated[str, typer.Option(help="contain (photo whole, rest generated) or cover (crop).")] = Config.fit,
    ease: Annotated[str, typer.Option(help="linear (constant speed) or in-out.")] = Config.ease,
    hold_start: Annotated[float, typer.Option(help="Seconds on the photo before the zoom.")] = Config.hold_start_s,
    hold_end: Annotated[float, typer.Option(help="Seconds on the last slot after the zoom.")] = Config.hold_end_s,
    engine: Annotated[str, typer.Option(help="Outpainting engine (see `zoomout engines`).")] = Config.engine,
    seed: Annotated[int, typer.Option(help="Seed; slot k uses seed + k.")] = Config.seed,
    sound: Annotated[str, typer.Option(help="'none' or an audio file.")] = Config.sound,
    crf: Annotated[int, typer.Option(help="H.264 quality, 0–51 (lower is better).")] = Config.crf,
    preset: Annotated[str, typer.Option(help="x264 preset (speed vs size).")] = Config.x264_preset,
    save_slots: Annotated[Optional[Path], typer.Option(help="Write slot_NN.png and mask_NN.png here.")] = None,
) -> None:
    """Make a zoom-out video from a photo."""
    width_px, height_px = parse_size(size)
    config = Config(
        width_px=width_px, height_px=height_px, slots=slots, zoom_per_slot=zoom,
        seconds_per_slot=seconds_per_slot, fps=fps, hold_start_s=hold_start, hold_end_s=hold_end,
        fit=fit, ease=ease, engine=engine, seed=seed, sound=sound, crf=crf, x264_preset=preset,
    )  # fmt: skip
    columns = (
        TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console, transient=False) as bars:
        tasks: dict[str, int] = {}

        def progress(event: ProgressEvent) -> None:
            if event.stage not in tasks:
                tasks[event.stage] = bars.add_task(STAGE_LABELS[event.stage], total=event.total)
            bars.update(tasks[event.stage], completed=event.done)

        result = make_video(photos, output, config, save_slots_to=save_slots, progress=progress)
    for note in result.photo_notes:
        console.print(f"note: {note}")
    timings = ", ".join(f"{stage} {s:.1f}s" for stage, s in result.seconds.items())
    console.print(
        f"wrote {result.path} ({result.plan.frame_count} frames, {result.plan.duration_s:.2f} s, "
        f"{config.width_px}x{config.height_px}, engine {result.engine}; {timings})"
    )


@app.command()
def engines() -> None:
    """List the outpainting engines and whether each can run here."""
    table = Table("engine", "usable", "what it is / what is missing")
    for status in engine_statuses():
        table.add_row(status.name, "yes" if status.usable else "no", status.summary if status.usable else status.unavailable_reason)
    Console().print(table)


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


def main() -> None:
    try:
        app(standalone_mode=False)
    except ZoomoutError as error:
        console.print(f"[red]error:[/red] {error}", highlight=False, markup=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted: no output was written")
        sys.exit(130)
    except Exception as error:  # click's usage errors arrive here in non-standalone mode
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        raise
