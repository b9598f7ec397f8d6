"""The MP4 container: stream hashes, the manifest in the container's tags, and publishing.

The stream hashes cover the packets' payloads, in order, per stream — not the container —
so they are computed on the finished draft and the manifest is then added by remuxing
(packets copied unchanged). A remux, a metadata edit or the C2PA box leave the hashes valid;
re-encoding or editing frames or sound does not. The manifest goes in the `description` tag,
which the MP4 muxer keeps and `ffmpeg -c copy` carries over.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av

from .atomic import atomic_path, temporary_beside, write_bytes_atomic
from .credentials import SigningCredentials, sign_c2pa
from .errors import ProvenanceError
from .load import Photo
from .manifest import MANIFEST_FORMAT, MANIFEST_TAG, manifest_json, sidecar_path

AI_COMMENT = "AI-generated zoom-out made with zoomout"
# Demuxer-reported tags that describe the file, not the video: never copied when remuxing.
_CONTAINER_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder"})




def hash_streams(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """SHA-256 of each stream's packet payloads, in decoding order: {"video": {...}, "audio": {...}}.

    A second stream of a kind is named "video:1" etc.
    """
    digests: dict[int, Any] = {}
    records: dict[int, dict[str, Any]] = {}
    try:
        with av.open(str(path)) as container:
            names = _stream_names(container.streams)
            for stream in container.streams:
                digests[stream.index] = hashlib.sha256()
                records[stream.index] = {"codec": stream.codec_context.name, "packets": 0, "bytes": 0}
            for packet in container.demux():
                if packet.size == 0:  # flush packets carry nothing
                    continue
                index = packet.stream.index
                payload = bytes(packet)
                digests[index].update(payload)
                records[index]["packets"] += 1
                records[index]["bytes"] += len(payload)
    except (av.FFmpegError, OSError) as error:
        raise ProvenanceError(f"{path}: cannot read the video ({error})") from None
    return {names[i]: {**records[i], "sha256": digests[i].hexdigest()} for i in records}


def _stream_names(streams) -> dict[int, str]:
    names, seen = {}, {}
    for stream in streams:
        n = seen.get(stream.type, 0)
        seen[stream.type] = n + 1
        names[stream.index] = stream.type if n == 0 else f"{stream.type}:{n}"
    return names


def compare_streams(recorded: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> list[str]:
    """One line per difference between the manifest's stream hashes and the file's; [] = unchanged."""
    changes = []
    for name in sorted(set(recorded) | set(now)):
        before, after = recorded.get(name), now.get(name)
        if before is None:
            changes.append(f"{name} stream added ({after['codec']}, {after['packets']} packets)")
        elif after is None:
            changes.append(f"{name} stream removed (was {before['codec']}, {before['packets']} packets)")
        elif before["sha256"] != after["sha256"]:
            detail = [f"sha256 {before['sha256'][:12]}… → {after['sha256'][:12]}…"]
            if before["codec"] != after["codec"]:
                detail.append(f"codec {before['codec']} → {after['codec']}")
            if before["packets"] != after["packets"]:
                detail.append(f"packets {before['packets']} → {after['packets']}")
            changes.append(f"{name} stream changed ({', '.join(detail)})")
    return changes


def remux_with_tags(source: Path, target: Path, tags: dict[str, str]) -> None:
    """Copy every packet of `source` unchanged into a new MP4 at `target` with container `tags` added."""
    with av.open(str(source)) as inp, av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        for key, value in inp.metadata.items():
            if key not in _CONTAINER_TAGS:
                out.metadata[key] = value
        out.metadata.update(tags)
        streams = {stream.index: out.add_stream_from_template(stream) for stream in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)


def read_embedded_manifest(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest in the MP4's tags, or None when there is none (or it is not a zoomout manifest)."""
    try:
        with av.open(str(path)) as container:
            text = container.metadata.get(MANIFEST_TAG)
    except (av.FFmpegError, OSError) as error:
        raise ProvenanceError(f"{path}: cannot read the video ({error})") from None
    return _parse_manifest(text)


def read_sidecar(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest in a `.zoomout.json` file, or None when absent or not a zoomout manifest."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return _parse_manifest(text)


def _parse_manifest(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError:
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT else None




def publish_video(
    draft: Path,
    output: Path,
    manifest: dict[str, Any],
    *,
    photos: Sequence[Photo] = (),
    signing: SigningCredentials | None = None,
) -> dict[str, Any]:
    """Finish `draft` into `output`: manifest embedded, C2PA credentials when `signing`, sidecar beside.

    `output` appears complete or not at all; the sidecar is written after it. Returns the
    manifest with the stream hashes.
    """
    manifest = {**manifest, "streams": hash_streams(draft)}
    manifest["content_credentials"] = None if signing is None else {"signer": signing.subject, "format": "C2PA"}
    tags = {"comment": AI_COMMENT, MANIFEST_TAG: manifest_json(manifest, compact=True)}
    with atomic_path(output, suffix=".tmp.mp4") as tmp:
        if signing is None:
            remux_with_tags(draft, tmp, tags)
        else:  # the manifest is embedded first, so the credentials cover it
            with temporary_beside(output, suffix=".tagged.mp4") as tagged:
                remux_with_tags(draft, tagged, tags)
                sign_c2pa(tagged, tmp, signing, manifest, photos, title=output.name)
    write_bytes_atomic(manifest_json(manifest, compact=False).encode(), sidecar_path(output))
    return manifest
