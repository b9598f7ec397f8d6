"""`zoomout inspect`: what a video says about itself, whether it changed since, and which pixels are invented."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .atomic import atomic_path
from .outputs import check_output_file
from .encode import EncodeSettings, Mp4Writer
from .errors import ProvenanceError
from .container import compare_streams, hash_streams, read_embedded_manifest, read_sidecar
from .credentials import Credentials, read_credentials
from .manifest import decode_masks, invented_shares, sidecar_path
from .frames import iter_video_frames
from .plan import Segment
from .render import ZoomRenderer

MASK_VIDEO_CRF = 12  # near-lossless, yet plays everywhere (crf 0 needs a High 4:4:4 decoder)


@dataclass(frozen=True)
class Inspection:
    """What `inspect_video` found.

    Attributes
    ----------
    manifest : dict or None
        The zoomout manifest: the embedded one, else the sidecar's.
    manifest_source : "embedded", "sidecar" or None
    streams_unchanged : bool or None
        Whether the file's video and audio packets still hash to the manifest's; None without a manifest.
    changes : list of str
        What differs, one line each.
    notes : list of str
        Other findings (a sidecar that disagrees with the embedded manifest, no credentials…).
    credentials : Credentials or None
        C2PA content credentials, None when the file has none (or c2pa-python is missing; see notes).
    """

    path: Path
    manifest: dict[str, Any] | None
    manifest_source: str | None
    streams: dict[str, dict[str, Any]]
    streams_unchanged: bool | None
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    credentials: Credentials | None = None

    @property
    def verdict(self) -> str:
        if self.manifest is None:
            return "no zoomout manifest: nothing says how this video was made"
        if self.streams_unchanged:
            return "unchanged since zoomout wrote it (video and audio streams match the manifest's SHA-256)"
        return "CHANGED since zoomout wrote it: " + "; ".join(self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "verdict": self.verdict,
            "manifest_source": self.manifest_source,
            "streams_unchanged": self.streams_unchanged,
            "changes": self.changes,
            "notes": self.notes,
            "streams": self.streams,
            "content_credentials": None if self.credentials is None else self.credentials.summary,
            "manifest": self.manifest,
        }


def inspect_video(
    path: str | os.PathLike[str], *, trust_anchors: str | os.PathLike[str] | None = None
) -> Inspection:
    """Read a video's zoomout manifest (embedded, else the sidecar), re-hash its streams, read its C2PA credentials."""
    path = Path(path)
    if not os.path.isfile(path):  # os.path: a name too long to look up is no such file, not an OSError
        raise ProvenanceError(f"{path}: no such file")
    embedded = read_embedded_manifest(path)
    beside = sidecar_path(path)  # longer than the video's name: it may be too long to look up when the video's is not
    sidecar = read_sidecar(beside) if os.path.isfile(beside) else None
    notes = []
    manifest, source = (embedded, "embedded") if embedded is not None else (sidecar, "sidecar" if sidecar else None)
    if embedded is None and sidecar is not None:
        notes.append(f"no manifest inside the video; read {beside.name}")
    if embedded is not None and sidecar is not None and embedded != sidecar:
        notes.append(f"{beside.name} differs from the manifest inside the video (the video's is shown)")
    streams = hash_streams(path)
    changes = compare_streams(manifest.get("streams", {}), streams) if manifest is not None else []
    credentials = None
    try:
        credentials = read_credentials(path, trust_anchors)
        if credentials is None:
            notes.append("no C2PA content credentials")
    except ProvenanceError as error:
        notes.append(str(error))
    return Inspection(
        path=path,
        manifest=manifest,
        manifest_source=source,
        streams=streams,
        streams_unchanged=None if manifest is None else not changes,
        changes=changes,
        notes=notes,
        credentials=credentials,
    )


def _add_row(table: Table, *cells: str | Text) -> None:
    """A table row whose text is shown as it is: a label or file name with [brackets] is no markup."""
    table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in cells))


def report(inspection: Inspection) -> Group:
    """The inspection as rich tables, for a terminal."""
    parts: list[Any] = []
    style = "green" if inspection.streams_unchanged else "bold red" if inspection.manifest else "yellow"
    parts.append(Text.assemble((f"{inspection.path}: ", "bold"), (inspection.verdict, style)))
    for note in inspection.notes:
        parts.append(Text(f"note: {note}", style="dim"))
    m = inspection.manifest
    if m is not None:
        about = Table(title=f"zoomout manifest ({inspection.manifest_source})", show_header=False, title_justify="left")
        about.add_column(style="bold")
        about.add_column()
        engine = m.get("engine", {})
        _add_row(about, "AI-generated", "yes" if m.get("ai_generated") else "no")
        _add_row(about, "made with", f"zoomout {m.get('zoomout_version')} on {m.get('created_utc')}")
        _add_row(about, "engine", f"{engine.get('name')} (revision {engine.get('revision') or '-'}), "
                      f"{'trained model' if engine.get('trained_model') else 'no trained model'}")
        for key, value in engine.get("model", {}).items():
            _add_row(about, f"  {key}", str(value))
        for photo in m.get("inputs", []):
            _add_row(about, "input photo", f"{photo['name']}  sha256 {photo['sha256']}")
        timeline = m.get("timeline", {})
        _add_row(about, "timeline", f"{timeline.get('frame_count')} frames at {timeline.get('fps')} fps, "
                      f"{timeline.get('duration_s', 0):.2f} s; slot changes at "
                      + ", ".join(f"{t:.2f}" for t in timeline.get("slot_change_times_s", [])) + " s")
        _add_row(about, "label", repr(m.get("label")) if m.get("label") else "none")
        for name, stream in m.get("streams", {}).items():
            _add_row(about, f"{name} stream", f"{stream['codec']}, {stream['packets']} packets, sha256 {stream['sha256']}")
        parts.append(about)
        inputs = m.get("inputs", [])
        for chain in m.get("chains", []):
            names = ", ".join(inputs[i]["name"] for i in chain.get("photos", []) if i < len(inputs))
            slots = Table("slot", "seed", "generated in this slot", "invented in total",
                          title=Text(f"slots of {names}"), title_justify="left")  # fmt: skip
            for slot in chain.get("slots", []):
                _add_row(slots, str(slot["index"]), str(slot["seed"]), f"{slot['generated_fraction']:.1%}",
                              f"{slot['invented_fraction']:.1%}")  # fmt: skip
            parts.append(slots)
    c = inspection.credentials
    if c is not None:
        s = c.summary
        creds = Table(title="C2PA content credentials", show_header=False, title_justify="left")
        creds.add_column(style="bold")
        creds.add_column()
        state_style = {"Trusted": "green", "Valid": "yellow"}.get(c.validation_state, "bold red")
        _add_row(creds, "validation", Text(c.validation_state, style=state_style))
        _add_row(creds, "signer", f"{s['signer']} (issuer {s['issuer']}, {s['algorithm']})")
        _add_row(creds, "claim generator", ", ".join(s["claim_generator"]))
        for action in s["actions"]:
            _add_row(creds, "action", f"{action['action']}  {action['digitalSourceType'] or ''}")
        for title in s["ingredients"]:
            _add_row(creds, "ingredient", str(title))
        for failure in s["failures"]:
            _add_row(creds, "failure", f"{failure['code']}: {failure['explanation']}")
        parts.append(creds)
    return Group(*parts)


@dataclass(frozen=True)
class MaskVideo:
    """A rendered generated-pixel map: white = invented, black = from the photo, grey = mixed.

    Attributes
    ----------
    invented_shares : (frames,) float64 ndarray
        Share of each frame's pixels that is invented, measured on the rendered frames.
    """

    path: Path
    frame_count: int
    invented_shares: np.ndarray


def render_mask_video(manifest: dict[str, Any], output: str | os.PathLike[str]) -> MaskVideo:
    """Render which pixels of the video are invented, frame by frame, from the manifest's slot masks.

    The same renderer and the same frame compositing (`iter_video_frames`: montage cuts,
    fades, the loop seam) run on the recorded timeline, over each slot's invented share
    (`invented_shares`: its own ring, plus what its centre inherited) instead of its colours.
    A flash transition shows as a brief grey-to-white wash: it is an effect, not the photo.
    """
    output = check_output_file(Path(output), ".mp4", what="mask video")
    try:
        config, timeline = manifest["config"], manifest["timeline"]
        zoom, fps = float(config["zoom_per_slot"]), int(timeline["fps"])
        size = (int(config["width_px"]), int(config["height_px"]))
        chain_masks = [decode_masks(chain["generated_masks"]) for chain in manifest["chains"]]
        plan = RecordedPlan(timeline)
    except (KeyError, TypeError, ValueError) as error:
        raise ProvenanceError(f"the manifest lacks what the mask video needs ({error!r})") from None
    renderers = []
    for masks in chain_masks:
        shares = invented_shares(masks, zoom)
        slots = [np.repeat(np.rint(s * 255).astype(np.uint8)[:, :, None], 3, axis=2) for s in shares]
        renderers.append(ZoomRenderer(slots, zoom, size))
    measured = np.empty(plan.frame_count)
    settings = EncodeSettings(
        width_px=size[0], height_px=size[1], fps=fps, crf=MASK_VIDEO_CRF,
        metadata=(("comment", "zoomout generated-pixel map: white = invented, black = from the photo"),),
    )  # fmt: skip
    with atomic_path(output, suffix=".tmp.mp4") as tmp, Mp4Writer(tmp, settings) as writer:
        for i, frame in enumerate(iter_video_frames(plan, renderers)):
            measured[i] = frame[:, :, 0].mean() / 255.0
            writer.write(frame)
    return MaskVideo(path=output, frame_count=plan.frame_count, invented_shares=measured)


class RecordedPlan:
    """The timeline as the manifest recorded it, read like a `Plan` by `iter_video_frames`."""

    def __init__(self, timeline: dict[str, Any]) -> None:
        self._timeline = timeline
        self._chains = np.asarray(timeline["frame_chains"], np.int64)
        self._zooms = np.asarray(timeline["frame_zooms"], np.float64)
        if not len(self._chains) == len(self._zooms) == int(timeline["frame_count"]):
            raise ValueError("frame_chains, frame_zooms and frame_count disagree")
        self.segments = tuple(Segment(**segment) for segment in timeline["segments"])

    def __getattr__(self, name: str) -> Any:
        try:
            return self._timeline[name]
        except KeyError:
            raise AttributeError(name) from None

    def frame_views(self) -> tuple[np.ndarray, np.ndarray]:
        return self._chains, self._zooms
