"""Tiny seeded models that stand in for the real weights (no hub here): saved to disk, loaded by the real paths.

Used by the AI-engine tests and by bench/bench_engines.py.
"""

from __future__ import annotations

import json
from pathlib import Path

TINY_VOCAB_LETTERS = "abcdefghijklmnopqrstuvwxyz,.-"


def save_tiny_inpainting_pipeline(folder: Path, *, block_out_channels: tuple[int, int] = (32, 64)) -> Path:
    """A random SD-inpainting pipeline (9-channel UNet, small VAE, 2-layer CLIP) in diffusers format.

    Its native size is 64 px (UNet sample size 32 × VAE factor 2). Seeded: the same weights every time.
    `block_out_channels` widens the UNet (a model that another model's LoRA does not fit).
    """
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=block_out_channels, layers_per_block=2, sample_size=32, in_channels=9, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
    )  # fmt: skip
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4, sample_size=64,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
    )  # fmt: skip
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=32,
            intermediate_size=37,
            layer_norm_eps=1e-05,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=100,
        )  # fmt: skip
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False,
        steps_offset=1,
    )  # fmt: skip
    tokenizer = char_tokenizer(folder / "_vocab")
    pipeline = StableDiffusionInpaintPipeline(
        unet=unet, scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipeline.save_pretrained(folder)
    return folder


def save_tiny_lora(model_folder: Path, folder: Path, *, rank: int = 4, seed: int = 0) -> Path:
    """A random LoRA for the tiny test UNet of `model_folder`, made with peft, saved as diffusers saves LoRAs.

    Rank `rank` on the attention projections; both LoRA matrices are random (peft starts B at zero,
    which would make a LoRA that changes nothing). Seeded: the same weights every time.
    """
    import torch
    from diffusers import StableDiffusionInpaintPipeline, UNet2DConditionModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(model_folder / "unet")
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in unet.named_parameters():
            if "lora_" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    StableDiffusionInpaintPipeline.save_lora_weights(folder, unet_lora_layers=get_peft_model_state_dict(unet))
    return folder


def save_tiny_autoencoder_tiny(folder: Path) -> Path:
    """A random AutoencoderTiny (TAESD's class) that fits the tiny pipeline: 4 latent channels, factor 2."""
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(0)
    AutoencoderTiny(
        encoder_block_out_channels=(16, 16), decoder_block_out_channels=(16, 16), num_encoder_blocks=(1, 1),
        num_decoder_blocks=(1, 1), latent_channels=4,
    ).save_pretrained(folder)  # fmt: skip
    return folder


def char_tokenizer(vocab_dir: Path):
    """A CLIP tokenizer with a character-level BPE vocabulary: every prompt tokenizes, no merges needed.

    Token ids stay below 64, so it fits any text encoder (tiny or full-size); prompts are padded to 77 tokens.
    """
    from transformers import CLIPTokenizer

    words = ["<|startoftext|>", "<|endoftext|>", *TINY_VOCAB_LETTERS, *(c + "</w>" for c in TINY_VOCAB_LETTERS)]
    vocab_dir.mkdir(parents=True, exist_ok=True)
    (vocab_dir / "vocab.json").write_text(json.dumps({w: i for i, w in enumerate(words)}))
    (vocab_dir / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(vocab_dir / "vocab.json"), str(vocab_dir / "merges.txt"), model_max_length=77)


def save_tiny_lama(path: Path, *, size_px: int | None = 64, output_255: bool = True) -> Path:
    """An ONNX graph with LaMa's interface: `image` (1, 3, H, W) 0..1 and `mask` (1, 1, H, W) in, `output` out.

    Like LaMa it keeps the known pixels and fills the holes: with a 9×9 box blur of the known
    colours near them, fading to the known pixels' mean colour far away. `size_px` None makes
    H and W dynamic.
    The output is in 0..255 like Carve/LaMa-ONNX, or in 0..1 with `output_255=False`.
    """
    import onnx
    from onnx import TensorProto, helper

    side: int | str = size_px if size_px is not None else "height"
    width: int | str = size_px if size_px is not None else "width"
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, side, width])
    mask = helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, side, width])
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, side, width])
    constants = [
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("eps", TensorProto.FLOAT, [], [0.02]),
        helper.make_tensor("scale", TensorProto.FLOAT, [], [255.0 if output_255 else 1.0]),
    ]
    pool = dict(kernel_shape=[9, 9], pads=[4, 4, 4, 4], count_include_pad=1)
    nodes = [
        helper.make_node("Sub", ["one", "mask"], ["known"]),
        helper.make_node("Mul", ["image", "known"], ["known_image"]),
        helper.make_node("AveragePool", ["known_image"], ["colour_sum"], **pool),
        helper.make_node("AveragePool", ["known"], ["known_share"], **pool),
        helper.make_node("ReduceMean", ["known_image"], ["mean_sum"], axes=[2, 3]),
        helper.make_node("ReduceMean", ["known"], ["mean_share"], axes=[2, 3]),
        helper.make_node("Div", ["mean_sum", "mean_share"], ["mean_colour"]),
        helper.make_node("Mul", ["mean_colour", "eps"], ["mean_weighted"]),
        helper.make_node("Add", ["colour_sum", "mean_weighted"], ["colour_sum_safe"]),
        helper.make_node("Add", ["known_share", "eps"], ["share_safe"]),
        helper.make_node("Div", ["colour_sum_safe", "share_safe"], ["blurred"]),
        helper.make_node("Mul", ["blurred", "mask"], ["filled"]),
        helper.make_node("Add", ["known_image", "filled"], ["inpainted"]),
        helper.make_node("Mul", ["inpainted", "scale"], ["output"]),
    ]
    graph = helper.make_graph(nodes, "tiny_lama", [image, mask], [output], initializer=constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path
