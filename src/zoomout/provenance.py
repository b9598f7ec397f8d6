"""Stage 6: what the video says about itself — a manifest, and C2PA content credentials.

The manifest (a JSON object) records the zoomout version, the whole config, the SHA-256 of
each input photo, the engine (with model id, revision and prompts when it has them), the
seed of every slot, which pixels of every slot were generated (the masks, losslessly), the
timeline down to each frame's zoom position, and a SHA-256 of the encoded video and audio
streams. It is stored twice: in the MP4 (`description` tag of the container, which the MP4
muxer keeps and `ffmpeg -c copy` carries over) and beside it as `NAME.zoomout.json`.

The stream hashes cover the packets' payloads, in order, per stream — not the container —
so they are computed on the finished draft and the manifest is then added by remuxing
(packets copied unchanged). A remux, a metadata edit or the C2PA box leave the hashes valid;
re-encoding or editing frames or sound does not. The manifest itself is not signed: anyone
can rewrite it. Only C2PA credentials (`--sign-cert`/`--sign-key`) bind the file, the
embedded manifest included, to a signer.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import io
import json
import mimetypes
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np

from . import __version__
from .atomic import atomic_path, temporary_beside, write_bytes_atomic
from .chain import SlotStack, shrink_slot
from .config import Config
from .errors import ProvenanceError
from .load import Photo
from .plan import Plan

MANIFEST_FORMAT = "zoomout-manifest"
MANIFEST_VERSION = 1
MANIFEST_TAG = "description"  # MP4 container tag holding the compact manifest JSON
AI_COMMENT = "AI-generated zoom-out made with zoomout"
SIDECAR_SUFFIX = ".zoomout.json"
MASK_ENCODING = "packbits+zlib+base64"

IPTC_SOURCE_TYPES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
C2PA_EXTRA_HINT = "C2PA signing needs the c2pa extra: pip install 'zoomout[c2pa]'"

# Demuxer-reported tags that describe the file, not the video: never copied when remuxing.
_CONTAINER_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder"})


# ---------------------------------------------------------------------------------------
# The manifest


class DescribesEngine(Protocol):
    """What the manifest needs of the engine that made the slots: an `Engine`, or its `EngineRecord`."""

    name: str

    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class EngineRecord:
    """An engine's name and manifest record without the engine and its model: small, picklable, sent between machines."""

    name: str
    record: dict[str, Any]

    @classmethod
    def of(cls, engine: DescribesEngine) -> EngineRecord:
        return cls(engine.name, engine.describe())

    def describe(self) -> dict[str, Any]:
        return dict(self.record)


def build_manifest(
    config: Config, photos: Sequence[Photo], engine: DescribesEngine, plan: Plan, stacks: Sequence[SlotStack]
) -> dict[str, Any]:
    """The manifest of a video before encoding (`publish_video` adds the stream hashes).

    `stacks` are the plan's chains: one per montage photo, or one for one photo or a nest.
    """
    config_dict = config_record(config)
    chains, zooms = plan.frame_views()
    return {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "ai_generated": True,
        "statement": (
            f"Made with zoomout {__version__}: the input photo was shrunk slot after slot and the "
            f"surroundings were invented by the {engine.name!r} engine. Only the pixels that come "
            "from the photo are real; 'slots' says how much of each slot was invented."
        ),
        "zoomout_version": __version__,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": config_dict,
        "inputs": [
            {"name": os.fsencode(photo.path.name).decode("utf-8", "backslashreplace"), "sha256": photo.sha256, "notes": list(photo.notes)} for photo in photos
        ],
        "engine": engine.describe(),
        "chains": [
            {
                "photos": list(range(len(photos))) if len(stacks) == 1 else [index],
                "slots": [
                    {
                        "index": k,
                        "seed": config.seed + k,
                        "generated_fraction": float(mask.mean()),
                        "invented_fraction": float(share.mean(dtype=np.float64)),
                    }
                    for k, (mask, share) in enumerate(zip(stack.masks, invented_shares(stack.masks, stack.zoom_per_slot)))
                ],
                "generated_masks": encode_masks(stack.masks),
            }
            for index, stack in enumerate(stacks)
        ],
        "timeline": {
            **_jsonable(dataclasses.asdict(plan)),
            # properties the frame compositing reads, and every frame's view
            **{name: getattr(plan, name) for name in ("slots", "hold_start_s", "zoom_s", "hold_end_s", "duration_s")},
            "frame_chains": [int(c) for c in chains],
            "frame_zooms": [float(z) for z in zooms],
        },
        "label": getattr(config, "label", None),
    }


def config_record(config: Config) -> dict[str, Any]:
    """The config as the manifest records it (plain JSON types): what a rerun compares to know a video is current."""
    return _jsonable(config.to_dict())


def _jsonable(value: Any) -> Any:
    """Plain JSON types: dataclasses become dicts, paths and other objects strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def encode_masks(masks: Sequence[np.ndarray]) -> dict[str, Any]:
    """(H, W) bool masks → a small JSON record: bits packed, deflated, base64 (lossless)."""
    h, w = masks[0].shape
    return {
        "encoding": MASK_ENCODING,
        "shape": [h, w],
        "slots": [base64.b64encode(zlib.compress(np.packbits(m, axis=None).tobytes(), 9)).decode() for m in masks],
    }


def decode_masks(record: dict[str, Any]) -> list[np.ndarray]:
    """The inverse of `encode_masks`: (H, W) bool masks, True = generated."""
    if record.get("encoding") != MASK_ENCODING:
        raise ProvenanceError(f"masks encoded as {record.get('encoding')!r}, expected {MASK_ENCODING!r}")
    h, w = record["shape"]
    return [
        np.unpackbits(np.frombuffer(zlib.decompress(base64.b64decode(text)), np.uint8), count=h * w)
        .reshape(h, w)
        .astype(bool)
        for text in record["slots"]
    ]


def invented_shares(masks: Sequence[np.ndarray], zoom_per_slot: float) -> list[np.ndarray]:
    """(H, W) float32 share of each slot pixel that is invented, in [0, 1], per slot.

    A slot's own mask marks only its new ring; its centre is the previous slot shrunk, which
    carries that slot's invented pixels along. So: slot 0's share is its mask, and slot k's is
    1 on its ring, slot k−1's share shrunk (with the chain's own geometry) where the shrunk
    slot covers it fully, and 0 on the rest (in a nest, a further real photo around it).
    """
    shares = [masks[0].astype(np.float32)]
    for mask in masks[1:]:
        previous = np.rint(shares[-1] * 255).astype(np.uint8)
        shrunk, outside_centre = shrink_slot(previous, zoom_per_slot)
        kept = np.where(outside_centre, 0.0, shrunk / np.float32(255.0))
        shares.append(np.where(mask, 1.0, kept).astype(np.float32))
    return shares


def sidecar_path(video: str | os.PathLike[str]) -> Path:
    """`out.mp4` → `out.zoomout.json`."""
    return Path(video).with_suffix(SIDECAR_SUFFIX)


def manifest_json(manifest: dict[str, Any], *, compact: bool) -> str:
    if compact:
        return json.dumps(manifest, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------
# Streams and container


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


# ---------------------------------------------------------------------------------------
# Publishing


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


# ---------------------------------------------------------------------------------------
# C2PA


@dataclass(frozen=True)
class SigningCredentials:
    """A certificate chain (leaf first, PEM) and its private key (PEM), checked to belong together."""

    cert_chain_pem: bytes
    private_key_pem: bytes
    algorithm: str  # es256 | es384 | es512 | ps256 | ed25519
    subject: str


def load_signing_credentials(
    cert_chain: str | os.PathLike[str], private_key: str | os.PathLike[str]
) -> SigningCredentials:
    """Read and check a signing certificate chain and key before any work.

    Raises `ProvenanceError` naming the file and the problem: c2pa-python missing, unreadable,
    not PEM, key and certificate mismatched, self-signed (C2PA refuses those), expired.
    """
    try:
        import c2pa  # noqa: F401
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    except ImportError:
        raise ProvenanceError(C2PA_EXTRA_HINT) from None
    cert_pem, key_pem = _read_pem(cert_chain, "certificate chain"), _read_pem(private_key, "private key")
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise ProvenanceError(f"{cert_chain}: not a PEM certificate chain") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise ProvenanceError(f"{private_key}: not an unencrypted PEM private key ({error})") from None
    leaf = chain[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, public) != leaf.public_key().public_bytes(
        serialization.Encoding.DER, public
    ):
        raise ProvenanceError(f"{private_key}: does not belong to the first certificate of {cert_chain}")
    subject = leaf.subject.rfc4514_string()
    if leaf.issuer == leaf.subject:
        raise ProvenanceError(
            f"{cert_chain}: the certificate is self-signed, which C2PA refuses; use one issued by a CA "
            "(the chain file holds the signing certificate first, then its intermediates)"
        )
    now = datetime.datetime.now(datetime.timezone.utc)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise ProvenanceError(
            f"{cert_chain}: the certificate is valid from {leaf.not_valid_before_utc:%Y-%m-%d} "
            f"to {leaf.not_valid_after_utc:%Y-%m-%d}, not now"
        )
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(key.curve.name)
    elif isinstance(key, rsa.RSAPrivateKey):
        algorithm = "ps256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = "ed25519"
    else:
        algorithm = None
    if algorithm is None:
        raise ProvenanceError(
            f"{private_key}: key type not supported by C2PA (use EC P-256/P-384/P-521, RSA or Ed25519)"
        )
    return SigningCredentials(cert_pem, key_pem, algorithm, subject)


def _read_pem(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ProvenanceError(f"{path}: cannot read the {what} ({error.strerror or error})") from None
    if b"-----BEGIN" not in data:
        raise ProvenanceError(f"{path}: the {what} should be a PEM file (-----BEGIN …)")
    return data


def digital_source_type(manifest: dict[str, Any]) -> str:
    """IPTC digital source type: a photo composited with trained-model or with algorithmic content."""
    trained = manifest.get("engine", {}).get("trained_model", True)
    return IPTC_SOURCE_TYPES + ("compositeWithTrainedAlgorithmicMedia" if trained else "compositeSynthetic")


def c2pa_definition(manifest: dict[str, Any], title: str) -> dict[str, Any]:
    """The C2PA manifest definition: a `c2pa.created` action with the IPTC source type."""
    engine = manifest.get("engine", {})
    return {
        "claim_generator_info": [{"name": "zoomout", "version": manifest.get("zoomout_version", __version__)}],
        "title": title,
        "format": "video/mp4",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": digital_source_type(manifest),
                            "softwareAgent": {"name": "zoomout", "version": manifest.get("zoomout_version")},
                            "description": (
                                f"Zoom-out video: the input photo outpainted slot after slot by the "
                                f"{engine.get('name')!r} engine; the zoomout manifest is in the MP4's "
                                f"'{MANIFEST_TAG}' tag."
                            ),
                        }
                    ]
                },
            }
        ],
    }


def sign_c2pa(
    source: Path, target: Path, signing: SigningCredentials, manifest: dict[str, Any], photos: Sequence[Photo],
    *, title: str,
) -> None:
    """Write the MP4 `source` to `target` with signed C2PA credentials embedded, titled `title`.

    The input photos become `componentOf` ingredients; each is re-read and must still have
    the SHA-256 it had when it was loaded.
    """
    try:
        import c2pa
    except ImportError:
        raise ProvenanceError(C2PA_EXTRA_HINT) from None
    try:
        signer = c2pa.Signer.from_info(
            c2pa.C2paSignerInfo(signing.algorithm, signing.cert_chain_pem, signing.private_key_pem, None)
        )
        builder = c2pa.Builder(c2pa_definition(manifest, title=title))
        for photo in photos:
            data = photo.path.read_bytes()
            if hashlib.sha256(data).hexdigest() != photo.sha256:
                raise ProvenanceError(f"{photo.path}: the photo changed while the video was made")
            mime = mimetypes.guess_type(photo.path.name)[0] or "application/octet-stream"
            builder.add_ingredient(
                {"title": photo.path.name, "relationship": "componentOf", "format": mime}, mime, io.BytesIO(data)
            )
        with open(source, "rb") as unsigned, open(target, "w+b") as signed:
            builder.sign(signer, "video/mp4", unsigned, signed)
    except c2pa.C2paError as error:
        raise ProvenanceError(f"C2PA signing failed: {error}") from None


@dataclass(frozen=True)
class Credentials:
    """C2PA content credentials found in a file.

    Attributes
    ----------
    validation_state : str
        "Trusted" (signature valid, signer chains to a given trust anchor), "Valid" (signature
        and hashes valid, signer not known to be trusted) or "Invalid".
    failures : list of (code, explanation)
    active_manifest : dict
        The active C2PA manifest as c2pa-python reports it.
    """

    validation_state: str
    failures: list[tuple[str, str]]
    active_manifest: dict[str, Any]

    @property
    def summary(self) -> dict[str, Any]:
        """Signer, issuer, actions (with source types) and ingredient titles."""
        m = self.active_manifest
        actions = [
            {"action": a.get("action"), "digitalSourceType": a.get("digitalSourceType")}
            for assertion in m.get("assertions", [])
            if assertion.get("label", "").startswith("c2pa.actions")
            for a in assertion.get("data", {}).get("actions", [])
        ]
        info = m.get("signature_info", {})
        return {
            "validation_state": self.validation_state,
            "signer": info.get("common_name"),
            "issuer": info.get("issuer"),
            "algorithm": info.get("alg"),
            "signed_at": info.get("time"),
            "claim_generator": [g.get("name") + " " + str(g.get("version", "")) for g in m.get("claim_generator_info", [])],
            "actions": actions,
            "ingredients": [i.get("title") for i in m.get("ingredients", [])],
            "failures": [{"code": c, "explanation": e} for c, e in self.failures],
        }


def read_credentials(
    path: str | os.PathLike[str], trust_anchors: str | os.PathLike[str] | None = None
) -> Credentials | None:
    """C2PA credentials of the MP4 at `path`, validated (against `trust_anchors`, a PEM file of
    CA certificates, when given); None when it has none. Raises ProvenanceError without c2pa-python."""
    try:
        import c2pa
    except ImportError:
        raise ProvenanceError(C2PA_EXTRA_HINT.replace("signing", "checking")) from None
    context = None
    if trust_anchors is not None:
        context = c2pa.Context.from_dict({"trust": {"trust_anchors": _read_pem(trust_anchors, "trust anchors").decode()}})
    try:
        with open(path, "rb") as stream:
            reader = c2pa.Reader.try_create("video/mp4", stream, context=context)
            if reader is None:
                return None
            with reader:
                results = reader.get_validation_results() or {}
                failures = [
                    (item.get("code", ""), item.get("explanation", ""))
                    for item in (results.get("activeManifest") or {}).get("failure", [])
                ]
                return Credentials(reader.get_validation_state() or "Invalid", failures, reader.get_active_manifest() or {})
    except c2pa.C2paError as error:
        return Credentials("Invalid", [("unreadable", str(error))], {})
