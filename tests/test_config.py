import dataclasses
import math

import pytest

from zoomout import Config, ConfigError, plan_video
from zoomout.cache import CHAIN_FIELDS, RENDER_FIELDS, chain_key
from zoomout.config import parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [("9:16", (1080, 1920)), ("1:1", (1080, 1080)), ("16:9", (1920, 1080)), ("720x1280", (720, 1280)), (" 64X64 ", (64, 64))],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "big", "4:3", "100", "100x", "x100", "-2x4", "1.5x2"])
def test_parse_size_invalid(text):
    with pytest.raises(ConfigError, match="size should be"):
        parse_size(text)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("slots", 0), ("slots", 51), ("slots", 2.5), ("slots", True),
        ("zoom_per_slot", 1.0), ("zoom_per_slot", 4.5), ("zoom_per_slot", math.nan), ("zoom_per_slot", math.inf),
        ("seconds_per_slot", 0.0), ("seconds_per_slot", -1.0), ("fps", 0), ("fps", 29), ("fps", 30.0),
        ("width_px", 1081), ("width_px", 2), ("height_px", 1), ("height_px", 10_000),
        ("hold_start_s", -0.1), ("hold_end_s", math.nan), ("fit", "stretch"), ("ease", "bounce"),
        ("seed", -1), ("seed", 2**32), ("crf", 52), ("x264_preset", "turbo"), ("sound", ""),
    ],
)  # fmt: skip
def test_invalid_option_names_option_and_value(option, value):
    with pytest.raises(ConfigError) as error:
        Config(**{option: value})
    message = str(error.value)
    assert option in message and "\n" not in message
    assert repr(value) in message or str(value) in message


def test_defaults_are_the_documented_ones():
    config = Config()
    assert (config.width_px, config.height_px, config.slots, config.zoom_per_slot) == (1080, 1920, 12, 2.0)
    assert config.fit == "contain" and config.engine == "auto"


def test_chain_key_ignores_timing_and_sound_but_not_shaping_options():
    shas = ["ab" * 32]
    base = chain_key(Config(), shas)
    assert chain_key(Config(seconds_per_slot=3.0, fps=60, ease="in-out", sound="x.wav", crf=30), shas) == base
    for change in ({"seed": 1}, {"zoom_per_slot": 3.0}, {"fit": "cover"}, {"width_px": 720}, {"slots": 5}):
        assert chain_key(Config(**change), shas) != base
    assert chain_key(Config(), ["cd" * 32]) != base


def test_every_config_field_is_in_the_cache_key_or_deliberately_not():
    """A new field must be classified: does it shape the slots (key) or only the render?"""
    fields = [f.name for f in dataclasses.fields(Config)]
    assert sorted(CHAIN_FIELDS + RENDER_FIELDS) == sorted(fields), "classify the new field in cache.py"
    assert not set(CHAIN_FIELDS) & set(RENDER_FIELDS)
    shas, base = ["ab" * 32], Config(width_px=540, height_px=960)
    changed = {
        "slots": 3, "slots_per_photo": 2, "nest": True, "zoom_per_slot": 3.0, "fit": "cover", "engine": "classic",
        "seed": 9, "engine_options": None, "width_px": 720, "height_px": 1280, "seconds_per_slot": 2.0, "fps": 24,
        "hold_start_s": 0.0, "hold_end_s": 0.0, "ease": "punchy", "direction": "in", "loop": True, "duration_s": 9.0,
        "transition": "fade", "sound": "none", "sound_seed": 4, "sound_sync": "none", "crf": 30,
        "x264_preset": "slow", "label": "AI",
    }  # fmt: skip
    assert set(changed) == set(fields)
    for name, value in changed.items():
        if name == "engine_options":  # only the lama and diffusion engines take options: see test_engines_ai
            continue
        same_shape = {"width_px": 720, "height_px": 1280} if name in ("width_px", "height_px") else {}
        other = dataclasses.replace(base, **{name: value, **same_shape})
        moved = chain_key(other, shas) != chain_key(base, shas)
        assert moved == (name in CHAIN_FIELDS), f"{name} {'changes' if moved else 'keeps'} the cache key"
    # the size is in the key as its shape only: another aspect ratio is another chain
    assert chain_key(dataclasses.replace(base, height_px=540), shas) != chain_key(base, shas)


@pytest.mark.parametrize("fps", [24, 25, 30, 50, 60])
def test_plan_frames_and_audio_match_exactly(fps):
    plan = plan_video(Config(slots=3, seconds_per_slot=1.3, fps=fps, hold_start_s=0.25, hold_end_s=0.5))
    assert plan.frame_count == round((0.25 + 3 * 1.3 + 0.5) * fps)
    assert plan.audio_samples * fps == plan.frame_count * 48_000


@pytest.mark.parametrize("ease", ["linear", "in-out"])
def test_zoom_is_monotonic_with_holds(ease):
    plan = plan_video(Config(slots=4, seconds_per_slot=1.0, fps=30, hold_start_s=0.5, hold_end_s=1.0, ease=ease))
    zooms = plan.frame_zooms()
    assert zooms[0] == 0.0 and zooms[-1] == 4.0
    assert (zooms[:15] == 0).all() and (zooms[-30:] == 4).all()
    assert (zooms[1:] - zooms[:-1] >= 0).all()
    for k, t in enumerate(plan.slot_change_times_s, start=1):
        assert plan.zoom_at(t) == pytest.approx(k, abs=1e-6)


def test_linear_zoom_has_constant_speed_in_log_scale():
    plan = plan_video(Config(slots=3, seconds_per_slot=1.0, fps=30, hold_start_s=0.0, hold_end_s=0.0))
    steps = plan.zoom_at([0.1, 0.2, 1.5, 1.6, 2.8, 2.9])
    assert steps[1] - steps[0] == pytest.approx(steps[3] - steps[2]) == pytest.approx(steps[5] - steps[4])
    assert plan.slot_change_times_s == pytest.approx((1.0, 2.0, 3.0))
