"""Picture quality of the classic engine over chains, per photo (the measures of `zoomout.quality`).

Run: `python bench/bench_picture.py [photo ...]`. For each photo, at 540x960 (zoom 2):
- ray index of slots 1-5 (real surroundings ≈ 0.95; goal ≤ 1.10), what the photo's own content
  scores where slot 1's ring lies (the real surroundings of its centre half), and what a texture
  with no direction scores in the same ring by chance (`ray_noise_baseline`);
- seam ratio at the kept centre's border of slots 1-5 and at slot 0's photo edges with
  `fit='contain'` (goal ≤ 1.15);
- nest (each photo's chain landing in the next photo at slot 2): the seam ratio where it
  lands, against the next photo's own there, the seam at slot 1's kept centre, and how far
  slot 1's ring lies from the photo it lands in (colour-layout fidelity, dB: a rectangle of
  another scene scores low);
- far-slot texture: ring high-pass of slot 12 over slot 1's (goal ≥ 0.7), and over the
  photo's own in slot 1's ring geometry (its outer three quarters, subject parts included):
  whether the far slots are as busy as the photo, not only as slot 1's ring;
- block grid: how much the texture strength beside the kept centre of slots 1 and 2 rises
  and falls with the quilt's block step (`quality.grid_contrast`), against the photo's own
  texture folded at the same step;
- layout kept: how much of the photo's coarse colour layout (4x4 cells) the rings of slots
  1, 3, 5 and 12 keep (1 all, 0 none: one colour all over), and how unevenly the texture is
  spread over slot 12's ring against over the photo (`quality.texture_variation`: one
  texture all over ≈ 0.1, real photos 0.3–1.4);
- loop seam ratio of a 5-slot `--loop` video (goal ≤ 1.2), how many frames blend its two
  sides, and how many seconds of full-frame double exposure that blend amounts to;
- crop-and-restore at 384 px wide: colour-layout fidelity (dB, goal ≥ 16 mean) and texture
  ratio (goal 0.6-1.4), and the share of the true ring's coarse layout the ring keeps; next
  to them what OpenCV's Telea inpainting and a mirror extension score on the same crop, and
  at the end the means over the photos: the lead is measured in the same run; and how many
  of the ring's features copy the subject's (`quality.subject_clones`), against the mirror's.
The photos come from scikit-image's data set and gradio's sample images (both installed
with the dev dependencies), and from scikit-learn's and matplotlib's sample images where
those are installed (`pip install scikit-learn matplotlib`: a portrait, a temple above a
lake and a flower on blurred leaves); those marked `held out` are in no test.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

from zoomout import quality
from zoomout.chain import build_chain, fit_photo, shrink_slot, trim_edges
from zoomout.config import Config
from zoomout.engines.classic import ClassicEngine, block_grid
from zoomout.frames import iter_video_frames, loop_weight
from zoomout.geometry import centred_offset, place
from zoomout.load import Photo
from zoomout.pipeline import chain_groups
from zoomout.plan import plan_video
from zoomout.render import ZoomRenderer

WIDTH, HEIGHT, ZOOM = 540, 960, 2.0
FAR_SLOTS = 12
LOOP_SLOTS = 5
SEAM_ROOM_PX = 16  # real content needed beyond an edge for its seam ratio (SEAM_NEAR_PX reaches 16 px)


def _data_dir(package: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    return Path(spec.origin).parent if spec and spec.origin else Path("/nonexistent")


SKIMAGE = _data_dir("skimage") / "data"
GRADIO = _data_dir("gradio") / "media_assets" / "images"
SKLEARN = _data_dir("sklearn") / "datasets" / "images"
MATPLOTLIB = _data_dir("matplotlib") / "mpl-data" / "sample_data"
# name: (file, held out of the tests, kind)
PHOTOS = {
    "chelsea": (SKIMAGE / "chelsea.png", False, "animal, close-up"),
    "coffee": (SKIMAGE / "coffee.png", False, "object"),
    "rocket": (SKIMAGE / "rocket.jpg", False, "landscape, dusk"),
    "astronaut": (SKIMAGE / "astronaut.png", False, "person"),
    "camera": (SKIMAGE / "camera.png", True, "person, bright sky, grey"),
    "motorcycle": (SKIMAGE / "motorcycle_left.png", True, "object, indoors"),
    "hubble": (SKIMAGE / "hubble_deep_field.jpg", True, "dark"),
    "cheetah": (GRADIO / "cheetah.jpg", True, "animal, motion blur"),
    "lion": (GRADIO / "lion.jpg", True, "animal, rocks"),
    "tower": (GRADIO / "tower.jpg", True, "landmark, bright sky"),
    "groot": (GRADIO / "groot.jpeg", True, "figure, landscape"),
    "cheetah1": (GRADIO / "cheetah1.jpg", True, "animal, face"),
    "hopper": (MATPLOTLIB / "grace_hopper.jpg", True, "person, portrait"),
    "china": (SKLEARN / "china.jpg", True, "landscape, temple"),
    "flower": (SKLEARN / "flower.jpg", True, "flower, blurred leaves"),
}


def load(name: str) -> np.ndarray:
    return np.asarray(Image.open(PHOTOS[name][0]).convert("RGB"))


def chain_figures(photo: np.ndarray) -> dict[str, object]:
    """Ray index and seam ratio of slots 1-5, the far-slot texture ratio, layout kept and texture variation, from one 12-slot chain."""
    stack = build_chain(
        photo, width_px=WIDTH, height_px=HEIGHT, slots=FAR_SLOTS, zoom_per_slot=ZOOM, fit="cover",
        engine=ClassicEngine(), seed=0,
    )  # fmt: skip
    slots = range(1, 6)
    whole = np.ones(stack.masks[0].shape, bool)
    far = quality.ring_highpass(stack.images[-1], stack.masks[-1])  # slot 12's texture, against slot 1's and the photo's
    return {
        "layout": [quality.layout_kept(stack.images[k], stack.images[0], stack.masks[k], whole) for k in (1, 3, 5, FAR_SLOTS)],
        "variation": (quality.texture_variation(stack.images[-1], stack.masks[-1]), quality.texture_variation(stack.images[0], whole)),
        "rays": [quality.ray_index(stack.images[k], stack.masks[k]) for k in slots],
        "real rays": quality.ray_index(stack.images[0], stack.masks[1]),  # the photo's own content where slot 1's ring lies
        "seams": [quality.seam_ratio(stack.images[k], quality.centre_box(~stack.masks[k])) for k in slots],
        "far": far / quality.ring_highpass(stack.images[1], stack.masks[1]),
        "far own": far / quality.ring_highpass(stack.images[0], stack.masks[1]),
        "real sides": real_side_seams(photo, stack.images[1], quality.centre_box(~stack.masks[1])),
        "grid": [grid_contrast(stack.images[k], stack.masks[k]) for k in (1, 2)] + [grid_contrast(stack.images[0], stack.masks[1])],
    }


def grid_contrast(image: np.ndarray, ring: np.ndarray) -> float:
    """`quality.grid_contrast` at the classic engine's block step, from its block grid's origin (the kept centre's corner)."""
    block, step = block_grid(*ring.shape)
    top, _, left, _ = quality.centre_box(~ring)
    # the quilt lays its grid on the frame padded by one block, from the kept centre's corner modulo the step
    origin = tuple((edge + block) % step - block for edge in (top, left))
    return quality.grid_contrast(image, ring, step, origin)


def ray_noise_baseline(draws: int = 100, sigma_px: float = 12.0) -> np.ndarray:
    """Ray index of a texture with no direction at all, in slot 1's ring: Gaussian-filtered noise, `draws` seeds.

    A finite ring holds a limited number of blobs, so even an isotropic texture scores above
    or below 1 by chance: this is the spread a slot's ray index has without any ray.
    """
    ring = np.ones((HEIGHT, WIDTH), bool)
    ring[round(HEIGHT / 4) : round(3 * HEIGHT / 4), round(WIDTH / 4) : round(3 * WIDTH / 4)] = False
    rng = np.random.default_rng(0)
    values = []
    for _ in range(draws):
        noise = cv2.GaussianBlur(rng.normal(size=(HEIGHT, WIDTH)).astype(np.float32), (0, 0), sigma_px)
        grey = np.clip(noise / noise.std() * 20 + 128, 0, 255).astype(np.uint8)
        values.append(quality.ray_index(np.repeat(grey[..., None], 3, axis=2), ring))
    return np.array(values)


def real_side_seams(photo: np.ndarray, slot: np.ndarray, box: tuple[int, int, int, int]) -> tuple[float, float] | None:
    """Slot 1's seam ratio at the kept centre's left and right edges, and what the real photo scores there.

    A photo wider than the slot's shape loses its sides to the 'cover' fit, so its real
    surroundings exist beside the kept centre: placed at the centre's scale, they give the
    ratio of a seamless edge with this photo's content on it. None for a photo cut at the top
    and bottom instead.
    """
    photo = trim_edges(photo)
    h, w = photo.shape[:2]
    # The chain's own geometry: the photo cover-fitted into slot 0, slot 0 shrunk by ZOOM into slot 1.
    scale = max(WIDTH / w, HEIGHT / h)
    (x0, y0), (cx, cy) = centred_offset((w, h), (WIDTH, HEIGHT), scale), centred_offset((WIDTH, HEIGHT), (WIDTH, HEIGHT), 1 / ZOOM)
    offset = (x0 / ZOOM + cx, y0 / ZOOM + cy)
    top, bottom, left, right = box
    if offset[0] > left - SEAM_ROOM_PX or offset[1] > top + 1e-6:
        return None
    placed, coverage = place(photo, slot.shape[:2], scale / ZOOM, offset)
    real = np.where(coverage[..., None] >= 1.0, placed, slot)
    real[top:bottom, left:right] = slot[top:bottom, left:right]
    return quality.seam_ratio(slot, box, ("left", "right")), quality.seam_ratio(real, box, ("left", "right"))


def contain_seam(photo: np.ndarray) -> float:
    """Seam ratio at the photo's edges in slot 0 with fit 'contain'."""
    image, unknown = fit_photo(photo, WIDTH, HEIGHT, "contain")
    slot = ClassicEngine().outpaint(image, unknown, seed=0, slot=0)
    return quality.seam_ratio(slot, quality.centre_box(~unknown))


def nest_figures(photo: np.ndarray, outer: np.ndarray) -> tuple[float, float, float, float]:
    """Where `photo`'s chain lands in `outer` at slot 2: how well it joins, and how much it reads as a rectangle.

    Returns the seam ratio at the shrunk slot 1's edge in slot 2, what `outer` itself scores
    there (what a seamless join scores with this content), the seam ratio at slot 1's kept
    centre (slot 1 is the one that goes over into `outer`), and the colour-layout fidelity of
    slot 1's shrunk ring in slot 2 against `outer`'s own pixels there (dB, `ring_fidelity_db`):
    low when the chain's field is a rectangle of another scene pasted on the photo.
    """
    stack = build_chain(
        photo, width_px=WIDTH, height_px=HEIGHT, slots=2, zoom_per_slot=ZOOM, fit="cover",
        engine=ClassicEngine(), seed=0, outer_photos={2: outer},
    )  # fmt: skip
    own, _ = fit_photo(outer, WIDTH, HEIGHT, "cover")
    _, outside_slot_1 = shrink_slot(stack.images[1], ZOOM)
    _, outside_slot_0 = shrink_slot(stack.images[1], ZOOM**2)
    edge = quality.centre_box(~outside_slot_1)
    return (
        quality.seam_ratio(stack.images[2], edge), quality.seam_ratio(own, edge),
        quality.seam_ratio(stack.images[1], quality.centre_box(~stack.masks[1])),
        quality.ring_fidelity_db(stack.images[2], own, ~outside_slot_1 & outside_slot_0),
    )  # fmt: skip


def loop_figures(name: str, photo: np.ndarray) -> tuple[float, int, float]:
    """Loop seam ratio of a 5-slot looped video (frames at half size), its blended frames and their double exposure."""
    config = Config(
        width_px=WIDTH, height_px=HEIGHT, slots=LOOP_SLOTS, zoom_per_slot=ZOOM, loop=True, hold_start_s=0.0,
        hold_end_s=0.0, sound="none", label=None,
    )  # fmt: skip
    [(_, outer)] = chain_groups(config, [Photo(Path(name), photo, "0" * 64, ())])
    stack = build_chain(
        photo, width_px=WIDTH, height_px=HEIGHT, slots=LOOP_SLOTS, zoom_per_slot=ZOOM, fit="cover",
        engine=ClassicEngine(), seed=0, outer_photos=outer,
    )  # fmt: skip
    plan = plan_video(config)
    renderer = ZoomRenderer(stack.images, ZOOM, (WIDTH // 2, HEIGHT // 2))
    frames = list(iter_video_frames(plan, [renderer]))
    zooms = plan.frame_zooms()
    weights = np.array([loop_weight(float(z), LOOP_SLOTS) for z in zooms])
    blended = (weights > 0) & (weights < 1)
    ours = [renderer.render(float(z)) for z in zooms[blended]]
    theirs = [renderer.render(float(z) - LOOP_SLOTS) for z in zooms[blended]]
    ghost_s = quality.double_exposure_s(ours, theirs, weights[blended], plan.fps)
    return quality.loop_seam_ratio(frames, blended), int(blended.sum()), ghost_s


class Restored(NamedTuple):
    """Crop-and-restore figures of one photo (`restore_figures`): the classic engine's, and the two baselines' on the same crop."""

    fidelity: float  # colour-layout fidelity, dB
    texture: float  # ring texture over the truth's
    layout: float  # share of the true ring's coarse layout kept
    seam: float  # seam ratio at the kept centre's edge
    real_seam: float  # the real photo's own at that edge
    telea: tuple[float, float]  # OpenCV's Telea inpainting: fidelity, texture
    mirror: tuple[float, float]  # the kept centre mirrored outward: fidelity, texture
    clones: tuple[int, int]  # `quality.subject_clones` of the classic engine's ring and the mirror's


def restore_figures(photo: np.ndarray) -> Restored:
    """Crop-and-restore at 384 px wide (centre half of each side kept), by the classic engine, Telea and a mirror."""
    height = round(photo.shape[0] * 384 / photo.shape[1])
    truth = cv2.resize(photo, (384, height), interpolation=cv2.INTER_AREA)
    mask = np.ones(truth.shape[:2], bool)
    kh, kw = round(height / 2), 192
    top, left = (height - kh) // 2, (384 - kw) // 2
    mask[top : top + kh, left : left + kw] = False
    cropped = np.where(mask[..., None], 0, truth).astype(np.uint8)
    restored = ClassicEngine().outpaint(cropped, mask, seed=0, slot=0)
    telea, mirror = quality.baseline_fills(cropped, mask)
    box = (top, top + kh, left, left + kw)
    ours, theirs, mirrored = ((quality.ring_fidelity_db(x, truth, mask), quality.texture_ratio(x, truth, mask)) for x in (restored, telea, mirror))
    layout, seam, real_seam = quality.layout_kept(restored, truth, mask), quality.seam_ratio(restored, box), quality.seam_ratio(truth, box)
    clones = (quality.subject_clones(restored, mask), quality.subject_clones(mirror, mask))
    return Restored(*ours, layout, seam, real_seam, theirs, mirrored, clones)


def main(names: list[str]) -> None:
    names = names or list(PHOTOS)
    missing = [name for name in names if not PHOTOS[name][0].is_file()]
    if missing:
        print(f"not installed, left out: {', '.join(missing)} (pip install scikit-image gradio scikit-learn matplotlib)")
    names = [name for name in names if name not in missing]
    others = {name: load(name) for name in names}
    print(f"{WIDTH}x{HEIGHT}, zoom {ZOOM:g}; rays and seams of slots 1-5")
    noise = ray_noise_baseline()
    print(f"ray index of isotropic noise (sigma 12 px) in slot 1's ring: mean {noise.mean():.2f}, "
          f"above 1.10 in {(noise > 1.10).mean():.0%} of {noise.size} draws, at most {noise.max():.2f}")
    restores: list[Restored] = []
    slot_rays: list[list[float]] = []
    real_rays: list[float] = []
    for i, name in enumerate(names):
        photo = others[name]
        chain = chain_figures(photo)
        outer = others[names[(i + 1) % len(names)]]
        nest_seam, nest_own, guided_seam, nest_fidelity = nest_figures(photo, outer)
        loop_ratio, blended, ghost_s = loop_figures(name, photo)
        restored = restore_figures(photo)
        restores.append(restored)
        slot_rays.append(chain["rays"])
        real_rays.append(chain["real rays"])
        held = "held out" if PHOTOS[name][1] else "in tests"
        print(f"{name} ({PHOTOS[name][2]}; {held})")
        print(f"  ray index   {' '.join(f'{r:.2f}' for r in chain['rays'])}; the photo's own where slot 1's ring lies {chain['real rays']:.2f}")
        print(f"  seam ratio  {' '.join(f'{r:.2f}' for r in chain['seams'])}; contain {contain_seam(photo):.2f}")
        print(f"  nest        in {names[(i + 1) % len(names)]}: seam {nest_seam:.2f} where that photo's own is {nest_own:.2f}; "
              f"slot 1's {guided_seam:.2f}; its ring {nest_fidelity:.1f} dB from that photo")  # fmt: skip
        if chain["real sides"] is not None:
            print(f"  real sides  slot 1's left and right edges {chain['real sides'][0]:.2f}, the real photo's there {chain['real sides'][1]:.2f}")
        print(f"  far slots   {chain['far']:.2f} (slot {FAR_SLOTS} / slot 1 ring high-pass); {chain['far own']:.2f} of the photo's own there")
        print(f"  block grid  {chain['grid'][0]:.2f} {chain['grid'][1]:.2f} (slots 1, 2); the photo's own at that step {chain['grid'][2]:.2f}")
        print(f"  layout kept {' '.join(f'{k:.2f}' for k in chain['layout'])} (slots 1, 3, 5, {FAR_SLOTS}); texture variation "
              f"{chain['variation'][0]:.2f} (slot {FAR_SLOTS}) vs {chain['variation'][1]:.2f} (photo)")  # fmt: skip
        print(f"  loop seam   {loop_ratio:.2f}; {blended} blended frames, {ghost_s:.2f} s of double exposure")
        print(f"  restore     {restored.fidelity:.1f} dB, texture {restored.texture:.2f}x, layout kept {restored.layout:.2f}; seam ratio "
              f"{restored.seam:.2f} where the real photo's own is {restored.real_seam:.2f}; Telea {restored.telea[0]:.1f} dB "
              f"({restored.telea[1]:.2f}x), mirror {restored.mirror[0]:.1f} dB ({restored.mirror[1]:.2f}x); subject clones "
              f"{restored.clones[0]} (mirror {restored.clones[1]})", flush=True)  # fmt: skip
    if slot_rays:
        ours, real = np.array(slot_rays), np.array(real_rays)
        print(f"ray index over {ours.size} slots: mean {ours.mean():.3f}, above 1.10 on {(ours > 1.10).sum()}; "
              f"the photos' own where slot 1's ring lies: mean {real.mean():.3f}, above 1.10 on {(real > 1.10).sum()} "
              f"of {real.size}")  # fmt: skip
    if restores:
        fidelity = np.array([(r.fidelity, r.telea[0], r.mirror[0]) for r in restores]).mean(axis=0)
        texture = np.array([(r.texture, r.telea[1], r.mirror[1]) for r in restores]).mean(axis=0)
        print(f"restore, mean of {len(restores)} photos: classic {fidelity[0]:.2f} dB ({texture[0]:.2f}x), "
              f"Telea {fidelity[1]:.2f} dB ({texture[1]:.2f}x), mirror {fidelity[2]:.2f} dB ({texture[2]:.2f}x); subject clones "
              f"{sum(r.clones[0] for r in restores)} against the mirror's {sum(r.clones[1] for r in restores)}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
