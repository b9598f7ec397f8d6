"""The classic engine: fast property tests on tiny images, and quality on real photos.

The quality tests crop the centre of a real photo, outpaint it back to full size and
compare the generated ring with what was really there, and with two baselines:
OpenCV's Telea inpainting (smears) and a mirror extension (clones the subject).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from zoomout import quality
from zoomout.chain import build_chain
from zoomout.engines import classic, create_engine
from zoomout.engines.base import Guide
from zoomout.engines.classic import ClassicEngine
from zoomout.quality import gradient_magnitude

skimage_data = pytest.importorskip("skimage.data")

PHOTOS = ["chelsea", "coffee", "rocket", "astronaut"]


def centre_mask(height: int, width: int, zoom: float = 2.0) -> np.ndarray:
    """(H, W) bool mask, True outside the centred (W / zoom, H / zoom) rectangle."""
    mask = np.ones((height, width), bool)
    kh, kw = round(height / zoom), round(width / zoom)
    top, left = (height - kh) // 2, (width - kw) // 2
    mask[top : top + kh, left : left + kw] = False
    return mask


def photo(name: str, width: int) -> np.ndarray:
    """A scikit-image photo as (H, W, 3) uint8 RGB, scaled to `width`."""
    image = getattr(skimage_data, name)()
    height = round(image.shape[0] * width / image.shape[1])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def noise_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = cv2.resize(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8), (width, height))
    return np.clip(smooth + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)


def branches(height: int, width: int, rng: np.random.Generator, count: int, *, reach: int, thickness: int, rows: int | None = None) -> np.ndarray:
    """(H, W) bool: `count` straight strokes, each from a random start in the top `rows` rows (all by default) to within `reach` px of it."""
    strokes = np.zeros((height, width), np.uint8)
    for _ in range(count):
        start = rng.integers(0, (width, rows or height))
        cv2.line(strokes, tuple(int(v) for v in start), tuple(int(v) for v in start + rng.integers(-reach, reach, 2)), 1, thickness)
    return strokes > 0


# ---- fast properties on tiny images ----


def test_registered():
    assert create_engine("classic").name == "classic"
    assert ClassicEngine.summary and "\n" not in ClassicEngine.summary


def test_invalid_input():
    engine = ClassicEngine()
    image = noise_image(16, 16)
    with pytest.raises(ValueError, match="image"):
        engine.outpaint(image.astype(np.float32), centre_mask(16, 16), seed=0, slot=0)
    with pytest.raises(ValueError, match="mask"):
        engine.outpaint(image, centre_mask(16, 16).astype(np.uint8), seed=0, slot=0)
    with pytest.raises(ValueError, match="whole image"):
        engine.outpaint(image, np.ones((16, 16), bool), seed=0, slot=0)


def test_an_object_cut_by_the_border_goes_on_into_the_ring_without_a_line():
    """A dark bar crossing the kept centre's right edge: the ring's first column continues it.

    The structure layer is coarser than the bar, so without the border match the ring
    starts at the mean colour of bar and background: a step the eye reads as the photo's edge.
    """
    height, width = 192, 108
    mask = centre_mask(height, width)
    image = noise_image(height, width)
    ys, xs = np.nonzero(~mask)
    bar = slice(ys.min() + 30, ys.min() + 36)
    image[bar, xs.min() : xs.max() + 1] = 20
    out = ClassicEngine().outpaint(np.where(mask[..., None], 0, image).astype(np.uint8), mask, seed=0, slot=0)
    last, first = out[bar, xs.max()].astype(float), out[bar, xs.max() + 1].astype(float)
    assert np.abs(first - last).mean() < 6, (last.mean(), first.mean())
    assert quality.seam_ratio(out, quality.centre_box(~mask)) <= 1.15


def _one_pixel(h: int, w: int) -> np.ndarray:
    mask = np.ones((h, w), bool)
    mask[h // 2, w // 2] = False
    return mask


def _top_band(h: int, w: int) -> np.ndarray:
    mask = np.ones((h, w), bool)
    mask[: h // 4] = False
    return mask


def _letterbox(h: int, w: int) -> np.ndarray:
    mask = np.ones((h, w), bool)
    mask[h // 3 : 2 * h // 3] = False
    return mask


def _random(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(3).random((h, w)) < 0.6


@pytest.mark.parametrize("shape", [(8, 8), (1, 7), (33, 20), (96, 160)])
@pytest.mark.parametrize("make_mask", [centre_mask, _one_pixel, _top_band, _letterbox, _random])
def test_any_mask_keeps_known_pixels(shape, make_mask):
    image = noise_image(*shape)
    mask = make_mask(*shape)
    if mask.all():
        pytest.skip("nothing known")
    out = ClassicEngine().outpaint(image, mask, seed=0, slot=0)
    assert out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[~mask], image[~mask])


def test_ignores_pixels_under_the_mask():
    image, mask = noise_image(64, 48), centre_mask(64, 48)
    other = image.copy()
    other[mask] = 255 - other[mask]
    engine = ClassicEngine()
    np.testing.assert_array_equal(engine.outpaint(image, mask, seed=1, slot=0), engine.outpaint(other, mask, seed=1, slot=0))


def test_deterministic_for_a_seed():
    image, mask = noise_image(96, 64), centre_mask(96, 64)
    engine = ClassicEngine()
    first = engine.outpaint(image, mask, seed=7, slot=2)
    np.testing.assert_array_equal(first, engine.outpaint(image, mask, seed=7, slot=2))
    assert not np.array_equal(first, engine.outpaint(image, mask, seed=8, slot=2))
    assert not np.array_equal(first, engine.outpaint(image, mask, seed=7, slot=3))


@pytest.mark.parametrize("slot", [1, 4, 11])
def test_the_variety_field_is_fixed_to_the_world(slot):
    """What slot k−1's texture was made with, slot k sees at the same world places (its centre).

    Up to octaves too fine to show on slot k: compared after an 8 px blur.
    """
    height, width, pad, zoom = 480, 270, 16, 2.0

    def field(at: int, seen_at: int, seed: int = 3) -> np.ndarray:
        grid = classic._world_noise((height, width), pad, seed=seed, slot=at, zoom=zoom, seen_at=seen_at)
        return cv2.resize(grid, (width + 2 * pad, height + 2 * pad), interpolation=cv2.INTER_CUBIC)[pad:-pad, pad:-pad]

    before, now = field(slot - 1, slot - 1), field(slot, slot - 1)
    shrunk = cv2.resize(before, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    centre = now[height // 4 : height // 4 + height // 2, width // 4 : width // 4 + width // 2]
    blur = lambda a: cv2.GaussianBlur(a, (0, 0), 8)[16:-16, 16:-16]  # noqa: E731
    assert np.abs(blur(centre) - blur(shrunk)).max() < 0.1  # independent fields differ by ~1
    own = field(slot, slot)
    assert 0.8 < own.std() < 1.25 and abs(own.mean()) < 0.5, (own.mean(), own.std())
    assert np.abs(own - field(slot, slot, seed=4)).mean() > 0.5


def test_texture_gain_leaves_a_photo_s_border_alone_and_goes_on_from_a_generated_one():
    """Next to a photo the gain is 1 (its texture is its own); next to a generated ring it is what that ring was made with."""
    height, width, pad = 480, 270, 16
    distance = np.zeros((height + 2 * pad, width + 2 * pad), np.float32)
    distance[:, width // 2 :] = 400.0  # left half: on the known border; right half: far out
    kwargs = dict(pad=pad, seed=3, slot=4, zoom=2.0, distance=distance, fade_px=60.0)
    after_photo = classic._texture_gain((height, width), after_photo=True, **kwargs)
    border = np.s_[:, : width // 2 - 16]  # the gain is made on a grid of 4 px cells: clear of the step at width // 2
    np.testing.assert_allclose(after_photo[border], 1.0, atol=1e-3)
    after_ring = classic._texture_gain((height, width), after_photo=False, **kwargs)
    made_with = classic._world_noise((height, width), pad, seed=3, slot=4, zoom=2.0, seen_at=3)
    made_with = cv2.resize(made_with, distance.shape[::-1], interpolation=cv2.INTER_CUBIC)
    expected = np.exp(classic._VARIETY * made_with - classic._VARIETY**2 / 2)
    np.testing.assert_allclose(after_ring[border], expected[border], rtol=0.02)
    far = np.s_[:, width // 2 + 16 :]
    assert np.log(after_ring[far]).std() > 0.3
    # log-normal with mean 1 over seeds: on average the ring keeps the strength the quilting matched
    means = [classic._texture_gain((height, width), after_photo=False, **{**kwargs, "seed": s})[far].mean() for s in range(8)]
    assert 0.8 < np.mean(means) < 1.25, means


def test_stacked_reads_two_arrays_as_their_stack():
    rng = np.random.default_rng(8)
    top, bottom = rng.random((30, 20, 3), np.float32), rng.random((25, 24, 3), np.float32)
    stacked = classic._Stacked(top, bottom)
    copy = np.concatenate([np.pad(top, ((0, 0), (0, 4), (0, 0))), bottom])
    assert stacked.shape == copy.shape
    rows, cols = rng.integers(0, 55, 40), rng.integers(0, 20, 40)
    np.testing.assert_array_equal(stacked[rows, cols], copy[rows, cols])
    np.testing.assert_array_equal(stacked[rows.reshape(8, 5), cols.reshape(8, 5)], copy[rows.reshape(8, 5), cols.reshape(8, 5)])
    np.testing.assert_array_equal(stacked[3:9, 2:8], copy[3:9, 2:8])
    np.testing.assert_array_equal(stacked[40:46, 17:23], copy[40:46, 17:23])


def test_gather_is_fancy_indexing():
    """The quilt's flat take reads what array[rows, cols] reads, for an array, a strided view and a stack."""
    rng = np.random.default_rng(9)
    array = rng.random((40, 30, 3), np.float32)
    rows, cols = rng.integers(0, 35, (6, 1)) + np.arange(5), rng.integers(0, 25, (6, 1)) + np.arange(5)
    for source in (array, np.ascontiguousarray(array[..., 0]), array[:, ::-1], classic._Stacked(array[:20], array[20:])):
        expected = source[rows, cols] if not isinstance(source, classic._Stacked) else array[rows, cols]
        np.testing.assert_array_equal(classic._gather(source, rows, cols), expected)


@pytest.mark.parametrize("slots_before", [1, 2])
def test_a_guided_ring_leaves_the_photo_without_a_seam_and_goes_over_into_the_guide(slots_before):
    """No seam at the photo (1.08 without a guide, 1.07 and 1.04 with); at the image's edge the guide's colours, and one slot before the photo its detail too."""
    image, mask = photo("chelsea", 240), centre_mask(160, 240)
    guide_image = np.ascontiguousarray(photo("coffee", 480)[80:240, 120:360])  # the middle, enlarged twice
    engine, reference = ClassicEngine(), image
    plain = engine.outpaint(image, mask, seed=0, slot=1, reference=reference, reference_slot=0).astype(float)
    guided = engine.outpaint(
        image, mask, seed=0, slot=1, reference=reference, reference_slot=0,
        guide=Guide(guide_image, np.ones(mask.shape, bool), slots_before),
    ).astype(float)  # fmt: skip
    box = quality.centre_box(~mask)
    assert quality.seam_ratio(guided.astype(np.uint8), box) <= min(1.15, quality.seam_ratio(plain.astype(np.uint8), box) + 0.05)
    edge = np.zeros(mask.shape, bool)
    edge[:2], edge[-2:], edge[:, :2], edge[:, -2:] = True, True, True, True
    blur = lambda a: cv2.GaussianBlur(a.astype(np.float32), (0, 0), 6)  # noqa: E731
    assert np.abs(blur(guided)[edge] - blur(guide_image)[edge]).mean() < 6
    detail_gap = np.abs(quality.highpass(guided.astype(np.uint8))[edge] - quality.highpass(guide_image)[edge]).mean()
    assert (detail_gap < 2) == (slots_before == 1), detail_gap


def test_a_guided_ring_drops_the_chain_s_own_detail_colours():
    """Two slots before a blue sky the coffee's red grain turns grey: detail chroma at the edge 0.36 levels, 4.59 unguided (2.57 without the greying)."""
    image, mask = photo("coffee", 240), centre_mask(160, 240)
    sky = np.empty_like(image)
    sky[:] = (100, 150, 220)
    edge = np.zeros(mask.shape, bool)
    edge[:12], edge[-12:], edge[:, :12], edge[:, -12:] = True, True, True, True

    def detail_chroma(guide):
        out = ClassicEngine().outpaint(image, mask, seed=0, slot=1, reference=image, reference_slot=0, guide=guide).astype(np.float32)
        detail = out - cv2.GaussianBlur(out, (0, 0), quality.HIGHPASS_SIGMA_PX)
        return float(np.linalg.norm(detail - detail.mean(axis=2, keepdims=True), axis=2)[edge].mean())

    assert detail_chroma(Guide(sky, np.ones(mask.shape, bool), 2)) < 0.3 * detail_chroma(None)


@pytest.mark.parametrize("slots_before", [1, 2])
def test_a_guide_that_covers_part_of_the_slot_leaves_no_line_where_it_ends(slots_before):
    """A photo fitted with 'contain' covers a strip: the ring feathers out of it (0.85, 0.82) instead of ending in a line (1.52, 1.40)."""
    image, mask = photo("chelsea", 240), centre_mask(160, 240)
    guide_image = np.ascontiguousarray(photo("coffee", 480)[80:240, 120:360])
    strip = np.zeros(mask.shape, bool)
    strip[30:130] = True
    out = ClassicEngine().outpaint(
        image, mask, seed=0, slot=1, reference=image, reference_slot=0, guide=Guide(guide_image, strip, slots_before)
    )  # fmt: skip
    assert quality.seam_ratio(out, (30, 130, 0, 240), ("top", "bottom")) <= 1.15


def test_a_nest_s_photo_frame_sources_blocks_that_lie_near_it():
    """Around a nest's band: sources only in the photo's frame, and a share that runs from 0 at the centre to 1 at the frame."""
    height, width, pad, block = 160, 96, 8, 8
    known = np.ones((height, width), bool)
    known[30:130, 18:78] = False  # the band
    known[55:105, 33:63] = True  # the shrunk chain inside it
    frame = classic._reaches_the_edge(known)
    outside = classic._outside_sources(known, frame, pad, block)
    ys, xs = outside.corners[:, 0] - pad, outside.corners[:, 1] - pad
    assert all(frame[ys + dy, xs + dx].all() for dy, dx in [(0, 0), (block - 1, 0), (0, block - 1), (block - 1, block - 1)])
    share = outside.share[pad:-pad, pad:-pad]
    assert (share[known & ~frame] == 0).all() and (share[frame] == 1).all()
    assert 0.3 < share[80, 25] < 0.7  # across the band's middle, halfway
    nearest = outside.row[pad + 80, pad + 20] - pad, outside.col[pad + 80, pad + 20] - pad
    assert nearest == (80, 17)
    # a chain's open ring has no frame, and nothing to take from
    centre = ~centre_mask(height, width)
    assert classic._outside_sources(centre, classic._reaches_the_edge(centre), pad, block) is None


@pytest.mark.parametrize("cell", [12, 24])
def test_a_sparse_feature_does_not_pull_its_cell_s_colour(cell):
    """A sky crossed by thin dark twigs: each cell keeps the sky's colour, so the detail is the twig alone, with no bright halo."""
    height, width = 240, 240
    rng = np.random.default_rng(3)
    sky = np.array([100.0, 150.0, 220.0], np.float32)
    image = np.empty((height, width, 3), np.float32)
    image[:] = sky
    image += rng.normal(0, 2, image.shape).astype(np.float32)
    twig = branches(height, width, rng, 48, reach=30, thickness=2).astype(np.uint8)
    image[twig > 0] = (20, 20, 20)
    known = np.ones((height, width), bool)
    plain, _ = classic._low_resolution(image, known, cell)
    robust, fixed = classic._robust_cells(image, known, cell)
    assert fixed.all()
    beside = (cv2.dilate(twig, np.ones((9, 9), np.uint8)) > 0) & (twig == 0)  # the sky right beside the twigs

    def halo(colour: np.ndarray) -> float:
        """How much brighter than its structure the sky beside the twigs is: the halo a block of it carries."""
        return float(np.linalg.norm((image - classic._full_resolution(colour, (height, width)))[beside].mean(axis=0)))

    assert halo(plain) > 12 and halo(robust) < 0.25 * halo(plain), (halo(plain), halo(robust))
    crossed = cv2.resize(twig.astype(np.float32), plain.shape[1::-1], interpolation=cv2.INTER_AREA) > 0  # cells a twig crosses
    off_sky = [float(np.linalg.norm(colour[crossed] - sky, axis=1).mean()) for colour in (plain, robust)]
    assert off_sky[1] < 0.3 * off_sky[0], off_sky


def test_blocks_meet_along_the_least_error_cut_which_goes_around_a_feature():
    """Where a new block overlaps a placed one, a feature in the overlap stays whole: the cut goes around it, not through it."""
    block, overlap = 32, 10
    rng = np.random.default_rng(0)
    old = rng.normal(0, 1, (block, block, 3)).astype(np.float32)
    new = rng.normal(0, 1, (block, block, 3)).astype(np.float32)
    star = np.zeros((block, block), np.uint8)
    cv2.circle(star, (5, 16), 3, 1, -1)  # a star in the placed block, in the left overlap strip
    old[star > 0] += 200.0
    filled = np.zeros((block, block), bool)
    filled[:, :overlap] = True
    share = classic._boundary_cut(old, new, filled, overlap)[..., 0]
    inside = share[cv2.erode(star, np.ones((3, 3), np.uint8)) > 0]
    assert inside.max() < 0.05 or inside.min() > 0.95, inside  # all the placed block's or all the new one's, not cut in two
    assert (share[:, 0] < 0.5).all()  # the block's own edge stays the placed block's
    assert (share[:, overlap + 1 :] == 1).all()  # past the overlap, the new block
    assert np.isin(share[:, 2 : overlap - 2], (0.0, 1.0)).mean() > 0.5  # a cut softened over a pixel, not a blend


def test_a_texture_keeps_its_strength_where_the_blocks_overlap():
    """A fine texture quilted into a chain's ring is as strong where blocks overlap as between: no grid of calmer lines."""
    height, width = 480, 270
    ratios = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        grain = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 1.5)
        image = np.clip(np.array([120, 140, 90], np.float32) + 40 * (grain / grain.std())[..., None], 0, 255).astype(np.uint8)
        stack = build_chain(image, width_px=width, height_px=height, slots=2, zoom_per_slot=2.0, fit="cover", engine=ClassicEngine(), seed=seed)
        ring = stack.masks[1]
        block, step = classic.block_grid(*ring.shape)
        top, bottom, left, right = quality.centre_box(~ring)
        energy = quality.highpass(stack.images[1]) ** 2
        for profile, positions, edge in (
            (np.r_[energy[top:bottom, :left].mean(0), energy[top:bottom, right:].mean(0)], np.r_[0:left, right:width], left),
            (np.r_[energy[:top, left:right].mean(1), energy[bottom:, left:right].mean(1)], np.r_[0:top, bottom:height], top),
        ):  # fmt: skip
            phase = (positions - ((edge + block) % step - block)) % step  # the quilt's grid, laid in its padded frame
            folded = np.bincount(phase, profile, minlength=step) / np.bincount(phase, minlength=step)
            ratios.append(folded[: block - step].mean() / folded[block - step :].mean())  # overlaps against the blocks' middles
    # a feathered blend of two blocks halves the variance midway: 0.74-0.79 on seeds 0-7; the cut 0.83-0.93
    assert np.mean(ratios) > 0.82, ratios


def test_the_border_match_leaves_the_border_flat():
    """A constant mismatch along a straight border: the correction starts flat, not at its steepest.

    The exponential fade the border match had drops fastest over the first ring pixels, so
    where the mismatch is large (a lit platform cut by the photo's edge) its ramp read as a
    line along the photo: the rocket's `contain` edge scored 1.50, 1.40 with the flat start.
    """
    height, width, falloff = 32, 64, 10.0
    distance = np.tile(np.arange(width, dtype=np.float32), (height, 1))  # the known region is column 0
    total, weight = np.zeros((height, width, 3), np.float32), np.zeros((height, width), np.float32)
    total[:, 1], weight[:, 1] = 40.0, 1.0  # the ring pixels touching it
    exponential, flat = (
        classic._seam_correction(total, weight, distance, falloff_px=falloff, flat_start=flat_start)[height // 2, :, 0]
        for flat_start in (False, True)
    )
    assert flat[1] > 0.98 * 40 and flat[1] - flat[2] < 0.5 * (exponential[1] - exponential[2]), (flat[:4], exponential[:4])
    assert flat[round(3 * falloff)] < 0.01 * 40  # and it is gone as soon


def test_the_background_is_the_band_s_dominant_colour_not_its_mean():
    """A sky with a few dark branches in it: the plain mean is a grey found nowhere, the dominant colour is the sky's."""
    rng = np.random.default_rng(2)
    sky, branches = np.array([100.0, 150.0, 220.0]), np.array([20.0, 20.0, 20.0])
    values = np.concatenate([sky + rng.normal(0, 6, (800, 3)), branches + rng.normal(0, 6, (200, 3))])
    assert np.linalg.norm(values.mean(axis=0) - sky) > 30
    assert np.linalg.norm(classic._dominant_colour(values) - sky) < 5


def test_a_sky_with_branches_goes_on_as_sky_far_out():
    """The far ring takes the band's sky colour, not the sky darkened by the branches in it."""
    height, width = 480, 270
    rng = np.random.default_rng(4)
    image = np.empty((height, width, 3), np.float32)
    image[:] = (100, 150, 220)
    image += rng.normal(0, 3, image.shape)
    image[branches(height, width, rng, 40, reach=60, thickness=4)] = (20, 20, 20)  # dark branches across the sky
    image = np.clip(image, 0, 255).astype(np.uint8)
    mask = centre_mask(height, width)
    out = restore(np.where(mask[..., None], 0, image).astype(np.uint8), mask)
    far = mask.copy()
    far[height // 8 : -height // 8, width // 8 : -width // 8] = False  # the outer eighth, past the border's colours
    band_mean = image[~mask].reshape(-1, 3).mean(axis=0)
    far_colour = cv2.GaussianBlur(out.astype(np.float32), (0, 0), 8)[far].mean(axis=0)
    assert np.linalg.norm(far_colour - (100, 150, 220)) < 0.5 * np.linalg.norm(band_mean - (100, 150, 220)), (far_colour, band_mean)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_clear_sky_goes_on_clear_beside_branches_which_go_on_beside_their_own(seed):
    """Branches over the upper two thirds of a sky set the band's typical strength; the ring keeps it beside them only.

    Taking that typical strength everywhere scattered branch pieces all over the ring, around
    the photo's clear sky too. The strength the ring expects follows the known region's beside
    it, then the band's blocks of the ring's own colour: a clear sky's.
    """
    height, width = 480, 270
    rng = np.random.default_rng(seed)
    image = np.empty((height, width, 3), np.float32)
    image[:] = (110, 160, 215)
    image += cv2.GaussianBlur(rng.normal(0, 3, image.shape).astype(np.float32), (0, 0), 1.0)
    image[branches(height, width, rng, 260, reach=40, thickness=2, rows=int(height * 0.65))] = (25, 30, 30)
    image = np.clip(image, 0, 255).astype(np.uint8)
    stack = build_chain(image, width_px=width, height_px=height, slots=2, zoom_per_slot=2.0, fit="cover", engine=ClassicEngine(), seed=seed)
    energy = quality.highpass(stack.images[1]) ** 2
    top, bottom, left, right = quality.centre_box(~stack.masks[1])
    branch_energy = (quality.highpass(image) ** 2)[: int(height * 0.6)].mean()
    below = energy[bottom + 20 :].mean()  # under the photo's clear sky
    rows = slice(top + 10, top + int(0.55 * (bottom - top)))  # beside its branches
    beside = np.r_[energy[rows, left - 30 : left].ravel(), energy[rows, right : right + 30].ravel()].mean()
    # the band's typical strength all over: below 0.26-0.47 of the branches', beside 0.7-1.4 times below
    assert below < 0.05 * branch_energy, below / branch_energy
    assert beside > 10 * below, beside / below


def test_chained_zoom_keeps_the_palette():
    """Six zoom-2 slots in a row: the colours neither drift to black nor fade to grey."""
    image = cv2.resize(photo("coffee", 320), (160, 96), interpolation=cv2.INTER_AREA)
    mask = centre_mask(96, 160)
    ys, xs = np.nonzero(~mask)
    engine = ClassicEngine()
    first = image.copy()
    for slot in range(6):
        shrunk = cv2.resize(image, (int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1), interpolation=cv2.INTER_AREA)
        image = np.zeros_like(image)
        image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] = shrunk
        image = engine.outpaint(image, mask, seed=0, slot=slot)
    first_mean, last_mean = first.reshape(-1, 3).mean(0), image.reshape(-1, 3).mean(0)
    assert np.abs(last_mean - first_mean).max() < 25, (first_mean, last_mean)
    assert image.std() > 0.5 * first.std(), (first.std(), image.std())


# ---- quality on real photos: crop the centre, outpaint it back, compare with the truth ----


@pytest.fixture(scope="module")
def restored():
    """{name: (truth, mask, classic, telea, mirror)} for each photo at 384 px wide."""
    results = {}
    for name in PHOTOS:
        truth = photo(name, 384)
        mask = centre_mask(*truth.shape[:2])
        cropped = np.where(mask[..., None], 0, truth).astype(np.uint8)
        results[name] = (truth, mask, restore(cropped, mask), *quality.baseline_fills(cropped, mask))
    return results


def restore(cropped: np.ndarray, mask: np.ndarray, seed: int = 0) -> np.ndarray:
    """The classic engine's ring around a cropped photo (slot 0: no chain)."""
    return ClassicEngine().outpaint(cropped, mask, seed=seed, slot=0)


# share of the true ring's texture the engine must reach; the rocket's true ring holds
# launch towers that the photo's centre does not show, so only its smooth sky is expected
TEXTURE_FLOOR = {"chelsea": 0.5, "coffee": 0.35, "rocket": 0.1, "astronaut": 0.5}


@pytest.mark.parametrize("name", PHOTOS)
def test_ring_keeps_texture(restored, name):
    """The ring is textured like the truth, not smeared like Telea's."""
    truth, mask, classic, telea, _ = restored[name]
    ring = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    strength = {k: gradient_magnitude(v)[ring].mean() for k, v in (("truth", truth), ("classic", classic), ("telea", telea))}
    assert strength["classic"] >= TEXTURE_FLOOR[name] * strength["truth"], strength
    assert strength["classic"] >= 1.5 * strength["telea"], strength


@pytest.mark.parametrize("name", PHOTOS)
def test_ring_keeps_colour_layout(restored, name):
    """Low-resolution colours of the ring are closer to the truth than a flat mean fill."""
    truth, mask, classic, _, _ = restored[name]
    flat = np.where(mask[..., None], truth[~mask].mean(0), truth).astype(np.uint8)
    small = (8, 8)
    ring = cv2.resize(mask.astype(np.float32), small, interpolation=cv2.INTER_AREA) > 0.99

    def error(image):
        low = cv2.resize(image, small, interpolation=cv2.INTER_AREA).astype(np.float32)
        true_low = cv2.resize(truth, small, interpolation=cv2.INTER_AREA).astype(np.float32)
        return np.abs(low - true_low)[ring].mean()

    assert error(classic) < error(flat), (error(classic), error(flat))


@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut"])  # the rocket has no close-up subject
def test_ring_has_no_subject_clones(restored, name):
    """Few SIFT features of the ring match the subject; a mirror extension has many."""
    _, mask, classic, _, mirror = restored[name]
    ours, theirs = quality.subject_clones(classic, mask), quality.subject_clones(mirror, mask)
    assert theirs >= 20, f"the mirror baseline should clone the subject, found {theirs} matches"
    assert ours <= 0.2 * theirs, (ours, theirs)


@pytest.mark.parametrize("name", PHOTOS)
def test_no_dark_rim(restored, name):
    truth, mask, classic, _, _ = restored[name]
    grey = cv2.cvtColor(classic, cv2.COLOR_RGB2GRAY).astype(np.float32)
    rim = np.zeros_like(mask)
    rim[:4], rim[-4:], rim[:, :4], rim[:, -4:] = True, True, True, True
    assert grey[rim].mean() > grey[mask].mean() - 20, (grey[rim].mean(), grey[mask].mean())


@pytest.mark.parametrize("name", PHOTOS)
def test_no_seam_around_the_known_centre(restored, name):
    """Gradients across the known/ring border are no stronger than gradients near it."""
    _, mask, classic, _, _ = restored[name]
    magnitude = gradient_magnitude(classic)
    known = ~mask
    border = known & ~cv2.erode(known.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    border |= mask & cv2.dilate(known.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    near = cv2.dilate(border.astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool) & ~cv2.dilate(
        border.astype(np.uint8), np.ones((7, 7), np.uint8)
    ).astype(bool)
    assert magnitude[border].mean() < 1.5 * magnitude[near].mean(), (magnitude[border].mean(), magnitude[near].mean())


def test_ring_keeps_the_lead_on_colour_layout_and_texture(restored):
    """Colour-layout fidelity (PSNR after a σ = 8 px blur) ≥ 16 dB on average, texture 0.6–1.4× the truth's."""
    fidelity = [quality.ring_fidelity_db(classic, truth, mask) for truth, mask, classic, _, _ in restored.values()]
    texture = [quality.texture_ratio(classic, truth, mask) for truth, mask, classic, _, _ in restored.values()]
    assert np.mean(fidelity) >= 16.0, fidelity
    assert 0.6 <= np.mean(texture) <= 1.4, texture


def test_ring_draws_no_rays(restored):
    """The ray index of the restored ring is near the real surroundings', far below Telea's radial smear.

    One seed's index moves by up to ±0.03 from the next (chelsea: 1.08–1.09 over seeds 0–3,
    and 1.06–1.11 with a variant of the block choice), so the goal holds for each photo's
    mean over three seeds, and a ceiling a little above it for every one.
    """
    ours = np.array(
        [
            [quality.ray_index(classic if seed == 0 else restore(np.where(mask[..., None], 0, truth).astype(np.uint8), mask, seed), mask) for seed in (0, 1, 2)]
            for truth, mask, classic, _, _ in restored.values()
        ]
    )  # fmt: skip
    telea = [quality.ray_index(smeared, mask) for _, mask, _, smeared, _ in restored.values()]
    assert ours.mean(axis=1).max() <= 1.10 and ours.max() <= 1.20, ours.round(3)
    assert min(telea) >= 1.5 * ours.max(), (telea, ours.round(3))


def test_seam_ratio_tells_a_hard_paste_from_the_photo_itself(restored):
    """The measure the chain tests rely on: a hard paste of another picture scores high, the real photo ≈ 1."""
    truth, mask, _, _, _ = restored["chelsea"]
    box = quality.centre_box(~mask)
    pasted = np.where(mask[..., None], restored["coffee"][0][: mask.shape[0], : mask.shape[1]], truth).astype(np.uint8)
    assert quality.seam_ratio(truth, box) <= 1.15
    assert quality.seam_ratio(pasted, box) >= 1.5
