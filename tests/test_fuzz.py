"""Fuzzing the loader and the option parser, for a bounded time.

Each harness feeds mutated input to one entry point and accepts only its documented outcomes:
the loader gives a Photo or a PhotoError; the options give a Config or a ConfigError; the
command line gives a ZoomoutError or a usage error. Anything else (an IndexError from a
parser, a ValueError, a crash) fails with the input that caused it, which then becomes a case
of the hostile corpus (tests/test_hostile.py).

The time-boxed loops share ZOOMOUT_FUZZ_SECONDS (default 60) and are seeded, so a run in CI
is reproducible; set ZOOMOUT_FUZZ_SEED to explore further, and ZOOMOUT_FUZZ_SECONDS=3600 for a
long run by hand (fuzz/fuzz_load.py runs the loader under atheris, coverage-guided). The
hypothesis harnesses run the same mutators with shrinking, a bounded number of examples.
"""

from __future__ import annotations

import io
import math
import os
import random
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from zoomout import cli, pipeline
from zoomout.cache import chain_key
from zoomout.config import Config, parse_size
from zoomout.errors import ConfigError, PhotoError, ZoomoutError
from zoomout.load import load_photo

FUZZ_SECONDS = float(os.environ.get("ZOOMOUT_FUZZ_SECONDS", "60"))
FUZZ_SEED = int(os.environ.get("ZOOMOUT_FUZZ_SEED", "0"))
SHARES = {"loader": 0.5, "config": 0.15, "cli": 0.35}  # of FUZZ_SECONDS


def time_boxed(share: str, run_one: Callable[[random.Random], object]) -> int:
    """Call `run_one` with a seeded Random until its share of the time is spent; returns the executions."""
    rng = random.Random(f"{FUZZ_SEED}-{share}")
    deadline = time.monotonic() + FUZZ_SECONDS * SHARES[share]
    executions = 0
    while time.monotonic() < deadline or executions == 0:
        state = rng.getstate()
        try:
            run_one(rng)
        except AssertionError:
            raise
        except BaseException as error:  # not an accepted outcome: replay it with this seed state
            rng.setstate(state)
            raise AssertionError(f"{share} fuzz execution {executions} raised {error!r}; input from {state!r:.200}") from error
        executions += 1
    print(f"fuzz {share}: {executions} executions in {FUZZ_SECONDS * SHARES[share]:.0f} s, no crash")
    return executions


# --- the loader ------------------------------------------------------------------------------


def _seed_files() -> list[bytes]:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "green", "blue")]

    def encoded(im: Image.Image, fmt: str, **options: object) -> bytes:
        buffer = io.BytesIO()
        im.save(buffer, fmt, **options)
        return buffer.getvalue()

    return [
        encoded(image, "PNG"),
        encoded(image.convert("RGBA"), "PNG"),
        encoded(image.convert("P"), "PNG", transparency=0),
        encoded(image.convert("I;16"), "PNG"),
        encoded(image, "JPEG", quality=90),
        encoded(image.convert("CMYK"), "JPEG"),
        encoded(image, "JPEG", progressive=True),
        encoded(image.convert("P"), "GIF"),
        encoded(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        encoded(frames[0], "PNG", save_all=True, append_images=frames[1:]),  # APNG
        encoded(image, "WEBP", quality=80),
        encoded(image, "WEBP", lossless=True),
        encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True),
    ]


SEED_FILES = _seed_files()
INTERESTING_U32 = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 50_000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def png_chunks(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every complete chunk of a PNG, after the 8-byte signature."""
    chunks, at = [], 8
    while at + 12 <= len(data):
        length = struct.unpack(">I", data[at : at + 4])[0]
        end = at + 12 + length
        if end > len(data):
            break
        chunks.append((at, end))
        at = end
    return chunks


def mutate(rng: random.Random) -> bytes:
    """A seed file with 1–5 structured mutations: bit flips, interesting values, truncation,
    slice duplication or deletion, a splice with another seed, or a PNG chunk duplicated
    (with a valid CRC, so it gets past the checksum into the parsers)."""
    data = bytearray(rng.choice(SEED_FILES))
    for _ in range(rng.randint(1, 5)):
        if not data:
            break
        at = rng.randrange(len(data))
        op = rng.randrange(8)
        if op == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[at : at + 4] = struct.pack(rng.choice((">I", "<I")), rng.choice(INTERESTING_U32))
        elif op == 2:
            del data[rng.randrange(1, len(data) + 1) :]
        elif op == 3:
            size = rng.randint(1, 64)
            data[rng.randrange(len(data)) : 0] = data[at : at + size]
        elif op == 4:
            del data[at : at + rng.randint(1, 64)]
        elif op == 5:
            other = rng.choice(SEED_FILES)
            data = data[:at] + other[rng.randrange(len(other)) :]
        elif op == 6 and data.startswith(b"\x89PNG"):
            chunks = png_chunks(bytes(data))
            if chunks:
                start, end = rng.choice(chunks)
                where = rng.choice(chunks)[rng.randrange(2)]
                data[where:where] = data[start:end]
        else:
            data[at : at + 1] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    if rng.random() < 0.1 and data.startswith(b"\x89PNG") and len(data) > 33:  # a header that lies, CRC fixed
        data[16:24] = struct.pack(">II", rng.choice(INTERESTING_U32), rng.choice(INTERESTING_U32))
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def load_or_refuse(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        photo = load_photo(path)
    except PhotoError as error:
        assert "\n" not in str(error) and str(error), repr(str(error))
        return
    assert photo.pixels.ndim == 3 and photo.pixels.shape[2] == 3 and photo.pixels.dtype == np.uint8


@pytest.mark.slow
def test_fuzz_loader_time_boxed(tmp_path):
    assert time_boxed("loader", lambda rng: load_or_refuse(tmp_path / "fuzz.img", mutate(rng))) > 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False))
def test_fuzz_loader_structured_mutations(tmp_path, rng):
    load_or_refuse(tmp_path / "fuzz.img", mutate(rng))


def test_mutations_reach_the_decoders(tmp_path):
    """A fuzzer that only ever hits 'not an image' tests nothing: many mutants must still load."""
    rng, loaded = random.Random(1), 0
    for _ in range(60):
        (tmp_path / "m.img").write_bytes(mutate(rng))
        try:
            load_photo(tmp_path / "m.img")
            loaded += 1
        except PhotoError:
            pass
    assert 6 <= loaded <= 54, loaded  # both outcomes are common


# --- options ---------------------------------------------------------------------------------

WEIRD_NUMBERS = (0, -1, 1, 2, 3, 63, 64, 97, 1080, 4096, 4097, 2**31, 2**32, 2**64, -(2**63), 10**30)
WEIRD_FLOATS = (0.0, -0.0, 0.5, 1.0, 1.25, 2.0, 4.0, 4.0000001, 60.0, 600.0, 1e308, -1e-308, math.nan, math.inf, -math.inf)
WEIRD_TEXT = (
    "", " ", "auto", "classic", "contain", "cover", "in-out", "eerie", "none", "beats", "out-in", "fade", "9:16",
    "1080x1920", "٣x٤", "1e3", "nan", "-1", "0x10", "x", "\x00", "\n", "é" * 70, "9" * 5000 + "x2", "2x" + "9" * 5000,
)
CONFIG_FIELDS = [f.name for f in fields(Config)]


def weird_value(rng: random.Random) -> object:
    kind = rng.randrange(7)
    if kind == 0:
        return rng.choice(WEIRD_NUMBERS)
    if kind == 1:
        return rng.choice(WEIRD_FLOATS)
    if kind == 2:
        return rng.choice(WEIRD_TEXT)
    if kind == 3:
        return rng.choice((None, True, False, b"bytes", [], {}, (1, 2), object(), Path("x.wav")))
    if kind == 4:
        return rng.uniform(-10, 10)
    if kind == 5:
        return rng.randint(-100, 5000)
    return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randint(0, 12)))


def config_or_refuse(rng: random.Random) -> None:
    options = {name: weird_value(rng) for name in rng.sample(CONFIG_FIELDS, rng.randint(1, 5))}
    try:
        config = Config(**options)
    except ConfigError as error:
        assert "\n" not in str(error)
    else:
        chain_key(config, ["0" * 64])  # a valid config always has a cache key
    text = rng.choice((*WEIRD_TEXT, f"{weird_value(rng)}x{weird_value(rng)}", str(weird_value(rng))))
    try:
        parse_size(text)
    except ConfigError:
        pass


@pytest.mark.slow
def test_fuzz_config_time_boxed():
    assert time_boxed("config", config_or_refuse) > 0


@settings(max_examples=300, deadline=None)
@given(rng=st.randoms(use_true_random=False))
def test_fuzz_config(rng):
    config_or_refuse(rng)


# --- the command line ------------------------------------------------------------------------

MAKE_OPTIONS = sorted(
    {name for param in cli.typer.main.get_command(cli.app).commands["make"].params for name in param.opts if name.startswith("--")}
)


class Stop(Exception):
    """Raised by the stand-in for make_video: the options were accepted."""


def argv(rng: random.Random, photo: str) -> list[str]:
    args = ["make"]
    for _ in range(rng.randint(0, 3)):
        args.append(rng.choice((photo, "missing.jpg", "", "-", "--", str(weird_value(rng)))))
    for _ in range(rng.randint(0, 6)):
        args.append(rng.choice(MAKE_OPTIONS))
        if rng.random() < 0.85:
            args.append(str(weird_value(rng)))
    return args


@pytest.fixture
def cli_runner(tmp_path, monkeypatch):
    """Runs `zoomout ARGV` in-process (as `main()` does), stopping before any video is made."""
    photo = tmp_path / "photo.png"
    Image.new("RGB", (32, 24), "teal").save(photo)
    monkeypatch.chdir(tmp_path)

    def fake_make_video(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(pipeline, "make_video", fake_make_video)
    accepted = (ZoomoutError, Stop, *cli._usage_error_types())

    def run(rng: random.Random) -> None:
        try:
            cli.app(args=argv(rng, str(photo)), standalone_mode=False)
        except accepted as error:
            message = error.format_message() if hasattr(error, "format_message") else str(error)
            assert isinstance(error, Stop) or ("\n" not in message and message), repr(message)
        assert not list(tmp_path.glob("*.mp4")), "an option run wrote a video"

    return run


@pytest.mark.slow
def test_fuzz_cli_time_boxed(cli_runner):
    assert time_boxed("cli", cli_runner) > 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False))
def test_fuzz_cli(cli_runner, rng):
    cli_runner(rng)
