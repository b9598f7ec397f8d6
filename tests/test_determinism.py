"""Same photos, same options, same seed ⇒ the same video and audio packets, bit for bit.

Within one process (a web server or a batch worker makes many videos in one process) and
across processes, for every engine that is deterministic for a seed and every way the
frames are composed (montage transitions, nest, loop, directions).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from zoomout import Config, make_video
from zoomout.engines import DiffusionOptions, LamaOptions
from zoomout.container import hash_streams

from tiny_models import save_tiny_autoencoder_tiny, save_tiny_inpainting_pipeline, save_tiny_lama, save_tiny_lora

RUNS_IN_PROCESS = 5
TINY = dict(width_px=96, height_px=160, slots=2, seconds_per_slot=0.5, fps=24, hold_start_s=0.25, hold_end_s=0.25)

# name: (number of photos, Config options); each composes frames differently or uses another engine
JOBS: dict[str, tuple[int, dict]] = {
    "lama": (1, dict(engine="lama")),
    "diffusion": (1, dict(engine="diffusion")),
    "diffusion-fast": (1, dict(engine="diffusion")),  # LCMScheduler, a fused LoRA, AutoencoderTiny
    "single": (1, {}),
    "montage-cut": (2, dict(transition="cut")),
    "montage-flash": (2, dict(transition="flash")),
    "montage-fade": (2, dict(transition="fade", hold_end_s=0.5)),
    "nest": (2, dict(nest=True, slots=3)),
    "loop": (1, dict(loop=True)),
    "out-in-punchy": (1, dict(direction="out-in", ease="punchy")),
}


def write_photos(folder: Path, count: int) -> list[Path]:
    """`count` different small JPEGs cut from the bundled cat."""
    cat = Image.open(Path(__file__).resolve().parents[1] / "examples" / "cat.png").convert("RGB")
    paths = []
    for i in range(count):
        path = folder / f"photo {i}.jpg"
        cat.crop((40 * i, 10 * i, 300 + 40 * i, 190 + 10 * i)).resize((150, 100)).save(path, quality=92)
        paths.append(path)
    return paths


def save_models(folder: Path) -> dict[str, Path]:
    """The tiny seeded models of the engines whose extras are installed, saved under `folder`."""
    models = {}
    if all(importlib.util.find_spec(p) for p in ("onnx", "onnxruntime")):
        models["lama"] = save_tiny_lama(folder / "tiny-lama.onnx")
    if all(importlib.util.find_spec(p) for p in ("torch", "diffusers", "transformers")):
        models["diffusion"] = save_tiny_inpainting_pipeline(folder / "tiny-sd")
        if importlib.util.find_spec("peft"):
            models["diffusion-fast-lora"] = save_tiny_lora(models["diffusion"], folder / "tiny-lora")
            models["diffusion-fast-vae"] = save_tiny_autoencoder_tiny(folder / "tiny-taesd")
    return models


def job_config(name: str, models: dict[str, Path]) -> Config:
    options = {**TINY, **JOBS[name][1]}
    engine = options.setdefault("engine", "classic")
    engine_options = {
        "lama": lambda: LamaOptions(model_path=str(models["lama"]), device="cpu"),
        "diffusion": lambda: DiffusionOptions(model=str(models["diffusion"]), steps=2, device="cpu"),
    }.get(engine)
    if name == "diffusion-fast":
        engine_options = lambda: DiffusionOptions(  # noqa: E731
            model=str(models["diffusion"]), fast=True, lora=str(models["diffusion-fast-lora"]),
            vae=str(models["diffusion-fast-vae"]), device="cpu",
        )  # fmt: skip
    return Config(**options, seed=5, engine_options=engine_options() if engine_options else None)


def job_hashes(folder: Path, name: str, runs: int, models: dict[str, Path]) -> list[dict[str, str]]:
    """Packet hashes of `runs` videos of job `name`, each made afresh (no slot cache) in this process."""
    photos = write_photos(folder, JOBS[name][0])
    config = job_config(name, models)
    hashes = []
    for run in range(runs):
        if run and "torch" in sys.modules:  # as another library in the process might: the video must not change
            sys.modules["torch"].set_num_threads(1 + run % 2)
        result = make_video(photos, folder / f"{name}-{run}.mp4", config, cache_dir=None)
        hashes.append({stream: record["sha256"] for stream, record in hash_streams(result.path).items()})
    return hashes


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    return save_models(tmp_path_factory.mktemp("models"))


def runnable(models: dict[str, Path]) -> list[str]:
    return [name for name in JOBS if JOBS[name][1].get("engine", "classic") in {"classic", *models} and (name != "diffusion-fast" or "diffusion-fast-lora" in models)]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(JOBS))
def test_same_job_same_packets_in_one_process(tmp_path, name, models):
    if name not in runnable(models):
        pytest.skip(f"the {JOBS[name][1]['engine']} extra is not installed")
    hashes = job_hashes(tmp_path, name, RUNS_IN_PROCESS, models)
    assert set(hashes[0]) == {"video", "audio"}
    assert all(h == hashes[0] for h in hashes), f"{name}: {hashes}"


@pytest.mark.slow
def test_same_job_same_packets_across_processes(tmp_path, models):
    """Two fresh interpreters make every job, one of them on a single CPU (as a smaller machine would:
    x264 would pick fewer threads); their packets equal this process's."""
    (tmp_path / "here").mkdir()
    here = {name: job_hashes(tmp_path / "here", name, 1, models)[0] for name in runnable(models)}
    script = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]); import test_determinism as t;"
        "models = {k: Path(v) for k, v in json.loads(sys.argv[3]).items()};"
        "print(json.dumps({n: t.job_hashes(Path(sys.argv[1]), n, 1, models)[0] for n in t.runnable(models)}))"
    )
    for run in range(2):
        folder = tmp_path / f"process-{run}"
        folder.mkdir()
        out = subprocess.run(
            [sys.executable, "-c", script, str(folder), str(Path(__file__).parent), json.dumps({k: str(v) for k, v in models.items()})],
            capture_output=True, text=True, check=True, timeout=600,
            preexec_fn=(lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})) if run == 0 else None,
        )  # fmt: skip
        assert json.loads(out.stdout.strip().splitlines()[-1]) == here
