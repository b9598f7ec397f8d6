"""The driver's loop of a batch on Ray: the jobs go to the outpaint workers, and each job's
render task starts as soon as its worker begins it.

Per job, the worker streams each slot to the driver as soon as it is made; the driver posts
each slot's reference on the batch's `SlotPost`, where the render task takes it as its frames
need it (`post`). So a job's frames are rendered and encoded while its later slots are
outpainted, and a worker goes on to its next job while the render of the last one finishes.
A job is reported once both of its stages have ended. The driver holds small records and
references only: the slots go from a worker to a render task through Ray's object store.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from ..errors import ZoomoutError
from ..manifest import EngineRecord
from ..pipeline import plan_run
from .destination import Destination
from .post import SlotPost
from .report import JobReport
from .stages import OutpaintWorker, Outpainted, Rendered, one_line, render_job

if TYPE_CHECKING:
    from .run import BatchSettings, Planned, Tally

JOBS_PER_WORKER = 2  # one outpainting, one queued behind it, so a worker never waits on the driver
POLL_S = 0.25  # how often the slot counts are read (the loop also wakes for each slot and each stage's end)


def run_stages(todo: list[Planned], destination: Destination, settings: BatchSettings, tally: Tally) -> list[JobReport]:
    """Make the videos of `todo` on the Ray this process is connected to; their reports."""
    stages = _Stages(todo, destination, settings, tally)
    try:
        while stages.waiting or stages.jobs:
            stages.step()
    finally:
        stages.stop()
    return stages.reports


@dataclass
class _Job:
    """A job given to an outpaint worker, until both of its stages have ended."""

    planned: Planned
    worker: int
    run_ref: Any
    items: int = 0  # taken from its worker's stream so far
    last: Any = None  # the latest of them: at the stream's end, the `Outpainted`
    engine: EngineRecord | None = None  # the first of them, once its worker has begun it
    render_ref: Any = None
    outpainted: Outpainted | None = None
    rendered: Rendered | None = None

    @property
    def line(self) -> int:
        return self.planned.job.line

    @property
    def ended(self) -> bool:
        """Both stages ended; or the outpainting failed before a render task started."""
        if self.outpainted is None:
            return False
        return self.rendered is not None or (self.outpainted.error is not None and self.render_ref is None)

    def report(self) -> JobReport:
        job, outpainted, rendered = self.planned.job, self.outpainted, self.rendered
        assert outpainted is not None
        error = outpainted.error or (rendered.error if rendered else None)  # a render stopped by a failed outpainting says less
        if error is not None or rendered is None:
            return JobReport(job.line, job.output, "failed", error=error, slots=self.planned.slots)
        assert outpainted.engine is not None
        overlap_s = max(0.0, outpainted.ended_at - rendered.started_at)  # the render ran alongside the outpainting
        return JobReport(
            job.line, job.output, "done", seconds=outpainted.load_s + outpainted.outpaint_s + rendered.render_s - overlap_s,
            engine=outpainted.engine.name, node={"outpaint": outpainted.node, "render": rendered.node},
            host={"outpaint": outpainted.host, "render": rendered.host}, slots=self.planned.slots,
            load_s=outpainted.load_s, outpaint_s=outpainted.outpaint_s, render_s=rendered.render_s,
            render_cpu_s=rendered.render_cpu_s,
        )  # fmt: skip


class _Stages:
    """The workers, the post, the jobs in flight and what has ended."""

    def __init__(self, todo: list[Planned], destination: Destination, settings: BatchSettings, tally: Tally) -> None:
        self.destination, self.tally = destination, tally
        here = ray.get_runtime_context().get_node_id()
        self.post = SlotPost.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote()
        self.workers = [
            OutpaintWorker.options(
                num_cpus=1, num_gpus=settings.gpus_per_outpaint, resources=dict(settings.outpaint_resources),
                max_restarts=settings.retries, max_task_retries=settings.retries,
            ).remote()
            for _ in range(min(settings.outpaint_workers, len(todo)))
        ]  # fmt: skip
        self.load = [0] * len(self.workers)  # jobs given to each worker and not outpainted yet
        self.render = render_job.options(num_cpus=1, max_retries=settings.retries)
        self.spare_cpus = int(ray.cluster_resources().get("CPU", 0)) - len(self.workers)
        self.render_slots = settings.render_workers or max(1, self.spare_cpus)
        self.backlog = 2 * self.render_slots + len(self.workers)  # begun jobs waiting for a render task, at most
        self.waiting = deque(todo)
        self.jobs: dict[int, _Job] = {}  # line → job, from its worker to its report
        self.outpainting: dict[Any, int] = {}  # a worker's stream (ObjectRefGenerator) → line
        self.rendering: dict[Any, int] = {}  # render ref → line
        self.begun: deque[int] = deque()  # lines whose worker has begun them, waiting for a render task
        self.counts_due = 0.0  # when the slot counts are read next (time.monotonic)
        self.reports: list[JobReport] = []

    def step(self) -> None:
        # 1. Give jobs to the workers; start a render task for each job a worker has begun
        self._give_jobs()
        while self.begun and len(self.rendering) < self.render_slots:
            job = self.jobs[self.begun.popleft()]
            job.render_ref = self.render.remote(job.planned.job, job.run_ref, job.engine, self.post, self.destination)
            self.rendering[job.render_ref] = job.line
        if self.workers and self.spare_cpus < 1 and not self.waiting and not self.outpainting:
            for worker in self.workers:  # they hold every CPU: the render tasks need them now (the driver owns the slots)
                ray.kill(worker)
            self.workers, self.load = [], []

        # 2. Wait for a slot or a stage's end (or POLL_S); every POLL_S, the slot counts for the progress bar
        in_flight = [*self.outpainting, *self.rendering]
        ready = ray.wait(in_flight, num_returns=1, timeout=POLL_S)[0] if in_flight else []
        if ready:
            ready, _ = ray.wait(in_flight, num_returns=len(in_flight), timeout=0)
        if time.monotonic() >= self.counts_due:
            self.counts_due = time.monotonic() + POLL_S
            for line, (done, node) in sorted(ray.get(self.post.counts.remote()).items()):
                if line in self.jobs:  # not a count that came after the job was reported
                    self.tally.slot(line, done, node)

        # 3. Post the slots that came; the stages that ended; the jobs that ended
        for ready_one in ready:
            if ready_one in self.outpainting:
                self._take_slots(ready_one)
            else:
                self._rendering_ended(ready_one)
        for job in [job for job in self.jobs.values() if job.ended]:
            del self.jobs[job.line]
            self.post.forget.remote(job.line)
            self._finish(job.planned, job.report())

    def stop(self) -> None:
        for actor in (*self.workers, self.post):
            ray.kill(actor)

    def _give_jobs(self) -> None:
        for index, worker in enumerate(self.workers):
            while self.load[index] < JOBS_PER_WORKER and self.waiting and len(self.begun) < self.backlog:
                planned = self.waiting.popleft()
                try:  # planned again (photos loaded) only now, so the driver holds a few jobs' pixels
                    run = plan_run(**planned.job.request.make_video_arguments())
                except ZoomoutError as error:  # a photo changed since the check
                    job = planned.job
                    self._finish(planned, JobReport(job.line, job.output, "failed", error=str(error), slots=planned.slots))
                    continue
                job = self.jobs[planned.job.line] = _Job(planned, index, ray.put(run))
                self.outpainting[worker.outpaint.remote(job.line, job.run_ref, self.post)] = job.line
                self.load[index] += 1

    def _take_slots(self, stream: Any) -> None:
        """Take what the worker's stream has made: its engine's record, then slots to post, until it ends."""
        job = self.jobs[self.outpainting[stream]]
        while ray.wait([stream], timeout=0)[0]:
            try:
                item = next(stream)
            except StopIteration:
                self._outpainting_ended(job, stream)
                return
            if job.items == 0:  # the engine's record (or the job's error): the render task can start
                job.engine = _fetch(item, EngineRecord)
                if job.engine is not None:
                    self.begun.append(job.line)
            else:  # a slot, the chains' end, or the worker's report: posted for the render task as it comes
                self.post.put.remote(job.line, job.items - 1, [item])
            job.items, job.last = job.items + 1, item

    def _outpainting_ended(self, job: _Job, stream: Any) -> None:
        del self.outpainting[stream]
        self.load[job.worker] -= 1
        try:
            job.outpainted = ray.get(job.last)
        except RayError as error:  # the worker was lost more often than it may restart
            job.outpainted = Outpainted(job.line, "", "", error=f"outpainting was lost: {one_line(error)}")
        if job.outpainted.error is None:
            self.tally.outpainted(job.line)
        elif job.render_ref is not None:  # its render task waits for slots that will not come
            self.post.close.remote(job.line, job.outpainted.error)
        elif job.line in self.begun:
            self.begun.remove(job.line)

    def _rendering_ended(self, ref: Any) -> None:
        job = self.jobs[self.rendering.pop(ref)]
        try:
            job.rendered = ray.get(ref)
        except RayError as error:  # lost more often than it may be retried
            job.rendered = Rendered("", "", 0.0, 0.0, 0.0, error=f"rendering was lost: {one_line(error)}")

    def _finish(self, planned: Planned, report: JobReport) -> None:
        if report.status == "failed":
            for _, name in planned.job.outputs:
                self.destination.remove_leftovers(name)
        self.reports.append(report)
        self.tally.finish(report)


def _fetch(ref: Any, kind: type) -> Any:
    """The small object behind `ref` if it is a `kind`; None if it is something else or was lost."""
    try:
        value = ray.get(ref)
    except RayError:
        return None
    return value if isinstance(value, kind) else None
