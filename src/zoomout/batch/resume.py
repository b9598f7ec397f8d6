"""Resume: a job whose video is already at the destination, made the same way, is skipped."""

from __future__ import annotations

import json

from ..pipeline import RunPlan
from ..manifest import config_record, sidecar_path
from .destination import Destination
from .jobs import BatchJob


def made_before(destination: Destination, job: BatchJob, run: RunPlan) -> bool:
    """Whether `job`'s video is at `destination` with a sidecar manifest of the same options and photos.

    Same options: the manifest's config equals the run's (engine and its options, timing,
    size, seed, sound, label, …); same photos: the same SHA-256 in the same order. A video
    without its sidecar (a run killed between the two) is made again.
    """
    if not destination.exists(job.output):
        return False
    text = destination.read_text(sidecar_path(job.output).as_posix())
    try:
        manifest = json.loads(text) if text else None
    except ValueError:
        return False
    if not isinstance(manifest, dict):
        return False
    # through JSON, as the sidecar went: tuples become lists
    same_config = manifest.get("config") == json.loads(json.dumps(config_record(run.config)))
    inputs = manifest.get("inputs")
    hashes = [entry.get("sha256") for entry in inputs if isinstance(entry, dict)] if isinstance(inputs, list) else None
    return same_config and hashes == [photo.sha256 for photo in run.photos]
