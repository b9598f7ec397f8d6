"""Montage, nest, directions, easings and loops: the timeline and the frames it makes."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from zoomout import Config, ConfigError, make_video, plan_video, quality
from zoomout.chain import build_chain
from zoomout.engines import create_engine
from zoomout.frames import iter_video_frames, loop_weight
from zoomout.load import Photo
from zoomout.pipeline import chain_groups
from zoomout.plan import EASINGS
from zoomout.render import ZoomRenderer

BASE = dict(width_px=96, height_px=160, seconds_per_slot=0.5, fps=24, hold_start_s=0.25, hold_end_s=0.25, sound="none", label=None)


@pytest.mark.parametrize("ease", list(EASINGS))
def test_every_easing_is_monotonic_and_spans_0_to_1(ease):
    u = np.linspace(0, 1, 1001)
    for slots in (1, 3, 12):
        p = EASINGS[ease](u, slots)
        assert p[0] == pytest.approx(0) and p[-1] == pytest.approx(1)
        assert (np.diff(p) >= -1e-12).all()


def test_punchy_lands_on_every_slot():
    plan = plan_video(Config(**BASE, slots=4, ease="punchy"))
    dt = 0.01
    for t in plan.slot_change_times_s[:-1]:  # at rest arriving on each slot, moving fast just after
        before = plan.zoom_at(t) - plan.zoom_at(t - dt)
        after = plan.zoom_at(t + dt) - plan.zoom_at(t)
        assert before < 0.2 * after


@pytest.mark.parametrize("direction", ["out", "in", "out-in"])
@pytest.mark.parametrize("ease", list(EASINGS))
def test_directions_follow_the_curve(direction, ease):
    plan = plan_video(Config(**BASE, slots=3, direction=direction, ease=ease))
    _, zooms = plan.frame_views()
    segment = plan.segments[0]
    t = np.arange(plan.frame_count) / plan.fps
    u = np.clip((t - segment.hold_start_s) / segment.zoom_s, 0, 1)
    curve = EASINGS[ease]
    expected = {
        "out": 3 * curve(u, 3),
        "in": 3 - 3 * curve(u, 3),
        "out-in": 3 * curve(np.where(u < 0.5, 2 * u, 2 - 2 * u), 3),
    }[direction]
    np.testing.assert_allclose(zooms, expected, atol=1e-9)
    progress = plan.zoom_at(t)
    assert (np.diff(progress) >= -1e-9).all()  # the sound's depth never goes back
    assert plan.slots == (6 if direction == "out-in" else 3)
    for k, change in enumerate(plan.slot_change_times_s, start=1):
        assert plan.zoom_at(change) == pytest.approx(k, abs=1e-6)


def test_duration_sets_seconds_per_slot():
    plan = plan_video(Config(**{**BASE, "hold_start_s": 0.5, "hold_end_s": 1.0}, slots=4, duration_s=9.5))
    assert plan.duration_s == pytest.approx(9.5)
    assert plan.zoom_s == pytest.approx(8.0)
    with pytest.raises(ConfigError, match="duration_s should leave"):
        plan_video(Config(**BASE, slots=12, duration_s=1.0))


def test_montage_plan_has_a_segment_per_photo_and_marks_cuts():
    plan = plan_video(Config(**BASE, slots=12, slots_per_photo=2), photo_count=3)
    assert [s.slots for s in plan.segments] == [2, 2, 2]
    part_s = 0.25 + 2 * 0.5 + 0.25
    assert plan.cut_times_s == pytest.approx((part_s, 2 * part_s))
    assert plan.frame_count == round(3 * part_s * 24)
    assert plan.slots == 6 and len(plan.slot_change_times_s) == 6
    chains, _ = plan.frame_views()
    assert list(np.bincount(chains)) == [s.frame_count for s in plan.segments]
    assert plan_video(Config(**BASE, slots=12), photo_count=3).segments[0].slots == 4  # default: slots // photos


@pytest.mark.parametrize(
    ("options", "photos", "message"),
    [
        ({"nest": True, "slots": 2}, 4, "nest needs at most slots \\+ 1"),
        ({"nest": True, "slots": 2}, 1, "nest needs at least 2"),
        ({"loop": True, "direction": "out-in"}, 1, "loop cannot be combined"),
        ({}, 13, "give 1 to 12 photos, not 13"),
        ({"direction": "sideways"}, 1, "direction should be one of"),
        ({"transition": "wipe"}, 1, "transition should be one of"),
        ({"slots_per_photo": 0}, 2, "slots_per_photo should be in"),
        ({"ease": "bounce"}, 1, "ease should be one of"),
    ],
)
def test_bad_combinations_refused_before_any_work(tmp_path, small_cat, options, photos, message):
    with pytest.raises(ConfigError, match=message):
        config = Config(**BASE, **options)
        make_video([small_cat] * photos, tmp_path / "x.mp4", config)
    assert not list(tmp_path.glob("*.mp4"))


def loop_frames(stack, plan):
    """Frames pooled to 12×20: the layout a viewer sees jump, not pixel-level texture."""
    renderer = ZoomRenderer(stack.images, 2.0, (96, 160))
    return [cv2.resize(f, (12, 20), interpolation=cv2.INTER_AREA) for f in iter_video_frames(plan, [renderer])]


@pytest.mark.parametrize("direction", ["out", "in"])
def test_loop_seam_is_no_larger_than_an_ordinary_frame_step(cat_pixels, noise_engine, direction):
    config = Config(**{**BASE, "hold_start_s": 0.0, "hold_end_s": 0.0}, slots=3, loop=True, direction=direction)
    [(_, outer)] = chain_groups(config, [Photo(Path("cat.png"), cat_pixels, "0" * 64, ())])
    kwargs = dict(width_px=96, height_px=160, slots=3, zoom_per_slot=2.0, fit="cover", engine=noise_engine, seed=0)
    stack = build_chain(cat_pixels, outer_photos=outer, **kwargs)
    frames = np.array(loop_frames(stack, plan_video(config)), dtype=np.float64)
    steps = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    seam = np.abs(frames[-1] - frames[0]).mean()
    assert seam <= np.median(steps) * 1.5
    # without the loop (and its closed chain) the seam is a jump
    plain_config = Config(**{**config.to_dict(), "loop": False})
    plain = np.array(loop_frames(build_chain(cat_pixels, **kwargs), plan_video(plain_config)), dtype=np.float64)
    assert np.abs(plain[-1] - plain[0]).mean() > 2.5 * np.median(steps)


@pytest.mark.parametrize("direction", ["out", "in"])
def test_loop_closes_the_chain_on_the_photo_it_returns_to(cat_pixels, direction):
    """The seam chain's last slot takes the other side's photo as its outside; other chains stay open."""
    photos = [Photo(Path(f"{i}.png"), cat_pixels[:, i * 10 :], f"{i}" * 64, ()) for i in range(3)]
    config = Config(**BASE, slots=6, slots_per_photo=2, loop=True, direction=direction)
    groups = chain_groups(config, photos)
    seam, other = (2, 0) if direction == "out" else (0, 2)
    assert [p.sha256 for p in groups[seam][0]] == [photos[seam].sha256, photos[other].sha256]  # a cache key of its own
    assert list(groups[seam][1]) == [2] and groups[seam][1][2] is photos[other].pixels
    assert all(not outer for i, (_, outer) in enumerate(groups) if i != seam)
    assert all(not outer for _, outer in chain_groups(Config(**BASE, slots=6, slots_per_photo=2), photos))


def test_loop_seam_blends_briefly_without_a_jump(cat_pixels):
    """A closed classic chain: the seam's frame changes stay within 1.2× their neighbours', over half a slot."""
    config = Config(**{**BASE, "hold_start_s": 0.0, "hold_end_s": 0.0, "width_px": 180, "height_px": 320, "seconds_per_slot": 1.5}, slots=3, loop=True)
    [(_, outer)] = chain_groups(config, [Photo(Path("cat.png"), cat_pixels, "0" * 64, ())])
    stack = build_chain(
        cat_pixels, width_px=180, height_px=320, slots=3, zoom_per_slot=2.0, fit="cover",
        engine=create_engine("classic"), seed=0, outer_photos=outer,
    )  # fmt: skip
    plan = plan_video(config)
    frames = list(iter_video_frames(plan, [ZoomRenderer(stack.images, 2.0, (180, 320))]))
    weights = np.array([loop_weight(float(z), 3) for z in plan.frame_zooms()])
    blended = (weights > 0) & (weights < 1)
    assert quality.loop_seam_ratio(frames, blended) <= 1.2
    assert blended.sum() <= 0.5 * plan.fps * config.seconds_per_slot + 1


def test_montage_of_different_ratios_end_to_end(tmp_path, small_cat, cat_pixels):
    tall = tmp_path / "tall.png"
    Image.fromarray(np.ascontiguousarray(cat_pixels[:, 100:250])).save(tall)  # portrait crop
    wide = tmp_path / "wide.webp"
    Image.fromarray(np.ascontiguousarray(cat_pixels[100:200])).save(wide)  # 4.5:1 panorama
    result = make_video(
        [small_cat, tall, wide], tmp_path / "m.mp4", Config(**BASE, slots=3, slots_per_photo=1, transition="fade"),
        save_slots_to=tmp_path / "slots", contact_sheet=tmp_path / "sheet.png",
    )  # fmt: skip
    assert len(result.chains) == 3 and all(len(s.images) == 2 for s in result.chains)
    assert sorted(p.name for p in (tmp_path / "slots").iterdir()) == ["part_1", "part_2", "part_3"]
    sheet = np.asarray(Image.open(tmp_path / "sheet.png"))
    assert sheet.shape[1] > sheet.shape[0]  # six thumbnails in a row
    import av

    with av.open(str(tmp_path / "m.mp4")) as container:
        assert container.streams.video[0].frames == result.plan.frame_count == round(3 * 1.0 * 24)


def test_nest_puts_each_photo_at_its_slot(tmp_path, small_cat, cat_pixels):
    other = tmp_path / "other.png"
    Image.fromarray(np.ascontiguousarray(255 - cat_pixels)).save(other)  # a clearly different photo
    result = make_video([small_cat, other], tmp_path / "n.mp4", Config(**BASE, slots=2, nest=True, fit="cover"))
    stack = result.slots
    assert len(result.chains) == 1 and len(stack.images) == 3
    # slot 2 is the second photo all round the kept centre: slot 1 went over into it already
    from zoomout.chain import fit_photo

    outer, _ = fit_photo(255 - cat_pixels, 96, 160, "cover")
    border = np.ones((160, 96), bool)
    border[40:120, 24:72] = False  # the kept centre
    np.testing.assert_array_equal(stack.images[2][border], outer[border])
    assert stack.generated_fractions[2] == 0 and stack.generated_fractions[1] > 0.5
