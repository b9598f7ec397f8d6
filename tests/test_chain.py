import numpy as np
import pytest
from PIL import Image

from zoomout import chain, quality
from zoomout.chain import build_chain, fit_photo, nest_guide, save_slots, shrink_slot
from zoomout.engines import create_engine
from zoomout.geometry import axis_coverage, place


def test_axis_coverage_is_exact_for_fractional_edges():
    cover = axis_coverage(src_len=4, dst_len=6, scale=0.75, offset=1.25)  # covers [1.25, 4.25)
    np.testing.assert_allclose(cover, [0, 0.75, 1, 1, 0.25, 0])


def test_place_downscale_preserves_mean_and_is_antialiased():
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes alias badly without a prefilter
    placed, coverage = place(stripes, (32, 32), 0.5, (0.0, 0.0))
    assert (coverage == 1).all()
    assert np.abs(placed.astype(int) - 128).max() <= 1


@pytest.mark.parametrize("zoom", [1.25, 1.7, 2.0, 3.3, 4.0])
@pytest.mark.parametrize("size", [(64, 112), (90, 160), (101, 77)])
def test_shrink_centre_is_exact_and_centred(zoom, size):
    h, w = size
    rng = np.random.default_rng(0)
    slot = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    shrunk, unknown = shrink_slot(slot, zoom)
    known_rows = np.flatnonzero(~unknown.all(axis=1))
    known_cols = np.flatnonzero(~unknown.all(axis=0))
    # the known block is centred: equal margins up to the one partly covered pixel per side
    assert abs(known_rows[0] - (h - 1 - known_rows[-1])) <= 1
    assert abs(known_cols[0] - (w - 1 - known_cols[-1])) <= 1
    # and its size is the exact shrunk size, minus partly covered pixels
    assert h / zoom - 2 <= len(known_rows) <= h / zoom
    # the mean colour of the shrunk slot equals the original (area-preserving resample)
    np.testing.assert_allclose(shrunk[~unknown].mean(axis=0), slot.reshape(-1, 3).mean(axis=0), atol=6)


def test_fit_contain_keeps_whole_photo_and_cover_fills(cat_pixels):
    image, unknown = fit_photo(cat_pixels, 180, 320, "contain")
    assert image.shape == (320, 180, 3)
    rows = np.flatnonzero(~unknown.any(axis=1))
    assert rows.size == pytest.approx(180 * 300 / 451, abs=2)  # landscape photo: a band across the middle
    assert unknown[0].all() and unknown[-1].all()
    image, unknown = fit_photo(cat_pixels, 180, 320, "cover")
    assert not unknown.any()


@pytest.mark.parametrize("canvas", [(270, 480), (540, 960), (1080, 1920)])
def test_cover_leaves_nothing_to_generate_whatever_the_photo_s_size(canvas):
    """A 600×302 photo scaled to 480 rows spans 479.99999999994: that rounding is no row to outpaint."""
    width, height = canvas
    for rows in range(300, 420):
        assert not fit_photo(np.zeros((rows, 600, 3), np.uint8), width, height, "cover")[1].any(), rows


def test_an_outermost_row_unlike_the_rows_inside_is_left_off(cat_pixels):
    """A dark frame one pixel wide (an encoder's or a lens's) is no part of the fitted photo; a photo's own edges are."""
    rng = np.random.default_rng(0)
    photo = np.clip(rng.normal(120, 2, (300, 200, 3)), 0, 255).astype(np.uint8)
    photo[0] = photo[:, -1] = 100  # the top row and the right column only
    for fit in ("cover", "contain"):
        image, unknown = fit_photo(photo, 200, 300, fit)
        assert image[~unknown].min() > 100, fit
    assert chain.trim_edges(photo).shape == (299, 199, 3)
    assert chain.trim_edges(cat_pixels).shape == cat_pixels.shape


def test_chain_invariant_centre_equals_shrunk_previous(cat_pixels, noise_engine):
    stack = build_chain(
        cat_pixels, width_px=96, height_px=160, slots=4, zoom_per_slot=2.0, fit="cover", engine=noise_engine, seed=3
    )
    assert len(stack.images) == len(stack.masks) == 5
    assert not stack.masks[0].any()
    for k in range(4):
        shrunk, unknown = shrink_slot(stack.images[k], 2.0)
        np.testing.assert_array_equal(unknown, stack.masks[k + 1])
        np.testing.assert_array_equal(stack.images[k + 1][~unknown], shrunk[~unknown])
    assert stack.generated_fractions[1] == pytest.approx(0.75, abs=0.03)


def test_chain_reports_progress_and_is_deterministic(cat_pixels):
    calls = []
    kwargs = dict(width_px=64, height_px=112, slots=3, zoom_per_slot=2.0, fit="contain", engine=create_engine("classic"))
    first = build_chain(cat_pixels, seed=7, progress=lambda e: calls.append((e.stage, e.done, e.total, e.slot_image.shape)), **kwargs)
    again = build_chain(cat_pixels, seed=7, **kwargs)
    other = build_chain(cat_pixels, seed=8, **kwargs)
    # slot 0 is the photo's: every slot's image, counted as outpainted slots of 3
    assert calls == [("chain", k, 3, (112, 64, 3)) for k in range(0, 4)]
    for a, b in zip(first.images, again.images):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first.images, other.images))


def test_palette_stays_stable_along_the_chain(cat_pixels):
    stack = build_chain(
        cat_pixels, width_px=90, height_px=160, slots=8, zoom_per_slot=2.0, fit="cover",
        engine=create_engine("classic"), seed=0,
    )  # fmt: skip
    first, last = stack.images[0].reshape(-1, 3).astype(float), stack.images[-1].reshape(-1, 3).astype(float)
    assert np.abs(last.mean(axis=0) - first.mean(axis=0)).max() < 30  # no drift to black or grey
    assert last.mean() > 0.6 * first.mean()
    assert last.std() > 0.25 * first.std()


def test_save_slots_writes_pngs_and_white_masks(tmp_path, cat_pixels, noise_engine):
    stack = build_chain(
        cat_pixels, width_px=64, height_px=112, slots=2, zoom_per_slot=2.0, fit="contain", engine=noise_engine, seed=0
    )
    written = save_slots(stack, tmp_path / "slots")
    names = sorted(p.name for p in written)
    assert names == ["mask_00.png", "mask_01.png", "mask_02.png", "slot_00.png", "slot_01.png", "slot_02.png"]
    mask = np.asarray(Image.open(tmp_path / "slots" / "mask_01.png"))
    np.testing.assert_array_equal(mask == 255, stack.masks[1])
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "slots" / "slot_02.png")), stack.images[2])
    assert not list((tmp_path / "slots").glob("*.tmp"))


@pytest.fixture(scope="module")
def coffee_pixels() -> np.ndarray:
    return pytest.importorskip("skimage.data").coffee()


@pytest.fixture(scope="module")
def rocket_pixels() -> np.ndarray:
    return pytest.importorskip("skimage.data").rocket()


@pytest.fixture(scope="module")
def astronaut_pixels() -> np.ndarray:
    return pytest.importorskip("skimage.data").astronaut()


def classic_chain(photo, slots, *, fit="cover", size=(270, 480), outer_photos=None, seed=0):
    return build_chain(
        photo, width_px=size[0], height_px=size[1], slots=slots, zoom_per_slot=2.0, fit=fit,
        engine=create_engine("classic"), seed=seed, outer_photos=outer_photos,
    )  # fmt: skip


# A slot's ray index or seam ratio moves by up to ±0.07 from one seed to the next (the blocks
# the quilting draws), so the chain's measures are asserted per slot over six seeds: their
# mean against the goal, and each one against a ceiling a little above it. Over three seeds
# the cat's slot 5 averaged 1.091 with revision 11 and 1.126 with revision 12, though over
# seeds 0-10 revision 12 scores less there (1.056 against 1.065): the mean of three moved by
# chance as much as the goal lies above the slot's own mean.
SLOT_SEEDS = tuple(range(6))
SEEDS = (0, 1, 2)  # for the nest band's texture, whose spread is far inside its goal


@pytest.fixture(scope="module")
def per_seed_and_slot(request):
    """measure(photo fixture name, f) → (seeds, slots 1–5) array of f(image, mask) over 5-slot chains made with SLOT_SEEDS."""
    chains: dict[str, list] = {}

    def measure(name, f) -> np.ndarray:
        if name not in chains:
            chains[name] = [classic_chain(request.getfixturevalue(name), 5, seed=seed) for seed in SLOT_SEEDS]
        return np.array([[f(image, mask) for image, mask in zip(s.images[1:], s.masks[1:])] for s in chains[name]])

    return measure


@pytest.mark.parametrize("name", ["cat_pixels", "coffee_pixels", "rocket_pixels"])
def test_no_searchlight_rays_along_the_chain(per_seed_and_slot, name):
    """Ray index ≤ 1.10 per slot over six seeds, ≤ 1.20 on any (real surroundings 0.4–1.35, mean 0.95; a membrane fill reached 1.3–5)."""
    rays = per_seed_and_slot(name, quality.ray_index)
    assert rays.mean(axis=0).max() <= 1.10 and rays.max() <= 1.20, rays.round(2)


@pytest.mark.parametrize("name", ["cat_pixels", "coffee_pixels", "astronaut_pixels"])
def test_no_visible_rectangle_at_the_kept_centre(per_seed_and_slot, name):
    """Seam ratio ≤ 1.15 per slot over six seeds, ≤ 1.25 on any; the astronaut's helmet and suit meet the border (1.33 before the border match)."""
    seams = per_seed_and_slot(name, lambda image, mask: quality.seam_ratio(image, quality.centre_box(~mask)))
    assert seams.mean(axis=0).max() <= 1.15 and seams.max() <= 1.25, seams.round(2)


def test_no_visible_line_at_the_photo_edges_with_contain(cat_pixels):
    stack = classic_chain(cat_pixels, 0, fit="contain")
    assert quality.seam_ratio(stack.images[0], quality.centre_box(~stack.masks[0])) <= 1.15


@pytest.mark.parametrize(
    ("inner", "outer"), [("cat_pixels", "coffee_pixels"), ("rocket_pixels", "cat_pixels"), ("coffee_pixels", "astronaut_pixels")]
)
def test_a_chain_lands_in_the_next_photo_in_its_colours_and_without_a_seam(request, monkeypatch, inner, outer):
    """Slot 1 goes over into the nested photo, so slot 2 is that photo all round the chain.

    Nothing is generated between them, and the join scores within 0.1 of the photo's own pixels
    there (the astronaut's suit has an edge where the coffee lands: 1.31 the photo, 1.36 the
    join; slot 1's edge is the photo enlarged and shrunk back, a little softer). Slot 1's ring
    lies 19.4-21.4 dB from the photo it lands in. As its own scene, with a band to blend it,
    the ring read as a rectangle of another scene: 9.9-11.8 dB.
    """
    inner, outer = request.getfixturevalue(inner), request.getfixturevalue(outer)
    own, _ = fit_photo(outer, 270, 480, "cover")

    def landing(stack):
        _, outside_slot_1 = shrink_slot(stack.images[1], 2.0)
        _, outside_slot_0 = shrink_slot(stack.images[1], 4.0)
        ring = ~outside_slot_1 & outside_slot_0  # slot 1's ring, shrunk into slot 2
        return outside_slot_1, quality.ring_fidelity_db(stack.images[2], own, ring)

    stack = classic_chain(inner, 2, outer_photos={2: outer})
    outside, fidelity = landing(stack)
    assert not stack.masks[2].any()
    np.testing.assert_array_equal(stack.images[2][outside], own[outside])
    edge = quality.centre_box(~outside)
    assert quality.seam_ratio(stack.images[2], edge) <= max(1.15, quality.seam_ratio(own, edge) + 0.1)
    monkeypatch.setattr(chain, "GUIDED_SLOTS", 0)
    _, own_scene = landing(classic_chain(inner, 2, outer_photos={2: outer}))
    assert fidelity >= 17 and fidelity >= own_scene + 6, (fidelity, own_scene)


def test_the_two_slots_before_a_nested_photo_are_guided_by_it(cat_pixels, coffee_pixels):
    """Slots 1 and 2 before a photo at slot 3; none for the photo slots, nor before a loop's return to the chain's own photo."""
    outer = {3: coffee_pixels, 6: cat_pixels}
    guided_by = [chain._guided_by(k, cat_pixels, outer) for k in range(7)]
    assert [n - k if n is not None else None for k, n in enumerate(guided_by)] == [None, 2, 1, None, None, None, None]
    assert chain._guided_by(1, cat_pixels, {4: coffee_pixels}) is None  # 3 slots before


@pytest.mark.parametrize("fit", ["cover", "contain"])
def test_a_guide_is_the_photo_s_middle_as_a_closer_slot_sees_it(coffee_pixels, fit):
    """Shrunk back by the zoom into the middle, the guide is the photo's fitted frame there."""
    frame, unknown = fit_photo(coffee_pixels, 270, 480, fit)
    guide = nest_guide((frame, unknown), 2.0)
    back, outside = shrink_slot(guide.image, 2.0)
    middle = ~outside & ~unknown
    assert np.abs(back[middle].astype(int) - frame[middle].astype(int)).mean() < 2
    covered, _ = shrink_slot(guide.known.astype(np.uint8), 2.0)
    np.testing.assert_array_equal(covered[~outside & unknown], 0)  # where the photo does not cover, neither does the guide
    assert guide.known.all() == (fit == "cover")


def test_nest_band_blends_at_both_edges(cat_pixels, coffee_pixels, monkeypatch):
    """Without a guided slot before (a loop that returns to the chain's own photo), a band blends the chain into the photo."""
    monkeypatch.setattr(chain, "GUIDED_SLOTS", 0)
    stack = classic_chain(cat_pixels, 2, outer_photos={2: coffee_pixels})
    image, mask = stack.images[2], stack.masks[2]
    inner, outer = quality.seam_ratio(image, quality.centre_box(~mask)), quality.seam_ratio(image, quality.outer_box(mask))
    assert max(inner, outer) <= 1.15, (inner, outer)


@pytest.mark.parametrize(
    ("inner", "outer"),
    [("rocket_pixels", "cat_pixels"), ("astronaut_pixels", "rocket_pixels"), ("coffee_pixels", "astronaut_pixels")],
)
def test_nest_band_goes_on_in_the_nest_photo_s_texture(request, monkeypatch, inner, outer):
    """Next to the nest photo the band (no guided slot before it) has that photo's texture, not the inner chain's.

    Band texture next to the photo over the photo's beyond it, mean over three seeds: 0.73 for
    the rocket's calm dusk in the cat, 0.83 for the astronaut in the rocket's sky, 0.68 for the
    coffee in the astronaut. Quilted from the inner chain's photo alone it was 0.45 (too calm),
    2.17 (too busy) and 0.47.
    """
    monkeypatch.setattr(chain, "GUIDED_SLOTS", 0)
    ratios = []
    for seed in SEEDS:
        stack = classic_chain(request.getfixturevalue(inner), 2, outer_photos={2: request.getfixturevalue(outer)}, seed=seed)
        ratios.append(quality.edge_texture_ratio(stack.images[2], quality.outer_box(stack.masks[2])))
    assert 0.6 <= np.mean(ratios) <= 1.5, np.round(ratios, 2)


@pytest.mark.parametrize("name", ["cat_pixels", "rocket_pixels"])
def test_texture_does_not_fade_along_the_chain(request, name):
    """Slot 12 keeps ≥ 0.7× slot 1's ring texture: no zoom-out into a flat void (the rocket's sky included)."""
    stack = classic_chain(request.getfixturevalue(name), 12)
    first, last = (quality.ring_highpass(stack.images[k], stack.masks[k]) for k in (1, 12))
    assert last >= 0.7 * first > 0, (first, last)


def test_far_slots_are_not_one_texture_all_over(cat_pixels, monkeypatch):
    """Slot 6's ring mixes calm and busy parts (real photos 0.18–1.35); without the variety field it is one texture (≈ 0.1)."""
    from zoomout.engines import classic

    variation = quality.texture_variation(*(lambda s: (s.images[6], s.masks[6]))(classic_chain(cat_pixels, 6)))
    monkeypatch.setattr(classic, "_VARIETY", 0.0)
    uniform = quality.texture_variation(*(lambda s: (s.images[6], s.masks[6]))(classic_chain(cat_pixels, 6)))
    assert variation >= 0.25 and uniform < 0.2, (variation, uniform)


def test_save_slots_copies_what_the_cache_holds_byte_for_byte(tmp_path, cat_pixels, noise_engine):
    from zoomout.cache import SlotCache

    kwargs = dict(width_px=64, height_px=112, slots=2, zoom_per_slot=2.0, fit="contain", engine=noise_engine, seed=0)
    cached = build_chain(cat_pixels, cache=SlotCache(tmp_path / "cache", "key", (64, 112)), **kwargs)
    plain = build_chain(cat_pixels, **kwargs)
    assert cached.cached_in == tmp_path / "cache" / "key" / "64x112" and plain.cached_in is None
    save_slots(cached, tmp_path / "copied")
    save_slots(plain, tmp_path / "encoded")
    for name in ("slot_00.png", "slot_02.png", "mask_01.png"):
        assert (tmp_path / "copied" / name).read_bytes() == (tmp_path / "encoded" / name).read_bytes()
    assert not list((tmp_path / "copied").glob(".*"))
