"""The `lama` engine: LaMa (large-mask inpainting) exported to ONNX, run by onnxruntime.

LaMa fills large holes with plausible texture and structure, without a prompt and in one pass
(seconds per slot on a CPU). The default weights are the common ONNX export `Carve/LaMa-ONNX`
(`lama_fp32.onnx`, a static 512×512 input): inputs `image` (1, 3, H, W) float32 in 0..1 and
`mask` (1, 1, H, W) float32 in {0, 1}, output (1, 3, H, W) in 0..255. Exports with a dynamic
size or an output in 0..1 work as well.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError, EngineUnavailableError
from .base import Engine, option
from .hub import hub_unreachable_reason
from .working_size import outpaint_at_working_size

LAMA_REPO = "Carve/LaMa-ONNX"
LAMA_FILE = "lama_fp32.onnx"
NATIVE_PX = 512  # dynamic-size exports run near 512² (LaMa was trained at 256 and is robust up to ~2k)
DYNAMIC_MULTIPLE = 32  # sides of a dynamic-size input: the generator downsamples 3× and its FFT blocks like even sizes
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class LamaOptions:
    """Options of the LaMa engine.

    Attributes
    ----------
    model_path : str or None
        A LaMa `.onnx` file; None takes `lama_fp32.onnx` of `Carve/LaMa-ONNX` from the Hugging Face
        cache, downloading it (208 MB) the first time.
    device : str
        `auto` (CUDA when onnxruntime has it, else the CPU), `cpu` or `cuda`.
    """

    model_path: str | None = option(
        None, "The LaMa .onnx file (default: downloaded once).", flag="--lama-model", parse=str, cli_type=Path
    )
    device: str = option("auto", "auto, cpu or cuda.")

    def __post_init__(self) -> None:
        if self.model_path is not None and (not isinstance(self.model_path, str) or not self.model_path.strip()):
            raise ConfigError(f"lama_model should be an .onnx file but is {self.model_path!r}")
        if self.device not in DEVICES:
            raise ConfigError(
                f"device should be one of {', '.join(DEVICES)} for the lama engine but is {self.device!r}"
            )


class LamaEngine(Engine):
    """Outpaint with LaMa's ONNX export at its native size."""

    name: ClassVar[str] = "lama"
    summary: ClassVar[str] = (
        "LaMa inpainting (ONNX, no prompt): fills with plausible texture, seconds per slot on a CPU"
    )
    packages: ClassVar[tuple[str, ...]] = ("onnxruntime", "huggingface_hub")
    extra: ClassVar[str] = "lama"
    options_class: ClassVar[type] = LamaOptions

    def __init__(self, options: LamaOptions | None = None) -> None:
        import onnxruntime as ort

        self.options = options or LamaOptions()
        self.model_path = _model_file(self.options)
        available = ort.get_available_providers()
        if self.options.device == "cuda" and "CUDAExecutionProvider" not in available:
            raise EngineUnavailableError(
                "device cuda asked for, but onnxruntime has no CUDA provider (pip install onnxruntime-gpu)"
            )
        use_cuda = self.options.device != "cpu" and "CUDAExecutionProvider" in available
        providers = (["CUDAExecutionProvider"] if use_cuda else []) + ["CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(str(self.model_path), providers=providers)
        except Exception as error:  # onnxruntime raises its own untyped errors for unreadable models
            raise EngineUnavailableError(
                f"{self.model_path} cannot be loaded by onnxruntime: {str(error).splitlines()[0]}"
            ) from None
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        if set(inputs) != {"image", "mask"} or len(inputs["image"]) != 4 or len(inputs["mask"]) != 4:
            described = ", ".join(f"{n} {s}" for n, s in inputs.items())
            raise EngineUnavailableError(
                f"{self.model_path} is not a LaMa export: expected inputs image (1, 3, H, W) and mask (1, 1, H, W) "
                f"but it has {described}"
            )
        height, width = inputs["image"][2:]
        self.canvas_hw = (height, width) if isinstance(height, int) and isinstance(width, int) else None

    @classmethod
    def unavailable_reason(cls, options: LamaOptions | None = None, *, download: bool = True) -> str | None:
        """The extra, then the model file: given, cached, or (with `download`) downloadable now."""
        missing = super().unavailable_reason()
        if missing is not None:
            return missing
        options = options or LamaOptions()
        if options.model_path is not None:
            path = Path(options.model_path).expanduser()
            # os.path.isfile: a name too long to look up is a file that does not exist, not an OSError
            return None if os.path.isfile(path) else f"LaMa model {path} does not exist (expected an .onnx file)"
        if _cached_model() is None and not download:
            return f"{LAMA_FILE} of {LAMA_REPO} is not on this machine"
        if _cached_model() is None and (offline := hub_unreachable_reason()):
            return (
                f"{LAMA_FILE} of {LAMA_REPO} is not in the Hugging Face cache and cannot be downloaded ({offline}): "
                "download it once with internet, or give a LaMa model file"
            )
        return None

    @classmethod
    def availability_note(cls) -> str | None:
        if _cached_model() is not None:
            return None
        return f"{LAMA_FILE} of {LAMA_REPO} is downloaded on the first run (208 MB)"

    @classmethod
    def auto_problem(cls, options: LamaOptions | None = None) -> str | None:
        return "auto never picks lama: it does not invent new things"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model": {"model": str(self.model_path)}}

    def _outpaint(self, image: np.ndarray, mask: np.ndarray, *, seed: int, slot: int) -> np.ndarray:
        # LaMa is deterministic: seed and slot do not change its result
        def run(work_image: np.ndarray, work_mask: np.ndarray) -> np.ndarray:
            pixels = work_image.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
            holes = work_mask[None, None].astype(np.float32)
            out = self.session.run(None, {"image": pixels, "mask": holes})[0][0].transpose(1, 2, 0)
            return np.clip(np.rint(out * _output_scale(out, work_image, work_mask)), 0, 255).astype(np.uint8)

        native = NATIVE_PX if self.canvas_hw is None else max(self.canvas_hw)
        return outpaint_at_working_size(
            image, mask, run, native_px=native, multiple=DYNAMIC_MULTIPLE, canvas_hw=self.canvas_hw
        )


def _output_scale(out: np.ndarray, work_image: np.ndarray, work_mask: np.ndarray) -> float:
    """255 when the export returns 0..1, 1 when it returns 0..255: decided on the known pixels, which LaMa keeps."""
    known = ~work_mask
    if not known.any():
        return 1.0 if out.max() > 2.0 else 255.0
    truth = work_image[known].astype(np.float32)
    error_0_255 = np.abs(out[known] - truth).mean()
    error_0_1 = np.abs(out[known] * 255.0 - truth).mean()
    return 255.0 if error_0_1 < error_0_255 else 1.0


def _model_file(options: LamaOptions) -> Path:
    if options.model_path is not None:
        path = Path(options.model_path).expanduser()
        if not os.path.isfile(path):
            raise EngineUnavailableError(f"LaMa model {path} does not exist (expected an .onnx file)")
        return path
    cached = _cached_model()
    if cached is not None:
        return cached
    if offline := hub_unreachable_reason():
        raise EngineUnavailableError(
            f"{LAMA_FILE} of {LAMA_REPO} is not in the Hugging Face cache and cannot be downloaded ({offline}): "
            "download it once with internet, or give a LaMa model file"
        )
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(LAMA_REPO, LAMA_FILE))
    except Exception as error:  # network, proxy and hub errors come in many types; all mean "not here"
        raise EngineUnavailableError(
            f"{LAMA_FILE} of {LAMA_REPO} cannot be downloaded ({type(error).__name__}): "
            "download it once with internet, or give a LaMa model file"
        ) from None


def _cached_model() -> Path | None:
    if importlib.util.find_spec("huggingface_hub") is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(LAMA_REPO, LAMA_FILE)
    return Path(cached) if isinstance(cached, str) else None
