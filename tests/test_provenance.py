"""Honesty: the manifest (embedded and sidecar), tamper detection, the visible label, C2PA, the mask video."""

from __future__ import annotations

import datetime
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from zoomout import Config, make_video
from zoomout.cli import app
from zoomout.errors import ConfigError, OutputError, ProvenanceError
from zoomout.inspection import inspect_video, render_mask_video
from zoomout.label import make_label
from zoomout.container import hash_streams, read_embedded_manifest
from zoomout.credentials import IPTC_SOURCE_TYPES, load_signing_credentials, read_credentials
from zoomout.manifest import MANIFEST_TAG, decode_masks, sidecar_path

EXAMPLE_CAT = Path(__file__).resolve().parents[1] / "examples" / "cat.png"
SMALL = dict(
    width_px=96, height_px=160, slots=2, seconds_per_slot=0.5, fps=24, hold_start_s=0.25, hold_end_s=0.25,
    engine="classic",
)  # fmt: skip


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "cat.jpg"
    Image.open(EXAMPLE_CAT).convert("RGB").resize((150, 100)).save(path, quality=92)
    return path


@pytest.fixture(scope="module")
def made(tmp_path_factory, photo):
    """One small video with its manifest, shared by the read-only tests."""
    out = tmp_path_factory.mktemp("video") / "out.mp4"
    return make_video([photo], out, Config(**SMALL, seed=3), cache_dir=None)


def decode_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


# ---------------------------------------------------------------------------------------
# Manifest


def test_manifest_round_trip_sidecar_and_embedded(made, photo):
    sidecar = json.loads(sidecar_path(made.path).read_text())
    embedded = read_embedded_manifest(made.path)
    assert sidecar == embedded == json.loads(json.dumps(made.manifest))
    m = embedded
    assert m["ai_generated"] is True and m["format"] == "zoomout-manifest"
    assert m["config"] == json.loads(json.dumps(Config(**SMALL, seed=3).to_dict()))
    assert m["inputs"] == [{"name": "cat.jpg", "sha256": hashlib.sha256(photo.read_bytes()).hexdigest(), "notes": []}]
    assert m["engine"]["name"] == "classic" and m["engine"]["trained_model"] is False
    [chain] = m["chains"]
    assert chain["photos"] == [0]
    assert [s["seed"] for s in chain["slots"]] == [3, 4, 5]
    assert [s["generated_fraction"] for s in chain["slots"]] == pytest.approx(made.slots.generated_fractions)
    for decoded, mask in zip(decode_masks(chain["generated_masks"]), made.slots.masks, strict=True):
        np.testing.assert_array_equal(decoded, mask)
    timeline = m["timeline"]
    assert timeline["frame_count"] == made.plan.frame_count == len(timeline["frame_zooms"])
    assert timeline["slot_change_times_s"] == list(made.plan.slot_change_times_s)
    np.testing.assert_array_equal(timeline["frame_zooms"], made.plan.frame_zooms())
    assert m["streams"] == hash_streams(made.path)
    assert m["streams"]["video"]["packets"] == made.plan.frame_count
    with av.open(str(made.path)) as container:
        assert "AI-generated" in container.metadata["comment"]
        assert MANIFEST_TAG in container.metadata


def test_inspect_untouched_and_remuxed_file_reports_unchanged(made, tmp_path):
    assert inspect_video(made.path).streams_unchanged is True
    # a remux that drops the tags keeps the packets: unchanged, manifest found in the sidecar
    copy = tmp_path / "out.mp4"
    with av.open(str(made.path)) as inp, av.open(str(copy), "w", format="mp4") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    sidecar_path(copy).write_bytes(sidecar_path(made.path).read_bytes())
    found = inspect_video(copy)
    assert found.manifest_source == "sidecar" and found.streams_unchanged is True
    assert any("no manifest inside the video" in note for note in found.notes)


def test_inspect_a_video_whose_sidecar_name_is_too_long_to_look_up(made, tmp_path):
    """A 248-byte video name is fine, its sidecar's (261 bytes) is not: `Path.is_file()` on it raised OSError, a traceback."""
    long = tmp_path / f"{'v' * 244}.mp4"
    long.write_bytes(made.path.read_bytes())
    found = inspect_video(long)
    assert found.manifest_source == "embedded" and found.streams_unchanged is True


def test_inspect_reports_flipped_bytes_in_a_video_packet(made, tmp_path):
    with av.open(str(made.path)) as container:
        packet = next(p for p in container.demux(video=0) if p.size > 100 and not p.is_keyframe)
        position, size = packet.pos, packet.size
    data = bytearray(made.path.read_bytes())
    data[position + size // 2] ^= 0xFF
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    found = inspect_video(tampered)
    assert found.manifest_source == "embedded" and found.streams_unchanged is False
    assert len(found.changes) == 1 and found.changes[0].startswith("video stream changed")
    assert "CHANGED" in found.verdict


def test_inspect_reports_a_reencoded_file(made, tmp_path):
    frames = decode_frames(made.path)
    frames[10][40:60, 30:60] = 0  # an edit, then a re-encode that keeps the tags
    tampered = tmp_path / "edited.mp4"
    with av.open(str(made.path)) as inp, av.open(str(tampered), "w", format="mp4") as out:
        out.metadata.update({k: v for k, v in inp.metadata.items() if k in ("comment", MANIFEST_TAG)})
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 96, 160, "yuv420p"
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode(None))
    found = inspect_video(tampered)
    assert found.streams_unchanged is False
    assert any(c.startswith("video stream changed") for c in found.changes)
    assert any(c.startswith("audio stream removed") for c in found.changes)


def test_inspect_file_without_manifest(tmp_path):
    plain = tmp_path / "plain.mp4"
    with av.open(str(plain), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for _ in range(3):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")))
        out.mux(stream.encode(None))
    found = inspect_video(plain)
    assert found.manifest is None and found.streams_unchanged is None
    assert found.verdict.startswith("no zoomout manifest")


def test_inspect_invalid_input(tmp_path):
    with pytest.raises(ProvenanceError, match="no such file"):
        inspect_video(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(ProvenanceError, match="cannot read the video"):
        inspect_video(junk)
    with pytest.raises(ProvenanceError, match="encoded as"):
        decode_masks({"encoding": "png", "shape": [2, 2], "slots": []})


# ---------------------------------------------------------------------------------------
# Label


def test_label_changes_its_box_and_nothing_else(photo, tmp_path):
    # crf 0 is lossless in YUV, so the only differences are the label's (and chroma pairs at its edge)
    lossless = dict(SMALL, seed=7, crf=0, sound="none")
    with_label = make_video([photo], tmp_path / "label.mp4", Config(**lossless), cache_dir=None)
    make_video([photo], tmp_path / "plain.mp4", Config(**lossless, label=None), cache_dir=None)
    x_lo, y_lo, x_hi, y_hi = make_label("AI-generated", 96, 160).box
    inside = np.zeros((160, 96), bool)
    inside[y_lo:y_hi, x_lo:x_hi] = True
    near = np.zeros((160, 96), bool)
    near[max(y_lo - 2, 0) : y_hi + 2, max(x_lo - 2, 0) : x_hi + 2] = True
    labelled, plain = decode_frames(with_label.path), decode_frames(tmp_path / "plain.mp4")
    assert len(labelled) == len(plain) == with_label.plan.frame_count
    for a, b in zip(labelled, plain):
        diff = np.abs(a.astype(int) - b.astype(int)).max(axis=2)
        assert diff[~near].max() == 0
        assert (diff[inside] > 30).mean() > 0.5  # the box is dark and the text white
    assert with_label.manifest["label"] == "AI-generated"


def test_label_stays_out_of_the_apps_interface_and_scales():
    for width, height in ((1080, 1920), (720, 1280), (1080, 1080), (1920, 1080)):
        label = make_label("AI-generated", width, height)
        x_lo, y_lo, x_hi, y_hi = label.box
        assert y_lo >= 0.10 * height and y_hi <= 0.80 * height  # below the tabs, above the caption
        assert x_lo >= 0.04 * width and x_hi <= 0.85 * width  # clear of the action buttons
        assert 0.025 * height <= y_hi - y_lo <= 0.06 * height  # legible, not loud
    assert make_label("AI-generated", 1080, 1920).rgba.shape[0] > make_label("AI-generated", 96, 160).rgba.shape[0]


def test_label_invalid_input():
    with pytest.raises(ConfigError, match="label"):
        Config(label="")
    with pytest.raises(ConfigError, match="label"):
        Config(label="two\nlines")
    with pytest.raises(ConfigError, match="label"):
        Config(label="x" * 61)
    with pytest.raises(ConfigError, match="label should fit a 96x160 video"):
        make_label("AI-generated with a very long explanation", 96, 160)


# ---------------------------------------------------------------------------------------
# C2PA


def make_test_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a leaf it issued (EC P-256, emailProtection): (chain.pem, key.pem, ca.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "zoomout tests")])  # fmt: skip

    def usage(**on: bool) -> x509.KeyUsage:
        names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                 "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")  # fmt: skip
        return x509.KeyUsage(**{n: on.get(n, False) for n in names})

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    valid = dict(not_valid_before=now - datetime.timedelta(days=1), not_valid_after=now + datetime.timedelta(days=7))
    ca = (
        x509.CertificateBuilder(subject_name=name("zoomout test CA"), issuer_name=name("zoomout test CA"),
                                public_key=ca_key.public_key(), serial_number=x509.random_serial_number(), **valid)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    leaf = (
        x509.CertificateBuilder(subject_name=name("zoomout test signer"), issuer_name=ca.subject,
                                public_key=leaf_key.public_key(), serial_number=x509.random_serial_number(), **valid)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    chain, key, ca_file = folder / "chain.pem", folder / "key.pem", folder / "ca.pem"
    chain.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key.write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ca_file.write_bytes(ca.public_bytes(pem))
    return chain, key, ca_file


def test_c2pa_sign_and_verify_with_a_test_ca(photo, tmp_path):
    pytest.importorskip("c2pa")
    chain, key, ca = make_test_ca(tmp_path)
    out = tmp_path / "signed.mp4"
    result = make_video([photo], out, Config(**SMALL, sound="none"), cache_dir=None, sign_cert=chain, sign_key=key)
    assert result.manifest["content_credentials"]["format"] == "C2PA"

    trusted = read_credentials(out, trust_anchors=ca)
    assert trusted.validation_state == "Trusted" and trusted.failures == []
    summary = trusted.summary
    assert summary["signer"] == "zoomout test signer" and summary["issuer"] == "zoomout tests"
    assert summary["actions"] == [
        {"action": "c2pa.created", "digitalSourceType": IPTC_SOURCE_TYPES + "compositeSynthetic"}
    ]  # the classic engine has no trained model: a photo composited with algorithmic content
    assert summary["ingredients"] == ["cat.jpg"]
    # without the CA as trust anchor: signature and hashes valid, signer unknown
    untrusted = read_credentials(out)
    assert untrusted.validation_state == "Valid"
    # the C2PA box leaves the packets alone: the zoomout manifest still matches
    found = inspect_video(out, trust_anchors=ca)
    assert found.streams_unchanged is True and found.credentials.validation_state == "Trusted"

    # one flipped byte in the media breaks the C2PA hash
    with av.open(str(out)) as container:
        packet = next(p for p in container.demux(video=0) if p.size > 100)
        position = packet.pos + packet.size // 2
    data = bytearray(out.read_bytes())
    data[position] ^= 0xFF
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    broken = read_credentials(tampered, trust_anchors=ca)
    assert broken.validation_state == "Invalid"
    assert any(code == "assertion.bmffHash.mismatch" for code, _ in broken.failures)


def test_signing_credentials_refused_before_any_work(tmp_path):
    pytest.importorskip("c2pa")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    chain, key, ca = make_test_ca(tmp_path)
    with pytest.raises(ProvenanceError, match="does not belong"):
        load_signing_credentials(ca, key)  # the CA's certificate with the leaf's key
    with pytest.raises(ProvenanceError, match="PEM"):
        load_signing_credentials(chain, EXAMPLE_CAT)
    with pytest.raises(ProvenanceError, match="cannot read"):
        load_signing_credentials(tmp_path / "missing.pem", key)
    own = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    me = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "me")])
    self_signed = (
        x509.CertificateBuilder(subject_name=me, issuer_name=me, public_key=own.public_key(), serial_number=1,
                                not_valid_before=now, not_valid_after=now + datetime.timedelta(days=1))
        .sign(own, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "self.pem").write_bytes(self_signed.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "self.key").write_bytes(
        own.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with pytest.raises(ProvenanceError, match="self-signed"):
        load_signing_credentials(tmp_path / "self.pem", tmp_path / "self.key")
    out = tmp_path / "never.mp4"
    with pytest.raises(ProvenanceError, match="self-signed"):
        make_video([EXAMPLE_CAT], out, Config(**SMALL), cache_dir=None,
                   sign_cert=tmp_path / "self.pem", sign_key=tmp_path / "self.key")  # fmt: skip
    assert not out.exists() and not sidecar_path(out).exists()
    with pytest.raises(ConfigError, match="sign_cert should come with sign_key"):
        make_video([EXAMPLE_CAT], out, Config(**SMALL), cache_dir=None, sign_cert=chain)


# ---------------------------------------------------------------------------------------
# Mask video


def test_mask_video_share_of_invented_pixels_follows_the_slots(made, tmp_path):
    manifest = made.manifest
    mask = render_mask_video(manifest, tmp_path / "mask.mp4")
    zooms = np.asarray(manifest["timeline"]["frame_zooms"])
    assert mask.frame_count == len(zooms) == made.plan.frame_count
    slots = manifest["chains"][0]["slots"]
    # at the ends the frame shows slot 0, then slot N, whole
    assert mask.invented_shares[0] == pytest.approx(slots[0]["generated_fraction"], abs=0.01)
    assert mask.invented_shares[-1] == pytest.approx(slots[-1]["invented_fraction"], abs=0.01)
    # in between, the photo's rectangle shrinks by s^z in each direction: real share (1 − f0)·s^(−2z)
    expected = 1.0 - (1.0 - slots[0]["generated_fraction"]) * 2.0 ** (-2 * zooms)
    assert np.abs(mask.invented_shares - expected).max() < 0.02
    assert np.all(np.diff(mask.invented_shares) >= -1e-3)  # zooming out only adds invented pixels
    decoded = np.array([f[:, :, 0].mean() / 255 for f in decode_frames(mask.path)])
    assert np.abs(decoded - mask.invented_shares).max() < 0.01


def test_mask_video_invalid_input(made, tmp_path):
    with pytest.raises(OutputError, match="the mask video should be a .mp4 file"):
        render_mask_video(made.manifest, tmp_path / "mask.avi")
    with pytest.raises(ProvenanceError, match="lacks"):
        render_mask_video({"config": {}}, tmp_path / "mask.mp4")


# ---------------------------------------------------------------------------------------
# Command line


def test_cli_inspect_readable_and_json(made, tmp_path):
    runner = CliRunner()
    readable = runner.invoke(app, ["inspect", str(made.path)], terminal_width=160)
    assert readable.exit_code == 0, readable.output
    assert "unchanged since zoomout wrote it" in readable.output
    assert "cat.jpg" in readable.output and "classic" in readable.output
    as_json = runner.invoke(app, ["inspect", str(made.path), "--json", "--mask-video", str(tmp_path / "m.mp4")])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report["streams_unchanged"] is True and report["manifest"] == made.manifest
    assert (tmp_path / "m.mp4").is_file()


def test_cli_inspect_missing_file_is_one_line_exit_2(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "zoomout", "inspect", "nope.mp4"], capture_output=True, text=True, cwd=tmp_path
    )
    assert run.returncode == 2 and "no such file" in run.stderr and len(run.stderr.strip().splitlines()) == 1
