"""C2PA content credentials: signing a video (`--sign-cert`/`--sign-key`) and reading them back."""

from __future__ import annotations

import datetime
import hashlib
import io
import mimetypes
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ProvenanceError
from .load import Photo
from .manifest import MANIFEST_TAG

IPTC_SOURCE_TYPES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
C2PA_EXTRA_HINT = "C2PA signing needs the c2pa extra: pip install 'zoomout[c2pa]'"

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
