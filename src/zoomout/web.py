"""The web app (`zoomout serve`): drop a photo, watch the slots being made, download the video.

It is the CLI's library call behind a Gradio page: one `Config`, one `make_video`. Jobs are
queued and run one at a time, in order; each browser tab sees its own progress and can
cancel its own job. Safe by default: it binds to 127.0.0.1, never calls out (analytics off,
no share link, local fonts), limits uploads in bytes and pixels, serves only the files a
job returned, and deletes every job's folder once its files are handed over.
"""

from __future__ import annotations

import os

# Gradio reads this when it is imported: with analytics on it calls out at start-up and on launch.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import atexit
import dataclasses
import ipaddress
import shutil
import signal
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .config import MAX_PHOTOS, SIZE_PRESETS, SLOTS_RANGE, SOUND_PRESETS, ZOOM_RANGE, Config, parse_size
from .engines import AUTO, ENGINE_OPTIONS, choose_engine, engine_statuses
from .engines.diffusion import DEFAULT_PROMPT, DiffusionEngine
from .errors import ConfigError, PhotoError, ZoomoutError
from .pipeline import VideoResult, make_video
from .progress import ProgressEvent

try:
    import gradio as gr
except ImportError as error:  # the web extra is optional
    raise ZoomoutError("the web app needs the web extra: pip install 'zoomout[web]'") from error

DIFFUSION = DiffusionEngine.name
MAX_UPLOAD_BYTES = 50_000_000
"""Per uploaded file (photo or audio); Gradio refuses larger uploads before they reach a job."""
MAX_PHOTO_PIXELS = 40_000_000
"""Stricter than the loader's 100 MP: a web job should not hold a server's memory for minutes."""
PREVIEW_HEIGHT_PX = 320
"""Slots are shown in the gallery as JPEGs this tall; the zip holds them at full size."""
JOB_MAX_AGE_S = 3600
"""Job folders and Gradio's copies of uploads and results are deleted after this long."""
OWN_SOUND = "own file"

STAGE_LABELS = {"chain": "outpainting slots", "render": "rendering frames"}


class JobCancelled(Exception):
    """Raised from the progress callback to stop `make_video`; nothing is written."""


@dataclass(eq=False)  # jobs are compared (and hashed) by identity
class Job:
    """One submission: its folder, its cancel flag and what its worker has reported so far."""

    folder: Path
    session: str
    cancel: threading.Event = field(default_factory=threading.Event)
    changed: threading.Event = field(default_factory=threading.Event)
    previews: list[Path] = field(default_factory=list)
    stage: str = "chain"
    done: int = 0
    total: int = 0
    result: VideoResult | None = None  # once the worker has finished
    error: BaseException | None = None
    finished: bool = False


def options_class(engine: str) -> type | None:
    """The options dataclass `engine` takes (`auto` takes the diffusion engine's), or None."""
    return ENGINE_OPTIONS.get(DIFFUSION if engine == AUTO else engine)


def takes_prompt(engine: str) -> bool:
    """Whether `engine` reads a prompt (the prompt fields are shown only then)."""
    if engine == AUTO:
        engine = choose_engine()[0]  # what auto runs here: classic without a GPU or weights
    options = options_class(engine)
    return options is not None and "prompt" in {f.name for f in dataclasses.fields(options)}


def build_config(
    engine: str,
    slots: float,
    zoom_per_slot: float,
    seconds_per_slot: float,
    size: str,
    sound: str,
    sound_file: str | None,
    prompt: str | None,
    negative_prompt: str | None,
    seed: float,
) -> Config:
    """The `Config` of a web submission; raises `ConfigError` as the CLI would.

    The prompts are used only by engines that take them; empty ones keep the engine's defaults.
    """
    width_px, height_px = parse_size(size or "")
    if sound == OWN_SOUND:
        if not sound_file:
            raise ConfigError(f"sound is {OWN_SOUND!r} but no audio file was uploaded")
        sound = str(sound_file)
    engine_options = None
    if takes_prompt(engine):
        prompts = {"prompt": (prompt or "").strip(), "negative_prompt": (negative_prompt or "").strip()}
        given = {name: text for name, text in prompts.items() if text}
        engine_options = options_class(engine)(**given) if given else None  # type: ignore[misc]
    return Config(
        width_px=width_px, height_px=height_px, slots=_whole(slots), zoom_per_slot=zoom_per_slot,
        seconds_per_slot=seconds_per_slot, engine=engine, engine_options=engine_options, seed=_whole(seed),
        sound=sound,
    )  # fmt: skip


def check_photos(photos: Sequence[str] | None, config: Config) -> list[Path]:
    """The uploaded photo paths, refused with one line when there are none, too many or too many pixels."""
    paths = [Path(p) for p in photos or []]
    config.check_photo_count(len(paths))
    for path in paths:
        size = _header_size(path)
        if size and size[0] * size[1] > MAX_PHOTO_PIXELS:
            w, h = size
            raise PhotoError(
                f"{path.name}: too large for the web app ({w}×{h} px = {w * h / 1e6:.1f} megapixels); "
                f"at most {MAX_PHOTO_PIXELS / 1e6:g} megapixels (the command line takes up to 100)"
            )
    return paths


def _header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header without decoding; None when Pillow cannot tell (the loader will)."""
    try:
        with Image.open(path) as image:
            return image.size
    except Exception:
        pass
    try:
        from pillow_heif import open_heif

        return open_heif(path).size
    except Exception:
        return None


def _whole(value: float) -> object:
    """Sliders and number boxes send floats: 3.0 becomes 3, 2.5 stays for Config to refuse."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class WebApp:
    """The jobs of one server: their folders under `root`, and the cancel flags of the running ones."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="zoomout-web-"))
        self.jobs_root = self.root / "jobs"
        self.jobs_root.mkdir(parents=True, exist_ok=True)
        # A slot cache of this server's own: re-renders with new timing or sound skip the outpainting,
        # and the user's cache never fills with strangers' uploads.
        self.cache_dir = self.root / "slot-cache"
        self._jobs: dict[str, set[Job]] = {}
        self._jobs_lock = threading.Lock()
        # One worker at a time, also while a cancelled job finishes its current slot.
        self._worker_lock = threading.Lock()

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # -- the event handlers -------------------------------------------------------------

    def make(
        self,
        photos: list[str] | None,
        engine: str,
        slots: float,
        zoom_per_slot: float,
        seconds_per_slot: float,
        size: str,
        sound: str,
        sound_file: str | None = None,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        seed: float = 0,
        request: gr.Request = None,  # type: ignore[assignment]  # given by Gradio
        progress: gr.Progress = gr.Progress(),
    ) -> Iterator[tuple[object, ...]]:
        """Make a video; yields (status, slot gallery, video, MP4 download, slots zip download)."""
        # 1. Check inputs (before a job folder exists)
        try:
            config = build_config(
                engine, slots, zoom_per_slot, seconds_per_slot, size, sound, sound_file, prompt, negative_prompt, seed
            )
            paths = check_photos(photos, config)
        except ZoomoutError as error:
            raise gr.Error(str(error), print_exception=False) from None

        # 2. Start the worker
        self.sweep()
        job = Job(folder=self.jobs_root / uuid.uuid4().hex, session=request.session_hash or "")
        job.folder.mkdir()
        with self._jobs_lock:
            self._jobs.setdefault(job.session, set()).add(job)
        worker = threading.Thread(target=self._work, args=(job, paths, config), daemon=True)
        try:
            worker.start()
            progress(0, desc="starting")
            yield "", [], None, None, None

            # 3. Report the slots as they are made, and the progress (a few times a second at most)
            shown = 0
            while True:
                job.changed.wait(timeout=0.5)
                job.changed.clear()
                if job.finished:
                    break
                if job.total:
                    unit = "slots" if job.stage == "chain" else "frames"
                    progress((job.done, job.total), desc=STAGE_LABELS[job.stage], unit=unit)
                # Yielding now and then (also without news) lets Gradio close this generator promptly.
                new_slots = len(job.previews) > shown
                shown = len(job.previews)
                yield gr.skip(), (list(job.previews) if new_slots else gr.skip()), gr.skip(), gr.skip(), gr.skip()
                time.sleep(0.25)

            # 4. Hand over the results (Gradio copies them into its cache), then delete the job folder
            if job.error is not None:
                if isinstance(job.error, ZoomoutError):
                    raise gr.Error(_public_message(str(job.error), paths), print_exception=False)
                raise job.error
            result = job.result
            if result is None:  # cancelled from the page; Gradio drops what comes after
                yield "**Cancelled**: no video was written.", gr.skip(), None, None, None
                return
            notes = "".join(f"\n- {note}" for note in result.notes)
            timings = ", ".join(f"{stage} {s:.1f} s" for stage, s in result.seconds.items())
            status = (
                f"**Done**: {result.plan.frame_count} frames, {result.plan.duration_s:.1f} s, "
                f"{config.width_px}×{config.height_px}, engine {result.engine} ({timings}){notes}"
            )
            video = str(result.path)
            yield status, list(job.previews), video, video, str(job.folder / "zoomout-slots.zip")
        finally:
            # Reached when the job ends, fails, or Gradio closes the generator (cancel, tab closed).
            job.cancel.set()
            with self._jobs_lock:
                self._jobs.get(job.session, set()).discard(job)
            if job.finished:
                shutil.rmtree(job.folder, ignore_errors=True)
            # else the worker deletes the folder when it stops (at its next slot or frame)

    def cancel(self, request: gr.Request) -> str:
        """Stop every running job of this browser tab; the queued ones Gradio drops itself."""
        with self._jobs_lock:
            jobs = list(self._jobs.get(request.session_hash or "", ()))
        for job in jobs:
            job.cancel.set()
        return "**Cancelled**: no video was written."

    # -- the worker -----------------------------------------------------------------------

    def _work(self, job: Job, photos: list[Path], config: Config) -> None:
        previews = job.folder / "previews"
        previews.mkdir()

        def report(event: ProgressEvent) -> None:
            if job.cancel.is_set():
                raise JobCancelled
            if event.slot_image is not None:
                preview = previews / f"slot_{event.done - 1:02d}.jpg"
                image = Image.fromarray(event.slot_image)
                scale = PREVIEW_HEIGHT_PX / image.height
                image.resize((max(1, round(image.width * scale)), PREVIEW_HEIGHT_PX)).save(preview, quality=85)
                job.previews.append(preview)
            job.stage, job.done, job.total = event.stage, event.done, event.total
            job.changed.set()

        with self._worker_lock:
            try:
                if job.cancel.is_set():
                    raise JobCancelled
                slots_folder = job.folder / "slots"
                job.result = make_video(
                    photos, job.folder / "zoomout.mp4", config,
                    save_slots_to=slots_folder, progress=report, cache_dir=self.cache_dir,
                )  # fmt: skip
                _zip_folder(slots_folder, job.folder / "zoomout-slots.zip")
            except JobCancelled:
                pass  # the folder goes below
            except BaseException as error:  # handed to the page
                job.error = error
            finally:
                job.finished = True
                job.changed.set()
                if job.cancel.is_set():  # the page has gone: nobody will collect the files
                    shutil.rmtree(job.folder, ignore_errors=True)

    def sweep(self, max_age_s: float = JOB_MAX_AGE_S) -> None:
        """Delete job folders left behind (by a crash or a killed server) that are older than `max_age_s`."""
        now = time.time()
        with self._jobs_lock:
            running = {job.folder for jobs in self._jobs.values() for job in jobs}
        for folder in self.jobs_root.iterdir():
            if folder not in running and now - folder.stat().st_mtime > max_age_s:
                shutil.rmtree(folder, ignore_errors=True)


def _zip_folder(folder: Path, archive: Path) -> None:
    # PNGs are compressed already: stored, not deflated.
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):  # a montage's parts are in part_1/, part_2/, …
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())


def _public_message(message: str, photos: list[Path]) -> str:
    """The library's message without the server's upload folders (`cat.jpg: …`, not `/tmp/gradio/ab12/cat.jpg: …`)."""
    for path in photos:
        message = message.replace(str(path), path.name)
    return message


def _engine_choices() -> list[tuple[str, str]]:
    """(label, name) of `auto` and of every engine that can run here."""
    usable = [s for s in engine_statuses() if s.usable]
    return [(f"{AUTO} — diffusion with a CUDA GPU and its weights, else classic", AUTO)] + [
        (f"{s.name} — {s.summary}", s.name) for s in usable
    ]


def _engine_note() -> str:
    """The engines that cannot run here, greyed with the reason, and what the usable ones lack."""
    lines = [
        f"- <span style='opacity:.55'>~~{s.name}~~: {s.unavailable_reason}</span>" if not s.usable
        else f"- {s.name}: {s.note}"
        for s in engine_statuses()
        if not s.usable or s.note
    ]  # fmt: skip
    return "\n".join(lines)


def build_app(app: WebApp | None = None) -> gr.Blocks:
    """The Gradio page and its API (`/make`, `/cancel`), queued one job at a time."""
    app = app or WebApp()
    sound_choices = [*SOUND_PRESETS, "none", OWN_SOUND]
    defaults = Config()

    with gr.Blocks(title="zoomout", analytics_enabled=False, delete_cache=(600, JOB_MAX_AGE_S)) as demo:
        gr.Markdown("# zoomout\nAI Zoom Out videos: a photo is outpainted slot after slot, then the camera pulls back.")
        with gr.Row():
            with gr.Column(scale=1):
                photos = gr.File(
                    label=f"Photos (1–{MAX_PHOTOS}; several make a montage)", file_count="multiple",
                    file_types=["image", ".heic", ".heif"], elem_id="photos",
                )  # fmt: skip
                engine = gr.Dropdown(_engine_choices(), value=defaults.engine, label="Engine")
                note = _engine_note()
                gr.Markdown(note, visible=bool(note))
                with gr.Group(visible=takes_prompt(engine.value or "")) as prompt_group:
                    prompt = gr.Textbox(label="Prompt", lines=2, placeholder=DEFAULT_PROMPT)
                    negative_prompt = gr.Textbox(
                        label="Negative prompt", lines=1, placeholder="(people and faces are kept out anyway)"
                    )
                with gr.Row():
                    slots = gr.Slider(*SLOTS_RANGE, value=defaults.slots, step=1, label="Slots", elem_id="slots")
                    zoom = gr.Slider(*ZOOM_RANGE, value=defaults.zoom_per_slot, step=0.05, label="Zoom per slot")
                with gr.Row():
                    seconds = gr.Number(
                        defaults.seconds_per_slot, minimum=0.1, maximum=60, label="Seconds per slot", elem_id="seconds"
                    )
                    size = gr.Dropdown(
                        list(SIZE_PRESETS), value="9:16", allow_custom_value=True, label="Size", info="or WxH",
                        elem_id="size",
                    )  # fmt: skip
                    seed = gr.Number(defaults.seed, precision=0, minimum=0, maximum=2**32 - 1, label="Seed")
                with gr.Row():
                    sound = gr.Dropdown(sound_choices, value=defaults.sound, label="Sound")
                    sound_file = gr.File(label="Own audio file", file_types=["audio"], visible=False)
                with gr.Row():
                    make_button = gr.Button("Make video", variant="primary", elem_id="make")
                    cancel_button = gr.Button("Cancel", variant="stop", elem_id="cancel")
            with gr.Column(scale=1):
                status = gr.Markdown(elem_id="status")
                video = gr.Video(
                    label="Video", autoplay=True, loop=True, height=520, elem_id="video", interactive=False
                )
                with gr.Row():
                    mp4_download = gr.DownloadButton("Download MP4", elem_id="download-mp4")
                    zip_download = gr.DownloadButton("Download slots (zip)", elem_id="download-zip")
                gallery = gr.Gallery(
                    label="Slots", columns=6, height=240, object_fit="contain", elem_id="slots-gallery"
                )

        engine.change(
            lambda name: gr.Group(visible=takes_prompt(name or "")), engine, prompt_group, api_visibility="private"
        )
        sound.change(lambda choice: gr.File(visible=choice == OWN_SOUND), sound, sound_file, api_visibility="private")
        making = make_button.click(
            app.make,
            [photos, engine, slots, zoom, seconds, size, sound, sound_file, prompt, negative_prompt, seed],
            [status, gallery, video, mp4_download, zip_download],
            api_name="make",
            show_progress_on=[video],
        )
        cancel_button.click(app.cancel, None, status, cancels=[making], queue=False, api_name="cancel")
    demo.queue(default_concurrency_limit=1)
    demo.zoomout_app = app  # type: ignore[attr-defined]
    return demo


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
