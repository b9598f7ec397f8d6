"""The web app (`zoomout serve`): drop a photo, watch the slots being made, download the video.

The page is the CLI's library call behind Gradio: its controls are built from the same
option declarations as `zoomout make` (`options.MAKE_OPTIONS`), a submission becomes a
request through the same `build_request`, and the jobs (`jobs.JobQueue`) run `make_video`
one at a time, in order; each browser tab sees its own progress and can cancel its own job.
Safe by default: it binds to 127.0.0.1, never calls out (analytics off, no share link, local
fonts), limits uploads in bytes and pixels, serves only the files a job returned, and deletes
every job's folder once its files are handed over.
"""

from __future__ import annotations

import os

# Gradio reads this when it is imported: with analytics on it calls out at start-up and on launch.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import atexit
import ipaddress
import signal
import time
from collections.abc import Iterator
from inspect import Parameter, Signature
from pathlib import Path
from typing import Any

from .config import MAX_PHOTOS, SIZE_PRESETS, SLOTS_RANGE, SOUND_PRESETS, ZOOM_RANGE
from .engines import AUTO, choose_engine, engine_statuses, options_class
from .errors import ConfigError, ZoomoutError
from .jobs import JOB_MAX_AGE_S, JobQueue, check_photos
from .options import MAKE_OPTIONS, MakeOption, build_request, rename_option, respell_flags
from .progress import STAGE_LABELS

try:
    import gradio as gr
except ImportError as error:  # the web extra is optional
    raise ZoomoutError("the web app needs the web extra: pip install 'zoomout[web]'") from error

MAX_UPLOAD_BYTES = 50_000_000
"""Per uploaded file (photo or audio); Gradio refuses larger uploads before they reach a job."""
OWN_SOUND = "own file"

# The page's controls, in order: each is the `zoomout make` option of that name.
FORM = (
    "engine", "prompt", "prompts", "negative_prompt", "slots", "zoom", "seconds_per_slot", "size", "fit", "ease",
    "direction", "loop", "transition", "nest", "sound", "seed", "label", "no_label",
)  # fmt: skip
PROMPT_FIELDS = ("prompt", "prompts", "negative_prompt")  # shown while the engine takes a prompt
LABELS = {"zoom": "Zoom per slot", "no_label": "No label", "prompts": "Prompts per slot"}
# Where the page takes an option differently from the command line: `--prompts FILE`, here typed in
HELP = {"prompts": "One prompt per line: line 1 is slot 1 (the first zoom step), line 2 slot 2, …; a blank line keeps Prompt."}


def label_of(option: MakeOption) -> str:
    """The control's label, as errors name it: `Seconds per slot`."""
    return LABELS.get(option.name) or option.name.replace("_", " ").capitalize()


def page_spelling(option: MakeOption) -> str | None:
    """How a note names `option` on the page: its control's label, or None where the page has no control for it."""
    return label_of(option) if option.name in FORM else None


def takes_prompt(engine: str) -> bool:
    """Whether `engine` reads a prompt (the prompt fields are shown only then)."""
    if engine == AUTO:
        engine = choose_engine()[0]  # what auto runs here: classic without a GPU or weights
    options = options_class(engine)
    return options is not None and "prompt" in getattr(options, "__dataclass_fields__", {})


def form_request(photos: list[str] | None, values: dict[str, Any], sound_file: str | None) -> Any:
    """The request of a web submission (output and slots folder are set by the job queue); raises as the CLI would.

    Empty text fields and the prompts of engines that take none keep the defaults.
    """
    given = {name: _whole(value) for name, value in values.items() if value not in ("", None)}
    if given.get("sound") == OWN_SOUND:
        if not sound_file:
            raise ConfigError(f"Sound is {OWN_SOUND!r} but no audio file was uploaded")
        given["sound"] = str(sound_file)
    if not takes_prompt(str(given.get("engine", AUTO))):
        for name in PROMPT_FIELDS:
            given.pop(name, None)
    if given.get("no_label"):
        given.pop("label", None)
    if "prompts" in given:  # the box's lines, as a prompts file's (line k is slot k)
        given["prompts"] = str(given["prompts"]).splitlines()
    return build_request(list(photos or []), given, spell=lambda option: label_of(option))


def _whole(value: Any) -> Any:
    """Sliders and number boxes send floats: 3.0 becomes 3, 2.5 stays for Config to refuse."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class WebApp(JobQueue):
    """The event handlers of the page, over the server's job queue."""

    def make(
        self, photos: list[str] | None, sound_file: str | None = None, request: Any = None, progress: Any = None, **values: Any
    ) -> Iterator[tuple[object, ...]]:
        """Make a video; yields (status, slot gallery, video, MP4 download, slots zip download)."""
        progress = progress or gr.Progress()
        # 1. Check inputs (before a job folder exists)
        try:
            job_request = form_request(photos, values, sound_file)
            check_photos([str(p) for p in job_request.photos], job_request.config)
        except ZoomoutError as error:
            message = str(error)
            for path in photos or []:  # the upload's name, not the server's folder
                message = message.replace(str(path), Path(path).name)
            yield f"**Error**: {message}", gr.skip(), None, None, None  # stays on the page
            raise gr.Error(message, duration=None, print_exception=False) from None

        # 2. Start the worker
        job = self.submit(job_request, session=getattr(request, "session_hash", None) or "")
        try:
            progress(0, desc="starting")
            yield "", [], None, None, None

            # 3. Report the slots as they are made, and the progress (a few times a second at most)
            shown = 0
            while True:
                job.changed.wait(timeout=0.5)
                job.changed.clear()
                if job.finished:
                    break
                show_progress(progress, job.counts)
                # Yielding now and then (also without news) lets Gradio close this generator promptly.
                new_slots = len(job.previews) > shown
                shown = len(job.previews)
                yield gr.skip(), (list(job.previews) if new_slots else gr.skip()), gr.skip(), gr.skip(), gr.skip()
                time.sleep(0.25)

            # 4. Hand over the results (Gradio copies them into its cache); `release` deletes the job folder
            if job.error is not None:
                if isinstance(job.error, ZoomoutError):
                    error = job.error
                    if isinstance(error, ConfigError):
                        error = rename_option(error, label_of, values) or error
                    message = job.public_message(str(error))
                    yield f"**Error**: {message}", gr.skip(), None, None, None
                    raise gr.Error(message, duration=None, print_exception=False)
                raise job.error
            result = job.result
            if result is None:  # cancelled from the page; Gradio drops what comes after
                yield "**Cancelled**: no video was written.", gr.skip(), None, None, None
                return
            notes = "".join(f"\n- {respell_flags(note, page_spelling)}" for note in result.notes)
            timings = ", ".join(f"{stage} {s:.1f} s" for stage, s in result.seconds.items())
            config = result.config
            status = (
                f"**Done**: {result.plan.frame_count} frames, {result.plan.duration_s:.1f} s, "
                f"{config.width_px}×{config.height_px}, engine {result.engine} ({timings}){notes}"
            )
            video = str(result.path)
            yield status, list(job.previews), video, video, str(job.slots_zip)
        finally:
            # Reached when the job ends, fails, or Gradio closes the generator (cancel, tab closed).
            self.release(job)

    def cancel(self, request: Any) -> str:
        """Stop every running job of this browser tab; the queued ones Gradio drops itself."""
        self.cancel_session(getattr(request, "session_hash", None) or "")
        return "**Cancelled**: no video was written."


def show_progress(progress: Any, counts: dict[str, tuple[int, int]]) -> None:
    """One bar for two overlapping stages: the frames once rendering has started, the slots still to come in its text."""
    slots, frames = counts.get("chain"), counts.get("render")
    if frames is not None:
        pending = f" (slots {slots[0]}/{slots[1]} outpainted)" if slots and slots[0] < slots[1] else ""
        progress(frames, desc=STAGE_LABELS["render"] + pending, unit="frames")
    elif slots is not None and slots[1]:
        progress(slots, desc=STAGE_LABELS["chain"], unit="slots")


def _engine_choices() -> list[tuple[str, str]]:
    """(label, name) of `auto` and of every engine that can run here."""
    usable = [s for s in engine_statuses(download=False) if s.usable]
    return [(f"{AUTO}: the best engine that runs here", AUTO)] + [(s.name, s.name) for s in usable]


def _engine_note() -> str:
    """What each engine is; the engines that cannot run here, greyed, with the reason."""
    lines = [
        f"- **{s.name}**: {s.summary}" + (f" ({s.note})" if s.note else "") if s.usable
        else f"- <span style='opacity:.55'>~~{s.name}~~: {s.unavailable_reason}</span>"
        for s in engine_statuses(download=False)
    ]  # fmt: skip
    return "\n".join(lines)


def _control(option: MakeOption) -> Any:
    """The Gradio control of `option`, from its declaration."""
    label, default, elem_id = label_of(option), option.default, option.name.replace("_", "-")
    common = dict(label=label, info=HELP.get(option.name, option.help), elem_id=elem_id)
    if option.name == "engine":
        return gr.Dropdown(_engine_choices(), value=default, **common)
    if option.name == "slots":
        return gr.Slider(*SLOTS_RANGE, value=default, step=1, **common)
    if option.name == "zoom":
        return gr.Slider(*ZOOM_RANGE, value=default, step=0.05, **common)
    if option.name == "size":
        return gr.Dropdown(list(SIZE_PRESETS), value=default, allow_custom_value=True, **common)
    if option.name == "sound":
        return gr.Dropdown([*SOUND_PRESETS, "none", OWN_SOUND], value=default, **common)
    if option.name == "seed":
        return gr.Number(default, precision=0, minimum=0, maximum=2**32 - 1, **common)
    if option.kind is bool:
        return gr.Checkbox(value=bool(default), **common)
    if option.choices:
        return gr.Dropdown(list(option.choices), value=default, **common)
    if option.kind in (int, float):
        return gr.Number(default, **common)
    if option.name == "prompts":
        return gr.Textbox(placeholder="a street at dusk\n\na harbour at night", lines=4, max_lines=50, **common)
    placeholder = str(getattr(options_class("diffusion"), option.name, "") or "") if option.engine else ""
    return gr.Textbox(value=default or "", placeholder=placeholder, lines=2 if option.name == "prompt" else 1, **common)


def build_app(app: WebApp | None = None) -> gr.Blocks:
    """The Gradio page and its API (`/make`, `/cancel`), queued one job at a time."""
    app = app or WebApp()
    css = (
        "#slots-gallery .grid-wrap { overflow-y: auto; } .gradio-dropdown .wrap-inner { padding-right: 2em; }"
        # Gradio's grid keeps `columns` at 100 px or more each: wider than the column, the last ones were clipped
        " #slots-gallery .grid-container { grid-template-columns: repeat(auto-fill, minmax(72px, 1fr)) !important; }"
    )  # fmt: skip
    with gr.Blocks(title="zoomout", analytics_enabled=False, delete_cache=(600, JOB_MAX_AGE_S), css=css) as demo:
        gr.Markdown("# zoomout\nAI Zoom Out videos: a photo is outpainted slot after slot, then the camera pulls back.")
        with gr.Row():
            with gr.Column(scale=1):
                photos = gr.File(
                    label=f"Photos (1–{MAX_PHOTOS}; several make a montage)", file_count="multiple",
                    file_types=["image", ".heic", ".heif"], elem_id="photos",
                )  # fmt: skip
                controls: dict[str, Any] = {}
                with gr.Accordion("Options", open=True):
                    for name in FORM:
                        if name in PROMPT_FIELDS:
                            if name == PROMPT_FIELDS[0]:
                                prompt_group = gr.Group(visible=takes_prompt(str(MAKE_OPTIONS["engine"].default)))
                            with prompt_group:
                                controls[name] = _control(MAKE_OPTIONS[name])
                        else:
                            controls[name] = _control(MAKE_OPTIONS[name])
                        if name == "engine":
                            gr.Markdown(_engine_note(), elem_id="engine-note")
                sound_file = gr.File(label="Own audio file", file_types=["audio"], visible=False, elem_id="sound-file")
                with gr.Row():
                    make_button = gr.Button("Make video", variant="primary", elem_id="make")
                    cancel_button = gr.Button("Cancel", variant="stop", elem_id="cancel", interactive=False)
            with gr.Column(scale=1):
                status = gr.Markdown(elem_id="status")
                video = gr.Video(
                    label="Video", autoplay=True, loop=True, height=520, elem_id="video", interactive=False
                )
                with gr.Row():
                    mp4_download = gr.DownloadButton("Download MP4", elem_id="download-mp4")
                    zip_download = gr.DownloadButton("Download slots (zip)", elem_id="download-zip")
                gallery = gr.Gallery(
                    label="Slots", columns=6, height="auto", object_fit="contain", elem_id="slots-gallery"
                )

        controls["engine"].change(
            lambda name: gr.Group(visible=takes_prompt(name or "")), controls["engine"], prompt_group,
            api_visibility="private",
        )  # fmt: skip
        controls["sound"].change(
            lambda choice: gr.File(visible=choice == OWN_SOUND), controls["sound"], sound_file, api_visibility="private"
        )
        # Make is offered while nothing runs, Cancel while a job runs
        buttons = [make_button, cancel_button]
        busy = {"fn": lambda: (gr.Button(interactive=False), gr.Button(interactive=True)), "inputs": None}
        idle = {"fn": lambda: (gr.Button(interactive=True), gr.Button(interactive=False)), "inputs": None}
        private = {"outputs": buttons, "api_visibility": "private", "queue": False}
        making = make_button.click(**busy, **private).then(
            _make_handler(app), [photos, sound_file, *controls.values()],
            [status, gallery, video, mp4_download, zip_download], api_name="make", show_progress_on=[video],
        )  # fmt: skip
        making.success(**idle, **private)
        making.failure(**idle, **private)
        cancel_button.click(app.cancel, None, status, cancels=[making], queue=False, api_name="cancel").then(
            **idle, **private
        )
    demo.queue(default_concurrency_limit=1)
    demo.zoomout_app = app  # type: ignore[attr-defined]
    return demo


def _make_handler(app: WebApp) -> Any:
    """`app.make` with one named parameter per control, as Gradio's API shows them (`/make`)."""

    def make(*args: Any, **kwargs: Any) -> Iterator[tuple[object, ...]]:
        bound = make.__signature__.bind(*args, **kwargs)  # type: ignore[attr-defined]
        bound.apply_defaults()
        values = dict(bound.arguments)
        photos, sound_file = values.pop("photos"), values.pop("sound_file")
        request, progress = values.pop("request"), values.pop("progress")
        yield from app.make(photos, sound_file, request, progress, **values)

    defaults = {name: MAKE_OPTIONS[name].default for name in FORM}
    make.__signature__ = Signature(  # type: ignore[attr-defined]
        [
            Parameter("photos", Parameter.POSITIONAL_OR_KEYWORD, annotation=list[str] | None),
            Parameter("sound_file", Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=str | None),
            *(Parameter(name, Parameter.POSITIONAL_OR_KEYWORD, default=_plain(value)) for name, value in defaults.items()),
            Parameter("request", Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request),
            Parameter("progress", Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress(), annotation=gr.Progress),
        ]
    )
    return make


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


def launch(
    demo: gr.Blocks,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    *,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> gr.Blocks:
    """Start serving `demo` in the background (`port` None: the first free one from 7860).

    No share link, no extra `allowed_paths`: Gradio serves only the uploads and the files a job returned.
    """
    demo.launch(
        server_name=host, server_port=port, share=False, inbrowser=False, show_error=True,
        max_file_size=max_upload_bytes, allowed_paths=[], prevent_thread_lock=True,
        ssr_mode=False, mcp_server=False, pwa=False, quiet=True,
    )  # fmt: skip
    return demo


def serve(host: str = "127.0.0.1", port: int = 7860) -> None:
    """`zoomout serve`: the web app until Ctrl-C (or SIGTERM); job folders are deleted on the way out."""
    if not _is_loopback(host):
        print(f"warning: serving on {host}: anyone who can reach port {port} can upload photos and run jobs")
    app = WebApp()
    atexit.register(app.close)  # also when the server fails to start
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as Ctrl-C does
    demo = build_app(app)
    try:
        try:
            launch(demo, host, port)
        except OSError as error:  # the port is taken, or the address is not this machine's
            raise ZoomoutError(f"cannot serve on {host}:{port}: {error}") from None
        print(f"zoomout web app: {demo.local_url} (Ctrl-C to stop)", flush=True)
        demo.block_thread()
    finally:
        demo.close()
        app.close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
