"""Stage 1: load photos as (H, W, 3) uint8 RGB arrays, or refuse them with one line that says why.

Every photo is read once: the bytes give the SHA-256 and are decoded from memory. The size is
checked from the header before any pixel is decoded, truncated files are refused rather than
padded with grey, and whatever was adapted (orientation, colour mode, bit depth, alpha,
animation) is listed in `Photo.notes`.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from zoomout.errors import PhotoError, printable

MAX_PIXELS = 100_000_000
"""Photos with more pixels (width × height, from the header) are refused before decoding."""

MIN_SIDE_PX = 8
"""The outpainting chain needs at least this many pixels on each side."""

ALPHA_BACKGROUND_RGB = (128, 128, 128)
"""Transparent pixels are composited on this neutral mid grey."""

HEIF_EXTRA_HINT = "HEIC/HEIF photos need the heif extra: pip install 'zoomout[heif]'"

# ISO-BMFF major brands of HEIF still images and sequences (ISO/IEC 23008-12).
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"mif2", b"msf1"}
)
_AVIF_BRANDS = frozenset({b"avif", b"avis"})

# EXIF orientation -> the array operation that shows the photo upright
# (the same mapping as PIL.ImageOps.exif_transpose, which the tests use as the reference).
_ORIENT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda a: a[:, ::-1],  # FLIP_LEFT_RIGHT
    3: lambda a: a[::-1, ::-1],  # ROTATE_180
    4: lambda a: a[::-1],  # FLIP_TOP_BOTTOM
    5: lambda a: a.swapaxes(0, 1),  # TRANSPOSE
    6: lambda a: np.rot90(a, k=-1),  # ROTATE_270 (90° clockwise)
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),  # TRANSVERSE
    8: lambda a: np.rot90(a, k=1),  # ROTATE_90 (90° counter-clockwise)
}

_ANIMATED_FORMATS = frozenset({"GIF", "PNG", "WEBP"})


@dataclass(frozen=True)
class Photo:
    """A photo ready for the chain.

    Attributes
    ----------
    path : Path
        The file as given.
    pixels : (H, W, 3) uint8 ndarray
        RGB, C-contiguous, upright (EXIF orientation applied).
    sha256 : str
        Hex digest of the file's bytes.
    notes : tuple of str
        What was adapted, e.g. "EXIF orientation 6 applied", "alpha composited on grey (128, 128, 128)".
    """

    path: Path
    pixels: np.ndarray
    sha256: str
    notes: tuple[str, ...] = ()


def load_photo(path: str | bytes | os.PathLike) -> Photo:
    """Load one photo as upright (H, W, 3) uint8 RGB.

    Raises
    ------
    PhotoError
        One line naming the file and the reason: missing, a directory, unreadable, empty,
        not an image, HEIC without the heif extra, too large, too small, truncated or corrupt.
    """
    path = Path(os.fsdecode(path))  # bytes paths: undecodable bytes become surrogates
    name = _display_name(path)

    # 1. Read the bytes (one read serves the hash and the decoder)
    data = _read_bytes(path, name)

    # 2. Open the header (HEIF through pillow_heif when installed)
    notes: list[str] = []
    with _strict_pillow(notes), _refuse_undecodable(name, data):
        image = _open_heif(data, name) if _is_heif(data) else Image.open(io.BytesIO(data))

    # 3. Check the size before decoding
    width_px, height_px = image.size
    if width_px * height_px > MAX_PIXELS:
        raise PhotoError(
            f"{name}: too large ({width_px}×{height_px} px = {width_px * height_px / 1e6:.1f} megapixels); "
            f"at most {MAX_PIXELS / 1e6:g} megapixels"
        )
    if min(width_px, height_px) < MIN_SIDE_PX:
        raise PhotoError(f"{name}: too small ({width_px}×{height_px} px); at least {MIN_SIDE_PX} px on each side")

    # 4. Decode the first frame, then convert it to RGB (Pillow's warnings become notes)
    with _strict_pillow(notes):
        with _refuse_undecodable(name, data):
            frame_count = getattr(image, "n_frames", 1)
            sixteen_bit = _has_16_bit_samples(image)
            image.load()
        if frame_count > 1:
            kind = "animated" if image.format in _ANIMATED_FORMATS else "multi-image"
            notes.append(f"{kind}: first of {frame_count} frames used")
        orientation = _exif_orientation(image, notes)
        pixels = _to_rgb(image, name, sixteen_bit, notes)

    # 5. Turn upright
    if orientation in _ORIENT:
        pixels = _ORIENT[orientation](pixels)
        notes.append(f"EXIF orientation {orientation} applied")

    return Photo(
        path=path,
        pixels=np.ascontiguousarray(pixels, dtype=np.uint8),
        sha256=hashlib.sha256(data).hexdigest(),
        notes=tuple(notes),
    )


def load_photos(paths: Iterable[str | bytes | os.PathLike]) -> list[Photo]:
    """Load every photo before returning; the first refusal is raised as a PhotoError."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(f"load_photos takes a list of paths, not one path ({paths!r}); use load_photo")
    return [load_photo(path) for path in paths]


def _display_name(path: Path) -> str:
    """The path as one printable line of valid UTF-8 (undecodable bytes shown as \\xNN)."""
    return printable(os.fsencode(path).decode("utf-8", "backslashreplace"))


def _read_bytes(path: Path, name: str) -> bytes:
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise PhotoError(f"{name}: is a directory, not a photo")
        if not stat.S_ISREG(mode):  # a FIFO or a device could block or never end
            raise PhotoError(f"{name}: not a regular file")
        data = path.read_bytes()
    except FileNotFoundError:
        raise PhotoError(f"{name}: file not found") from None
    except PermissionError:
        raise PhotoError(f"{name}: permission denied, cannot read the file") from None
    except IsADirectoryError:
        raise PhotoError(f"{name}: is a directory, not a photo") from None
    except OSError as error:
        raise PhotoError(f"{name}: cannot read the file ({error.strerror or error})") from None
    if not data:
        raise PhotoError(f"{name}: empty file (0 bytes)")
    return data


def _is_heif(data: bytes) -> bool:
    """Whether the bytes are an ISO-BMFF HEIF file, whatever the file is named."""
    if data[4:8] != b"ftyp" or data[8:12] not in _HEIF_BRANDS:
        return False
    box_size = int.from_bytes(data[:4], "big")
    compatible = {data[i : i + 4] for i in range(16, min(box_size, len(data)) - 3, 4)}
    return not (compatible & _AVIF_BRANDS)  # an AVIF labelled mif1 is Pillow's to open


def _open_heif(data: bytes, name: str) -> Image.Image:
    try:
        from pillow_heif.as_plugin import HeifImageFile
    except ImportError:
        raise PhotoError(f"{name}: {HEIF_EXTRA_HINT}") from None
    # Built directly rather than through register_heif_opener, which would change Pillow's
    # global registry of formats.
    return HeifImageFile(io.BytesIO(data))


@contextmanager
def _strict_pillow(notes: list[str]) -> Iterator[None]:
    """Decode strictly, changing no global state for longer than the block.

    Truncated files must fail rather than be padded with grey, so LOAD_TRUNCATED_IMAGES is
    held False. Pillow's decompression-bomb warning is dropped because MAX_PIXELS is checked
    from the header right after opening (Pillow warns from 89 megapixels, below our limit);
    its DecompressionBombError (at twice its limit) still becomes a PhotoError. Other warnings
    (e.g. "Corrupt EXIF data") become notes instead of reaching the user's terminal.
    """
    load_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = load_truncated
    for warning in caught:
        note = f"Pillow warning: {_one_line(warning.message)}"
        if not issubclass(warning.category, Image.DecompressionBombWarning) and note not in notes:
            notes.append(note)


@contextmanager
def _refuse_undecodable(name: str, data: bytes) -> Iterator[None]:
    """Turn whatever Pillow raises on a malformed file into a one-line PhotoError."""
    try:
        yield
    except PhotoError:
        raise
    except Image.DecompressionBombError as error:
        raise PhotoError(f"{name}: too large, refused before decoding ({_one_line(error)})") from None
    except UnidentifiedImageError:
        signed_as = _signature_format(data)
        if signed_as:  # a known header whose rest is missing or broken, e.g. a TIFF cut before its IFD
            raise PhotoError(f"{name}: truncated or corrupt {signed_as} file (starts like one, cannot be read)") from None
        raise PhotoError(f"{name}: not an image (no format Pillow or pillow_heif can read)") from None
    except MemoryError:
        raise PhotoError(f"{name}: not enough memory to decode it") from None
    except Exception as error:  # Pillow's parsers raise many types on malformed input
        raise PhotoError(f"{name}: truncated or corrupt image data ({_one_line(error)})") from None


_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


def _signature_format(data: bytes) -> str | None:
    """The format whose magic bytes `data` starts with, if any."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if _is_heif(data):
        return "HEIF"
    return next((fmt for magic, fmt in _SIGNATURES if data.startswith(magic)), None)


def _one_line(error: BaseException | Warning | str) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _has_16_bit_samples(image: Image.Image) -> bool:
    """Whether the file stores 16-bit samples (Pillow opens 16-bit RGB(A) PNGs as 8-bit modes)."""
    if image.mode.startswith("I;16"):
        return True
    for tile in image.tile:
        rawmode = tile.args if isinstance(tile.args, str) else (tile.args or ("",))[0]
        if isinstance(rawmode, str) and ";16" in rawmode:
            return True
    return False


def _to_rgb(image: Image.Image, name: str, sixteen_bit: bool, notes: list[str]) -> np.ndarray:
    """(H, W, 3) uint8 RGB from any Pillow mode; appends what was adapted to `notes`."""
    mode = image.mode
    if sixteen_bit:
        notes.append("16-bit reduced to 8-bit")

    if mode.startswith("I;16"):
        return _grey_to_rgb(_scale_to_uint8(np.asarray(image), 65535))
    if mode == "I":  # 32-bit integers; Pillow's mode for 16-bit grey in older versions and TIFF
        notes.append("32-bit integer grey read as 0–65535 and reduced to 8-bit")
        return _grey_to_rgb(_scale_to_uint8(np.asarray(image), 65535))
    if mode == "F":
        grey = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        full_scale = 1.0 if grey.max(initial=0.0) <= 1.0 else 255.0
        notes.append(f"32-bit float grey read as 0–{full_scale:g} and reduced to 8-bit")
        return _grey_to_rgb(_scale_to_uint8(grey, full_scale))

    has_alpha = "A" in mode or "a" in mode or "transparency" in image.info
    if has_alpha:
        rgba = np.asarray(_convert(image, "RGBA", name))
        return _composite_on_grey(rgba, notes)

    if mode != "RGB":
        notes.append(_MODE_NOTES.get(mode, f"{mode} converted to RGB"))
    return np.asarray(_convert(image, "RGB", name))


_MODE_NOTES = {
    "1": "1-bit converted to RGB",
    "L": "grayscale converted to RGB",
    "P": "palette converted to RGB",
    "CMYK": "CMYK converted to RGB",
    "YCbCr": "YCbCr converted to RGB",
    "LAB": "LAB converted to RGB",
    "HSV": "HSV converted to RGB",
    "RGBX": "RGBX converted to RGB",
}


def _convert(image: Image.Image, mode: str, name: str) -> Image.Image:
    try:
        return image.convert(mode)
    except ValueError:
        raise PhotoError(f"{name}: unsupported colour mode {image.mode!r}") from None


def _scale_to_uint8(values: np.ndarray, full_scale: float) -> np.ndarray:
    scaled = np.clip(values.astype(np.float64), 0.0, full_scale) * (255.0 / full_scale)
    return np.rint(scaled).astype(np.uint8)


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[:, :, np.newaxis], 3, axis=2)


def _composite_on_grey(rgba: np.ndarray, notes: list[str]) -> np.ndarray:
    alpha = rgba[:, :, 3:4].astype(np.uint32)
    if alpha.min() == 255:
        return rgba[:, :, :3]
    background = np.array(ALPHA_BACKGROUND_RGB, dtype=np.uint32)
    rgb = (rgba[:, :, :3] * alpha + background * (255 - alpha) + 127) // 255
    notes.append(f"alpha composited on grey {ALPHA_BACKGROUND_RGB}")
    return rgb.astype(np.uint8)


def _exif_orientation(image: Image.Image, notes: list[str]) -> int:
    """The EXIF (or XMP) orientation, 1 when absent; a broken EXIF block does not cost the photo."""
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # noqa: BLE001 - EXIF parsers raise many types on malformed blocks
        notes.append("EXIF unreadable: orientation not applied")
        return 1
    return orientation if isinstance(orientation, int) else 1
