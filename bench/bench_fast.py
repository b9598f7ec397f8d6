"""What a diffusion slot costs on this machine's CPU: the default against `--fast`, in guided UNet steps.

Full-size SD-1.5-inpainting components (UNet, VAE, CLIP text encoder) are built with random
weights from the published configurations written below (speed does not depend on the weights),
with an LCM-LoRA of the published shape (rank 64 on the layers LCM-LoRA trains, made with peft)
and an AutoencoderTiny of TAESD's configuration. Nothing is downloaded; they are built once and
kept in `$ZOOMOUT_BENCH_DIR` (default `~/.cache/zoomout-bench`, about 4.5 GB).

Each configuration runs in its own process (so its peak memory is its own) and measures, in
that process, the baseline: one guided UNet step (batch 2) at the 9:16 working size 384×680.
The marginal cost of a slot is `engine.outpaint` on a 1080×1920 slot with a zoom-2 ring, the
model loaded: what each further slot of a chain costs. Reported as seconds and as a ratio to
the baseline; goals: `--fast` ≤ 4.5 guided steps (stretch ≤ 2.5), peak memory ≤ 5 GB.

    python bench/bench_fast.py [--modes default,fast,fast-unguided] [--fast-repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

BUILD_VERSION = "1"  # bump when the configurations below change: the components are rebuilt
WORKING_HW = (680, 384)  # the working size of a 9:16 slot with SD 1.5 (checked against the engine)
GOAL_FAST_STEPS, STRETCH_FAST_STEPS, GOAL_PEAK_GB = 4.5, 2.5, 5.0

# stable-diffusion-inpainting's published unet/config.json, vae/config.json, text_encoder/config.json
UNET_CONFIG = dict(
    act_fn="silu", attention_head_dim=8, block_out_channels=[320, 640, 1280, 1280], center_input_sample=False,
    cross_attention_dim=768, down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    downsample_padding=1, flip_sin_to_cos=True, freq_shift=0, in_channels=9, layers_per_block=2, mid_block_scale_factor=1,
    norm_eps=1e-5, norm_num_groups=32, out_channels=4, sample_size=64,
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
)  # fmt: skip
VAE_CONFIG = dict(
    act_fn="silu", block_out_channels=[128, 256, 512, 512], down_block_types=["DownEncoderBlock2D"] * 4, in_channels=3,
    latent_channels=4, layers_per_block=2, norm_num_groups=32, out_channels=3, sample_size=512,
    up_block_types=["UpDecoderBlock2D"] * 4,
)  # fmt: skip
TEXT_CONFIG = dict(
    hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12, max_position_embeddings=77,
    vocab_size=49408, hidden_act="quick_gelu", projection_dim=768, layer_norm_eps=1e-5, bos_token_id=0, eos_token_id=1,
    pad_token_id=1,
)  # fmt: skip
SCHEDULER_CONFIG = dict(
    beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000, set_alpha_to_one=False,
    skip_prk_steps=True, steps_offset=1,
)  # fmt: skip
# LCM-LoRA for SD 1.5: rank 64 on these UNet layers (67.5 M parameters, as its model card lists)
LCM_LORA_RANK = 64
LCM_LORA_TARGETS = [
    "to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2", "conv1", "conv2",
    "conv_shortcut", "downsamplers.0.conv", "upsamplers.0.conv", "time_emb_proj",
]  # fmt: skip
# TAESD (madebyollin/taesd) is AutoencoderTiny's default configuration

MODES = {
    # name: (what it is, DiffusionOptions keywords besides the model)
    "default": ("default (30 steps, guidance 7.5, full VAE)", {}),
    "fast": ("--fast (no strangers: guidance 1.5, batch 2)", {"fast": True}),
    "fast-unguided": ("--fast --allow-strangers (guidance 1, batch 1)", {"fast": True, "no_strangers": False}),
}


def bench_dir() -> Path:
    return Path(os.environ.get("ZOOMOUT_BENCH_DIR", Path.home() / ".cache" / "zoomout-bench"))


def build_components(root: Path) -> dict[str, Path]:
    """The random full-size model folder, LCM-LoRA folder and TAESD folder under `root`, built once."""
    paths = {"model": root / "sd15-inpainting-random", "lora": root / "lcm-lora-sdv1-5-random", "vae": root / "taesd-random"}
    marker = root / f"built-{BUILD_VERSION}"
    if marker.is_file() and all(p.is_dir() for p in paths.values()):
        return paths
    import torch
    from diffusers import (
        AutoencoderKL, AutoencoderTiny, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel,
    )  # fmt: skip
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from tiny_models import char_tokenizer
    from transformers import CLIPTextConfig, CLIPTextModel

    print(f"building full-size random components in {root} (once) …", flush=True)
    start = time.perf_counter()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**UNET_CONFIG)
    pipeline = StableDiffusionInpaintPipeline(
        unet=unet, vae=AutoencoderKL(**VAE_CONFIG), text_encoder=CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG)),
        tokenizer=char_tokenizer(root / "_vocab"), scheduler=PNDMScheduler(**SCHEDULER_CONFIG), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipeline.save_pretrained(paths["model"])
    unet.add_adapter(LoraConfig(r=LCM_LORA_RANK, lora_alpha=LCM_LORA_RANK, init_lora_weights="gaussian", target_modules=LCM_LORA_TARGETS))
    lora_layers = get_peft_model_state_dict(unet)
    StableDiffusionInpaintPipeline.save_lora_weights(paths["lora"], unet_lora_layers=lora_layers)
    print(f"  LoRA: {sum(v.numel() for v in lora_layers.values()) / 1e6:.1f} M parameters", flush=True)
    del pipeline, unet, lora_layers
    AutoencoderTiny().save_pretrained(paths["vae"])
    marker.write_text(json.dumps({k: str(v) for k, v in paths.items()}))
    print(f"  built in {time.perf_counter() - start:.0f} s", flush=True)
    return paths


def ring_slot(height_px: int = 1920, width_px: int = 1080) -> tuple[np.ndarray, np.ndarray]:
    """A textured full-size slot shrunk by the default zoom 2: the ring to generate is 3/4 of it."""
    from zoomout.chain import shrink_slot

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height_px, 0:width_px]
    base = np.stack([128 + 60 * np.sin(x / 17.0), 128 + 60 * np.cos(y / 23.0), 100 + 0 * x], -1)
    return shrink_slot(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8), 2.0)


def guided_unet_step_s(engine, repeats: int) -> list[float]:
    """Seconds of one guided UNet step (batch 2, classifier-free guidance) at the working size, `repeats` times."""
    import torch

    unet = engine.pipeline.unet
    height, width = (side // engine.pipeline.vae_scale_factor for side in WORKING_HW)
    generator = torch.Generator("cpu").manual_seed(0)
    sample = torch.randn((2, unet.config.in_channels, height, width), generator=generator)
    context = torch.randn((2, 77, unet.config.cross_attention_dim), generator=generator)
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.perf_counter()
            unet(sample, 500, encoder_hidden_states=context, return_dict=False)
            times.append(time.perf_counter() - start)
    return times


def measure(mode: str, paths: dict[str, Path], repeats: int) -> dict[str, object]:
    """One configuration, in this process: load, baseline, slots, baseline again, peak memory."""
    from zoomout.engines import DiffusionOptions, create_engine
    from zoomout.engines.diffusion import cpu_threads
    from zoomout.engines.working_size import working_size

    extra = MODES[mode][1]
    if extra.get("fast"):
        extra = {**extra, "lora": str(paths["lora"]), "vae": str(paths["vae"])}
    start = time.perf_counter()
    engine = create_engine("diffusion", DiffusionOptions(model=str(paths["model"]), device="cpu", **extra))
    load_s = time.perf_counter() - start
    image, mask = ring_slot()
    assert working_size(*mask.shape, native_px=engine.native_px, multiple=8) == WORKING_HW
    with cpu_threads(engine.cpu_threads):
        baseline = guided_unet_step_s(engine, 3)[1:]  # the first call builds the kernels: not counted
    slot_s = []
    for k in range(repeats):
        start = time.perf_counter()
        engine.outpaint(image, mask, seed=k, slot=1)
        slot_s.append(time.perf_counter() - start)
    with cpu_threads(engine.cpu_threads):
        baseline += guided_unet_step_s(engine, 2)
    record = engine.describe()
    return {
        "mode": mode, "load_s": load_s, "slot_s": slot_s, "guided_step_s": baseline,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "threads": engine.cpu_threads,
        "steps": record["sampling"]["steps"], "guidance": record["sampling"]["guidance"],
        "negative_prompt_applied": record["sampling"]["negative_prompt_applied"],
    }  # fmt: skip


def report(results: list[dict[str, object]]) -> None:
    print(f"\nmarginal cost of one 1080×1920 slot (working size {WORKING_HW[1]}×{WORKING_HW[0]}), model loaded, CPU:")
    print(f"{'configuration':48s} {'slot s':>8s} {'guided step s':>14s} {'slot / step':>12s} {'12 slots':>9s} {'peak GB':>8s} {'load s':>7s}")
    for result in results:
        slot, step = statistics.median(result["slot_s"]), statistics.median(result["guided_step_s"])
        result["ratio"] = slot / step
        print(
            f"{MODES[result['mode']][0]:48s} {slot:8.1f} {step:14.2f} {slot / step:12.2f} {12 * slot / 60:7.1f} m "
            f"{result['peak_rss_bytes'] / 1e9:8.2f} {result['load_s']:7.1f}"
        )
    by_mode = {r["mode"]: r for r in results}
    if "fast" in by_mode:
        fast = by_mode["fast"]
        verdict = "stretch met" if fast["ratio"] <= STRETCH_FAST_STEPS else "goal met" if fast["ratio"] <= GOAL_FAST_STEPS else "GOAL MISSED"
        print(f"--fast: {fast['ratio']:.2f} guided steps per slot (goal ≤ {GOAL_FAST_STEPS}, stretch ≤ {STRETCH_FAST_STEPS}): {verdict}")
        memory = "met" if fast["peak_rss_bytes"] <= GOAL_PEAK_GB * 1e9 else "MISSED"
        print(f"--fast peak memory {fast['peak_rss_bytes'] / 1e9:.2f} GB (goal ≤ {GOAL_PEAK_GB} GB): {memory}")
    if "fast" in by_mode and "fast-unguided" in by_mode:
        cost = statistics.median(by_mode["fast"]["slot_s"]) / statistics.median(by_mode["fast-unguided"]["slot_s"])
        print(f"guidance 1.5 (negative prompts act) costs {cost:.2f}× guidance 1 per --fast slot")
    if "default" in by_mode and "fast" in by_mode:
        speedup = statistics.median(by_mode["default"]["slot_s"]) / statistics.median(by_mode["fast"]["slot_s"])
        print(f"--fast is {speedup:.1f}× faster per slot than the default")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--fast-repeats", type=int, default=3, help="slots timed per --fast configuration (default: 1 slot)")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: one configuration in a child process
    args = parser.parse_args()
    paths = build_components(bench_dir())
    if args.build_only:
        return
    if args.measure:
        repeats = args.fast_repeats if MODES[args.measure][1].get("fast") else 1
        print(json.dumps(measure(args.measure, paths, repeats)))
        return
    results = []
    for mode in args.modes.split(","):
        if mode not in MODES:
            parser.error(f"--modes should be among {', '.join(MODES)} but has {mode!r}")
        print(f"measuring {MODES[mode][0]} …", flush=True)
        out = subprocess.run(
            [sys.executable, __file__, "--measure", mode, "--fast-repeats", str(args.fast_repeats)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if out.returncode != 0:
            sys.exit(f"{mode} failed:\n{out.stderr[-3000:]}")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  {json.dumps(results[-1])}", flush=True)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
