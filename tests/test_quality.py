"""The picture measures on synthetic images where the answer is known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from zoomout import quality

H, W = 160, 96


def ring_mask() -> np.ndarray:
    """(H, W) bool: True outside the centred (W/2, H/2) rectangle."""
    mask = np.ones((H, W), bool)
    mask[H // 4 : 3 * H // 4, W // 4 : 3 * W // 4] = False
    return mask


def polar() -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:H, 0:W] + 0.5
    return np.hypot(ys - H / 2, xs - W / 2), np.arctan2(ys - H / 2, xs - W / 2)


def grey(values: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(values, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def test_ray_index_tells_rays_from_rings():
    radius, angle = polar()
    rays = grey(128 + 100 * np.sin(8 * angle))  # varies across the line from the centre only
    rings = grey(128 + 100 * np.sin(radius / 4))  # varies along it only
    assert quality.ray_index(rays, ring_mask()) > 5
    assert quality.ray_index(rings, ring_mask()) < 0.2
    noise = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    assert 0.8 < quality.ray_index(noise, ring_mask()) < 1.25  # no preferred direction


def test_seam_ratio_sees_a_step_at_the_box_edge_only():
    rng = np.random.default_rng(1)
    texture = 128 + rng.normal(0, 6, (H, W))
    box = quality.centre_box(~ring_mask())
    assert box == (H // 4, 3 * H // 4, W // 4, 3 * W // 4)
    assert quality.seam_ratio(grey(texture), box) == pytest.approx(1.0, abs=0.1)
    pasted = texture + np.where(ring_mask(), 40, 0)  # a hard paste of a brighter picture
    assert quality.seam_ratio(grey(pasted), box) > 1.5
    assert np.isnan(quality.seam_ratio(grey(texture), (0, H, 0, W)))  # no side with room to measure
    # a paste whose left and right edges are hidden: only the top and bottom show
    columns = np.zeros((H, W), bool)
    columns[:, W // 4 : 3 * W // 4] = True
    half_hidden = texture + np.where(ring_mask() & columns, 40, 0)
    assert quality.seam_ratio(grey(half_hidden), box, ("left", "right")) == pytest.approx(1.0, abs=0.1)
    assert quality.seam_ratio(grey(half_hidden), box, ("top", "bottom")) > 1.5


def test_outer_box_is_the_band_s_outer_edge():
    band = np.zeros((H, W), bool)
    band[20:140, 10:86] = True
    band[40:120, 24:72] = False
    assert quality.outer_box(band) == (20, 140, 10, 86)
    assert quality.centre_box(~band) == (40, 120, 24, 72)
    band[0], band[:, -1] = True, True  # a nest photo's fit that leaves slivers at the image's edge to generate
    assert quality.outer_box(band) == (20, 140, 10, 86)


def test_ring_highpass_is_zero_on_a_smooth_ring():
    radius, _ = polar()
    assert quality.ring_highpass(grey(radius), ring_mask()) < 1.0  # quantisation only
    noisy = grey(radius + np.random.default_rng(2).normal(0, 10, (H, W)))
    assert quality.ring_highpass(noisy, ring_mask()) > 5
    # the ring's first pixels continue the photo's border: they do not count as the ring's texture
    near = ring_mask() & ~np.pad(ring_mask()[3:-3, 3:-3], 3, constant_values=True)
    streaked = grey(radius + np.where(near, np.random.default_rng(3).normal(0, 40, (H, W)), 0.0))
    assert quality.ring_highpass(streaked, ring_mask()) < 1.0


def test_fidelity_and_texture_ratio_of_the_truth_itself():
    truth = np.random.default_rng(3).integers(0, 256, (H, W, 3), dtype=np.uint8)
    assert quality.ring_fidelity_db(truth, truth, ring_mask()) > 100
    assert quality.texture_ratio(truth, truth, ring_mask()) == pytest.approx(1.0)
    flat = np.full_like(truth, 128)
    assert quality.texture_ratio(flat, truth, ring_mask()) == pytest.approx(0.0)


def test_edge_texture_ratio_tells_one_texture_from_a_smooth_fade():
    rng = np.random.default_rng(7)
    texture = 128 + rng.normal(0, 12, (H, W))
    box = (H // 4, 3 * H // 4, W // 4, 3 * W // 4)
    assert quality.edge_texture_ratio(grey(texture), box) == pytest.approx(1.0, abs=0.1)
    top, bottom, left, right = box
    faded = texture.copy()
    faded[top:bottom, left:right] = 128 + 0.4 * (texture[top:bottom, left:right] - 128)  # a band 0.4x as strong inside
    assert quality.edge_texture_ratio(grey(faded), box) == pytest.approx(0.4, abs=0.06)
    faded[top + 8 : bottom - 8, left + 8 : right - 8] = 128  # only the 8 px next to the edge count
    assert quality.edge_texture_ratio(grey(faded), box) == pytest.approx(0.4, abs=0.06)


def test_loop_seam_ratio_sees_a_jump_not_a_steady_rise():
    steady = [np.full((8, 8), 3 * i, np.uint8) for i in range(40)] + [np.full((8, 8), 120, np.uint8)]
    steady += [np.full((8, 8), 120 - 3 * i, np.uint8) for i in range(1, 40)]  # back down to 3: wraps smoothly
    blended = np.zeros(len(steady), bool)
    assert quality.loop_seam_ratio(steady, blended) == pytest.approx(1.0)
    jump = steady[:-10]  # the wrap now jumps from 30 to 0
    assert quality.loop_seam_ratio(jump, np.zeros(len(jump), bool)) >= 9


def test_double_exposure_counts_only_what_differs():
    a, b = np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8)
    b[:2] = 200  # half the frame differs
    weights = np.array([0.5, 0.5])
    assert quality.double_exposure_s([a, a], [b, b], weights, fps=2.0) == pytest.approx(0.5)
    assert quality.double_exposure_s([a, a], [a, a], weights, fps=2.0) == 0.0


def test_layout_kept_is_one_for_the_same_layout_and_zero_for_none():
    ys, xs = np.mgrid[0:H, 0:W]
    layout = grey(60 + (ys + xs) / 2)  # dark top left, bright bottom right
    ring = ring_mask()
    noisy = grey(60 + (ys + xs) / 2 + np.random.default_rng(4).normal(0, 8, (H, W)))
    assert quality.layout_kept(noisy, layout, ring) > 0.95
    assert quality.layout_kept(grey(np.full((H, W), 150.0)), layout, ring) == pytest.approx(0.0)
    assert quality.layout_kept(grey(187 - (ys + xs) / 2), layout, ring) == pytest.approx(-3.0, abs=0.05)  # inverted
    whole = np.ones((H, W), bool)
    assert quality.layout_kept(layout, layout, ring, whole) > 0.9  # the ring's cells against the whole photo's


def test_texture_variation_tells_one_texture_from_a_mix():
    rng = np.random.default_rng(5)
    everywhere = grey(128 + rng.normal(0, 10, (H, W)))
    assert quality.texture_variation(everywhere, ring_mask()) < 0.1
    half = grey(128 + rng.normal(0, 10, (H, W)) * (np.arange(H) < H // 2)[:, None])  # smooth sky above, texture below
    assert quality.texture_variation(half, ring_mask()) > 0.5


def test_grid_contrast_tells_a_block_grid_from_one_texture():
    rng = np.random.default_rng(6)
    everywhere = grey(128 + rng.normal(0, 10, (H, W)))
    assert quality.grid_contrast(everywhere, ring_mask(), 22, (0, 0)) < 1.45  # the folded bins of a small ring are noisy
    ys, xs = np.mgrid[0:H, 0:W]
    calm_middles = ((ys - 5) % 22 < 8) | ((xs - 5) % 22 < 8)  # texture only where blocks overlap, as on a sparse quilt
    grid = grey(128 + rng.normal(0, 10, (H, W)) * calm_middles)
    assert quality.grid_contrast(grid, ring_mask(), 22, (5, 5)) > 1.6


def test_subject_clones_counts_copies_of_the_subject_not_other_texture():
    """A ring tiled with copies of the subject's patch matches it many times; a ring of other blobs hardly at all."""
    rng = np.random.default_rng(7)
    height, width = 320, 192
    mask = np.ones((height, width), bool)
    mask[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = False
    blobs = lambda: grey(128 + 900 * cv2.GaussianBlur(rng.normal(0, 1, (height, width)), (0, 0), 2.5))  # noqa: E731
    image, other = blobs(), blobs()
    patch = image[height // 2 - 24 : height // 2 + 24, width // 2 - 24 : width // 2 + 24]  # the subject's middle
    copies = other.copy()
    for y in range(0, height - 48, 52):
        for x in range(0, width - 48, 52):
            copies[y : y + 48, x : x + 48] = patch
    pasted, unrelated = (np.where(mask[..., None], ring, image) for ring in (copies, other))
    assert quality.subject_clones(pasted, mask) >= 20
    assert quality.subject_clones(unrelated, mask) <= 2
