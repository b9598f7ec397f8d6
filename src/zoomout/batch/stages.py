"""The two stages of a batch on Ray, streamed one into the other within each job.

- `OutpaintWorker` (an actor) keeps its engine loaded between jobs, so a model loads once per
  worker, and outpaints each job's chains (step 3 of `make_video`). It streams to the driver
  (a Ray generator) the engine's record, each slot as soon as it is made, the chains' end,
  and last a small `Outpainted`.
- `render_job` (a CPU task), started as soon as a worker begins the job, makes the sound,
  renders and encodes each frame once the slots it draws are posted (`post`), and publishes
  the video with its manifest (steps 4–6), at the destination or uploaded to it. It returns
  a small `Rendered`.

Both run exactly the steps of `make_video`, so a batch video equals `zoomout make`'s packet
for packet. Faults are Ray's to handle: the driver sets `max_restarts`/`max_task_retries` on
the actors and `max_retries` on the tasks, so a job whose worker or node dies is run again on
another one, and slots lost with a node are made again. A job's own error (a ZoomoutError,
or any exception) is not retried: it comes back as a one-line `error`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import ray
from ray.actor import ActorHandle

from ..cache import default_cache_dir
from ..engines import Engine, create_engine
from ..errors import ZoomoutError
from ..pipeline import RunPlan, finish_video, outpaint_chains
from ..manifest import EngineRecord, sidecar_path
from ..resources import check_disk_space
from ..progress import ProgressEvent
from ..sound import make_soundtrack
from ..stream import Outpainting
from .destination import Destination
from .jobs import BatchJob
from .post import ChainsEnd, PostedSlots


@dataclass(frozen=True)
class Outpainted:
    """What the outpaint stage tells the driver about one job, after its slots.

    Attributes
    ----------
    line : int
    node, host : str
        Ray node ID and IP address of the worker.
    engine : EngineRecord or None
        The engine's name and manifest record (None when the job failed before loading it).
    load_s, outpaint_s : float
        Model load (0 when the worker had it loaded) and outpainting, wall seconds.
    ended_at : float
        When the outpainting ended, in seconds since the epoch (the worker's clock).
    error : str or None
        One line, when the job failed.
    """

    line: int
    node: str
    host: str
    engine: EngineRecord | None = None
    load_s: float = 0.0
    outpaint_s: float = 0.0
    ended_at: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class Rendered:
    """What the render stage tells the driver about one job.

    Attributes
    ----------
    node, host : str
        Ray node ID and IP address of the render task.
    started_at : float
        When the task started, in seconds since the epoch (the render node's clock).
    render_s, render_cpu_s : float
        Wall seconds from the task's start (waits for slots not made yet included) to the
        published video, and CPU seconds of the task's process (all its threads).
    error : str or None
        One line, when the job failed.
    """

    node: str
    host: str
    started_at: float
    render_s: float
    render_cpu_s: float
    error: str | None = None


@ray.remote
class OutpaintWorker:
    """Outpaints jobs one after the other with the engine it keeps loaded.

    It keeps one engine: a job with another engine or other engine options replaces it (two
    diffusion models at once could fill a GPU).
    """

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._engine_key: tuple[str, str] | None = None

    @ray.method(num_returns="streaming")
    def outpaint(
        self, line: int, run: RunPlan, post: ActorHandle
    ) -> Iterator[EngineRecord | ProgressEvent | ChainsEnd | Outpainted]:
        """Step 3 of `make_video` for the job on `line`, streamed as it goes.

        Yields the engine's `EngineRecord` once it is loaded, each slot's "chain" event as
        soon as the slot is made (also counted on `post`, a `SlotPost`, for the progress
        bar), the `ChainsEnd`, then an `Outpainted`. A job's own error ends the stream with an
        `Outpainted` that says it.
        """
        node, host = _where()
        start = time.perf_counter()
        load_s = 0.0
        try:
            key = (run.config.engine, repr(run.config.engine_options))
            if key != self._engine_key:
                self._engine = self._engine_key = None  # the old model goes before the new one loads
                self._engine = create_engine(run.config.engine, run.config.engine_options)
                self._engine_key = key
                load_s = time.perf_counter() - start
            engine = self._engine
            record = EngineRecord.of(engine)
            yield record
            if run.cache_root is not None:  # this node's slot cache, not the path the driver resolved
                run = replace(run, cache_root=default_cache_dir())
            # the engine works in a thread, as in `zoomout make`: each slot is yielded as soon as it is made
            with Outpainting(lambda report: outpaint_chains(run, engine, progress=report)) as outpainting:
                while (event := outpainting.take(block=True)) is not None:
                    post.count.remote(line, event.done, node)
                    yield event
            yield ChainsEnd.of(*outpainting.result())
        except Exception as error:  # the job's own fault: reported, not retried
            yield Outpainted(line, node, host, error=one_line(error))
            return
        seconds = time.perf_counter() - start - load_s
        yield Outpainted(line, node, host, record, load_s, seconds, time.time())


@ray.remote
def render_job(job: BatchJob, run: RunPlan, engine: EngineRecord, post: ActorHandle, destination: Destination) -> Rendered:
    """Steps 4–6 of `make_video` for `job` from its slots as they are posted on `post`: sound, render + encode, publish."""
    node, host = _where()
    started_at, start, cpu_start = time.time(), time.perf_counter(), time.process_time()
    slots = PostedSlots(post, job.line)
    error = None
    try:
        if destination.local is not None:
            _make_video_file(run, engine, slots)
        else:
            _make_and_upload(job, run, engine, slots, destination)
    except Exception as failure:
        for _, name in job.outputs:
            destination.remove_leftovers(name)
        error = one_line(failure)
    return Rendered(node, host, started_at, time.perf_counter() - start, time.process_time() - cpu_start, error)


def _make_video_file(run: RunPlan, engine: EngineRecord, slots: PostedSlots) -> None:
    """Steps 4–6 into `run.output`, which this node sees."""
    check_disk_space(run.output.parent, run.disk_needed_bytes)  # this node's view of the folder
    audio = make_soundtrack(run.config, run.plan, run.timeline.track)
    finish_video(run, engine, slots, audio)


def _make_and_upload(
    job: BatchJob, run: RunPlan, engine: EngineRecord, slots: PostedSlots, destination: Destination
) -> None:
    """Steps 4–6 in a temporary folder of this node, then every file uploaded: slots and sheet, video, sidecar."""
    with tempfile.TemporaryDirectory(prefix="zoomout-batch-") as folder:
        stage = Path(folder)
        local = {key: stage / name for key, name in job.outputs}
        for path in local.values():
            path.parent.mkdir(parents=True, exist_ok=True)
        run = replace(run, output=local["output"], save_slots_to=local.get("save_slots"),
                      contact_sheet=local.get("contact_sheet"))  # fmt: skip
        _make_video_file(run, engine, slots)
        video, sidecar = run.output, sidecar_path(run.output)
        made = sorted(path for path in stage.rglob("*") if path.is_file())
        order = [path for path in made if path not in (video, sidecar)] + [video, sidecar]
        for _, name in job.outputs:
            destination.remove_leftovers(name)
        destination.upload((path, path.relative_to(stage).as_posix()) for path in order)


def one_line(error: BaseException) -> str:
    """A ZoomoutError's message; any other error with its type. Always one line."""
    text = str(error) if isinstance(error, ZoomoutError) else f"{type(error).__name__}: {error}"
    return " ".join(text.split()) or type(error).__name__


def _where() -> tuple[str, str]:
    context = ray.get_runtime_context()
    return context.get_node_id(), ray.util.get_node_ip_address()
