"""The diffusion and lama engines, driven by tiny seeded models saved to disk (no hub here).

The diffusion tests run the real `--model FOLDER` path through the command line and watch what
the pipeline receives; the lama tests run tiny ONNX graphs with LaMa's interface.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoomout import Config, ConfigError
from zoomout.chain import fit_photo, shrink_slot
from zoomout.engines import (
    DiffusionOptions, LamaOptions, check_engine_options, choose_engine, create_engine, engine_statuses,
)  # fmt: skip
from zoomout.engines.diffusion import STRANGER_TERMS, DiffusionEngine, load_prompts
from zoomout.engines.lama import LamaEngine
from zoomout.engines.working_size import outpaint_at_working_size, working_box, working_size
from zoomout.errors import EngineUnavailableError
from zoomout.cache import chain_key
from zoomout.pipeline import resolve_engine

from tiny_models import save_tiny_inpainting_pipeline, save_tiny_lama

needs_diffusers = pytest.mark.skipif(
    any(importlib.util.find_spec(p) is None for p in ("torch", "diffusers", "transformers")),
    reason="the diffusion extra is not installed",
)
needs_onnx = pytest.mark.skipif(
    any(importlib.util.find_spec(p) is None for p in ("onnx", "onnxruntime")),
    reason="the lama extra (and onnx) is not installed",
)
TINY = ["--size", "64x112", "--slots", "2", "--no-label", "--sound", "none", "--no-cache", "--seconds-per-slot", "0.5"]


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Never reach for the hub; keep slot caches inside the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("ZOOMOUT_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    return save_tiny_inpainting_pipeline(tmp_path_factory.mktemp("models") / "tiny-sd-inpainting")


@pytest.fixture(scope="session")
def tiny_lama(tmp_path_factory) -> Path:
    pytest.importorskip("onnx")
    return save_tiny_lama(tmp_path_factory.mktemp("models") / "tiny-lama.onnx")


@pytest.fixture
def pipeline_calls(monkeypatch):
    """Every call of the SD inpainting pipeline: (pipeline, keyword arguments)."""
    from diffusers import StableDiffusionInpaintPipeline

    calls = []
    original = StableDiffusionInpaintPipeline.__call__

    def spy(self, *args, **kwargs):
        calls.append((self, kwargs))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StableDiffusionInpaintPipeline, "__call__", spy)
    return calls


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """`zoomout ARGS` in this process (so spies see the pipeline); returns (exit code, stderr)."""
    from zoomout import cli

    monkeypatch.setattr(sys, "argv", ["zoomout", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    return code, capsys.readouterr().err


def read_slots(folder: Path, count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    images = [np.asarray(Image.open(folder / f"slot_{k:02d}.png").convert("RGB")) for k in range(count)]
    masks = [np.asarray(Image.open(folder / f"mask_{k:02d}.png")) > 127 for k in range(count)]
    return images, masks


def assert_chain_keeps_known_pixels(photo: Path, images: list[np.ndarray], masks: list[np.ndarray]) -> None:
    fitted, unknown = fit_photo(np.asarray(Image.open(photo).convert("RGB")), 64, 112, "contain")
    assert np.array_equal(images[0][~unknown], fitted[~unknown])
    for k in range(1, len(images)):
        shrunk, ring = shrink_slot(images[k - 1], 2.0)
        assert np.array_equal(ring, masks[k])
        assert np.array_equal(images[k][~ring], shrunk[~ring])


# --- the diffusion engine through the command line ---------------------------------------------


@needs_diffusers
@pytest.mark.slow
def test_diffusion_cli_runs_the_model_folder(monkeypatch, capsys, tmp_path, small_cat, tiny_sd, pipeline_calls):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red street\n\n")  # slot 1 has its own prompt; the blank line leaves slot 2 to --prompt
    code, err = run_cli(
        monkeypatch, capsys, "make", str(small_cat), "-o", str(tmp_path / "d.mp4"), "--engine", "diffusion",
        "--model", str(tiny_sd), "--steps", "2", "--seed", "5", "--prompt", "an open sky", "--prompts", str(prompts),
        "--negative-prompt", "blurry, text, face", "--memory", "attention-slicing,vae-tiling,cpu-offload",
        "--device", "cpu", "--save-slots", str(tmp_path / "slots"), *TINY,
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "d.mp4").stat().st_size > 1000 and "engine diffusion" in err

    # output size and known pixels
    images, masks = read_slots(tmp_path / "slots", 3)
    assert all(image.shape == (112, 64, 3) for image in images)
    assert_chain_keeps_known_pixels(small_cat, images, masks)

    # one pipeline call per slot, each with its prompt, the merged negative prompt and its seed
    assert [kwargs["prompt"] for _, kwargs in pipeline_calls] == ["an open sky", "a red street", "an open sky"]
    negative = pipeline_calls[0][1]["negative_prompt"]
    assert negative.startswith("blurry, text, face, ")
    assert negative.split(", ").count("face") == 1 and set(STRANGER_TERMS) <= set(negative.split(", "))
    assert [kwargs["generator"].initial_seed() for _, kwargs in pipeline_calls] == [5, 6, 7]
    for _, kwargs in pipeline_calls:  # the working size keeps the slot's aspect, sides multiples of 8, near 64²
        assert (kwargs["height"], kwargs["width"]) == (88, 48) and kwargs["num_inference_steps"] == 2

    # memory options, as diffusers exposes them
    pipeline = pipeline_calls[0][0]
    from diffusers.models.attention_processor import SlicedAttnProcessor

    assert all(isinstance(p, SlicedAttnProcessor) for p in pipeline.unet.attn_processors.values())
    assert pipeline.vae.use_tiling
    assert (
        getattr(pipeline.unet, "_hf_hook", None) is not None
        and getattr(pipeline.text_encoder, "_hf_hook", None) is not None
    )


@needs_diffusers
@pytest.mark.slow
def test_diffusion_cli_is_deterministic_for_a_seed(monkeypatch, capsys, tmp_path, small_cat, tiny_sd):
    runs = {}
    for name, seed in (("a", "3"), ("b", "3")):
        code, err = run_cli(
            monkeypatch, capsys, "make", str(small_cat), "-o", str(tmp_path / f"{name}.mp4"), "--engine", "diffusion",
            "--model", str(tiny_sd), "--steps", "2", "--seed", seed, "--allow-strangers",
            "--save-slots", str(tmp_path / name), *TINY,
        )  # fmt: skip
        assert code == 0, err
        runs[name] = read_slots(tmp_path / name, 3)[0]
    assert all(np.array_equal(a, b) for a, b in zip(runs["a"], runs["b"]))


@needs_diffusers
def test_diffusion_engine_sends_the_slot_and_redoes_one_slot(tiny_sd, pipeline_calls):
    engine = create_engine("diffusion", DiffusionOptions(model=str(tiny_sd), steps=2, no_strangers=False, device="cpu"))
    image, mask = shrink_slot(np.random.default_rng(0).integers(0, 256, (112, 64, 3), dtype=np.uint8), 2.0)
    first = engine.outpaint(image, mask, seed=11, slot=3)
    _, sent = pipeline_calls[-1]
    assert sent["prompt"] == DiffusionOptions().prompt and sent["negative_prompt"] is None
    assert sent["generator"].initial_seed() == 11 and (sent["height"], sent["width"]) == (88, 48)
    assert not np.array_equal(engine.outpaint(image, mask, seed=12, slot=4), first)
    assert np.array_equal(engine.outpaint(image, mask, seed=11, slot=3), first)  # slot k redone alone: same pixels
    assert np.array_equal(first[~mask], image[~mask])


# --- the lama engine ---------------------------------------------------------------------------


@needs_onnx
def test_lama_cli_runs_an_onnx_file(monkeypatch, capsys, tmp_path, small_cat, tiny_lama):
    code, err = run_cli(
        monkeypatch, capsys, "make", str(small_cat), "-o", str(tmp_path / "l.mp4"), "--engine", "lama",
        "--lama-model", str(tiny_lama), "--save-slots", str(tmp_path / "slots"), *TINY,
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "l.mp4").stat().st_size > 1000 and "engine lama" in err
    images, masks = read_slots(tmp_path / "slots", 3)
    assert all(image.shape == (112, 64, 3) for image in images)
    assert_chain_keeps_known_pixels(small_cat, images, masks)


@needs_onnx
@pytest.mark.parametrize(("size_px", "output_255"), [(64, True), (64, False), (None, True), (None, False)])
def test_lama_static_or_dynamic_and_either_output_range(tmp_path, size_px, output_255):
    path = save_tiny_lama(tmp_path / "m.onnx", size_px=size_px, output_255=output_255)
    engine = LamaEngine(LamaOptions(model_path=str(path), device="cpu"))
    assert engine.canvas_hw == ((64, 64) if size_px else None)
    rng = np.random.default_rng(1)
    image = np.clip(rng.normal([150, 90, 40], 8, (112, 64, 3)), 0, 255).astype(np.uint8)
    shrunk, ring = shrink_slot(image, 2.0)
    out = engine.outpaint(shrunk, ring, seed=0, slot=1)
    assert np.array_equal(out[~ring], shrunk[~ring])
    # the tiny model fills with the known colours: the ring has them (not black, not 255× too bright)
    assert np.abs(out[ring].mean(0) - image.reshape(-1, 3).mean(0)).max() < 12


@needs_onnx
def test_lama_refuses_a_graph_without_lamas_inputs(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4, 64, 64])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4, 64, 64])
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])  # fmt: skip
    model.ir_version = 8
    onnx.save(model, tmp_path / "other.onnx")
    with pytest.raises(EngineUnavailableError, match="not a LaMa export: expected inputs image"):
        create_engine("lama", LamaOptions(model_path=str(tmp_path / "other.onnx")))


# --- failing at once, in one line, with nothing written ----------------------------------------


NOT_CACHED = "not in the Hugging Face cache and cannot be downloaded (HF_HUB_OFFLINE is set)"
NEEDS_THE_EXTRA = {"has no model_index.json", "no-such-folder does not exist", "torch sees no CUDA GPU", NOT_CACHED}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "diffusion", "--model", "{tmp}/no-such-folder"], "no-such-folder does not exist"),
        (["--engine", "diffusion", "--model", "{tmp}"], "has no model_index.json"),
        (["--engine", "diffusion", "--model", "someone/not-downloaded-model"], NOT_CACHED),
        (["--engine", "diffusion", "--steps", "0"], "steps should be an integer in [1, 500]"),
        (["--engine", "diffusion", "--strength", "1.5"], "strength should be in (0, 1]"),
        (["--engine", "diffusion", "--memory", "turbo"], "memory should be among"),
        (["--engine", "diffusion", "--device", "gpu"], "device should be auto, cpu, mps"),
        (["--engine", "diffusion", "--device", "cuda"], "torch sees no CUDA GPU"),
        (["--engine", "diffusion", "--prompts", "{tmp}/none.txt"], "none.txt cannot be read"),
        (["--engine", "lama", "--lama-model", "{tmp}/none.onnx"], "none.onnx does not exist"),
        (["--engine", "lama", "--prompt", "a x"], "--prompt applies to the diffusion engine but the engine is lama"),
        (["--engine", "classic", "--steps", "5"], "--steps applies to the diffusion engine but the engine is classic"),
        (["--engine", "diffusion", "--lama-model", "x.onnx"], "--lama-model applies to the lama engine"),
    ],
)  # fmt: skip
def test_cli_engine_errors_are_one_line_and_write_nothing(monkeypatch, capsys, tmp_path, small_cat, args, message):
    if message in NEEDS_THE_EXTRA and any(importlib.util.find_spec(p) is None for p in DiffusionEngine.packages):
        pytest.skip("the diffusion extra is not installed")
    if "cuda" in args and __import__("torch").cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    args = [a.format(tmp=tmp_path) for a in args]
    code, err = run_cli(monkeypatch, capsys, "make", str(small_cat), "-o", str(tmp_path / "o.mp4"), *TINY, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and "Traceback" not in err
    assert len(lines) == 1 and message in lines[0], err
    assert not list(tmp_path.glob("**/*.mp4")) and not (tmp_path / "cache").exists()


def test_missing_extra_says_how_to_get_it(monkeypatch, capsys):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("diffusers", "onnxruntime") else real_find_spec(name, *a),
    )
    statuses = {s.name: s for s in engine_statuses()}
    assert statuses["diffusion"].unavailable_reason == "diffusers not installed: pip install 'zoomout[diffusion]'"
    assert statuses["lama"].unavailable_reason == "onnxruntime not installed: pip install 'zoomout[lama]'"
    assert statuses["classic"].usable
    with pytest.raises(EngineUnavailableError, match=r"engine 'diffusion' cannot run here: diffusers not installed"):
        create_engine("diffusion")
    assert choose_engine()[0] == "classic" and "not installed" in choose_engine()[1]
    capsys.readouterr()
    from zoomout import cli

    monkeypatch.setattr(sys, "argv", ["zoomout", "engines"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code in (0, None)
    table = "".join(capsys.readouterr().out.split()).replace("│", "")  # cells wrap: compare without spaces
    assert "diffusersnotinstalled:pipinstall'zoomout[diffusion]'" in table
    assert "onnxruntimenotinstalled:pipinstall'zoomout[lama]'" in table


# --- --engine auto -----------------------------------------------------------------------------


@needs_diffusers
def test_auto_takes_diffusion_only_with_a_cuda_gpu_and_the_weights(monkeypatch, tiny_sd):
    import zoomout.engines.diffusion as engines

    monkeypatch.setattr(engines, "cuda_device_name", lambda: None)
    name, why = choose_engine(DiffusionOptions(model=str(tiny_sd)))
    assert name == "classic" and "no CUDA GPU" in why
    monkeypatch.setattr(engines, "cuda_device_name", lambda: "Tiny GPU")
    name, why = choose_engine(DiffusionOptions(model=str(tiny_sd)))
    assert name == "diffusion" and "Tiny GPU" in why and str(tiny_sd) in why
    name, why = choose_engine(DiffusionOptions(model="someone/not-downloaded-model"))
    assert name == "classic" and "not in the Hugging Face cache" in why


def test_auto_resolves_to_a_concrete_engine_and_says_why(monkeypatch, capsys, tmp_path, small_cat):
    import zoomout.engines.diffusion as engines

    monkeypatch.setattr(engines, "cuda_device_name", lambda: None)
    config, why = resolve_engine(Config(engine="auto", engine_options=DiffusionOptions(prompt="x")))
    assert config.engine == "classic" and config.engine_options is None and why.startswith("engine auto chose classic")
    config, why = resolve_engine(Config(engine="lama"))
    assert config.engine_options == LamaOptions() and why is None  # defaults filled in: one cache key per result
    code, err = run_cli(monkeypatch, capsys, "make", str(small_cat), "-o", str(tmp_path / "a.mp4"), *TINY)
    assert code == 0 and "engine auto chose classic: no CUDA GPU" in err and "engine classic" in err


# --- options, prompts and the cache key --------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": 0}, "steps should be"), ({"steps": 2.5}, "steps should be"),
        ({"guidance": -1.0}, "guidance should be"), ({"guidance": float("nan")}, "guidance should be"),
        ({"strength": 0.0}, "strength should be"), ({"steps": 2, "strength": 0.3}, "steps × strength should be"),
        ({"device": "gpu"}, "device should be"), ({"memory": ("turbo",)}, "memory should be among"),
        ({"model": " "}, "model should be"),
        ({"slot_prompts": ((1, "a"), (1, "b"))}, "slot_prompts should name each slot"),
    ],
)  # fmt: skip
def test_invalid_diffusion_options(options, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        DiffusionOptions(**options)


def test_invalid_lama_options_and_mismatched_engine():
    with pytest.raises(ConfigError, match="device should be one of auto, cpu, cuda"):
        LamaOptions(device="mps")
    with pytest.raises(ConfigError, match=r"engine_options should fit engine 'lama' \(takes LamaOptions\)"):
        Config(engine="lama", engine_options=DiffusionOptions())
    with pytest.raises(ConfigError, match="takes no options"):
        check_engine_options("classic", LamaOptions())
    with pytest.raises(ConfigError, match="slot_prompts should be for slots up to 3, the number of slots, but one is for slot 9"):
        Config(slots=3, engine="diffusion", engine_options=DiffusionOptions(slot_prompts=((9, "x"),)))


def test_engine_options_are_part_of_the_cache_key():
    shas = ["ab" * 32]
    base = chain_key(Config(engine="diffusion", engine_options=DiffusionOptions()), shas)
    for change in (
        {"prompt": "a forest"},
        {"slot_prompts": ((2, "a cave"),)},
        {"model": "sdxl"},
        {"no_strangers": False},
        {"steps": 31},
    ):
        assert chain_key(Config(engine="diffusion", engine_options=DiffusionOptions(**change)), shas) != base
    assert chain_key(Config(engine="diffusion", engine_options=DiffusionOptions()), shas) == base
    lama = chain_key(Config(engine="lama", engine_options=LamaOptions(model_path="a.onnx")), shas)
    assert lama != chain_key(Config(engine="lama", engine_options=LamaOptions(model_path="b.onnx")), shas)


def test_prompts_file_lines_and_json(tmp_path):
    lines = tmp_path / "p.txt"
    lines.write_text("a street\n\n  a harbour  \n")
    assert load_prompts(lines) == ((1, "a street"), (3, "a harbour"))
    as_json = tmp_path / "p.json"
    as_json.write_text('{"0": "bars", "2": "a room"}')
    assert load_prompts(as_json) == ((0, "bars"), (2, "a room"))
    options = DiffusionOptions(prompt="default", slot_prompts=load_prompts(as_json))
    assert [options.prompt_for(k) for k in range(4)] == ["bars", "default", "a room", "default"]
    for bad in ('{"one": "x"}', '{"1": 5}', "[1, 2]", "{not json"):
        as_json.write_text(bad)
        with pytest.raises(ConfigError, match="p.json"):
            load_prompts(as_json)


def test_per_slot_prompts_as_a_file_lines_or_a_mapping_and_errors_name_the_option(tmp_path):
    """The one `prompts` option: a file (CLI, jobs file), lines (the web box, a jobs file's list) or {slot: prompt}."""
    from zoomout.options import build_request, key_spelling

    (tmp_path / "p.txt").write_text("a street\n\na harbour\n")
    want = ((1, "a street"), (3, "a harbour"))
    for prompts in (Path("p.txt"), "p.txt", ["a street", "", "a harbour"], {"1": "a street", "3": "a harbour"}):
        request = build_request(["cat.jpg"], {"engine": "diffusion", "slots": 3, "prompts": prompts}, base=tmp_path)
        assert request.config.engine_options.slot_prompts == want, prompts
    too_many = {"engine": "diffusion", "slots": 2, "prompts": ["a", "b", "c"]}
    with pytest.raises(ConfigError, match=r"^--prompts should be for slots up to 2, the number of slots, but one is for slot 3$"):
        build_request(["cat.jpg"], too_many)
    with pytest.raises(ConfigError, match=r"^'prompts' should be for slots up to 2"):
        build_request(["cat.jpg"], too_many, spell=key_spelling)
    with pytest.raises(ConfigError, match=r"^--prompts should be a file, a list of lines or \{slot: prompt\} but is 5$"):
        build_request(["cat.jpg"], {"engine": "diffusion", "prompts": 5})


def test_no_strangers_merges_without_repeating_terms():
    options = DiffusionOptions(negative_prompt="Blurry,  people ,")
    merged = options.negative_prompt_for(0).split(", ")
    assert merged[:2] == ["Blurry", "people"] and merged.count("people") == 1 and "face" in merged
    assert DiffusionOptions(negative_prompt="blurry", no_strangers=False).negative_prompt_for(0) == "blurry"


# --- working size, mapping back, colours and seam ----------------------------------------------


@pytest.mark.parametrize(
    ("height", "width"), [(1920, 1080), (1080, 1080), (112, 64), (1080, 1920), (300, 451), (4096, 64)]
)
@pytest.mark.parametrize(("native", "multiple"), [(512, 8), (1024, 8), (64, 8), (512, 32)])
def test_working_size_keeps_aspect_near_the_native_area(height, width, native, multiple):
    h, w = working_size(height, width, native_px=native, multiple=multiple)
    assert h % multiple == 0 and w % multiple == 0 and h >= multiple and w >= multiple
    if min(h, w) > 4 * multiple:  # rounding to the multiple dominates only for thin slots
        assert abs(np.log((h / w) / (height / width))) < 0.1
        assert 0.8 < h * w / native**2 < 1.25


def test_invalid_working_size():
    with pytest.raises(ValueError, match="slot size should be positive"):
        working_size(0, 10, native_px=512, multiple=8)
    with pytest.raises(ValueError, match="native_px should be"):
        working_size(10, 10, native_px=4, multiple=8)


def test_letterbox_fits_the_slot_in_a_fixed_canvas():
    geometry = working_box(1920, 1080, native_px=512, multiple=8, canvas_hw=(512, 512))
    assert geometry.canvas_hw == (512, 512) and geometry.box == (0, 112, 512, 288)


def ramp_slot(height=224, width=128):
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([60 + 0.5 * y, 80 + 0.6 * x, 120 + 0 * x], -1)
    return shrink_slot(np.clip(image, 0, 255).astype(np.uint8), 2.0)


@pytest.mark.parametrize("canvas_hw", [None, (64, 64)])
def test_model_colour_drift_is_matched_and_the_boundary_has_no_seam(canvas_hw):
    """A model that reproduces the scene but washes its colours out (like a drifting VAE) must not leave a frame."""
    image, ring = ramp_slot()
    seen = {}

    def washed_out_model(work_image, work_mask):
        seen["shape"] = work_mask.shape
        return np.clip(work_image.astype(np.float32) * 0.6 + 90, 0, 255).astype(np.uint8)

    out = outpaint_at_working_size(image, ring, washed_out_model, native_px=64, multiple=8, canvas_hw=canvas_hw)
    assert seen["shape"] == (canvas_hw or (88, 48))
    out[~ring] = image[~ring]  # as Engine.outpaint pastes
    # across the boundary the step is like a step inside the known gradient, not a 40-level jump
    rows = np.flatnonzero(~ring.all(axis=1))
    top = rows[0]
    column = slice(40, 90)
    step = np.abs(out[top, column].astype(int) - out[top - 1, column].astype(int)).mean()
    assert step < 4.0, step
    drift_before = np.abs(washed_out_model(image, ring).astype(int) - image).mean()
    assert drift_before > 20  # the model's drift was real


def test_mapping_back_is_exact_for_a_faithful_model():
    """A model that returns its input changes nothing but the prefill: known pixels survive the round trip."""
    image, ring = ramp_slot(448, 256)
    out = outpaint_at_working_size(image, ring, lambda img, m: img, native_px=128, multiple=8)
    assert out.shape == image.shape and out.dtype == np.uint8
    inner = ~ring
    inner[1:-1, 1:-1] &= inner[:-2, 1:-1] & inner[2:, 1:-1] & inner[1:-1, :-2] & inner[1:-1, 2:]  # away from the edge
    assert np.abs(out[inner].astype(int) - image[inner]).mean() < 3.0


# --- real weights ------------------------------------------------------------------------------


@pytest.mark.real_weights
@pytest.mark.skipif(
    "ZOOMOUT_TEST_MODEL" not in os.environ, reason="set ZOOMOUT_TEST_MODEL to a diffusers inpainting folder"
)
def test_real_model_extends_the_cat(tmp_path, small_cat, monkeypatch, capsys):
    code, err = run_cli(
        monkeypatch, capsys, "make", str(small_cat), "-o", str(tmp_path / "real.mp4"), "--engine", "diffusion",
        "--model", os.environ["ZOOMOUT_TEST_MODEL"], "--steps", "20", "--size", "512x896", "--slots", "2",
        "--no-cache", "--save-slots", str(tmp_path / "slots"),
    )  # fmt: skip
    assert code == 0, err
    images, masks = read_slots(tmp_path / "slots", 3)
    for image, mask in zip(images[1:], masks[1:]):
        ring, known = image[mask].astype(float), image[~mask].astype(float)
        assert ring.std() > 10  # texture, not a flat fill
        assert np.abs(ring.mean(0) - known.mean(0)).max() < 60  # the palette held
