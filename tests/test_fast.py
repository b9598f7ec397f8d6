"""`--fast`, `--lora` and `--vae`, driven through the command line with tiny seeded components.

The tiny SD-inpainting pipeline, a tiny LoRA made with peft on its UNet and a tiny
AutoencoderTiny (TAESD's class) are saved to disk and loaded by the real paths
(`load_lora_weights` + `fuse_lora`, `AutoencoderTiny.from_pretrained`, `LCMScheduler`); the
hub ids of `--fast`'s defaults are served from a Hugging Face cache folder built here (offline).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from zoomout import Config, ConfigError
from zoomout.cache import chain_key
from zoomout.chain import shrink_slot
from zoomout.engines import DiffusionOptions, choose_engine, create_engine
from zoomout.engines.diffusion import (
    DEFAULT_MODEL, FAST_GUIDANCE_NEGATIVE, LCM_LORAS, STRANGER_TERMS, TINY_VAES, LoraChoice, parse_lora,
)  # fmt: skip
from zoomout.errors import EngineUnavailableError
from zoomout.pipeline import resolve_engine

from test_engines_ai import (  # noqa: F401  (fixtures: offline, tiny_sd, pipeline_calls)
    TINY, assert_chain_keeps_known_pixels, offline, pipeline_calls, read_slots, run_cli, tiny_sd,
)  # fmt: skip
from tiny_models import save_tiny_autoencoder_tiny, save_tiny_inpainting_pipeline, save_tiny_lora

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(p) is None for p in ("torch", "diffusers", "transformers", "peft")),
    reason="the diffusion extra (with peft) is not installed",
)
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="session")
def tiny_lora(tiny_sd, tmp_path_factory) -> Path:
    return save_tiny_lora(tiny_sd, tmp_path_factory.mktemp("loras") / "tiny-lora")


@pytest.fixture(scope="session")
def tiny_taesd(tmp_path_factory) -> Path:
    return save_tiny_autoencoder_tiny(tmp_path_factory.mktemp("vaes") / "tiny-taesd")


@pytest.fixture(scope="session")
def other_lora(tmp_path_factory) -> Path:
    """A LoRA made for a wider UNet: its attention layers do not fit the tiny pipeline's."""
    wide = save_tiny_inpainting_pipeline(tmp_path_factory.mktemp("wide") / "sd", block_out_channels=(32, 96))
    return save_tiny_lora(wide, tmp_path_factory.mktemp("loras") / "other-lora")


@pytest.fixture
def hub_cache(monkeypatch, tmp_path):
    """An empty Hugging Face cache folder; `put(repo, folder)` stores `folder` as the repo's snapshot COMMIT."""
    import huggingface_hub.constants

    root = tmp_path / "hf-cache"
    root.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(root))

    def put(repo: str, folder: Path) -> Path:
        repo_folder = root / f"models--{repo.replace('/', '--')}"
        (repo_folder / "refs").mkdir(parents=True)
        (repo_folder / "refs" / "main").write_text(COMMIT)
        shutil.copytree(folder, repo_folder / "snapshots" / COMMIT)
        return repo_folder / "snapshots" / COMMIT

    return put


def flat(text: str) -> str:
    """The CLI's output with its line wrapping undone."""
    return " ".join(text.split())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_of(video: Path) -> dict:
    return json.loads(video.with_name(video.stem + ".zoomout.json").read_text())


def ring():
    return shrink_slot(np.random.default_rng(0).integers(0, 256, (112, 64, 3), dtype=np.uint8), 2.0)


# --- --fast through the command line ------------------------------------------------------------


@pytest.mark.slow
def test_fast_offline_with_a_lora_folder_and_a_tiny_vae(
    monkeypatch, capsys, tmp_path, small_cat, tiny_sd, tiny_lora, tiny_taesd, pipeline_calls
):
    video = tmp_path / "fast.mp4"
    code, err = run_cli(
        monkeypatch, capsys, "make", str(small_cat), "-o", str(video), "--engine", "diffusion", "--model", str(tiny_sd),
        "--fast", "--lora", str(tiny_lora), "--vae", str(tiny_taesd), "--device", "cpu", "--seed", "4",
        "--save-slots", str(tmp_path / "slots"), *TINY,
    )  # fmt: skip
    assert code == 0, err
    assert "softer detail" in flat(err) and "doubles the UNet batch" in flat(err)
    images, masks = read_slots(tmp_path / "slots", 3)
    assert_chain_keeps_known_pixels(small_cat, images, masks)

    # 4 LCM steps, guidance 1.5 so that the no-strangers negative prompt acts, all of them run (strength 1)
    pipeline = pipeline_calls[0][0]
    assert type(pipeline.scheduler).__name__ == "LCMScheduler" and type(pipeline.vae).__name__ == "AutoencoderTiny"
    assert not any("lora" in name for name, _ in pipeline.unet.named_parameters())  # fused, adapter gone
    for _, sent in pipeline_calls:
        assert (sent["num_inference_steps"], sent["guidance_scale"], sent["strength"]) == (4, FAST_GUIDANCE_NEGATIVE, 1.0)
        assert set(STRANGER_TERMS) <= set(sent["negative_prompt"].split(", "))

    # the manifest names the LoRA and the VAE by their files' hashes
    engine = manifest_of(video)["engine"]
    lora_file = tiny_lora / "pytorch_lora_weights.safetensors"
    assert engine["lora"] == {
        "source": str(tiny_lora.resolve()), "revision": None, "files": {lora_file.name: sha256(lora_file)}, "weight": 1.0,
    }  # fmt: skip
    assert engine["vae"]["class"] == "AutoencoderTiny"
    assert engine["vae"]["files"] == {f.name: sha256(f) for f in sorted(tiny_taesd.iterdir())}
    assert engine["sampling"] == {
        "scheduler": "LCMScheduler", "steps": 4, "guidance": FAST_GUIDANCE_NEGATIVE, "strength": 1.0,
        "negative_prompt_applied": True, "fast": True, "no_strangers": True,
    }  # fmt: skip


@pytest.mark.slow
def test_fast_without_strangers_or_guidance_is_one_unet_pass_and_says_what_is_not_applied(
    monkeypatch, capsys, tmp_path, small_cat, tiny_sd, tiny_lora, tiny_taesd, pipeline_calls
):
    common = [
        "--engine", "diffusion", "--model", str(tiny_sd), "--fast", "--lora", str(tiny_lora), "--vae", str(tiny_taesd),
        "--device", "cpu", *TINY,
    ]  # fmt: skip
    code, err = run_cli(monkeypatch, capsys, "make", str(small_cat), "-o", str(tmp_path / "a.mp4"), "--allow-strangers", *common)
    assert code == 0, err
    assert all(sent["guidance_scale"] == 1.0 and sent["negative_prompt"] is None for _, sent in pipeline_calls)
    assert "not applied" not in flat(err) and "doubles" not in flat(err)

    # guidance 1 asked for with no strangers on: nothing is sent, and the CLI and the manifest say so
    pipeline_calls.clear()
    video = tmp_path / "b.mp4"
    code, err = run_cli(monkeypatch, capsys, "make", str(small_cat), "-o", str(video), "--guidance", "1", *common)
    assert code == 0, err
    assert "no strangers and the negative prompt are not applied: guidance 1 ignores negative prompts" in flat(err)
    assert all(sent["negative_prompt"] is None for _, sent in pipeline_calls)
    engine = manifest_of(video)["engine"]
    assert engine["sampling"]["negative_prompt_applied"] is False and engine["sampling"]["no_strangers"] is False
    assert engine["model"]["negative_prompt"] == ""


@pytest.mark.slow
def test_fast_defaults_come_from_the_hub_cache_and_auto_picks_them_without_a_gpu(
    monkeypatch, capsys, tmp_path, small_cat, tiny_sd, tiny_lora, tiny_taesd, hub_cache, pipeline_calls
):
    """`zoomout make PHOTO` on a CPU machine with SD 1.5 inpainting, its LCM-LoRA and TAESD in the HF cache."""
    import zoomout.engines.diffusion as diffusion

    monkeypatch.setattr(diffusion, "cuda_device_name", lambda: None)
    hub_cache(DEFAULT_MODEL, tiny_sd)  # the tiny pipeline stands in for SD 1.5 inpainting
    hub_cache(LCM_LORAS["sd15"], tiny_lora)
    name, why = choose_engine(None)
    assert name == "classic" and why.startswith("engine auto chose classic: no CUDA GPU")
    assert f"VAE {TINY_VAES['sd15']} is not in the Hugging Face cache" in why
    hub_cache(TINY_VAES["sd15"], tiny_taesd)

    video = tmp_path / "auto.mp4"
    code, err = run_cli(monkeypatch, capsys, "make", str(small_cat), "-o", str(video), *TINY)
    assert code == 0, err
    assert f"engine auto chose diffusion: no CUDA GPU, so fast: {DEFAULT_MODEL}" in flat(err) and "softer detail" in flat(err)
    assert len(pipeline_calls) == 3 and all(sent["num_inference_steps"] == 4 for _, sent in pipeline_calls)
    engine = manifest_of(video)["engine"]
    assert engine["lora"]["source"] == LCM_LORAS["sd15"] and engine["lora"]["revision"] == COMMIT
    assert engine["vae"]["source"] == TINY_VAES["sd15"] and engine["vae"]["revision"] == COMMIT
    assert engine["lora"]["files"] == {"pytorch_lora_weights.safetensors": sha256(tiny_lora / "pytorch_lora_weights.safetensors")}


# --- the LoRA is fused at its weight ------------------------------------------------------------


def test_lora_is_fused_at_its_weight_and_leaves_no_adapter(tiny_sd, tiny_lora):
    base = create_engine("diffusion", DiffusionOptions(model=str(tiny_sd), steps=2, device="cpu", no_strangers=False))
    image, mask = ring()
    plain = base.outpaint(image, mask, seed=3, slot=1)
    weights = {name: p.detach().clone() for name, p in base.pipeline.unet.named_parameters()}
    changed = {}
    for weight in (0.0, 1.0, 2.0):
        options = DiffusionOptions(model=str(tiny_sd), steps=2, device="cpu", no_strangers=False, lora=f"{tiny_lora}:{weight}")
        engine = create_engine("diffusion", options)
        unet = dict(engine.pipeline.unet.named_parameters())
        assert unet.keys() == weights.keys()  # no peft layers left behind
        changed[weight] = {n for n in weights if not np.allclose(unet[n].detach(), weights[n], atol=1e-6)}
        deltas = {n: (unet[n].detach() - weights[n]) for n in changed[weight]}
        if weight == 2.0:  # linear in the weight: twice the delta of weight 1
            assert all(np.allclose(deltas[n], 2 * one[n], atol=1e-4) for n in changed[weight])
        if weight == 1.0:
            one = deltas
        out = engine.outpaint(image, mask, seed=3, slot=1)
        assert np.array_equal(out, plain) == (weight == 0.0)
    assert not changed[0.0]
    assert changed[1.0] and all(n.endswith("weight") and ("to_q" in n or "to_k" in n or "to_v" in n or "to_out" in n) for n in changed[1.0])


# --- options, refusals and the cache key --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("latent-consistency/lcm-lora-sdv1-5", LoraChoice("latent-consistency/lcm-lora-sdv1-5", 1.0)),
        ("./my-lora:0.8", LoraChoice("./my-lora", 0.8)),
        ("owner/name:-1", LoraChoice("owner/name", -1.0)),
        ("C:\\loras\\x", LoraChoice("C:\\loras\\x", 1.0)),  # a colon that is not a weight stays in the path
    ],
)  # fmt: skip
def test_lora_spec(text, expected):
    assert parse_lora(text) == expected
    assert DiffusionOptions(lora=text).lora == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lora": ""}, "lora should be ID|FOLDER[:WEIGHT]"), ({"lora": "x:9"}, "lora should have a weight in [-4, 4]"),
        ({"lora": "x:nan"}, "lora should have a weight"), ({"vae": " "}, "vae should be a hub id, a folder or tiny"),
        ({"fast": "yes"}, "fast should be true or false"), ({"fast": True, "steps": 1, "strength": 0.5}, "steps × strength"),
    ],
)  # fmt: skip
def test_invalid_fast_options(options, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("|", r"\|")):
        DiffusionOptions(**options)


def test_fast_defaults_and_what_the_user_sets():
    assert DiffusionOptions().sampling.steps == 30 and DiffusionOptions(fast=True).sampling.steps == 4
    assert DiffusionOptions(fast=True, steps=6).sampling.steps == 6
    assert DiffusionOptions(fast=True).sampling.guidance == FAST_GUIDANCE_NEGATIVE  # no strangers: guided
    assert DiffusionOptions(fast=True, no_strangers=False).sampling.guidance == 1.0
    assert DiffusionOptions(fast=True, no_strangers=False, negative_prompt="text").sampling.guidance == FAST_GUIDANCE_NEGATIVE
    assert not DiffusionOptions(guidance=1.0).sampling.negative_prompt_applied
    assert DiffusionOptions(fast=True).lora_source == LoraChoice(LCM_LORAS["sd15"])
    assert DiffusionOptions(model="sdxl", fast=True).lora_source == LoraChoice(LCM_LORAS["sdxl"])
    assert DiffusionOptions(model="sdxl", fast=True).vae_source == TINY_VAES["sdxl"]
    assert DiffusionOptions(fast=True, lora="./mine:0.5", vae="./their-vae").lora_source == LoraChoice("./mine", 0.5)
    assert DiffusionOptions(fast=True, vae="./their-vae").vae_source == "./their-vae"
    assert DiffusionOptions(vae="tiny").vae_source == TINY_VAES["sd15"] and DiffusionOptions().vae_source is None


def test_lora_and_vae_files_are_part_of_the_cache_key(tmp_path, tiny_lora, tiny_taesd):
    shas = ["ab" * 32]
    lora, vae = tmp_path / "lora", tmp_path / "vae"
    shutil.copytree(tiny_lora, lora)
    shutil.copytree(tiny_taesd, vae)

    def key(**options) -> str:
        return chain_key(Config(engine="diffusion", engine_options=DiffusionOptions(**{"fast": True, **options})), shas)

    first = key(lora=str(lora), vae=str(vae))
    assert key(lora=f"{lora}:1.0", vae=str(vae)) == first and key(lora=str(lora), vae=str(vae), steps=4) == first
    assert key(lora=f"{lora}:0.5", vae=str(vae)) != first
    assert key(lora=str(lora), vae=str(tiny_taesd)) != first  # another folder
    for changed in (lora / "pytorch_lora_weights.safetensors", vae / "diffusion_pytorch_model.safetensors"):
        changed.write_bytes(changed.read_bytes()[:-1] + b"\0")  # same names, new bytes: new slots
        assert key(lora=str(lora), vae=str(vae)) != first
        first = key(lora=str(lora), vae=str(vae))
    # the defaults, spelt out or not, are one key
    assert key(steps=4, guidance=1.5, strength=1.0) == key()
    assert chain_key(Config(engine="diffusion", engine_options=DiffusionOptions(steps=30)), shas) == chain_key(
        Config(engine="diffusion", engine_options=DiffusionOptions()), shas
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fast"], "fast has no LCM-LoRA for {model}, which is not SD 1.5 or SDXL: give one with --lora"),
        (["--fast", "--lora", "{lora}"], "there is no tiny VAE for {model}, which is not SD 1.5 or SDXL: give one with --vae"),
        (["--vae", "tiny"], "there is no tiny VAE for {model}"),
        (["--lora", "{tmp}/none"], "LoRA {tmp}/none does not exist"),
        (["--lora", "{tmp}"], "has no weights diffusers loads (expected a .safetensors file)"),
        (["--vae", "{tmp}"], "has no weights diffusers loads (expected config.json and diffusion_pytorch_model.safetensors)"),
        (["--vae", "{model}/unet"], "is a UNet2DConditionModel, not one of AutoencoderKL, AutoencoderTiny"),
        (["--lora", "{lora}:7"], "--lora should have a weight in [-4, 4] but is"),
        (["--lora", "someone/not-downloaded-lora"], "LoRA someone/not-downloaded-lora is not in the Hugging Face cache and cannot be downloaded (HF_HUB_OFFLINE is set)"),
        (["--lora", "{other_lora}"], "does not fit {model}: Error(s) in loading state_dict for UNet2DConditionModel: size mismatch"),
        (["--engine", "classic", "--fast"], "--fast applies to the diffusion engine but the engine is classic"),
    ],
)  # fmt: skip
def test_fast_refusals_are_one_line_and_write_nothing(
    monkeypatch, capsys, tmp_path, small_cat, tiny_sd, tiny_lora, other_lora, args, message
):
    names = dict(tmp=tmp_path, model=tiny_sd, lora=tiny_lora, other_lora=other_lora)
    args = [a.format(**names) for a in args]
    engine = [] if "--engine" in args else ["--engine", "diffusion", "--model", str(tiny_sd), "--device", "cpu"]
    code, err = run_cli(monkeypatch, capsys, "make", str(small_cat), "-o", str(tmp_path / "o.mp4"), *TINY, *engine, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and "Traceback" not in err
    assert len(lines) == 1 and message.format(**names) in lines[0], err
    assert not list(tmp_path.glob("**/*.mp4")) and not (tmp_path / "cache").exists()


def test_auto_without_a_gpu_needs_fast_pieces_on_disk_and_says_which_is_missing(monkeypatch, tiny_sd, tiny_lora, tiny_taesd):
    import zoomout.engines.diffusion as diffusion

    monkeypatch.setattr(diffusion, "cuda_device_name", lambda: None)
    ready = DiffusionOptions(model=str(tiny_sd), lora=str(tiny_lora), vae=str(tiny_taesd))
    name, why = choose_engine(ready)
    assert name == "diffusion" and why.startswith("engine auto chose diffusion: no CUDA GPU, so fast")
    config, _ = resolve_engine(Config(engine="auto", engine_options=ready))
    assert config.engine == "diffusion" and config.engine_options.fast and config.engine_options.sampling.steps == 4
    for missing, said in (
        (dict(lora=None), "fast has no LCM-LoRA for"),
        (dict(vae="/no/such/vae"), "VAE /no/such/vae does not exist"),
        (dict(model="someone/not-downloaded-model"), "weights of someone/not-downloaded-model are not in the Hugging Face cache"),
    ):
        options = DiffusionOptions(**{**dict(model=str(tiny_sd), lora=str(tiny_lora), vae=str(tiny_taesd)), **missing})
        name, why = choose_engine(options)
        assert name == "classic" and why.startswith("engine auto chose classic: no CUDA GPU, and the few-step mode (fast) that suits a CPU lacks its weights: ") and said in why
    monkeypatch.setattr(diffusion, "cuda_device_name", lambda: "Tiny GPU")  # with a GPU: the full model, as before
    config, why = resolve_engine(Config(engine="auto", engine_options=DiffusionOptions(model=str(tiny_sd))))
    assert config.engine == "diffusion" and not config.engine_options.fast and "Tiny GPU" in why


def test_engine_without_peft_says_how_to_get_it(monkeypatch, tiny_sd):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real_find_spec(name, *a))
    with pytest.raises(EngineUnavailableError, match=r"peft not installed \(LoRAs and fast need it\): pip install 'zoomout\[diffusion\]'"):
        create_engine("diffusion", DiffusionOptions(model=str(tiny_sd), fast=True))
    assert create_engine("diffusion", DiffusionOptions(model=str(tiny_sd), steps=2, device="cpu"))  # no LoRA: no peft needed
