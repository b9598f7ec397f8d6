"""The hostile-input corpus: every case runs the real command line in a subprocess.

Each case is refused with exit code ≠ 0, exactly one line on stderr that names the cause, no
traceback and nothing left behind (no video, no temporary file, no sidecar); or it succeeds
(exit 0), says on a `note:` line what it adapted, and leaves only the video and its sidecar.
Every input is built here, in a fresh folder; nothing is downloaded.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

from zoomout import Config, OutputError, cli, make_video
from zoomout.cache import default_cache_dir, list_entries
from zoomout.pipeline import plan_run
from zoomout.render import i420_mipmap_bytes
from zoomout.resources import check_disk_space, estimate_video_bytes

BASE_ARGS = ["-o", "out.mp4", "--size", "96x160", "--slots", "1", "--seconds-per-slot", "0.5", "--fps", "24", "--sound", "none"]


@dataclass(frozen=True)
class Case:
    """`build(folder)` writes the inputs into `folder` and returns the arguments after `zoomout make`.

    `says` must appear in the one error line (a refusal) or in a `note:` line (`ok`: an adaptation);
    an `ok` case with `says=""` succeeds with nothing to adapt.
    """

    build: Callable[[Path], list[str]]
    says: str
    ok: bool = False
    env: Callable[[Path], dict[str, str]] | None = None
    skip: str | None = None


# --- builders --------------------------------------------------------------------------------


def picture(width_px: int = 64, height_px: int = 48, mode: str = "RGB") -> Image.Image:
    """Asymmetric colour blocks with a ramp: every flip and turn of it differs."""
    rng = np.random.default_rng(width_px * 7 + height_px)
    blocks = np.kron(rng.integers(0, 256, (max(height_px // 16, 1), max(width_px // 16, 1), 3)), np.ones((16, 16, 1)))
    pixels = np.zeros((height_px, width_px, 3), np.uint8)
    pixels[: blocks.shape[0], : blocks.shape[1]] = blocks[:height_px, :width_px]
    pixels[..., 2] = np.linspace(0, 255, width_px, dtype=np.uint8)[None, :]
    return Image.fromarray(pixels).convert(mode)


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width_px: int, height_px: int) -> bytes:
    """A PNG whose header declares any size, with a few bytes of pixel data."""
    ihdr = struct.pack(">IIBBBBB", width_px, height_px, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + png_chunk(b"IEND", b"")
    )  # fmt: skip


def jpeg_declaring(width_px: int, height_px: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) is rewritten to declare another size."""
    data = bytearray(encoded(picture(), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height_px, width_px)
    return bytes(data)


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello " * 100)
    return buffer.getvalue()


HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>\n"
HEIC_HEADER = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


def photo(name: str, data: bytes | Callable[[], bytes], *options: str) -> Callable[[Path], list[str]]:
    """A builder that writes `data` as `name` and passes it as the photo."""

    def build(folder: Path) -> list[str]:
        (folder / name).write_bytes(data() if callable(data) else data)
        return [name, *options]

    return build


def good(*options: str) -> Callable[[Path], list[str]]:
    """A valid photo with extra options (usually hostile ones)."""
    return photo("photo.png", lambda: encoded(picture(), "PNG"), *options)


def with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return encoded(picture(), "JPEG", exif=exif, quality=95)


def animated(fmt: str, **options: object) -> Callable[[], bytes]:
    def data() -> bytes:
        first, *rest = (Image.new("RGB", (32, 24), colour) for colour in ("red", "green", "blue"))
        return encoded(first, fmt, save_all=True, append_images=rest, duration=100, loop=0, **options)

    return data


def palette_with_transparency() -> bytes:
    image = picture().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return encoded(image, "PNG", transparency=0)


def sixteen_bit_png() -> bytes:
    ramp = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    return encoded(Image.fromarray(ramp), "PNG")


def truncated(fmt: str, keep: float) -> Callable[[], bytes]:
    def data() -> bytes:
        whole = encoded(picture(128, 128), fmt)
        return whole[: int(len(whole) * keep)]

    return data


def directory(folder: Path) -> list[str]:
    (folder / "holiday.jpg").mkdir()
    return ["holiday.jpg"]


def fifo(folder: Path) -> list[str]:
    os.mkfifo(folder / "pipe.jpg")
    return ["pipe.jpg"]


def unreadable(folder: Path) -> list[str]:
    path = folder / "secret.png"
    path.write_bytes(encoded(picture(), "PNG"))
    path.chmod(0)
    return ["secret.png"]


def non_utf8_name(data: bytes | None) -> Callable[[Path], list[str]]:
    """A photo whose file name is not valid UTF-8 (`caf\\xe9.png`), passed as raw bytes."""

    def build(folder: Path) -> list[str]:
        raw = os.path.join(os.fsencode(folder), b"caf\xe9.png")
        if data is not None:
            with open(raw, "wb") as file:
                file.write(data)
        return [os.fsdecode(b"caf\xe9.png")]

    return build


def output_under_a_file(folder: Path) -> list[str]:
    (folder / "notes.txt").write_text("a file, not a folder\n")
    return [*good()(folder), "-o", "notes.txt/out.mp4"]


def output_is_a_folder(folder: Path) -> list[str]:
    (folder / "clips.mp4").mkdir()
    return [*good()(folder), "-o", "clips.mp4"]


def output_is_the_input(folder: Path) -> list[str]:
    (folder / "clip.mp4").write_bytes(encoded(picture(), "PNG"))  # a PNG named .mp4: loads, then would be overwritten
    return ["clip.mp4", "-o", "clip.mp4"]


def thirteen_photos(folder: Path) -> list[str]:
    names = [f"p{i}.png" for i in range(13)]
    for name in names:
        (folder / name).write_bytes(encoded(picture(), "PNG"))
    return names


def missing_sound(folder: Path) -> list[str]:
    return [*good()(folder), "--sound", "missing.wav"]


def shim(folder: Path, module: str, source: str) -> dict[str, str]:
    """The environment that puts `module` (with `source`) first on the CLI's import path."""
    path = folder.parent / f"{folder.name}-shim"
    path.mkdir(exist_ok=True)
    (path / f"{module}.py").write_text(source)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(path), os.environ.get("PYTHONPATH")]))}


def hidden_heif(folder: Path) -> dict[str, str]:
    """Hide the heif extra: a `pillow_heif` that fails to import, as when it is not installed."""
    return shim(folder, "pillow_heif", "raise ImportError('pillow_heif is hidden by the test')\n")


# Python runs `sitecustomize` at start-up: this one makes every disk look full (1 MB free).
FULL_DISK = """import shutil
shutil.disk_usage = lambda path: shutil._ntuple_diskusage(10**12, 10**12 - 10**6, 10**6)
"""


ROOT = os.geteuid() == 0

CORPUS: dict[str, Case] = {
    # broken or disguised files
    "empty-file": Case(photo("empty.jpg", b""), "empty file (0 bytes)"),
    "truncated-jpeg": Case(photo("cut.jpg", truncated("JPEG", 0.5)), "truncated"),
    "truncated-jpeg-header": Case(photo("cut-header.jpg", truncated("JPEG", 0.02)), "truncated"),
    "truncated-png": Case(photo("cut.png", truncated("PNG", 0.5)), "truncated"),
    "truncated-webp": Case(photo("cut.webp", truncated("WEBP", 0.5)), "truncated"),
    "png-named-jpg": Case(photo("really-a-png.jpg", lambda: encoded(picture(), "PNG")), "", ok=True),
    "jpeg-named-png": Case(photo("really-a-jpeg.png", lambda: encoded(picture(), "JPEG")), "", ok=True),
    "text-named-jpg": Case(photo("list.jpg", b"eggs, milk, bread\n" * 40), "not an image"),
    "html-named-png": Case(photo("page.png", HTML * 10), "not an image"),
    "zip-named-jpg": Case(photo("archive.jpg", zip_bytes), "not an image"),
    "polyglot-png-zip": Case(photo("poly.png", lambda: encoded(picture(), "PNG") + zip_bytes()), "", ok=True),
    "polyglot-png-html": Case(photo("poly-html.png", lambda: encoded(picture(), "PNG") + HTML), "", ok=True),
    "polyglot-jpeg-zip": Case(photo("poly.jpg", lambda: encoded(picture(), "JPEG") + zip_bytes()), "", ok=True),
    # sizes
    "bomb-png-50000x50000": Case(photo("bomb.png", png_declaring(50_000, 50_000)), "too large"),
    "bomb-jpeg-50000x50000": Case(photo("bomb.jpg", lambda: jpeg_declaring(50_000, 50_000)), "too large"),
    "one-pixel": Case(photo("dot.png", lambda: encoded(picture(1, 1), "PNG")), "too small (1×1 px)"),
    "3x10000": Case(photo("strip.png", lambda: encoded(picture(3, 10_000), "PNG")), "too small (3×10000 px)"),
    "8x10000": Case(photo("thin.png", lambda: encoded(picture(8, 10_000), "PNG")), "too thin"),
    "8x10000-cover": Case(photo("thin.png", lambda: encoded(picture(8, 10_000), "PNG"), "--fit", "cover"), "", ok=True),
    # colour modes and encodings
    "cmyk-jpeg": Case(photo("print.jpg", lambda: encoded(picture(mode="CMYK"), "JPEG")), "CMYK converted to RGB", ok=True),
    "16-bit-png": Case(photo("deep.png", sixteen_bit_png), "16-bit reduced to 8-bit", ok=True),
    "palette-transparency": Case(photo("logo.png", palette_with_transparency), "alpha composited", ok=True),
    **{
        f"exif-orientation-{n}": Case(
            photo(f"turned-{n}.jpg", lambda n=n: with_orientation(n)), f"EXIF orientation {n} applied" if n > 1 else "", ok=True
        )
        for n in range(1, 9)
    },
    "animated-gif": Case(photo("anim.gif", animated("GIF")), "animated: first of 3 frames used", ok=True),
    "animated-webp": Case(photo("anim.webp", animated("WEBP", lossless=True)), "animated: first of 3 frames used", ok=True),
    "animated-png": Case(photo("anim.png", animated("PNG")), "animated: first of 3 frames used", ok=True),
    "heic-without-extra": Case(photo("IMG_0001.HEIC", HEIC_HEADER), "pip install 'zoomout[heif]'", env=hidden_heif),
    "heic-named-jpg-without-extra": Case(photo("IMG_0002.jpg", HEIC_HEADER), "heif extra", env=hidden_heif),
    # the file system
    "missing-file": Case(lambda folder: ["nowhere.jpg"], "file not found"),
    "directory": Case(directory, "is a directory"),
    "fifo": Case(fifo, "not a regular file"),
    "unreadable": Case(unreadable, "permission denied", skip="root reads any file" if ROOT else None),
    "non-utf8-name": Case(non_utf8_name(encoded(picture(), "PNG")), "", ok=True),
    "non-utf8-name-missing": Case(non_utf8_name(None), "caf\\xe9.png: file not found"),
    "output-missing-folder": Case(lambda folder: [*good()(folder), "-o", "no/such/folder/out.mp4"], "does not exist"),
    "output-under-a-file": Case(output_under_a_file, "not a folder"),
    "output-in-proc": Case(lambda folder: [*good()(folder), "-o", "/proc/out.mp4"], "/proc"),
    "output-is-a-folder": Case(output_is_a_folder, "is a directory"),
    "output-not-mp4": Case(lambda folder: [*good()(folder), "-o", "out.avi"], "should be a .mp4 file"),
    "output-is-the-input": Case(output_is_the_input, "would overwrite an input"),
    # absurd options
    "slots-0": Case(good("--slots", "0"), "slots should be in [1, 50] but is 0"),
    "slots-huge": Case(good("--slots", "1000000"), "slots should be in [1, 50]"),
    "slots-not-a-number": Case(good("--slots", "many"), "--slots"),
    "zoom-1": Case(good("--zoom", "1.0"), "--zoom should be in"),
    "zoom-nan": Case(good("--zoom", "nan"), "--zoom should be a finite number"),
    "zoom-minus-inf": Case(good("--zoom", "-inf"), "--zoom should be a finite number"),
    "fps-0": Case(good("--fps", "0"), "fps should be one of"),
    "size-1x1": Case(good("--size", "1x1"), "--size width should be an even number"),
    "size-odd": Case(good("--size", "97x161"), "--size width should be an even number"),
    "size-huge": Case(good("--size", "99999x2"), "--size width should be an even number"),
    "size-5000-digits": Case(good("--size", "9" * 5000 + "x2"), "size should be one of"),
    "size-garbage": Case(good("--size", "big"), "size should be one of"),
    "seconds-per-slot-inf": Case(good("--seconds-per-slot", "inf"), "--seconds-per-slot should be a finite number"),
    "seed-negative": Case(good("--seed", "-1"), "seed should be in [0, 2**32)"),
    "hold-negative": Case(good("--hold", "-1"), "--hold should be in"),
    "duration-0": Case(good("--duration", "0"), "--duration and --seconds-per-slot cannot be given together"),
    "crf-100": Case(good("--crf", "100"), "crf should be in [0, 51]"),
    "ease-unknown": Case(good("--ease", "wobbly"), "ease should be one of"),
    "engine-unknown": Case(good("--engine", "magic"), "magic"),
    "label-two-lines": Case(good("--label", "one\ntwo"), "--label should be one line"),
    "sound-file-missing": Case(missing_sound, "missing.wav"),
    "thirteen-photos": Case(thirteen_photos, "give 1 to 12 photos, not 13"),
    "no-photo": Case(lambda folder: [], "Missing argument 'PHOTO'"),
    "disk-full": Case(good(), "not enough room for the video", env=lambda folder: shim(folder, "sitecustomize", FULL_DISK)),
}


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m zoomout make ARGS` in `cwd`, as a user would run it (no terminal: plain output)."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "zoomout", "make", *args], cwd=cwd, env=full_env,
        capture_output=True, text=True, errors="backslashreplace", timeout=300,
    )  # fmt: skip


def files_under(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")} if folder.is_dir() else set()


@pytest.mark.slow
@pytest.mark.parametrize("name", CORPUS)
def test_hostile_input(name, tmp_path):
    case = CORPUS[name]
    if case.skip:
        pytest.skip(case.skip)
    folder = tmp_path / "work"
    folder.mkdir()
    args = case.build(folder)
    before = files_under(folder)

    first_option = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    photos, options = args[:first_option], args[first_option:]  # the case's options come last: they win
    done = run_cli([*photos, *BASE_ARGS, *options], folder, case.env(folder) if case.env else None)

    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    new = files_under(folder) - before
    if case.ok:
        assert done.returncode == 0, done.stderr
        assert new == {Path("out.mp4"), Path("out.zoomout.json")}, new
        notes = [line for line in lines if line.startswith("note: ")]
        if case.says:
            assert any(case.says in line for line in notes), done.stderr
        else:
            assert notes == [], notes
    else:
        assert done.returncode != 0
        assert len(lines) == 1, done.stderr
        assert case.says in lines[0], lines[0]
        assert new == set(), new


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 40


# --- a full disk, and the dry run --------------------------------------------------------------


def free_space(free_bytes: int) -> Callable[[Path], object]:
    return lambda path: shutil._ntuple_diskusage(10**12, 10**12 - free_bytes, free_bytes)


def test_check_disk_space_refuses_when_too_little_is_free(tmp_path):
    assert check_disk_space(tmp_path, 10**6, disk_usage=free_space(10**7)) == 10**7
    with pytest.raises(OutputError, match=r"not enough room for the video: 20\.0 MB needed, 1\.0 MB free"):
        check_disk_space(tmp_path, 20 * 10**6, disk_usage=free_space(10**6))


def test_make_video_refuses_a_full_disk_before_any_work(tmp_path, monkeypatch):
    photo_path = tmp_path / "photo.png"
    picture().save(photo_path)
    monkeypatch.setattr(shutil, "disk_usage", free_space(10**6))
    config = Config(width_px=96, height_px=160, slots=1, sound="none")
    with pytest.raises(OutputError, match="not enough room"):
        make_video([photo_path], tmp_path / "out.mp4", config)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]
    assert list_entries(default_cache_dir()) == []  # nothing was outpainted


def test_video_size_bound_holds_for_a_real_video(tmp_path):
    photo_path = tmp_path / "photo.png"
    Image.open(Path(__file__).resolve().parents[1] / "examples" / "cat.png").save(photo_path)
    config = Config(width_px=180, height_px=320, slots=3, seconds_per_slot=0.5, fps=24, sound="calm")
    result = make_video([photo_path], tmp_path / "out.mp4", config)
    bound = estimate_video_bytes(config, result.plan)
    assert result.path.stat().st_size <= bound <= 10 * result.path.stat().st_size


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, monkeypatch, capsys):
    picture().save(tmp_path / "photo.png")
    monkeypatch.chdir(tmp_path)
    args = ["make", "photo.png", *BASE_ARGS, "--slots", "3"]

    cli.app(args=[*args, "--dry-run"], standalone_mode=False)
    plan = capsys.readouterr().out
    assert "would write out.mp4: 96x160, 72 frames at 24 fps = 3.00 s" in plan, plan
    assert "slots: 3 outpainted + 1 photo slot(s), in 1 chain(s) (zoom 2 per slot); 0 of the 4 already in the cache" in plan
    assert re.search(r"memory: about \d+ MB at peak", plan) and "dry run: nothing written" in plan
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]
    assert list_entries(default_cache_dir()) == []

    cli.app(args=args, standalone_mode=False)  # a real run fills the cache...
    cli.app(args=[*args, "--dry-run", "-o", "other.mp4", "--ease", "punchy"], standalone_mode=False)
    assert "4 already in the cache" in capsys.readouterr().out  # ...which a retimed dry run finds


def test_plan_run_memory_grows_with_size_and_slots(tmp_path):
    picture().save(tmp_path / "photo.png")

    def memory(**options: object) -> int:
        config = Config(**{"width_px": 180, "height_px": 320, "slots": 2, "sound": "none", **options})
        return plan_run([tmp_path / "photo.png"], tmp_path / "out.mp4", config, cache_dir=None).memory.total

    small, more_slots, larger = memory(), memory(slots=8), memory(width_px=1080, height_px=1920)
    assert small < more_slots < larger
    assert more_slots - small == 6 * (180 * 320 * 4 + i420_mipmap_bytes(180, 320))  # a slot, its mask and mipmaps


def test_an_error_quoting_a_file_name_with_a_newline_is_one_line(tmp_path, monkeypatch):
    """Found by the CLI fuzzer: `--prompts-file $'\\n'` gave a two-line error."""
    from zoomout.engines.diffusion import load_prompts
    from zoomout.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as raised:
        load_prompts("\n")
    assert str(raised.value) == "prompts file \\n cannot be read: [Errno 2] No such file or directory: '\\n'"


@pytest.mark.parametrize(
    "where", ["photo", "output", "output folder", "slots folder", "contact sheet", "model", "lora", "vae", "lama_model"]
)
def test_a_name_too_long_to_look_up_is_a_one_line_error(tmp_path, where):
    """Found by the CLI fuzzer: a 300-character name made `Path.exists()` raise OSError (ENAMETOOLONG), a traceback."""
    from zoomout.engines import DiffusionOptions, LamaOptions
    from zoomout.errors import ZoomoutError

    photo = tmp_path / "photo.png"
    Image.new("RGB", (32, 24), "teal").save(photo)
    long = "9" * 300
    paths = {"photos": [photo], "output": tmp_path / "out.mp4"}
    extra = {}
    if where == "photo":
        paths["photos"] = [tmp_path / f"{long}.png"]
    elif where == "output":
        paths["output"] = tmp_path / f"{long}.mp4"
    elif where == "output folder":
        paths["output"] = tmp_path / long / "out.mp4"
    elif where == "slots folder":
        extra["save_slots_to"] = tmp_path / long
    elif where == "contact sheet":
        extra["contact_sheet"] = tmp_path / f"{long}.png"
    config = Config(width_px=180, height_px=320, slots=1)
    if where in ("model", "lora", "vae"):  # a name that cannot be looked up is a path that does not exist
        config = Config(width_px=180, height_px=320, slots=1, engine="diffusion", engine_options=DiffusionOptions(**{where: str(tmp_path / long)}))
    elif where == "lama_model":
        config = Config(width_px=180, height_px=320, slots=1, engine="lama", engine_options=LamaOptions(model_path=str(tmp_path / long)))
    with pytest.raises(ZoomoutError) as raised:
        plan_run(paths["photos"], paths["output"], config, cache_dir=None, **extra)
    expected = "does not exist" if where in ("model", "lora", "vae", "lama_model") else "File name too long"
    assert expected in str(raised.value) and "\n" not in str(raised.value), str(raised.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_inspecting_a_name_too_long_to_look_up_is_a_one_line_error(tmp_path):
    """`zoomout inspect` on a 300-character name: `Path.is_file()` raised OSError (ENAMETOOLONG), a traceback."""
    from zoomout.errors import ProvenanceError
    from zoomout.inspection import inspect_video

    with pytest.raises(ProvenanceError, match="no such file"):
        inspect_video(tmp_path / f"{'9' * 300}.mp4")


def test_an_output_name_its_folder_would_refuse_while_writing_is_refused_before_any_work(tmp_path):
    """A 248-byte name passed every check, then failed at the very end: its temporary file `.NAME.<token>.tagged.mp4` and
    the sidecar `NAME.zoomout.json` are longer, and the folder takes 255 bytes. Now the plan refuses it and says how long
    a name may be; a name of that length makes it through."""
    photo = tmp_path / "photo.png"
    Image.new("RGB", (32, 24), "teal").save(photo)
    config = Config(width_px=180, height_px=320, slots=1)
    with pytest.raises(OutputError, match=r"the output's name is too long: .* at most (\d+) bytes") as raised:
        plan_run([photo], tmp_path / f"{'a' * 244}.mp4", config, cache_dir=None)
    longest = int(re.search(r"at most (\d+) bytes", str(raised.value)).group(1))
    plan_run([photo], tmp_path / f"{'a' * (longest - 4)}.mp4", config, cache_dir=None)
    with pytest.raises(OutputError, match="name is too long"):
        plan_run([photo], tmp_path / f"{'a' * (longest - 3)}.mp4", config, cache_dir=None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]
