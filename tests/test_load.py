"""Tests of zoomout.load: every photo is built here, in tmp_path; nothing is downloaded."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import struct
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image, ImageFile, ImageOps

from zoomout import load
from zoomout.errors import PhotoError
from zoomout.load import MAX_PIXELS, MIN_SIDE_PX, Photo, load_photo, load_photos

HAS_HEIF = importlib.util.find_spec("pillow_heif") is not None
GREY = (128, 128, 128)


# --- builders -------------------------------------------------------------------------------


def blocks(height_px: int = 48, width_px: int = 64, block_px: int = 16, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 of flat, well-separated colour blocks: asymmetric, and JPEG-proof."""
    rng = np.random.default_rng(seed)
    levels = rng.choice(np.array([20, 80, 140, 200, 250], dtype=np.uint8), size=(height_px // block_px, width_px // block_px, 3))
    return np.kron(levels, np.ones((block_px, block_px, 1), dtype=np.uint8))


def gradient(height_px: int = 48, width_px: int = 64) -> np.ndarray:
    """(H, W, 3) uint8 smooth ramps, easy on every lossy codec."""
    y, x = np.mgrid[0:height_px, 0:width_px]
    return np.stack([x * 255 // (width_px - 1), y * 255 // (height_px - 1), np.full_like(x, 100)], axis=2).astype(np.uint8)


def png_bytes(width_px: int, height_px: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    """A PNG written chunk by chunk, so the header can say anything."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width_px, height_px, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def assert_rgb(photo: Photo, height_px: int, width_px: int) -> None:
    assert photo.pixels.shape == (height_px, width_px, 3)
    assert photo.pixels.dtype == np.uint8
    assert photo.pixels.flags.c_contiguous


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# --- formats ---------------------------------------------------------------------------------


def _heic_bytes(image: Image.Image) -> bytes:
    import pillow_heif

    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, format="HEIF", quality=95)
    return buffer.getvalue()


FORMATS = [
    # name, suffix, encode, mean tolerance (0: lossless)
    ("JPEG", ".jpg", lambda im: encoded(im, "JPEG", quality=95), 3.0),
    ("PNG", ".png", lambda im: encoded(im, "PNG"), 0.0),
    ("WebP", ".webp", lambda im: encoded(im, "WEBP", quality=95), 4.0),
    ("WebP-lossless", ".webp", lambda im: encoded(im, "WEBP", lossless=True), 0.0),
    ("BMP", ".bmp", lambda im: encoded(im, "BMP"), 0.0),
    ("TIFF", ".tif", lambda im: encoded(im, "TIFF"), 0.0),
    ("TIFF-LZW", ".tif", lambda im: encoded(im, "TIFF", compression="tiff_lzw"), 0.0),
    pytest.param(
        "HEIC", ".heic", _heic_bytes, 4.0,
        marks=pytest.mark.skipif(not HAS_HEIF, reason="pillow_heif (the heif extra) is not installed"),
    ),
]


@pytest.mark.parametrize(("fmt", "suffix", "encode", "tolerance"), FORMATS)
def test_format_round_trip(tmp_path, fmt, suffix, encode, tolerance):
    original = gradient()
    path = write(tmp_path / f"photo{suffix}", encode(Image.fromarray(original)))

    photo = load_photo(path)

    assert_rgb(photo, 48, 64)
    assert photo.path == path
    assert mean_abs_diff(photo.pixels, original) <= tolerance
    if tolerance == 0:
        np.testing.assert_array_equal(photo.pixels, original)
    assert photo.notes == ()


def test_format_is_found_by_content_not_name(tmp_path):
    original = gradient()
    path = write(tmp_path / "really_a_png.jpg", encoded(Image.fromarray(original), "PNG"))
    np.testing.assert_array_equal(load_photo(path).pixels, original)


def test_sha256_is_of_the_file_bytes(tmp_path):
    data = encoded(Image.fromarray(blocks()), "PNG")
    path = write(tmp_path / "photo.png", data)
    assert load_photo(path).sha256 == hashlib.sha256(data).hexdigest()


# --- colour modes ----------------------------------------------------------------------------


def _grey_ramp(dtype, top: float) -> np.ndarray:
    return np.linspace(0, top, 16 * 16).reshape(16, 16).astype(dtype)


def _mode_case_l():
    grey = _grey_ramp(np.uint8, 255)
    return encoded(Image.fromarray(grey), "PNG"), np.dstack([grey] * 3), "grayscale"


def _mode_case_1():
    bits = np.zeros((16, 16), dtype=bool)
    bits[:, 8:] = True
    image = Image.fromarray(bits)
    assert image.mode == "1"
    expected = np.dstack([bits.astype(np.uint8) * 255] * 3)
    return encoded(image, "PNG"), expected, "1-bit"


def _mode_case_i16():
    grey = _grey_ramp(np.uint16, 65535)
    data = encoded(Image.fromarray(grey), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    return data, np.dstack([np.rint(grey / 257).astype(np.uint8)] * 3), "16-bit reduced to 8-bit"


def _mode_case_i():
    grey = _grey_ramp(np.int32, 65535)
    data = encoded(Image.fromarray(grey), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "I"
    return data, np.dstack([np.rint(grey / 257).astype(np.uint8)] * 3), "32-bit integer"


def _mode_case_f():
    grey = _grey_ramp(np.float32, 1.0)
    data = encoded(Image.fromarray(grey), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "F"
    return data, np.dstack([np.rint(grey * 255).astype(np.uint8)] * 3), "32-bit float"


def _mode_case_rgb16():
    rng = np.random.default_rng(3)
    samples = rng.integers(0, 65536, size=(16, 16, 3)).astype(">u2")
    idat = zlib.compress(b"".join(b"\x00" + row.tobytes() for row in samples))
    data = png_bytes(16, 16, 16, 2, idat)
    assert Image.open(io.BytesIO(data)).mode == "RGB"  # Pillow hides the depth in the mode
    return data, (samples >> 8).astype(np.uint8), "16-bit reduced to 8-bit"


def _palette_image() -> tuple[Image.Image, np.ndarray]:
    palette = np.array([[255, 0, 0], [0, 200, 0], [0, 0, 255], [250, 250, 0]], dtype=np.uint8)
    index = np.kron(np.array([[0, 1], [2, 3]], dtype=np.uint8), np.ones((8, 8), dtype=np.uint8))
    image = Image.fromarray(index, mode="P")
    image.putpalette(palette.flatten().tolist())
    return image, palette[index]


def _mode_case_p():
    image, expected = _palette_image()
    return encoded(image, "PNG"), expected, "palette"


def _mode_case_p_transparent():
    image, expected = _palette_image()
    expected[:8, :8] = GREY  # index 0 is transparent
    return encoded(image, "PNG", transparency=0), expected, "alpha composited on grey"


def _mode_case_gif_transparent():
    image, expected = _palette_image()
    expected[8:, 8:] = GREY  # index 3 is transparent
    return encoded(image, "GIF", transparency=3), expected, "alpha composited on grey"


def _mode_case_la():
    grey = _grey_ramp(np.uint8, 255)
    alpha = np.full_like(grey, 255)
    alpha[:, :8] = 0
    expected = np.dstack([grey] * 3)
    expected[:, :8] = GREY
    return encoded(Image.fromarray(np.dstack([grey, alpha]), mode="LA"), "PNG"), expected, "alpha composited on grey"


def _mode_case_rgba():
    rgba = np.zeros((16, 16, 4), dtype=np.uint8)
    rgba[..., :3] = (200, 30, 60)
    rgba[:, :8, 3] = 255  # opaque: keeps its colour
    rgba[:, 8:12, 3] = 0  # transparent: grey, whatever the colour underneath
    rgba[:, 12:, 3] = 51  # 20 % opaque: a mix
    expected = np.zeros((16, 16, 3), dtype=np.uint8)
    expected[:, :8] = (200, 30, 60)
    expected[:, 8:12] = GREY
    expected[:, 12:] = np.rint(0.2 * np.array([200, 30, 60]) + 0.8 * np.array(GREY))
    return encoded(Image.fromarray(rgba), "PNG"), expected, "alpha composited on grey"


def _mode_case_cmyk_tiff():
    cmyk = Image.fromarray(blocks(16, 16, 8)).convert("CMYK")
    return encoded(cmyk, "TIFF"), np.asarray(cmyk.convert("RGB")), "CMYK converted to RGB"


def _mode_case_cmyk_jpeg():
    cmyk = Image.fromarray(blocks(16, 16, 8)).convert("CMYK")
    data = encoded(cmyk, "JPEG", quality=100)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    return data, np.asarray(cmyk.convert("RGB")), "CMYK converted to RGB"


MODE_CASES = {
    "L": (_mode_case_l, 0),
    "1": (_mode_case_1, 0),
    "I;16": (_mode_case_i16, 0),
    "I": (_mode_case_i, 0),
    "F": (_mode_case_f, 0),
    "RGB-16-bit": (_mode_case_rgb16, 0),
    "P": (_mode_case_p, 0),
    "P+transparency": (_mode_case_p_transparent, 0),
    "GIF+transparency": (_mode_case_gif_transparent, 0),
    "LA": (_mode_case_la, 0),
    "RGBA": (_mode_case_rgba, 1),
    "CMYK-TIFF": (_mode_case_cmyk_tiff, 0),
    "CMYK-JPEG": (_mode_case_cmyk_jpeg, 6),
}


@pytest.mark.parametrize("case", MODE_CASES, ids=list(MODE_CASES))
def test_colour_mode_becomes_rgb(tmp_path, case):
    build, max_error = MODE_CASES[case]
    data, expected, note = build()
    path = write(tmp_path / "photo.bin", data)

    photo = load_photo(path)

    assert_rgb(photo, *expected.shape[:2])
    error = np.abs(photo.pixels.astype(np.int16) - expected.astype(np.int16)).max()
    assert error <= max_error, f"max error {error} > {max_error}"
    assert any(note in n for n in photo.notes), photo.notes


def test_opaque_rgba_is_not_noted(tmp_path):
    rgba = np.dstack([blocks(16, 16, 8), np.full((16, 16), 255, np.uint8)])
    photo = load_photo(write(tmp_path / "opaque.png", encoded(Image.fromarray(rgba), "PNG")))
    np.testing.assert_array_equal(photo.pixels, rgba[..., :3])
    assert photo.notes == ()


# --- EXIF orientation --------------------------------------------------------------------------

# Written out here rather than taken from load.py, so the test does not check the code against itself.
PILLOW_TRANSPOSE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _with_orientation(original: Image.Image, orientation: int, fmt: str, **options) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return encoded(original, fmt, exif=exif, **options)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_jpeg(tmp_path, orientation):
    original = Image.fromarray(blocks(48, 64, 16))  # 4 × 3 blocks: every flip and turn differs
    path = write(tmp_path / "photo.jpg", _with_orientation(original, orientation, "JPEG", quality=95, subsampling=0))

    photo = load_photo(path)

    method = PILLOW_TRANSPOSE[orientation]
    expected = np.asarray(original if method is None else original.transpose(method))
    assert photo.pixels.shape == expected.shape
    assert mean_abs_diff(photo.pixels, expected) < 3
    # Same decoded pixels as Pillow's own exif_transpose, exactly.
    reference = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    np.testing.assert_array_equal(photo.pixels, reference)
    assert photo.pixels.flags.c_contiguous
    noted = [n for n in photo.notes if "orientation" in n]
    assert noted == ([] if orientation == 1 else [f"EXIF orientation {orientation} applied"])


@pytest.mark.parametrize("orientation", [6, 7])
def test_exif_orientation_png_is_exact(tmp_path, orientation):
    original = Image.fromarray(blocks(48, 64, 16))
    path = write(tmp_path / "photo.png", _with_orientation(original, orientation, "PNG"))
    expected = np.asarray(original.transpose(PILLOW_TRANSPOSE[orientation]))
    np.testing.assert_array_equal(load_photo(path).pixels, expected)


# --- animation ---------------------------------------------------------------------------------


def _frames() -> list[Image.Image]:
    return [Image.fromarray(np.full((16, 24, 3), colour, dtype=np.uint8)) for colour in ((250, 0, 0), (0, 250, 0), (0, 0, 250))]


@pytest.mark.parametrize(("fmt", "suffix", "options"), [
    ("GIF", ".gif", {}),
    ("PNG", ".png", {}),  # APNG
    ("WEBP", ".webp", {"lossless": True}),
])
def test_animated_uses_first_frame(tmp_path, fmt, suffix, options):
    first, *rest = _frames()
    data = encoded(first, fmt, save_all=True, append_images=rest, duration=100, loop=0, **options)
    photo = load_photo(write(tmp_path / f"anim{suffix}", data))

    assert_rgb(photo, 16, 24)
    assert np.abs(photo.pixels.astype(int) - (250, 0, 0)).max() <= 2
    assert "animated: first of 3 frames used" in photo.notes


# --- sizes ---------------------------------------------------------------------------------------


def test_extreme_aspect_ratio_is_accepted(tmp_path):
    path = write(tmp_path / "strip.png", encoded(Image.new("RGB", (10_000, MIN_SIDE_PX), (10, 20, 30)), "PNG"))
    assert_rgb(load_photo(path), MIN_SIDE_PX, 10_000)


def test_smallest_accepted_size(tmp_path):
    path = write(tmp_path / "tiny.png", encoded(Image.new("RGB", (MIN_SIDE_PX, MIN_SIDE_PX)), "PNG"))
    assert_rgb(load_photo(path), MIN_SIDE_PX, MIN_SIDE_PX)


def test_max_pixels_is_checked_from_the_header(tmp_path, monkeypatch):
    # A header of 12 000 × 9 000 (108 MP: above MAX_PIXELS, below Pillow's own error threshold)
    # with one byte of pixel data: refused as too large, so nothing was decoded.
    assert 12_000 * 9_000 > MAX_PIXELS
    path = write(tmp_path / "big.png", png_bytes(12_000, 9_000, 8, 2, zlib.compress(b"\x00")))
    with pytest.raises(PhotoError, match=r"too large \(12000×9000 px = 108\.0 megapixels\); at most 100 megapixels"):
        load_photo(path)

    monkeypatch.setattr(load, "MAX_PIXELS", 32 * 32 - 1)
    path = write(tmp_path / "small.png", encoded(Image.new("RGB", (32, 32)), "PNG"))
    with pytest.raises(PhotoError, match="too large"):
        load_photo(path)


# --- refusals ------------------------------------------------------------------------------------


def _missing(tmp_path):
    return tmp_path / "missing.jpg"


def _directory(tmp_path):
    path = tmp_path / "folder.jpg"
    path.mkdir()
    return path


def _fifo(tmp_path):
    path = tmp_path / "pipe.jpg"
    os.mkfifo(path)
    return path


def _empty(tmp_path):
    return write(tmp_path / "empty.jpg", b"")


def _text(tmp_path):
    return write(tmp_path / "notes.jpg", "This is a shopping list, not a photo.\n".encode() * 20)


def _truncated_jpeg(tmp_path):
    data = encoded(Image.fromarray(gradient(64, 64)), "JPEG", quality=95)
    return write(tmp_path / "cut.jpg", data[: len(data) // 2])


def _truncated_png(tmp_path):
    data = encoded(Image.fromarray(blocks(64, 64, 4)), "PNG")
    return write(tmp_path / "cut.png", data[: len(data) // 2])


def _truncated_tiff_lzw(tmp_path):
    data = encoded(Image.fromarray(blocks(64, 64, 4)), "TIFF", compression="tiff_lzw")
    return write(tmp_path / "cut.tif", data[: len(data) // 2])


def _bomb(tmp_path):
    # 50 000 × 50 000 RGB declared, 2.5 gigapixels; the IDAT is a few bytes.
    return write(tmp_path / "bomb.png", png_bytes(50_000, 50_000, 8, 2, zlib.compress(b"\x00" * 1000)))


def _too_small(tmp_path):
    return write(tmp_path / "small.png", encoded(Image.new("RGB", (3, 2)), "PNG"))


def _one_pixel(tmp_path):
    return write(tmp_path / "dot.gif", encoded(Image.new("P", (1, 1)), "GIF"))


HEIC_HEADER = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


def _heic(tmp_path):
    return write(tmp_path / "IMG_0001.HEIC", HEIC_HEADER)


def _heic_named_jpg(tmp_path):
    return write(tmp_path / "IMG_0002.jpg", HEIC_HEADER)


REFUSALS = {
    "missing": (_missing, "not found"),
    "directory": (_directory, "directory"),
    "fifo": (_fifo, "not a regular file"),
    "empty": (_empty, "empty"),
    "text-as-jpg": (_text, "not an image"),
    "truncated-jpeg": (_truncated_jpeg, "truncated"),
    "truncated-png": (_truncated_png, "truncated"),
    "truncated-tiff-lzw": (_truncated_tiff_lzw, "truncated"),
    "bomb": (_bomb, "too large"),
    "too-small": (_too_small, "too small (3×2 px); at least 8 px on each side"),
    "one-pixel": (_one_pixel, "too small (1×1 px)"),
    "heic-without-extra": (_heic, "pip install 'zoomout[heif]'"),
    "heic-named-jpg-without-extra": (_heic_named_jpg, "HEIC/HEIF photos need the heif extra"),
}


def assert_refused(path, keyword: str, shown_name: str | None = None) -> PhotoError:
    """The refusal is one printable line that names the file and says why."""
    with pytest.raises(PhotoError) as raised:
        load_photo(path)
    message = str(raised.value)
    assert "\n" not in message and "\r" not in message
    assert (shown_name or Path(path).name) in message, message
    assert keyword in message, message
    message.encode("utf-8")  # printable anywhere
    return raised.value


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_refusal(tmp_path, monkeypatch, case):
    build, keyword = REFUSALS[case]
    if case.startswith("heic"):
        # The extra is missing whether or not it is installed here.
        monkeypatch.setitem(sys.modules, "pillow_heif", None)
        monkeypatch.setitem(sys.modules, "pillow_heif.as_plugin", None)
    assert_refused(build(tmp_path), keyword)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_refusal_permission_denied(tmp_path):
    path = write(tmp_path / "secret.png", encoded(Image.new("RGB", (16, 16)), "PNG"))
    path.chmod(0)
    try:
        assert_refused(path, "permission denied")
    finally:
        path.chmod(0o600)


def test_refusal_permission_denied_simulated(tmp_path, monkeypatch):
    # Runs as root too, where the real chmod test is skipped.
    path = write(tmp_path / "secret.png", encoded(Image.new("RGB", (16, 16)), "PNG"))

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert_refused(path, "permission denied")


@pytest.mark.parametrize(("fmt", "options"), [
    ("JPEG", {"quality": 95}),
    ("JPEG", {"quality": 95, "progressive": True}),
    ("PNG", {}),
    ("GIF", {}),
    ("WEBP", {}),
    ("BMP", {}),
    ("TIFF", {}),
])
@pytest.mark.parametrize("kept", [0.05, 0.3, 0.6, 0.9])
def test_truncated_after_a_valid_header_is_refused(tmp_path, fmt, options, kept):
    data = encoded(Image.fromarray(blocks(64, 64, 4)), fmt, **options)
    assert len(data) > 300
    path = write(tmp_path / f"cut.{fmt.lower()}", data[: int(len(data) * kept)])
    assert_refused(path, "truncated or corrupt")


def test_heic_is_recognised_when_the_extra_is_installed(tmp_path):
    if not HAS_HEIF:
        pytest.skip("pillow_heif (the heif extra) is not installed")
    path = write(tmp_path / "IMG_0003.jpg", _heic_bytes(Image.fromarray(gradient())))  # misnamed on purpose
    openers = dict(Image.OPEN)
    assert mean_abs_diff(load_photo(path).pixels, gradient()) < 4
    assert Image.OPEN == openers  # decoded without registering pillow_heif globally


# --- file names --------------------------------------------------------------------------------


def test_non_utf8_file_name(tmp_path):
    raw_path = os.path.join(os.fsencode(tmp_path), b"caf\xe9.png")
    try:
        with open(raw_path, "wb") as file:
            file.write(encoded(Image.fromarray(blocks()), "PNG"))
    except OSError as error:
        pytest.skip(f"this file system refuses non-UTF-8 names: {error}")

    assert_rgb(load_photo(raw_path), 48, 64)
    assert_rgb(load_photo(os.fsdecode(raw_path)), 48, 64)

    with open(raw_path, "wb"):
        pass  # now empty
    assert_refused(os.fsdecode(raw_path), "empty", shown_name="caf\\xe9.png: empty file")


def test_control_characters_in_a_file_name_stay_on_one_line(tmp_path):
    assert_refused(tmp_path / "two\nlines.jpg", "not found", shown_name="two\\nlines.jpg: file not found")


# --- load_photos -------------------------------------------------------------------------------


def test_load_photos_loads_all_or_raises_the_first_error(tmp_path):
    good = write(tmp_path / "a.png", encoded(Image.fromarray(blocks()), "PNG"))
    other = write(tmp_path / "b.jpg", encoded(Image.fromarray(gradient()), "JPEG"))
    photos = load_photos([good, str(other)])
    assert [p.path for p in photos] == [good, other]

    with pytest.raises(PhotoError, match="missing_1.png: file not found"):
        load_photos([good, tmp_path / "missing_1.png", tmp_path / "missing_2.png"])
    with pytest.raises(TypeError, match="use load_photo"):
        load_photos(str(good))
    assert load_photos([]) == []


# --- global state --------------------------------------------------------------------------------


def test_global_state_is_left_alone(tmp_path, monkeypatch):
    cut = _truncated_jpeg(tmp_path)
    good = write(tmp_path / "good.png", encoded(Image.fromarray(blocks()), "PNG"))
    filters = list(warnings.filters)
    max_image_pixels = Image.MAX_IMAGE_PIXELS
    formats = set(Image.OPEN)

    # Someone else asked Pillow to pad truncated files: load still refuses them, then restores.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert_refused(cut, "truncated")
    load_photo(good)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    assert_refused(_bomb(tmp_path), "too large")

    assert warnings.filters == filters
    assert Image.MAX_IMAGE_PIXELS == max_image_pixels
    assert set(Image.OPEN) == formats


def test_pillow_warnings_become_notes(tmp_path):
    # A JPEG whose EXIF IFD0 claims 255 entries: Pillow warns "Corrupt EXIF data" and goes on.
    image = Image.fromarray(blocks(16, 16, 8))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 1
    data = bytearray(encoded(image, "JPEG", exif=exif, quality=95))
    start = data.index(b"Exif\x00\x00") + 6
    data[start + 8 : start + 10] = b"\xff\x00"  # absurd entry count in IFD0
    path = write(tmp_path / "bad_exif.jpg", bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        photo = load_photo(path)  # the warning does not reach the caller...
    assert_rgb(photo, 16, 16)
    assert any(n.startswith("Pillow warning: Corrupt EXIF data") for n in photo.notes), photo.notes  # ...it is noted


# --- fuzz ----------------------------------------------------------------------------------------


def _seed_files() -> list[bytes]:
    image = Image.fromarray(blocks(16, 16, 4))
    return [
        encoded(image, "JPEG"),
        encoded(image, "PNG"),
        encoded(image.convert("P"), "GIF"),
        encoded(image, "BMP"),
        encoded(image, "TIFF"),
        encoded(image, "WEBP", lossless=True),
    ]


SEED_FILES = _seed_files()


@st.composite
def damaged_files(draw) -> bytes:
    """A valid small image with some bytes overwritten and maybe its tail cut off."""
    data = bytearray(draw(st.sampled_from(SEED_FILES)))
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(1, len(data)))])


@pytest.mark.filterwarnings("error")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=512), damaged_files()))
def test_any_bytes_give_a_photo_or_a_photo_error(tmp_path, data):
    path = write(tmp_path / "fuzz.jpg", data)
    try:
        photo = load_photo(path)
    except PhotoError as error:
        assert "\n" not in str(error)
        return
    assert photo.pixels.ndim == 3 and photo.pixels.shape[2] == 3
    assert photo.pixels.dtype == np.uint8 and photo.pixels.flags.c_contiguous
    assert min(photo.pixels.shape[:2]) >= MIN_SIDE_PX
