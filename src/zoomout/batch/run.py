"""`run_batch`: every line checked, then the two stages streamed on Ray, then the report.

The driver (this process) checks and plans every job before any work, as `zoomout make`
would (photos loaded, options, engine, outputs), skips the videos already made the same way,
then makes them on Ray (`driver`): each job's render task starts as soon as its outpaint
worker begins it and takes each slot as it is made, so a job's frames are rendered and
encoded while its later slots are outpainted, as in `zoomout make`, and outpainting never
waits on encoding.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ZoomoutError
from ..pipeline import plan_run
from .destination import Destination
from .jobs import BatchJob, read_jobs
from .report import REPORT_NAME, BatchProgress, BatchResult, JobReport, report_text
from .resume import made_before

BATCH_EXTRA_HINT = "zoomout batch needs Ray: pip install 'zoomout[batch]'"


@dataclass(frozen=True)
class BatchSettings:
    """How a batch uses the cluster.

    Attributes
    ----------
    outpaint_workers : int
        Outpaint actors, each keeping its engine (model) loaded; each takes 1 CPU.
    gpus_per_outpaint : float
        GPUs each outpaint actor takes (Ray's `num_gpus`; fractions share a GPU).
    outpaint_resources : tuple of (str, float)
        Custom Ray resources each outpaint actor takes (e.g. a node label such as `("a100", 1)`).
    render_workers : int or None
        Render tasks at once, 1 CPU each; None: the cluster's CPUs left by the outpaint workers.
    retries : int
        How often Ray restarts a lost outpaint worker and reruns a lost job on each stage.
    force : bool
        Make every video again, even those already made the same way.
    """

    outpaint_workers: int = 1
    gpus_per_outpaint: float = 0.0
    outpaint_resources: tuple[tuple[str, float], ...] = ()
    render_workers: int | None = None
    retries: int = 3
    force: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.outpaint_workers, int) or self.outpaint_workers < 1:
            raise ConfigError(f"outpaint_workers should be at least 1 but is {self.outpaint_workers!r}")
        if not math.isfinite(self.gpus_per_outpaint) or self.gpus_per_outpaint < 0:
            raise ConfigError(f"gpus_per_outpaint should be 0 or more but is {self.gpus_per_outpaint!r}")
        if self.render_workers is not None and (not isinstance(self.render_workers, int) or self.render_workers < 1):
            raise ConfigError(f"render_workers should be at least 1 but is {self.render_workers!r}")
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigError(f"retries should be 0 or more but is {self.retries!r}")
        for name, amount in self.outpaint_resources:
            if not name or not math.isfinite(amount) or amount <= 0:
                raise ConfigError(f"outpaint_resources should be positive amounts but {name!r} is {amount!r}")


def parse_resource(text: str) -> tuple[str, float]:
    """`NAME=AMOUNT` (or `NAME`, amount 1) as a custom Ray resource; ConfigError otherwise."""
    name, _, amount = text.partition("=")
    try:
        value = float(amount) if amount else 1.0
    except ValueError:
        value = math.nan
    if not name.strip() or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"outpaint_resource should be NAME or NAME=AMOUNT (a positive number) but is {text!r}")
    return name.strip(), value


@dataclass(frozen=True)
class Planned:
    """A checked job to make: its slots for the report and for the progress bar."""

    job: BatchJob
    slots: int  # slot 0 included, as the report counts them
    outpainted_slots: int  # as progress counts them


def run_batch(
    jobs_file: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    ray_address: str | None = None,
    settings: BatchSettings = BatchSettings(),
    progress: Callable[[BatchProgress], None] | None = None,
) -> BatchResult:
    """Make every video of a jobs file on Ray; the report goes to `out/batch-report.jsonl`.

    Parameters
    ----------
    jobs_file : path
        JSON Lines, one `zoomout make` per line (see `zoomout.batch.jobs`).
    out : path or fsspec URL
        The output folder: a path every node sees, or a URL (`s3://…`, `file://…`).
    ray_address : str, optional
        A running cluster to join (`ray start --head` prints it). None: a Ray already
        initialised in this process, else a new local one on this machine's cores.
    settings : BatchSettings
    progress : callable, optional
        Called with a `BatchProgress` whenever a job finishes or a slot is made.

    Returns
    -------
    BatchResult
        Every job's report by line; `ok` when each was done or skipped.

    Raises
    ------
    ZoomoutError
        Only for the batch as a whole: Ray missing, the jobs file unreadable, the output
        folder unusable, a cluster with no node for an outpaint worker. A bad line or a failed
        job is reported and the others still run.
    """
    if importlib.util.find_spec("ray") is None:
        raise ZoomoutError(BATCH_EXTRA_HINT)
    destination = Destination(out)
    destination.prepare()
    with _plan_root(destination) as plan_root:
        # 1. Check every line (options, photos, engine, outputs) and skip the videos made before
        jobs, bad_lines = read_jobs(Path(jobs_file), plan_root)
        reports = [JobReport(bad.line, bad.output, "failed", error=bad.error) for bad in bad_lines]
        todo: list[Planned] = []
        choices: dict[str, int] = {}
        for job in jobs:
            try:
                run = plan_run(**job.request.make_video_arguments())
            except ZoomoutError as error:
                reports.append(JobReport(job.line, job.output, "failed", error=str(error)))
                continue
            if run.engine_choice:
                choices[run.engine_choice] = choices.get(run.engine_choice, 0) + 1
            if not settings.force and made_before(destination, job, run):
                reports.append(JobReport(job.line, job.output, "skipped", engine=run.config.engine, slots=run.total_slots))
            else:
                todo.append(Planned(job, run.total_slots, run.outpainted_slots))
            del run  # its photos are loaded again when the job starts: the driver holds one job's pixels at a time
        tally = Tally(progress, len(jobs) + len(bad_lines), len(reports), {p.job.line: p.outpainted_slots for p in todo})
        tally.emit()

        # 2. Outpaint and render on Ray, each job's slots streamed from one stage to the other
        if todo:
            from .driver import run_stages  # Ray is imported only for a batch with work to do

            with ray_connection(ray_address):
                _check_cluster(settings)
                reports += run_stages(todo, destination, settings, tally)

    # 3. The report, beside the videos
    notes = tuple(
        f"{choice} (for {count} job(s), decided where zoomout batch runs; give \"engine\" in the jobs file to choose)"
        for choice, count in choices.items()
    )  # fmt: skip
    result = BatchResult(sorted(reports, key=lambda r: r.line), destination.url(REPORT_NAME), notes)
    destination.write_text(REPORT_NAME, report_text(result.reports))
    return result


@contextmanager
def ray_connection(address: str | None) -> Iterator[None]:
    """Ray for the batch: the one this process has initialised, the cluster at `address`, or a new local one."""
    import ray

    if ray.is_initialized() and address is None:
        yield
        return
    local = dict(include_dashboard=False) if address is None else {}
    try:
        ray.init(address=address or "local", logging_level=logging.WARNING, **local)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise ZoomoutError(f"--ray {address}: cannot join the Ray cluster ({' '.join(str(error).split())})") from None
    try:
        yield
    finally:
        ray.shutdown()


class Tally:
    """The counts behind the progress bars: jobs finished, and slots made of the jobs being made."""

    def __init__(self, callback: Callable[[BatchProgress], None] | None, jobs: int, finished: int, slots: dict[int, int]) -> None:
        self._callback = callback
        self.jobs_total, self.jobs_done = jobs, finished
        self._slots_of = dict(slots)  # line → slots of the job
        self._made: dict[int, int] = {}  # line → slots made so far (the latest count: a retried job starts again)

    def emit(self, **what: Any) -> None:
        if self._callback:
            slots_total = sum(self._slots_of.values())
            slots_done = sum(min(self._made.get(line, 0), n) for line, n in self._slots_of.items())
            self._callback(BatchProgress(self.jobs_done, self.jobs_total, slots_done, slots_total, **what))

    def slot(self, line: int, made: int, node: str) -> None:
        self._made[line] = made
        self.emit(slot_line=line, slot_node=node)

    def outpainted(self, line: int) -> None:
        self._made[line] = self._slots_of[line]

    def finish(self, report: JobReport) -> None:
        self.jobs_done += 1
        if report.status == "failed":  # its slots will never be made: out of the count
            self._slots_of.pop(report.line, None)
        self.emit(finished=report)


def _check_cluster(settings: BatchSettings) -> None:
    """Refuse a batch whose outpaint worker fits on no node of the cluster (it would wait forever)."""
    import ray

    needs = {"CPU": 1.0, **({"GPU": settings.gpus_per_outpaint} if settings.gpus_per_outpaint else {}),
             **dict(settings.outpaint_resources)}  # fmt: skip
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    if not any(all(have.get(name, 0) >= amount for name, amount in needs.items()) for have in nodes):
        wanted = ", ".join(f"{name} {amount:g}" for name, amount in needs.items())
        offered = "; ".join(
            ", ".join(f"{k} {v:g}" for k, v in sorted(have.items()) if not k.startswith("node:") and "memory" not in k)
            for have in nodes
        )  # fmt: skip
        raise ConfigError(f"no node of the Ray cluster can host an outpaint worker ({wanted}); the nodes have: {offered}")


@contextmanager
def _plan_root(destination: Destination) -> Iterator[Path]:
    """A local folder standing for the output folder while jobs are checked: itself when it is a path."""
    if destination.local is not None:
        yield destination.local
        return
    with tempfile.TemporaryDirectory(prefix="zoomout-batch-plan-") as folder:
        yield Path(folder)
