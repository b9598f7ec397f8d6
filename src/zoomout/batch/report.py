"""What a batch did: one report per job (`batch-report.jsonl`), progress counts, and the summary line."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

REPORT_NAME = "batch-report.jsonl"
Status = Literal["done", "failed", "skipped"]


@dataclass(frozen=True)
class JobReport:
    """One line of `batch-report.jsonl`.

    Attributes
    ----------
    line : int
        The job's line in the jobs file.
    output : str or None
        The video's path inside the output folder (None: the line did not get as far as naming it).
    status : "done", "failed" or "skipped"
        skipped: the output was already there, made with the same options from the same photos.
    error : str or None
        One line naming the photo or option at fault (failed only).
    seconds : float
        Wall seconds the job's stages worked on it: from its outpainting's start (model load
        included) to its published video, the two stages overlapping; not the time it waited
        for a worker.
    engine : str or None
    node : dict or None
        Ray node ID of each stage: {"outpaint": id, "render": id}.
    host : dict or None
        The IP address of those nodes.
    slots : int
        Slots of the video (every chain's, slot 0 included).
    load_s, outpaint_s, render_s : float or None
        Model load (first job of a worker only), outpainting, and the render task (sound,
        render + encode, publish), in wall seconds. The render task starts as the worker
        begins the job, so `render_s` includes its waits for slots not made yet.
    render_cpu_s : float or None
        CPU seconds of the render process for render + encode + publish (all its threads).
    """

    line: int
    output: str | None
    status: Status
    error: str | None = None
    seconds: float = 0.0
    engine: str | None = None
    node: dict[str, str] | None = None
    host: dict[str, str] | None = None
    slots: int = 0
    load_s: float | None = None
    outpaint_s: float | None = None
    render_s: float | None = None
    render_cpu_s: float | None = None

    def to_json(self) -> str:
        record = dataclasses.asdict(self)
        for key in ("seconds", "load_s", "outpaint_s", "render_s", "render_cpu_s"):
            if record[key] is not None:
                record[key] = round(record[key], 3)
        return json.dumps(record, ensure_ascii=False)


@dataclass(frozen=True)
class BatchProgress:
    """Where a batch stands, sent to the progress callback whenever a count changes.

    `finished` is the job that has just finished (done, failed or skipped), if any; `slot_line`
    and `slot_node` the job that has just made a slot, and the node it was made on.
    """

    jobs_done: int
    jobs_total: int
    slots_done: int
    slots_total: int
    finished: JobReport | None = None
    slot_line: int | None = None
    slot_node: str | None = None


@dataclass(frozen=True)
class BatchResult:
    """Every job's report (by line), where the report file is, and what the user should know."""

    reports: list[JobReport]
    report_location: str
    notes: tuple[str, ...] = field(default=())

    def count(self, status: Status) -> int:
        return sum(report.status == status for report in self.reports)

    @property
    def failed(self) -> list[JobReport]:
        return [report for report in self.reports if report.status == "failed"]

    @property
    def ok(self) -> bool:
        """Every job done or skipped."""
        return not self.failed

    def summary(self) -> str:
        """One line: the counts, and each failure by line and output."""
        counts = f"{self.count('done')} done, {self.count('skipped')} skipped, {self.count('failed')} failed"
        if self.ok:
            return f"batch: {counts}; report in {self.report_location}"
        failures = "; ".join(describe_failure(report) for report in self.failed)
        return f"batch: {counts} ({failures}); report in {self.report_location}"


def describe_failure(report: JobReport) -> str:
    """`line 3 (b.mp4): b.jpg: not an image …`"""
    where = f"line {report.line}" + (f" ({report.output})" if report.output else "")
    return f"{where}: {report.error or 'failed'}"


def report_text(reports: Sequence[JobReport]) -> str:
    return "".join(report.to_json() + "\n" for report in sorted(reports, key=lambda r: r.line))
