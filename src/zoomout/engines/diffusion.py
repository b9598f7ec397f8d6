"""The `diffusion` engine: any diffusers inpainting model (SD, SDXL, a local folder) invents the ring.

torch and diffusers are imported inside the functions that need them, so zoomout runs and lists
this engine without the `diffusion` extra.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
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
    steps, guidance, strength
        Denoising steps, classifier-free guidance scale, and how much of the ring's prefill (a
        smooth extension of the known colours) is replaced (1.0: all of it).
    device : str
        `auto` (CUDA fp16, else Apple MPS fp16, else CPU fp32), `cpu`, `mps`, `cuda` or `cuda:N`.
    memory : tuple of str
        For small GPUs: any of `attention-slicing`, `vae-tiling`, `cpu-offload`.
    """

    model: str = option(DEFAULT_MODEL, "Hub id, model folder, sd15 (default) or sdxl.", parse=str)
    prompt: str = option(DEFAULT_PROMPT, "Prompt of every slot.")
    slot_prompts: tuple[tuple[int, str], ...] = option(
        (), "One prompt per line (line k = slot k) or JSON {slot: prompt}.", flag="--prompts",
        parse=lambda path: load_prompts(path), cli_type=Path,
    )  # fmt: skip
    negative_prompt: str = option("", "What the ring should not show.")
    no_strangers: bool = option(
        True, "Keep people and faces out of the invented surroundings (default on).",
        flag="--no-strangers/--allow-strangers",
    )  # fmt: skip
    steps: int = option(30, "Denoising steps (30).")
    guidance: float = option(7.5, "Guidance scale (7.5).")
    # SDXL inpainting's model card asks for < 1.0; for SD 1.5 it is the same as 1.0
    strength: float = option(0.99, "How much of the prefilled ring is replaced, (0, 1] (0.99).")
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
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or not 1 <= self.steps <= 500:
            raise ConfigError(f"steps should be an integer in [1, 500] but is {self.steps!r}")
        if not _is_number(self.guidance) or not 0.0 <= self.guidance <= 50.0:
            raise ConfigError(f"guidance should be in [0, 50] but is {self.guidance!r}")
        if not _is_number(self.strength) or not 0.0 < self.strength <= 1.0:
            raise ConfigError(f"strength should be in (0, 1] but is {self.strength!r}")
        if self.steps * self.strength < 1.0:
            raise ConfigError(f"steps × strength should be at least 1 but is {self.steps} × {self.strength}")
        if not isinstance(self.device, str) or not DEVICE_PATTERN.fullmatch(self.device):
            raise ConfigError(f"device should be auto, cpu, mps, cuda or cuda:N but is {self.device!r}")
        unknown = [m for m in self.memory if m not in MEMORY_OPTIONS]
        if unknown:
            raise ConfigError(f"memory should be among {', '.join(MEMORY_OPTIONS)} but is {', '.join(unknown)}")

    @property
    def model_source(self) -> str:
        """The hub id or folder that is loaded (aliases resolved)."""
        return MODEL_ALIASES.get(self.model, self.model)

    def prompt_for(self, slot: int) -> str:
        return dict(self.slot_prompts).get(slot, self.prompt)

    def negative_prompt_for(self, slot: int) -> str:
        """The user's negative prompt, then the no-strangers terms it does not already hold."""
        terms = [t.strip() for t in self.negative_prompt.split(",") if t.strip()]
        if self.no_strangers:
            have = {t.lower() for t in terms}
            terms += [t for t in STRANGER_TERMS if t not in have]
        return ", ".join(terms)


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
        prompts = []
        for key, value in data.items():
            if not re.fullmatch(r"\s*\d+\s*", str(key)) or not isinstance(value, str):
                raise ConfigError(f'prompts file {file}: entry {key!r}: {value!r} should be "slot": "prompt"')
            prompts.append((int(key), value.strip()))
        return tuple(sorted(prompts))
    lines = text.splitlines()
    return tuple((k, line.strip()) for k, line in enumerate(lines, start=1) if line.strip())


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
        self.pipeline = _load_pipeline(self.options, self.device, self.dtype_name)
        config = self.pipeline.unet.config
        self.native_px = int(config.sample_size) * int(self.pipeline.vae_scale_factor)
        # On the CPU, torch's result depends on its thread count (how sums are split): a fixed
        # count per machine keeps the slots the same whatever else in the process set it to.
        self.cpu_threads = machine_threads() if self.device == "cpu" else None

    @classmethod
    def unavailable_reason(cls, options: DiffusionOptions | None = None, *, download: bool = True) -> str | None:
        """The extra, then the weights: on disk, or (with `download`) downloadable now."""
        missing = super().unavailable_reason()
        if missing is not None:
            return missing
        options = options or DiffusionOptions()
        if options.device.startswith("cuda") and cuda_device_name() is None:
            return f"device {options.device} asked for, but torch sees no CUDA GPU (use device cpu)"
        problem = weights_problem(options)
        if problem is None:
            return None
        if _looks_like_path(options.model_source) or not download:
            return problem
        if offline := hub_unreachable_reason():
            return f"{problem} and cannot be downloaded ({offline}): download them once with internet, or set the model to a local folder"
        return None

    @classmethod
    def availability_note(cls) -> str | None:
        notes = [] if cuda_device_name() else ["no CUDA GPU: runs on the CPU, minutes per slot"]
        if weights_problem(DiffusionOptions()):
            notes.append(f"weights of {DEFAULT_MODEL} are downloaded on the first run (about 4 GB)")
        return "; ".join(notes) or None

    @classmethod
    def auto_problem(cls, options: DiffusionOptions | None = None) -> str | None:
        """Auto picks diffusion only with a CUDA GPU and the weights already on disk."""
        missing = super(DiffusionEngine, cls).unavailable_reason()
        if missing is not None:
            return missing
        if cuda_device_name() is None:
            here = cls.unavailable_reason(options, download=False) is None
            return "no CUDA GPU" + (" (--engine diffusion runs on the CPU, minutes per slot)" if here else "")
        return weights_problem(options or DiffusionOptions())

    @classmethod
    def auto_note(cls, options: DiffusionOptions | None = None) -> str:
        return f"CUDA GPU {cuda_device_name()} and {(options or DiffusionOptions()).model_source} are here"

    def describe(self) -> dict[str, Any]:
        options = self.options
        model = {"model": options.model_source, "prompt": options.prompt, "negative_prompt": options.negative_prompt_for(0)}
        if options.slot_prompts:
            model["slot_prompts"] = {str(slot): text for slot, text in options.slot_prompts}
        record = {**super().describe(), "model": model, "device": self.device, "dtype": self.dtype_name}
        if self.cpu_threads is not None:
            record["cpu_threads"] = self.cpu_threads
        return record

    def _outpaint(self, image: np.ndarray, mask: np.ndarray, *, seed: int, slot: int) -> np.ndarray:
        with cpu_threads(self.cpu_threads):
            return self._outpaint_pinned(image, mask, seed=seed, slot=slot)

    def _outpaint_pinned(self, image: np.ndarray, mask: np.ndarray, *, seed: int, slot: int) -> np.ndarray:
        import torch

        prompt = self.options.prompt_for(slot)
        negative_prompt = self.options.negative_prompt_for(slot)

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
                num_inference_steps=self.options.steps,
                guidance_scale=self.options.guidance,
                strength=self.options.strength,
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
        if not folder.exists():
            return f"model folder {folder} does not exist"
        if not (folder / "model_index.json").is_file():
            return f"model folder {folder} has no model_index.json (expected a diffusers model folder)"
        return None
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(source, "model_index.json"), str):
        return None
    return f"weights of {source} are not in the Hugging Face cache"


def _load_pipeline(options: DiffusionOptions, device: str, dtype_name: str) -> Any:
    source = options.model_source
    problem = weights_problem(options)
    if problem and _looks_like_path(source):
        raise EngineUnavailableError(problem)
    if problem and (offline := hub_unreachable_reason()):
        raise EngineUnavailableError(
            f"{problem} and cannot be downloaded ({offline}): download them once with internet, or set the model to a local folder"
        )
    import diffusers
    import torch
    import transformers

    try:
        with _quiet(diffusers, transformers):
            pipeline = diffusers.AutoPipelineForInpainting.from_pretrained(
                str(Path(source).expanduser()) if _looks_like_path(source) else source,
                torch_dtype=getattr(torch, dtype_name),
                local_files_only=problem is None,
            )
    except (OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise EngineUnavailableError(
            f"model {source} cannot be loaded as an inpainting pipeline: {first_line}"
        ) from None
    pipeline.set_progress_bar_config(disable=True)
    if "attention-slicing" in options.memory:
        pipeline.enable_attention_slicing()
    if "vae-tiling" in options.memory:
        pipeline.vae.enable_tiling()
    if "cpu-offload" in options.memory:
        pipeline.enable_model_cpu_offload(device=device)  # each model moves to the device only while it runs
    else:
        pipeline.to(device)
    return pipeline


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
    return Path(source).expanduser().exists() or not re.fullmatch(r"[\w.-]+/[\w.-]+", source) or source.startswith(".")


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and np.isfinite(value)
