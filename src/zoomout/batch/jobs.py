"""A jobs file: one `zoomout make` per line, as JSON; every line checked before any work.

    {"photos": ["cat.jpg"], "output": "cat.mp4", "slots": 6, "size": "540x960", "seed": 3}

Options go under the long names of `zoomout make` with underscores (`seconds_per_slot`).
Photos and other input files (`sound`, `sign_cert`, a model folder) are relative to the jobs
file's folder; `output`, `save_slots` and `contact_sheet` are relative to the output folder
(`--out`), and stay inside it. `output` defaults to the first photo's name with `.mp4`.
A bad line is reported with its number and does not stop the other lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import JobsFileError, OutputError, ZoomoutError
from ..options import MakeRequest, build_request, key_spelling
from .destination import inside_name

OUTPUT_KEYS = ("output", "save_slots", "contact_sheet")  # paths inside the output folder
NOT_IN_JOBS = {"dry_run": "a command-line switch, not a job's option"}


@dataclass(frozen=True)
class BatchJob:
    """One well-formed line of a jobs file.

    Attributes
    ----------
    line : int
        Its line number, from 1.
    output : str
        The video's path inside the output folder, `/`-separated.
    request : MakeRequest
        The `zoomout make` request. Its output paths (video, slots folder, contact sheet) lie
        under the folder where the driver checks them (`plan_root` of `read_jobs`).
    outputs : tuple of (str, str)
        (option, path inside the output folder) of every output path the job asked for.
    """

    line: int
    output: str
    request: MakeRequest
    outputs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class BadLine:
    """A line that is not a job: its number, the output it named (if it got that far) and why, in one line."""

    line: int
    output: str | None
    error: str


def read_jobs(path: Path, plan_root: Path) -> tuple[list[BatchJob], list[BadLine]]:
    """The jobs of the file at `path`, and the lines that are not jobs.

    Parameters
    ----------
    path : Path
        A JSON Lines file: one object per line; blank lines are skipped.
    plan_root : Path
        A local folder standing for the output folder while jobs are checked and planned
        (the output folder itself when it is a path); the subfolders the outputs need are made there.

    Raises
    ------
    JobsFileError
        The file cannot be read or holds no line but blank ones.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JobsFileError(f"{path}: jobs file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise JobsFileError(f"{path}: cannot read the jobs file ({getattr(error, 'strerror', None) or error})") from None
    jobs: list[BatchJob] = []
    bad: list[BadLine] = []
    owners: dict[str, int] = {}  # output → the line that makes it
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        output = None
        try:
            fields = _parse_line(raw)
            output = inside_name(fields.pop("output", _default_output(fields.get("photos"))), "output")
            if output in owners:
                raise JobsFileError(f"output {output!r} is also made by line {owners[output]}")
            owners[output] = number
            jobs.append(_job(number, output, fields, base=path.parent, plan_root=plan_root))
        except ZoomoutError as error:
            bad.append(BadLine(number, output, str(error)))
    if not jobs and not bad:
        raise JobsFileError(f"{path}: no jobs in the file (one JSON object per line)")
    return jobs, bad


def _parse_line(raw: str) -> dict[str, Any]:
    try:
        fields = json.loads(raw)
    except json.JSONDecodeError as error:
        raise JobsFileError(f"not JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(fields, dict):
        raise JobsFileError(f"should be a JSON object such as {{\"photos\": [\"a.jpg\"]}} but is {type(fields).__name__}")
    photos = fields.get("photos")
    if isinstance(photos, str):
        fields["photos"] = [photos]
    elif not isinstance(photos, list) or not photos or not all(isinstance(p, str) and p for p in photos):
        raise JobsFileError(f"'photos' should be a list of photo files but is {photos!r}")
    for key, why in NOT_IN_JOBS.items():
        if key in fields:
            raise JobsFileError(f"{key!r} is {why}")
    return fields


def _default_output(photos: list[str]) -> str:
    return PurePosixPath(photos[0].replace("\\", "/")).with_suffix(".mp4").name


def _job(number: int, output: str, fields: dict[str, Any], *, base: Path, plan_root: Path) -> BatchJob:
    photos = fields.pop("photos")
    outputs = [("output", output)]
    for key in OUTPUT_KEYS[1:]:
        if fields.get(key) is not None:
            outputs.append((key, inside_name(fields[key], key)))
    for key, name in outputs:
        try:
            (plan_root / name).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{key!r} {name!r}: cannot make its folder ({error.strerror or error})") from None
        fields[key] = plan_root / name
    request = build_request(photos, fields, spell=key_spelling, base=base)
    return BatchJob(line=number, output=output, request=request, outputs=tuple(outputs))
