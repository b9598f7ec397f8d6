"""`zoomout batch`: many videos from a jobs file, on one machine or a Ray cluster.

Needs the `batch` extra (Ray); everything here imports Ray only when a batch runs.
"""

from .destination import Destination
from .jobs import BadLine, BatchJob, read_jobs
from .report import REPORT_NAME, BatchProgress, BatchResult, JobReport, describe_failure
from .run import BatchSettings, parse_resource, run_batch

__all__ = [
    "REPORT_NAME", "BadLine", "BatchJob", "BatchProgress", "BatchResult", "BatchSettings", "Destination", "JobReport",
    "describe_failure", "parse_resource", "read_jobs", "run_batch",
]  # fmt: skip
