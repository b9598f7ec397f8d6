"""Jobs of the web app, without Gradio: queued one at a time, each in its own folder, cancellable.

`JobQueue.submit` checks a request, makes its folder and starts its worker; the worker calls
`make_video` (the same library call as the command line) and reports the slots and the
progress on the `Job`; a front end polls the job and hands its files over. Every job's
folder is deleted once its files are handed over, when it is cancelled, or when it is older
than `max_age_s`.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image

from .config import Config
from .errors import PhotoError
from .options import MakeRequest
from .pipeline import VideoResult, make_video
from .progress import ProgressEvent

MAX_PHOTO_PIXELS = 40_000_000
"""Stricter than the loader's 100 MP: a web job should not hold a server's memory for minutes."""
PREVIEW_HEIGHT_PX = 320
"""Slots are shown in the gallery as JPEGs this tall; the zip holds them at full size."""
JOB_MAX_AGE_S = 3600
"""Job folders are deleted after this long."""


class JobCancelled(Exception):
    """Raised from the progress callback to stop `make_video`; nothing is written."""


@dataclass(eq=False)  # jobs are compared (and hashed) by identity
class Job:
    """One submission: its folder, its cancel flag and what its worker has reported so far."""

    folder: Path
    session: str
    photos: list[Path]
    cancel: threading.Event = field(default_factory=threading.Event)
    changed: threading.Event = field(default_factory=threading.Event)
    previews: list[Path] = field(default_factory=list)
    # (done, total) of each stage so far, "chain" (outpainted slots) and "render" (frames): they overlap
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    result: VideoResult | None = None  # once the worker has finished
    error: BaseException | None = None
    finished: bool = False

    @property
    def video(self) -> Path:
        return self.folder / "zoomout.mp4"

    @property
    def slots_zip(self) -> Path:
        return self.folder / "zoomout-slots.zip"

    def public_message(self, message: str) -> str:
        """`message` without the server's upload folders (`cat.jpg: …`, not `/tmp/gradio/ab12/cat.jpg: …`)."""
        for path in self.photos:
            message = message.replace(str(path), path.name)
        return message


class JobQueue:
    """The jobs of one server: their folders under `root`, run one at a time in submission order."""

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

    def submit(self, request: MakeRequest, session: str) -> Job:
        """Start a job for `request` (its photos already checked with `check_photos`); its output goes to its folder."""
        self.sweep()
        job = Job(folder=self.jobs_root / uuid.uuid4().hex, session=session, photos=list(request.photos))
        job.folder.mkdir()
        request = replace(request, output=job.video, save_slots=job.folder / "slots", cache=True, fresh=False)
        with self._jobs_lock:
            self._jobs.setdefault(job.session, set()).add(job)
        threading.Thread(target=self._work, args=(job, request), daemon=True).start()
        return job

    def release(self, job: Job) -> None:
        """The front end is done with `job` (finished, failed, cancelled or gone): stop it and free its folder."""
        job.cancel.set()
        with self._jobs_lock:
            self._jobs.get(job.session, set()).discard(job)
        if job.finished:
            shutil.rmtree(job.folder, ignore_errors=True)
        # else the worker deletes the folder when it stops (at its next slot or frame)

    def cancel_session(self, session: str) -> None:
        """Stop every running job of a browser tab."""
        with self._jobs_lock:
            jobs = list(self._jobs.get(session, ()))
        for job in jobs:
            job.cancel.set()

    def sweep(self, max_age_s: float = JOB_MAX_AGE_S) -> None:
        """Delete job folders left behind (by a crash or a killed server) that are older than `max_age_s`."""
        now = time.time()
        with self._jobs_lock:
            running = {job.folder for jobs in self._jobs.values() for job in jobs}
        for folder in self.jobs_root.iterdir():
            if folder not in running and now - folder.stat().st_mtime > max_age_s:
                shutil.rmtree(folder, ignore_errors=True)

    def _work(self, job: Job, request: MakeRequest) -> None:
        previews = job.folder / "previews"
        previews.mkdir()

        def report(event: ProgressEvent) -> None:
            if job.cancel.is_set():
                raise JobCancelled
            if event.stage == "ready":
                return
            if event.slot_image is not None:
                preview = previews / f"slot_{len(job.previews):02d}.jpg"
                image = Image.fromarray(event.slot_image)
                scale = PREVIEW_HEIGHT_PX / image.height
                image.resize((max(1, round(image.width * scale)), PREVIEW_HEIGHT_PX)).save(preview, quality=85)
                job.previews.append(preview)
            job.counts[event.stage] = (event.done, event.total)
            job.changed.set()

        with self._worker_lock:
            try:
                if job.cancel.is_set():
                    raise JobCancelled
                arguments = {**request.make_video_arguments(), "cache_dir": self.cache_dir}
                job.result = make_video(**arguments, progress=report)
                _zip_folder(job.folder / "slots", job.slots_zip)
            except JobCancelled:
                pass  # the folder goes below
            except BaseException as error:  # handed to the page
                job.error = error
            finally:
                job.finished = True
                job.changed.set()
                if job.cancel.is_set():  # the page has gone: nobody will collect the files
                    shutil.rmtree(job.folder, ignore_errors=True)


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


def _zip_folder(folder: Path, archive: Path) -> None:
    # PNGs are compressed already: stored, not deflated.
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):  # a montage's parts are in part_1/, part_2/, …
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
