"""Jobs files for the batch tests, and `zoomout make`'s own videos to compare them with."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from zoomout.engines import Engine
from zoomout.options import build_request, key_spelling
from zoomout.pipeline import make_video
from zoomout.container import hash_streams

EXAMPLE_CAT = Path(__file__).resolve().parents[1] / "examples" / "cat.png"
TINY_JOB = {"size": "96x160", "slots": 2, "seconds_per_slot": 0.5, "fps": 24, "hold": 0.25, "engine": "classic"}


def write_photos(folder: Path, count: int) -> list[str]:
    """`count` different small JPEGs cut from the bundled cat, in `folder`; their names."""
    cat = Image.open(EXAMPLE_CAT).convert("RGB")
    names = []
    for i in range(count):
        name = f"photo {i}.jpg"
        cat.crop((40 * i, 10 * i, 300 + 40 * i, 190 + 10 * i)).resize((150, 100)).save(folder / name, quality=92)
        names.append(name)
    return names


def write_jobs(path: Path, lines: list[dict | str]) -> Path:
    """A jobs file of `lines` (a dict is written as JSON, a string as it is)."""
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def make_reference(job: dict, jobs_dir: Path, output: Path) -> dict:
    """The packet hashes of the video `zoomout make` makes for `job` (its photos relative to `jobs_dir`)."""
    given = {key: value for key, value in job.items() if key not in ("photos", "output")}
    request = build_request(job["photos"], {**given, "output": output, "cache": False}, spell=key_spelling, base=jobs_dir)
    make_video(**request.make_video_arguments())
    return hash_streams(output)


def ray_env(engine: type[Engine] | None = None, **env_vars: str) -> dict[str, Any]:
    """A Ray `runtime_env`: the workers import what this process imports (tests, benches) and register `engine`.

    This process registers it on its own (e.g. with monkeypatch), to check the jobs that name it.
    """

    def register() -> None:  # sent by value: it imports the workers' own registry
        from zoomout.engines import ENGINES

        ENGINES[engine.name] = engine

    env: dict[str, Any] = {"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path), **env_vars}}
    return env | ({"worker_process_setup_hook": register} if engine else {})
