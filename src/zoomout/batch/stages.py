"""The two stages of a batch on Ray, and the tally of slots made.

- `OutpaintWorker` (an actor) keeps its engine loaded between jobs, so a model loads once per
  worker, and outpaints each job's chains (step 3 of `make_video`). It returns a small
  `Outpainted` for the driver and, as a second object, the slots, which stay in the object
  store until a render task takes them.
- `render_job` (a CPU task) makes the sound, renders, encodes and publishes the video with its
  manifest (steps 4–6), at the destination or uploaded to it.

Both run exactly the steps of `make_video`, so a batch video equals `zoomout make`'s packet
for packet. Faults are Ray's to handle: the driver sets `max_restarts`/`max_task_retries` on
the actors and `max_retries` on the tasks, so a job whose worker or node dies is run again on
another one. A job's own error (a ZoomoutError, or any exception) is not retried: it comes
back as a one-line `error`.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ray

from ..cache import default_cache_dir
from ..chain import SlotStack
from ..engines import Engine, create_engine
from ..errors import ZoomoutError
from ..pipeline import RunPlan, finish_video, outpaint_chains
from ..manifest import EngineRecord, sidecar_path
from ..resources import check_disk_space
from ..sound import make_soundtrack
from ..stream import MadeSlots
from .destination import Destination
from .jobs import BatchJob
from .report import JobReport


@dataclass(frozen=True)
class Outpainted:
    """What the outpaint stage tells the driver about one job; the slots travel as their own object.

    Attributes
    ----------
    line : int
    node, host : str
        Ray node ID and IP address of the worker.
    engine : EngineRecord or None
        The engine's name and manifest record (None when the job failed before loading it).
    load_s, outpaint_s : float
        Model load (0 when the worker had it loaded) and outpainting, wall seconds.
    error : str or None
        One line, when the job failed.
    """

    line: int
    node: str
    host: str
    engine: EngineRecord | None = None
    load_s: float = 0.0
    outpaint_s: float = 0.0
    error: str | None = None


@ray.remote
class SlotTally:
    """The latest slot count of every job being outpainted; the driver takes them for the progress bar."""

    def __init__(self) -> None:
        self._counts: dict[int, tuple[int, str]] = {}

    def report(self, line: int, done: int, node: str) -> None:
        self._counts[line] = (done, node)

    def take(self) -> dict[int, tuple[int, str]]:
        counts, self._counts = self._counts, {}
        return counts


@ray.remote
class OutpaintWorker:
    """Outpaints jobs one after the other with the engine it keeps loaded.

    It keeps one engine: a job with another engine or other engine options replaces it (two
    diffusion models at once could fill a GPU).
    """

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._engine_key: tuple[str, str] | None = None

    def where(self) -> tuple[str, str]:
        return _where()

    @ray.method(num_returns=2)
    def outpaint(self, line: int, run: RunPlan, tally: Any) -> tuple[Outpainted, list[SlotStack] | None]:
        """Step 3 of `make_video` for the job on `line`: (what happened, the slot chains or None).

        Each slot made is counted on `tally` (a `SlotTally`), for the progress bar.
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
            if run.cache_root is not None:  # this node's slot cache, not the path the driver resolved
                run = replace(run, cache_root=default_cache_dir())
            stacks, _ = outpaint_chains(
                run, self._engine, progress=lambda event: tally.report.remote(line, event.done, node)
            )
        except Exception as error:  # the job's own fault: reported, not retried
            return Outpainted(line, node, host, error=one_line(error)), None
        seconds = time.perf_counter() - start - load_s
        return Outpainted(line, node, host, EngineRecord.of(self._engine), load_s, seconds), stacks


@ray.remote
def render_job(
    job: BatchJob, run: RunPlan, outpainted: Outpainted, stacks: list[SlotStack], destination: Destination
) -> JobReport:
    """Steps 4–6 of `make_video` for `job`: sound, render + encode, publish at `destination`."""
    node, host = _where()
    start, cpu_start = time.perf_counter(), time.process_time()
    report = dict(
        line=job.line, output=job.output, engine=outpainted.engine.name if outpainted.engine else None,
        node={"outpaint": outpainted.node, "render": node}, host={"outpaint": outpainted.host, "render": host},
        slots=sum(len(stack.images) for stack in stacks), load_s=outpainted.load_s, outpaint_s=outpainted.outpaint_s,
    )  # fmt: skip
    try:
        if destination.local is not None:
            _make_video_file(run, outpainted.engine, stacks)
        else:
            _make_and_upload(job, run, outpainted.engine, stacks, destination)
    except Exception as error:
        for _, name in job.outputs:
            destination.remove_leftovers(name)
        status: dict[str, Any] = dict(status="failed", error=one_line(error))
    else:
        status = dict(status="done")
    render_s = time.perf_counter() - start
    return JobReport(
        **report, **status, seconds=outpainted.load_s + outpainted.outpaint_s + render_s, render_s=render_s,
        render_cpu_s=time.process_time() - cpu_start,
    )  # fmt: skip


def _make_video_file(run: RunPlan, engine: EngineRecord | None, stacks: list[SlotStack]) -> None:
    """Steps 4–6 into `run.output`, which this node sees."""
    assert engine is not None
    check_disk_space(run.output.parent, run.disk_needed_bytes)  # this node's view of the folder
    audio = make_soundtrack(run.config, run.plan, run.timeline.track)
    finish_video(run, engine, MadeSlots(stacks), audio)


def _make_and_upload(
    job: BatchJob, run: RunPlan, engine: EngineRecord | None, stacks: list[SlotStack], destination: Destination
) -> None:
    """Steps 4–6 in a temporary folder of this node, then every file uploaded: slots and sheet, video, sidecar."""
    with tempfile.TemporaryDirectory(prefix="zoomout-batch-") as folder:
        stage = Path(folder)
        local = {key: stage / name for key, name in job.outputs}
        for path in local.values():
            path.parent.mkdir(parents=True, exist_ok=True)
        run = replace(run, output=local["output"], save_slots_to=local.get("save_slots"),
                      contact_sheet=local.get("contact_sheet"))  # fmt: skip
        _make_video_file(run, engine, stacks)
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
