"""The `diffusion` engine: any diffusers inpainting model (SD, SDXL, a local folder) invents the ring.

torch and diffusers are imported inside the functions that need them, so zoomout runs and lists
this engine without the `diffusion` extra.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError, EngineUnavailableError
from .base import Engine, option
from .hub import hub_unreachable_reason
from .working_size import outpaint_at_working_size

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-inpainting"
SDXL_MODEL = "diffusers/stable-diffusion-xl-1.0-inpainting-0.1"
MODEL_ALIASES = {"sd15": DEFAULT_MODEL, "sdxl": SDXL_MODEL}
DEFAULT_PROMPT = "the surroundings of the scene, natural continuation, same light and style, photographic, detailed"
# the "who is this man?" complaint: invented surroundings should not hold people
STRANGER_TERMS = (
    "people", "person", "man", "woman", "child", "face", "faces", "crowd", "human", "figure",
    "silhouette", "portrait", "body", "hands",
)  # fmt: skip
MEMORY_OPTIONS = ("attention-slicing", "vae-tiling", "cpu-offload")
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")

# --fast: few-step sampling with the family's LCM-LoRA and its tiny autoencoder (TAESD)
FAMILY_NAMES = {"sd15": "SD 1.5", "sdxl": "SDXL"}
LCM_LORAS = {"sd15": "latent-consistency/lcm-lora-sdv1-5", "sdxl": "latent-consistency/lcm-lora-sdxl"}
TINY_VAES = {"sd15": "madebyollin/taesd", "sdxl": "madebyollin/taesdxl"}
KNOWN_FAMILIES = {DEFAULT_MODEL: "sd15", SDXL_MODEL: "sdxl"}
DEFAULT_STEPS, DEFAULT_GUIDANCE, DEFAULT_STRENGTH = 30, 7.5, 0.99
FAST_STEPS, FAST_STRENGTH = 4, 1.0  # strength 1.0: all 4 steps run (0.99 would drop one)
# The LCM-LoRA cards: "either disable guidance_scale or use values between 1.0 and 2.0". Guidance 1
# is one UNet pass per step but ignores negative prompts; 1.5 lets them act at twice the UNet batch.
FAST_GUIDANCE, FAST_GUIDANCE_NEGATIVE = 1.0, 1.5
LORA_WEIGHT_RANGE = (-4.0, 4.0)
VAE_CLASSES = ("AutoencoderKL", "AutoencoderTiny", "AsymmetricAutoencoderKL")
TINY_VAE = "tiny"


@dataclass(frozen=True)
class LoraChoice:
    """A LoRA fused into the model: a hub id, a folder or a weights file, at a weight (1.0: as trained)."""

    source: str
    weight: float = 1.0


def parse_lora(text: object) -> LoraChoice:
    """`ID|FOLDER[:WEIGHT]` as typed: `latent-consistency/lcm-lora-sdv1-5`, `./my-lora:0.8`."""
    if isinstance(text, LoraChoice):
        return text
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"lora should be ID|FOLDER[:WEIGHT] but is {text!r}")
    source, _, tail = text.strip().rpartition(":")
    try:
        weight = float(tail) if source else None
    except ValueError:
        weight = None
    return LoraChoice(source, weight) if weight is not None else LoraChoice(text.strip())


@dataclass(frozen=True)
class Sampling:
    """How the pipeline samples, with the `--fast` defaults resolved: what the manifest and the cache key record."""

    scheduler: str  # "LCMScheduler" with --fast, else "model" (the model's own)
    steps: int
    guidance: float
    strength: float
    negative_prompt_applied: bool  # negative prompts act only with classifier-free guidance (guidance > 1)


@dataclass(frozen=True)
class DiffusionOptions:
    """Options of the diffusion engine; all of them shape the slots, so all go into the cache key.

    Attributes
    ----------
    model : str
        A Hugging Face hub id, a local folder in diffusers format, or an alias (`sd15`, `sdxl`).
    prompt : str
        Prompt of every slot without its own.
    slot_prompts : tuple of (slot, prompt)
        Prompts of single slots (see `load_prompts`).
    negative_prompt : str
    no_strangers : bool
        Add negative prompts that keep people and faces out of the invented surroundings.
    fast : bool
        Few-step sampling for CPUs: the model family's LCM-LoRA fused in, `LCMScheduler`, 4 steps,
        and its tiny autoencoder (TAESD) for encode and decode. Softer detail.
    lora : LoraChoice or None
        A LoRA fused into the model (with `fast`: instead of the family's LCM-LoRA).
    vae : str
        `""`: the model's own (with `fast`: `tiny`); `tiny`: the family's TAESD; or a hub id or
        folder of any diffusers autoencoder (with `fast`: instead of TAESD).
    steps, guidance, strength : int, float, float, or None
        Denoising steps, classifier-free guidance scale, and how much of the ring's prefill (a
        smooth extension of the known colours) is replaced (1.0: all of it). None: the default
        (30, 7.5, 0.99; with `fast` 4, 1.0 or 1.5 when a negative prompt must act, 1.0); see
        `sampling`.
    device : str
        `auto` (CUDA fp16, else Apple MPS fp16, else CPU fp32), `cpu`, `mps`, `cuda` or `cuda:N`.
    memory : tuple of str
        For small GPUs: any of `attention-slicing`, `vae-tiling`, `cpu-offload`.
    """

    model: str = option(DEFAULT_MODEL, "Hub id, model folder, sd15 (default) or sdxl.", parse=str)
    prompt: str = option(DEFAULT_PROMPT, "Prompt of every slot.")
    slot_prompts: tuple[tuple[int, str], ...] = option(
        (), "One prompt per line (line k = slot k) or JSON {slot: prompt}.", flag="--prompts",
        parse=lambda given: slot_prompts_from(given), cli_type=Path,
    )  # fmt: skip
    negative_prompt: str = option("", "What the ring should not show.")
    no_strangers: bool = option(
        True, "Keep people and faces out of the invented surroundings (default on).",
        flag="--no-strangers/--allow-strangers",
    )  # fmt: skip
    fast: bool = option(
        False, "CPU speed: the model's LCM-LoRA, 4 steps and the tiny VAE (TAESD); softer detail.", flag="--fast",
    )  # fmt: skip
    lora: LoraChoice | None = option(
        None, "A LoRA to fuse in: hub id or folder, :WEIGHT (1.0); with --fast instead of the LCM-LoRA.",
        flag="--lora", parse=parse_lora, cli_type=str,
    )  # fmt: skip
    vae: str = option("", "A VAE: hub id, folder or tiny (TAESD); with --fast instead of the tiny VAE.")
    steps: int | None = option(None, f"Denoising steps ({DEFAULT_STEPS}; {FAST_STEPS} with --fast).")
    guidance: float | None = option(
        None, f"Guidance scale ({DEFAULT_GUIDANCE}; with --fast {FAST_GUIDANCE_NEGATIVE} for negative prompts, else {FAST_GUIDANCE}).",
    )  # fmt: skip
    # SDXL inpainting's model card asks for < 1.0; for SD 1.5 it is the same as 1.0
    strength: float | None = option(
        None, f"How much of the prefilled ring is replaced, (0, 1] ({DEFAULT_STRENGTH}; {FAST_STRENGTH} with --fast).",
    )  # fmt: skip
    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps.")
    memory: tuple[str, ...] = option(
        (), f"Small GPUs: comma list of {', '.join(MEMORY_OPTIONS)}.",
        parse=lambda text: tuple(m.strip() for m in str(text).split(",") if m.strip()), cli_type=str,
    )  # fmt: skip

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError(f"model should be a hub id or a folder but is {self.model!r}")
        for name in ("prompt", "negative_prompt"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} should be text but is {getattr(self, name)!r}")
        slots = [slot for slot, _ in self.slot_prompts]
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in slots) or len(set(slots)) != len(slots):
            raise ConfigError(f"slot_prompts should name each slot (an integer >= 0) once but name {slots}")
        if not isinstance(self.fast, bool):
            raise ConfigError(f"fast should be true or false but is {self.fast!r}")
        if isinstance(self.lora, str):  # as typed, from Python or a jobs file
            object.__setattr__(self, "lora", parse_lora(self.lora))
        if self.lora is not None:
            low, high = LORA_WEIGHT_RANGE
            if not isinstance(self.lora, LoraChoice) or not isinstance(self.lora.source, str) or not self.lora.source.strip():
                raise ConfigError(f"lora should be ID|FOLDER[:WEIGHT] but is {self.lora!r}")
            if not _is_number(self.lora.weight) or not low <= self.lora.weight <= high:
                raise ConfigError(f"lora should have a weight in [{low:g}, {high:g}] but is {self.lora.source}:{self.lora.weight}")
        if not isinstance(self.vae, str) or (self.vae and not self.vae.strip()):
            raise ConfigError(f"vae should be a hub id, a folder or tiny but is {self.vae!r}")
        if self.steps is not None and (isinstance(self.steps, bool) or not isinstance(self.steps, int) or not 1 <= self.steps <= 500):
            raise ConfigError(f"steps should be an integer in [1, 500] but is {self.steps!r}")
        if self.guidance is not None and (not _is_number(self.guidance) or not 0.0 <= self.guidance <= 50.0):
            raise ConfigError(f"guidance should be in [0, 50] but is {self.guidance!r}")
        if self.strength is not None and (not _is_number(self.strength) or not 0.0 < self.strength <= 1.0):
            raise ConfigError(f"strength should be in (0, 1] but is {self.strength!r}")
        sampling = self.sampling
        if sampling.steps * sampling.strength < 1.0:
            raise ConfigError(f"steps × strength should be at least 1 but is {sampling.steps} × {sampling.strength}")
        if not isinstance(self.device, str) or not DEVICE_PATTERN.fullmatch(self.device):
            raise ConfigError(f"device should be auto, cpu, mps, cuda or cuda:N but is {self.device!r}")
        unknown = [m for m in self.memory if m not in MEMORY_OPTIONS]
        if unknown:
            raise ConfigError(f"memory should be among {', '.join(MEMORY_OPTIONS)} but is {', '.join(unknown)}")

    @property
    def model_source(self) -> str:
        """The hub id or folder that is loaded (aliases resolved)."""
        return MODEL_ALIASES.get(self.model, self.model)

    @property
    def sampling(self) -> Sampling:
        """Steps, guidance and strength with the defaults resolved (`--fast` has its own)."""
        wants_negative = bool(self.negative_prompt_for(0))  # the same for every slot
        if self.fast:
            guidance = FAST_GUIDANCE_NEGATIVE if wants_negative else FAST_GUIDANCE
            defaults = (FAST_STEPS, guidance, FAST_STRENGTH)
        else:
            defaults = (DEFAULT_STEPS, DEFAULT_GUIDANCE, DEFAULT_STRENGTH)
        steps, guidance, strength = (d if v is None else v for v, d in zip((self.steps, self.guidance, self.strength), defaults))
        return Sampling(
            scheduler="LCMScheduler" if self.fast else "model", steps=steps, guidance=float(guidance),
            strength=float(strength), negative_prompt_applied=wants_negative and guidance > 1.0,
        )  # fmt: skip

    @property
    def lora_source(self) -> LoraChoice | None:
        """The LoRA to fuse: `lora`, else with `fast` the family's LCM-LoRA (None when the family has none)."""
        if self.lora is not None or not self.fast:
            return self.lora
        family = model_family(self)
        return LoraChoice(LCM_LORAS[family]) if family in LCM_LORAS else None

    @property
    def vae_source(self) -> str | None:
        """The autoencoder to load instead of the model's (a hub id or folder), or None: the model's own."""
        vae = self.vae or (TINY_VAE if self.fast else "")
        if vae != TINY_VAE:
            return vae or None
        return TINY_VAES.get(model_family(self) or "")

    def prompt_for(self, slot: int) -> str:
        return dict(self.slot_prompts).get(slot, self.prompt)

    def negative_prompt_for(self, slot: int) -> str:
        """The user's negative prompt, then the no-strangers terms it does not already hold."""
        terms = [t.strip() for t in self.negative_prompt.split(",") if t.strip()]
        if self.no_strangers:
            have = {t.lower() for t in terms}
            terms += [t for t in STRANGER_TERMS if t not in have]
        return ", ".join(terms)

    def cache_identity(self) -> dict[str, Any]:
        """What the slot-cache key holds: the options with sampling resolved, and the LoRA's and VAE's
        ids, revisions and file hashes (None while they are not on disk)."""
        lora, vae = self.lora_source, self.vae_source
        chosen = {k: v for k, v in asdict(self).items() if k not in ("steps", "guidance", "strength")}
        return {
            **chosen,
            "sampling": asdict(self.sampling),
            "lora": None if lora is None else {**weights_identity(lora.source, "lora"), "weight": lora.weight},
            "vae": None if vae is None else weights_identity(vae, "vae"),
        }


def slot_prompts_from(given: object) -> tuple[tuple[int, str], ...]:
    """Per-slot prompts as the user gave them: a file (`--prompts`, a jobs file's `"prompts": "file.txt"`),
    lines (the web form's box, a jobs file's list: line k is slot k), or a mapping {slot: prompt}."""
    if isinstance(given, (str, os.PathLike)):
        return load_prompts(given)
    if isinstance(given, (list, tuple)) and all(isinstance(line, str) for line in given):
        return _prompt_lines(given)
    if isinstance(given, dict):
        return _prompt_entries(given, "prompts")
    raise ConfigError(f"slot_prompts should be a file, a list of lines or {{slot: prompt}} but is {given!r}")


def load_prompts(path: str | os.PathLike[str]) -> tuple[tuple[int, str], ...]:
    """Per-slot prompts from a file: JSON `{"slot": "prompt", ...}`, or text with one line per slot.

    In a text file line 1 is slot 1 (the first zoom step), line 2 slot 2, and so on; a blank
    line leaves its slot to `--prompt`. JSON may also name slot 0 (the bars around a photo that
    does not fill the canvas).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"prompts file {file} cannot be read: {error}") from None
    if file.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"prompts file {file} is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"prompts file {file} should hold a JSON object {{slot: prompt}}")
        return _prompt_entries(data, f"prompts file {file}")
    return _prompt_lines(text.splitlines())


def _prompt_lines(lines: list[str] | tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """Line 1 is slot 1; a blank line leaves its slot to the prompt of every slot."""
    return tuple((k, line.strip()) for k, line in enumerate(lines, start=1) if line.strip())


def _prompt_entries(data: dict, source: str) -> tuple[tuple[int, str], ...]:
    prompts = []
    for key, value in data.items():
        if not re.fullmatch(r"\s*\d+\s*", str(key)) or not isinstance(value, str):
            raise ConfigError(f'{source}: entry {key!r}: {value!r} should be "slot": "prompt"')
        prompts.append((int(key), value.strip()))
    return tuple(sorted(prompts))


class DiffusionEngine(Engine):
    """Outpaint with a diffusers inpainting pipeline at the model's native size."""

    name: ClassVar[str] = "diffusion"
    summary: ClassVar[str] = (
        "diffusers inpainting (SD 1.5 by default, SDXL, any model or folder): invents new surroundings"
    )
    packages: ClassVar[tuple[str, ...]] = ("torch", "diffusers", "transformers", "accelerate", "safetensors")
    extra: ClassVar[str] = "diffusion"
    options_class: ClassVar[type] = DiffusionOptions
    auto_rank: ClassVar[int] = 1

    def __init__(self, options: DiffusionOptions | None = None) -> None:
        self.options = options or DiffusionOptions()
        self.device, self.dtype_name = pick_device(self.options.device)
        self.pipeline, self.lora, self.vae = _load_pipeline(self.options, self.device, self.dtype_name)
        config = self.pipeline.unet.config
        self.native_px = int(config.sample_size) * int(self.pipeline.vae_scale_factor)
        # On the CPU, torch's result depends on its thread count (how sums are split): a fixed
        # count per machine keeps the slots the same whatever else in the process set it to.
        self.cpu_threads = machine_threads() if self.device == "cpu" else None

    @classmethod
    def unavailable_reason(cls, options: DiffusionOptions | None = None, *, download: bool = True) -> str | None:
        """The extra, then the weights (model, LoRA, VAE): on disk, or (with `download`) downloadable now."""
        missing = super().unavailable_reason()
        if missing is not None:
            return missing
        options = options or DiffusionOptions()
        if options.device.startswith("cuda") and cuda_device_name() is None:
            return f"device {options.device} asked for, but torch sees no CUDA GPU (use device cpu)"
        if (options.lora or options.fast) and importlib.util.find_spec("peft") is None:
            return f"peft not installed (LoRAs and fast need it): pip install 'zoomout[{cls.extra}]'"
        problems = missing_weights(options)
        local = [problem for problem, is_path in problems if is_path]
        if local or not problems:
            return local[0] if local else None
        problem = "; ".join(problem for problem, _ in problems)
        if not download:
            return problem
        if offline := hub_unreachable_reason():
            return f"{problem} and cannot be downloaded ({offline}): download them once with internet, or give local folders"
        return None

    @classmethod
    def availability_note(cls) -> str | None:
        notes = [] if cuda_device_name() else ["no CUDA GPU: runs on the CPU, minutes per slot (fast: about half a minute)"]
        if weights_problem(DiffusionOptions()):
            notes.append(f"weights of {DEFAULT_MODEL} are downloaded on the first run (about 4 GB)")
        return "; ".join(notes) or None

    @classmethod
    def auto_options(cls, options: DiffusionOptions | None = None) -> DiffusionOptions:
        """Without a CUDA GPU, auto runs diffusion only with `fast`."""
        options = options or DiffusionOptions()
        return options if options.fast or cuda_device_name() else replace(options, fast=True)

    @classmethod
    def auto_problem(cls, options: DiffusionOptions | None = None) -> str | None:
        """Auto picks diffusion with a CUDA GPU and the model on disk, or without one with `fast`
        and the model, its LCM-LoRA and its tiny VAE on disk."""
        missing = super(DiffusionEngine, cls).unavailable_reason()
        if missing is not None:
            return missing
        options = cls.auto_options(options)
        if cuda_device_name() is not None:
            return weights_problem(options)
        if importlib.util.find_spec("peft") is None:
            return f"no CUDA GPU, and the few-step mode (fast) that suits a CPU needs peft: pip install 'zoomout[{cls.extra}]'"
        problems = [problem for problem, _ in missing_weights(options)]
        return f"no CUDA GPU, and the few-step mode (fast) that suits a CPU lacks its weights: {'; '.join(problems)}" if problems else None

    @classmethod
    def auto_note(cls, options: DiffusionOptions | None = None) -> str:
        options = cls.auto_options(options)
        gpu = cuda_device_name()
        if gpu is not None:
            return f"CUDA GPU {gpu} and {options.model_source} are here"
        lora, vae = options.lora_source, options.vae_source
        return (
            f"no CUDA GPU, so fast: {options.model_source}, the LoRA {lora.source if lora else 'none'} and the VAE "
            f"{vae or 'of the model'} are here (about half a minute per slot; --engine classic takes seconds)"
        )

    @classmethod
    def run_notes(cls, options: DiffusionOptions | None = None) -> tuple[str, ...]:
        """What `fast` trades, and negative prompts that guidance 1 would ignore."""
        options = options or DiffusionOptions()
        sampling, notes = options.sampling, []
        if options.fast:
            notes.append(
                f"fast: {sampling.steps} LCM steps with a LoRA and the VAE {options.vae_source or 'of the model'}: "
                "several times faster, softer detail than the full model (without fast for the finest detail)"
            )
            if sampling.negative_prompt_applied and options.guidance is None:
                notes.append(
                    f"fast keeps negative prompts (no strangers) acting with guidance {sampling.guidance:g}, which "
                    "doubles the UNet batch; allowing strangers (--allow-strangers) with no negative prompt runs at guidance 1, faster"
                )
        wanted = options.negative_prompt_for(0)
        if wanted and not sampling.negative_prompt_applied:
            what = "no strangers and the negative prompt are" if options.no_strangers else "the negative prompt is"
            notes.append(f"{what} not applied: guidance {sampling.guidance:g} ignores negative prompts (guidance above 1 applies them)")
        return tuple(notes)

    def describe(self) -> dict[str, Any]:
        options, sampling = self.options, self.options.sampling
        negative = options.negative_prompt_for(0) if sampling.negative_prompt_applied else ""
        model = {"model": options.model_source, "prompt": options.prompt, "negative_prompt": negative}
        if options.slot_prompts:
            model["slot_prompts"] = {str(slot): text for slot, text in options.slot_prompts}
        record = {
            **super().describe(), "model": model, "device": self.device, "dtype": self.dtype_name,
            "sampling": {
                **asdict(sampling), "scheduler": type(self.pipeline.scheduler).__name__, "fast": options.fast,
                "no_strangers": options.no_strangers and sampling.negative_prompt_applied,
            },
            "lora": self.lora, "vae": self.vae,
        }  # fmt: skip
        if self.cpu_threads is not None:
            record["cpu_threads"] = self.cpu_threads
        return record

    def _outpaint(self, image: np.ndarray, mask: np.ndarray, *, seed: int, slot: int) -> np.ndarray:
        with cpu_threads(self.cpu_threads):
            return self._outpaint_pinned(image, mask, seed=seed, slot=slot)

    def _outpaint_pinned(self, image: np.ndarray, mask: np.ndarray, *, seed: int, slot: int) -> np.ndarray:
        import torch

        sampling = self.options.sampling
        prompt = self.options.prompt_for(slot)
        # guidance <= 1 ignores a negative prompt: none is sent, and the manifest says so
        negative_prompt = self.options.negative_prompt_for(slot) if sampling.negative_prompt_applied else ""

        def run(work_image: np.ndarray, work_mask: np.ndarray) -> np.ndarray:
            from PIL import Image

            height, width = work_mask.shape
            result = self.pipeline(
                prompt=prompt,
                negative_prompt=negative_prompt or None,
                image=Image.fromarray(work_image),
                mask_image=Image.fromarray(work_mask.astype(np.uint8) * 255),
                height=height,
                width=width,
                num_inference_steps=sampling.steps,
                guidance_scale=sampling.guidance,
                strength=sampling.strength,
                generator=torch.Generator("cpu").manual_seed(seed),  # same noise on every device
                output_type="np",
            )
            if any(getattr(result, "nsfw_content_detected", None) or ()):
                raise EngineUnavailableError(
                    f"slot {slot}: the model's safety checker blanked the result; try another --seed or --prompt"
                )
            return np.clip(np.rint(result.images[0] * 255.0), 0, 255).astype(np.uint8)

        return outpaint_at_working_size(image, mask, run, native_px=self.native_px, multiple=8)


def pick_device(device: str) -> tuple[str, str]:
    """(device, dtype name): `auto` takes CUDA (float16), else MPS (float16), else the CPU (float32)."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    elif device.startswith("cuda") and not torch.cuda.is_available():
        raise EngineUnavailableError(f"device {device} asked for, but torch sees no CUDA GPU (use --device cpu)")
    elif device == "mps" and not torch.backends.mps.is_available():
        raise EngineUnavailableError("device mps asked for, but torch sees no Apple GPU (use --device cpu)")
    return device, "float32" if device == "cpu" else "float16"


def machine_threads() -> int:
    """Threads the CPU pipeline runs with: OMP_NUM_THREADS when set, else the CPUs this process may use."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextlib.contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Run torch's CPU kernels on `count` threads for the block (None: leave them as they are)."""
    if count is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def cuda_device_name() -> str | None:
    """The first CUDA GPU's name, or None (also when torch is not installed)."""
    if importlib.util.find_spec("torch") is None:
        return None
    if sys.platform.startswith("linux") and not os.path.exists("/proc/driver/nvidia/version"):
        return None  # no NVIDIA driver: skip importing torch (seconds) just to hear "no"
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def weights_problem(options: DiffusionOptions) -> str | None:
    """Why the model's weights cannot be loaded without a download, or None when they can."""
    source = options.model_source
    if _looks_like_path(source):
        folder = Path(source).expanduser()
        if not os.path.exists(folder):  # as `_looks_like_path`: a name too long to look up does not exist
            return f"model folder {folder} does not exist"
        if not (folder / "model_index.json").is_file():
            return f"model folder {folder} has no model_index.json (expected a diffusers model folder)"
        return None
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(source, "model_index.json"), str):
        return None
    return f"weights of {source} are not in the Hugging Face cache"


def model_family(options: DiffusionOptions) -> str | None:
    """`sd15` or `sdxl` (the families with an LCM-LoRA and a tiny VAE), `other`, or None while the
    model's UNet configuration is not on disk."""
    source = options.model_source
    if source in KNOWN_FAMILIES:
        return KNOWN_FAMILIES[source]
    config = _model_file(source, "unet/config.json")
    if config is None:
        return None
    try:
        return family_of(json.loads(config.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return "other"


def family_of(unet_config: Any) -> str:
    """The family of a UNet from its configuration (a mapping): `sd15`, `sdxl` or `other` (SD 2, tiny test models…)."""
    get = unet_config.get
    if get("addition_embed_type") == "text_time" and get("cross_attention_dim") == 2048:
        return "sdxl"
    if get("cross_attention_dim") == 768 and get("addition_embed_type") is None:
        return "sd15"
    return "other"


def missing_weights(options: DiffusionOptions) -> list[tuple[str, bool]]:
    """What the model, LoRA and VAE of `options` lack on disk: (problem, final). A final problem (a
    missing folder, a family without an LCM-LoRA) is not fixed by a download."""
    problems = []
    if problem := weights_problem(options):
        problems.append((problem, _looks_like_path(options.model_source)))
    family = model_family(options)
    model = options.model_source
    if options.lora is not None or options.fast:
        lora = options.lora_source
        if lora is None and family is not None:
            problems.append((f"fast has no LCM-LoRA for {model}, which is not {' or '.join(FAMILY_NAMES.values())}: give one with --lora", True))
        elif lora is not None and (problem := _weights_problem(lora.source, "lora")):
            problems.append((problem, _looks_like_path(lora.source)))
    vae = options.vae_source
    if vae is None and (options.vae == TINY_VAE or options.fast and not options.vae) and family is not None:
        problems.append((f"there is no tiny VAE for {model}, which is not {' or '.join(FAMILY_NAMES.values())}: give one with --vae", True))
    elif vae is not None and (problem := _weights_problem(vae, "vae")):
        problems.append((problem, _looks_like_path(vae)))
    return problems


# What is loaded of a LoRA or a VAE, as diffusers looks for it; the identity hashes the same files.
LORA_FILES = ("pytorch_lora_weights.safetensors", "pytorch_lora_weights.bin")
VAE_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
DOWNLOAD_PATTERNS = {"lora": ["*.safetensors", "*.json"], "vae": ["config.json", "diffusion_pytorch_model.safetensors"]}
WHAT = {"lora": "LoRA", "vae": "VAE"}


def weight_files(location: Path, kind: str) -> list[Path]:
    """The files of a LoRA (`kind` "lora") or VAE ("vae") at `location` (a folder, or a LoRA file) that are loaded; [] if incomplete."""
    if location.is_file():
        return [location] if kind == "lora" else []
    if kind == "lora":
        named = [location / name for name in LORA_FILES if (location / name).is_file()]
        others = sorted(location.glob("*.safetensors"))
        return named[:1] or (others if len(others) == 1 else [])
    weights = [location / name for name in VAE_WEIGHTS if (location / name).is_file()]
    return [location / "config.json", weights[0]] if weights and (location / "config.json").is_file() else []


def weights_identity(source: str, kind: str) -> dict[str, Any]:
    """A LoRA's or VAE's id (or absolute folder), the hub revision it was loaded from, and the SHA-256
    of each file that is loaded (revision and files are None while they are not on disk)."""
    location = _local_weights(source, kind)
    files = weight_files(location, kind) if location is not None else []
    revision = location.name if location is not None and not _looks_like_path(source) else None
    shown = str(Path(source).expanduser().resolve()) if _looks_like_path(source) else source
    return {
        "source": shown, "revision": revision if files else None,
        "files": {f.name: _file_sha256(str(f.resolve()), *_stamp(f)) for f in files} or None,
    }  # fmt: skip


def _weights_problem(source: str, kind: str) -> str | None:
    what = WHAT[kind]
    if _looks_like_path(source):
        location = Path(source).expanduser()
        if not os.path.exists(location):
            return f"{what} {location} does not exist"
        if not weight_files(location, kind):
            expected = "a .safetensors file" if kind == "lora" else "config.json and diffusion_pytorch_model.safetensors"
            return f"{what} {location} has no weights diffusers loads (expected {expected})"
        return None
    if _local_weights(source, kind) is None:
        return f"{what} {source} is not in the Hugging Face cache"
    return None


def _local_weights(source: str, kind: str) -> Path | None:
    """A folder or file on disk: the path itself, or the cached hub snapshot that holds the files of `kind`."""
    if _looks_like_path(source):
        location = Path(source).expanduser()
        return location if os.path.exists(location) else None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(source, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    return folder if weight_files(folder, kind) else None


def _fetch_weights(source: str, kind: str) -> Path:
    """The LoRA's or VAE's files on disk, downloaded once into the Hugging Face cache if they are not."""
    location = _local_weights(source, kind)
    if location is not None:
        return location
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(source, allow_patterns=DOWNLOAD_PATTERNS[kind]))
    except (OSError, ValueError) as error:
        raise EngineUnavailableError(f"{WHAT[kind]} {source} cannot be downloaded: {_first_line(error)}") from None
    if not weight_files(folder, kind):
        raise EngineUnavailableError(f"{WHAT[kind]} {source} has no weights diffusers loads")
    return folder


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of a file, remembered while its size and modification time stay the same."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _model_file(source: str, name: str) -> Path | None:
    """A file of the model (`unet/config.json`) on disk, in its folder or the Hugging Face cache, or None."""
    if _looks_like_path(source):
        path = Path(source).expanduser() / name
        return path if os.path.isfile(path) else None  # as `_looks_like_path`: a name too long to look up is no file
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(source, name)
    return Path(cached) if isinstance(cached, str) else None


def _load_pipeline(options: DiffusionOptions, device: str, dtype_name: str) -> tuple[Any, dict | None, dict | None]:
    """The inpainting pipeline with the options' VAE, LoRA (fused) and scheduler, and the manifest's
    records of the LoRA and the VAE (None: the model's own)."""
    source = options.model_source
    problems = missing_weights(options)
    if final := [problem for problem, is_final in problems if is_final]:
        raise EngineUnavailableError(final[0])
    if problems and (offline := hub_unreachable_reason()):
        raise EngineUnavailableError(
            f"{'; '.join(p for p, _ in problems)} and cannot be downloaded ({offline}): download them once with internet, or give local folders"
        )
    if (options.fast or options.vae == TINY_VAE) and model_family(options) is None:
        from huggingface_hub import hf_hub_download

        hf_hub_download(source, "unet/config.json")  # the family names the LCM-LoRA and the tiny VAE
        if final := [problem for problem, is_final in missing_weights(options) if is_final]:
            raise EngineUnavailableError(final[0])
    import diffusers
    import torch
    import transformers

    dtype = getattr(torch, dtype_name)
    components, vae_record = {}, None
    with _quiet(diffusers, transformers):
        if (vae := options.vae_source) is not None:
            components["vae"], vae_record = _load_vae(vae, dtype)
        try:
            pipeline = diffusers.AutoPipelineForInpainting.from_pretrained(
                str(Path(source).expanduser()) if _looks_like_path(source) else source,
                torch_dtype=dtype,
                local_files_only=weights_problem(options) is None,
                **components,
            )
        except (OSError, ValueError) as error:
            raise EngineUnavailableError(f"model {source} cannot be loaded as an inpainting pipeline: {_first_line(error)}") from None
        lora_record = _fuse_lora(pipeline, options.lora_source, source) if options.lora_source else None
    if options.fast:
        pipeline.scheduler = diffusers.LCMScheduler.from_config(pipeline.scheduler.config)
    pipeline.set_progress_bar_config(disable=True)
    if "attention-slicing" in options.memory:
        pipeline.enable_attention_slicing()
    if "vae-tiling" in options.memory:
        pipeline.vae.enable_tiling()
    if "cpu-offload" in options.memory:
        pipeline.enable_model_cpu_offload(device=device)  # each model moves to the device only while it runs
    else:
        pipeline.to(device)
    return pipeline, lora_record, vae_record


def _load_vae(source: str, dtype: Any) -> tuple[Any, dict[str, Any]]:
    """An autoencoder of any diffusers class in VAE_CLASSES (TAESD is an AutoencoderTiny), and its manifest record."""
    import diffusers

    folder = _fetch_weights(source, "vae")
    try:
        class_name = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("_class_name")
    except (OSError, ValueError) as error:
        raise EngineUnavailableError(f"VAE {source}: config.json cannot be read: {_first_line(error)}") from None
    if class_name not in VAE_CLASSES:
        raise EngineUnavailableError(f"VAE {source} is a {class_name}, not one of {', '.join(VAE_CLASSES)}")
    try:
        vae = getattr(diffusers, class_name).from_pretrained(str(folder), torch_dtype=dtype)
    except (OSError, ValueError) as error:
        raise EngineUnavailableError(f"VAE {source} cannot be loaded: {_first_line(error)}") from None
    return vae, {**weights_identity(source, "vae"), "class": class_name}


def _fuse_lora(pipeline: Any, lora: LoraChoice, model: str) -> dict[str, Any]:
    """Load `lora` (diffusers' `load_lora_weights`, through peft), fuse it into the weights at its weight,
    and unload the adapter: the UNet then runs as fast as without a LoRA. Returns its manifest record."""
    import diffusers

    location = _fetch_weights(lora.source, "lora")
    file = weight_files(location, "lora")[0]
    level = diffusers.logging.get_verbosity()
    diffusers.logging.set_verbosity(diffusers.logging.CRITICAL)  # a failure is raised below, in one line
    try:
        pipeline.load_lora_weights(str(file.parent), weight_name=file.name, adapter_name="zoomout")
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        raise EngineUnavailableError(f"LoRA {lora.source} does not fit {model}: {_first_line(error)}") from None
    finally:
        diffusers.logging.set_verbosity(level)
    if not any("zoomout" in names for names in pipeline.get_list_adapters().values()):
        raise EngineUnavailableError(f"LoRA {lora.source} has no layer that fits {model}")
    pipeline.fuse_lora(lora_scale=lora.weight, adapter_names=["zoomout"])
    pipeline.unload_lora_weights()  # the fused weights stay; the adapter layers go
    return {**weights_identity(lora.source, "lora"), "weight": lora.weight}


def _first_line(error: BaseException) -> str:
    """The error's first line, with the next one when the first only announces a list (`Error(s) in …:`)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]


@contextlib.contextmanager
def _quiet(*libraries: Any) -> Iterator[None]:
    """Loading without log lines, progress bars or deprecation notes: they would break the CLI's display."""
    levels = [library.logging.get_verbosity() for library in libraries]
    bars = [library.utils.logging.is_progress_bar_enabled() for library in libraries]
    try:
        for library in libraries:
            library.logging.set_verbosity_error()
            library.utils.logging.disable_progress_bar()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # e.g. torch_dtype → dtype, kept for diffusers 0.30
            yield
    finally:
        for library, level, bar in zip(libraries, levels, bars):
            library.logging.set_verbosity(level)
            if bar:
                library.utils.logging.enable_progress_bar()


def _looks_like_path(source: str) -> bool:
    """A folder: anything that exists, or that a hub id (`org/name`) cannot be."""
    # os.path.exists: a name the system cannot look up (too long) is a path that does not exist, not an OSError
    return os.path.exists(os.path.expanduser(source)) or not re.fullmatch(r"[\w.-]+/[\w.-]+", source) or source.startswith(".")


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and np.isfinite(value)
