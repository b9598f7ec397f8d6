import cv2
import numpy as np
import pytest

from zoomout.chain import build_chain
from zoomout.render import I420ZoomRenderer, ZoomRenderer, build_mipmap, i420_mipmap_bytes, rgb_to_i420_planes

W, H, ZOOM = 180, 320, 2.0


@pytest.fixture(scope="module")
def stack(cat_pixels, noise_engine):
    return build_chain(
        cat_pixels, width_px=W, height_px=H, slots=3, zoom_per_slot=ZOOM, fit="cover", engine=noise_engine, seed=1
    )


def estimate_affine(template: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """(2, 3) warp with moved(warp(x)) ≈ template(x), to sub-pixel accuracy (ECC)."""
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in (template, moved)]
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 200, 1e-7)
    _, warp = cv2.findTransformECC(gray[0], gray[1], warp, cv2.MOTION_AFFINE, criteria, None, 5)
    return warp


@pytest.mark.parametrize("z", [0.2, 0.97, 1.0, 1.5, 1.98, 2.6])
def test_consecutive_frames_relate_by_a_pure_centred_zoom(stack, z):
    """The smoothness test: no jitter, no drift of the centre, exact per-frame scale."""
    renderer = ZoomRenderer(stack.images, ZOOM, (W, H))
    dz = 1.5 / 30  # one frame at 1.5 s per slot, 30 fps
    first, second = renderer.render(z), renderer.render(min(z + dz, 3.0))
    warp = estimate_affine(second, first)
    a = ZOOM ** (min(z + dz, 3.0) - z)
    expected = np.array([[a, 0, (1 - a) * (W / 2 - 0.5)], [0, a, (1 - a) * (H / 2 - 0.5)]])
    assert np.abs(warp[:, :2] - expected[:, :2]).max() < 2e-3
    assert np.abs(warp[:, 2] - expected[:, 2]).max() < 0.1  # sub-pixel: no jitter


def test_integer_zoom_shows_the_slot_itself(stack):
    renderer = ZoomRenderer(stack.images, ZOOM, (W, H))
    for k in range(4):
        diff = np.abs(renderer.render(float(k)).astype(int) - stack.images[k].astype(int))
        assert diff.mean() < 2.0  # finer slots on top agree with the slot's own centre
    np.testing.assert_array_equal(renderer.render(0.0), stack.images[0])


def test_every_pixel_comes_from_the_finest_slot(stack):
    renderer = ZoomRenderer(stack.images, ZOOM, (W, H))
    frame = renderer.render(1.0)  # slot 0 fills the centre half at exact scale 1/2
    centre = frame[H // 4 + 4 : 3 * H // 4 - 4, W // 4 + 4 : 3 * W // 4 - 4].astype(int)
    half = cv2.resize(stack.images[0], (W // 2, H // 2), interpolation=cv2.INTER_AREA)[4:-4, 4:-4].astype(int)
    assert np.abs(centre - half).mean() < 1.0


def test_no_shimmer_downscaled_texture_is_stable(stack):
    """Fine texture drawn small must not flicker: the mean over a slot stays put from frame to frame."""
    renderer = ZoomRenderer(stack.images, ZOOM, (W, H))
    centre_means = [renderer.render(z)[H // 2 - 6 : H // 2 + 6, W // 2 - 4 : W // 2 + 4].mean() for z in np.linspace(2.4, 2.5, 6)]
    assert np.ptp(centre_means) < 4.0


def test_output_size_can_differ_from_slot_size(stack):
    renderer = ZoomRenderer(stack.images, ZOOM, (W // 2, H // 2))
    frame = renderer.render(0.0)
    assert frame.shape == (H // 2, W // 2, 3)
    small = cv2.resize(stack.images[0], (W // 2, H // 2), interpolation=cv2.INTER_AREA)
    assert np.abs(frame.astype(int) - small.astype(int)).mean() < 2.0


def test_mipmap_levels_are_exact_box_averages():
    image = np.arange(6 * 10 * 3, dtype=np.uint8).reshape(6, 10, 3)
    levels = build_mipmap(image)
    assert [level.shape[:2] for level in levels] == [(6, 10), (3, 5), (2, 3), (1, 2)]
    np.testing.assert_allclose(levels[1][0, 0], image[:2, :2].reshape(-1, 3).mean(axis=0), atol=0.5)


def test_mipmap_bytes_are_what_the_renderer_holds(stack):
    renderer = I420ZoomRenderer(stack.images, ZOOM, (W, H))
    held = sum(level.nbytes for plane in (renderer.luma, renderer.chroma) for levels in plane.mipmaps for level in levels)
    assert held == len(stack.images) * i420_mipmap_bytes(W, H)


def test_invalid_input(stack):
    with pytest.raises(ValueError, match="z should be in"):
        ZoomRenderer(stack.images, ZOOM, (W, H)).render(3.5)
    with pytest.raises(ValueError, match="aspect ratio"):
        ZoomRenderer(stack.images, ZOOM, (W, W))


@pytest.mark.parametrize("z", [0.0, 0.4, 1.7, 2.95])
def test_i420_renderer_matches_the_rgb_renderer(stack, z):
    """Rendering planes directly is the RGB render in the encoder's format (BT.709, 4:2:0)."""
    rgb = ZoomRenderer(stack.images, ZOOM, (W, H)).render(z)
    i420 = I420ZoomRenderer(stack.images, ZOOM, (W, H)).render(z)
    expected = np.concatenate([p.ravel() for p in rgb_to_i420_planes(rgb)]).reshape(-1, W)
    assert i420.shape == (H * 3 // 2, W)
    assert np.abs(i420[:H].astype(int) - expected[:H].astype(int)).mean() < 1.0  # luma: the same pixels
    # chroma is resampled at half size (another filter on fine texture) but at the same place
    for plane in (slice(H, H + H // 4), slice(H + H // 4, None)):
        ours, theirs = (f[plane].reshape(H // 2, W // 2).astype(np.float32) for f in (i420, expected))
        (dx, dy), _ = cv2.phaseCorrelate(ours, theirs)
        assert abs(dx) < 0.1 and abs(dy) < 0.1


def test_rgb_to_i420_matches_swscale():
    import av
    from av.video.reformatter import ColorRange, Colorspace

    rng = np.random.default_rng(0)
    image = cv2.resize(rng.integers(0, 256, (20, 12, 3), dtype=np.uint8), (96, 160), interpolation=cv2.INTER_CUBIC)
    reference = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
        format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG, interpolation="AREA"
    ).to_ndarray()
    ours = np.concatenate([p.ravel() for p in rgb_to_i420_planes(image)]).reshape(-1, 96)
    assert np.abs(reference.astype(int) - ours.astype(int)).max() <= 1


def test_a_held_frame_is_rendered_once_and_each_frame_is_its_own(stack):
    """The holds (and punchy's landings) repeat a frame: rendered once, each copy a separate array."""
    from zoomout import Config, plan_video
    from zoomout.frames import iter_video_frames

    config = Config(width_px=W, height_px=H, slots=3, seconds_per_slot=0.5, fps=24, hold_start_s=0.5, hold_end_s=0.5, ease="punchy")
    plan = plan_video(config)
    renderer = I420ZoomRenderer(stack.images, ZOOM, (W, H))
    rendered = []

    class Counting:
        deepest = renderer.deepest

        def render(self, z):
            rendered.append(z)
            return renderer.render(z)

    frames = list(iter_video_frames(plan, [Counting()]))
    zooms = plan.frame_zooms()
    assert len(rendered) == 1 + int(np.count_nonzero(np.diff(zooms)))  # one render per change of view
    assert len({id(f) for f in frames}) == len(frames)  # a caller may label one without touching another
    for frame, z in zip(frames, zooms):
        np.testing.assert_array_equal(frame, renderer.render(float(z)))


@pytest.mark.parametrize(
    "scale, x0, y0, resized",
    [
        (0.731, 0.38, 0.91, True),
        (1.4172, -37.6, -101.2, True),
        (0.5, 0.25, 0.75, False),  # every crop lands half a pixel off
        (1.0, -0.5, 0.0, False),
        (1.9, -80.45, -150.2, False),  # 19/10: the landings repeat every 10 crops
        (8 / 7, -3 + 1 / 14, -5 + 1 / 14, False),  # landings k/7 + 1/14: never within a 32nd
    ],
)
def test_resized_sampling_is_the_exact_warp(scale, x0, y0, resized):
    """The separable fast path lands each sample where `cv2.warpAffine` does, to a 32nd of a pixel; else it warps."""
    from zoomout.geometry import affine_matrix
    from zoomout.render import SHIFT_TOLERANCE_PX, ZoomRenderer, _resize_fit

    rng = np.random.default_rng(3)
    level = cv2.GaussianBlur(rng.integers(0, 256, (300, 200), dtype=np.uint8), (0, 0), 1.5)
    width, height = 190, 290
    assert (None not in (_resize_fit(x0, scale, width), _resize_fit(y0, scale, height))) == resized
    exact = cv2.warpAffine(
        level, affine_matrix(scale, x0, y0), (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    fast = ZoomRenderer._warp(level, scale, x0, y0, width, height)
    out = np.zeros_like(exact)
    assert ZoomRenderer._warp(level, scale, x0, y0, width, height, out) is out
    np.testing.assert_array_equal(out, fast)
    steepest = np.abs(np.gradient(exact.astype(float))).max()
    assert np.abs(fast.astype(int) - exact.astype(int)).max() <= 1 + steepest * SHIFT_TOLERANCE_PX
    (dx, dy), _ = cv2.phaseCorrelate(fast.astype(np.float32), exact.astype(np.float32))
    assert abs(dx) < 0.02 and abs(dy) < 0.02
