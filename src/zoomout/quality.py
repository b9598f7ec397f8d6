"""Picture-quality measures of slots and frames, shared by the tests and the benchmarks.

None needs a ground truth except `ring_fidelity_db` and `texture_ratio` (crop-and-restore):

- `subject_clones`: how many of a ring's features are copies of the subject's (a mirror: dozens).
- `baseline_fills`: the two classical fills a crop-and-restore is compared with.
- `ray_index`: radial streaks ("searchlight rays") in a ring. Real surroundings ≈ 1.
- `seam_ratio`: a visible rectangle edge where two pictures meet. Seamless ≈ 1, a hard paste ≥ 1.5.
- `ring_highpass`: texture strength of a ring (a void fades it to 0).
- `layout_kept`: whether a ring keeps a picture's coarse colour layout (sky above, floor below).
- `texture_variation`: how much the texture strength varies over a ring (a uniform field ≈ 0).
- `grid_contrast`: how much a ring's texture strength rises and falls with a block grid's step.
- `loop_seam_ratio`: how much the frames at a loop's seam change against the frames next to it.
- `double_exposure_s`: how long, and over how much of the frame, a blend mixes two different pictures.
"""

from __future__ import annotations

import cv2
import numpy as np

RAY_SIGMA_SHARE = 0.02  # blur of the ray index, as a share of the short side
SEAM_BAND_PX = 2  # the seam statistic's band: steps within this distance of the border
SEAM_NEAR_PX = (8, 16)  # the reference bands: steps this far inside and outside the border
SEAM_STRETCH_PX = 32  # the border is measured in stretches of this length
SEAM_FLOOR = 1.0  # colour step (0-255 levels) added to both sides of a stretch's ratio: sensor noise
HIGHPASS_SIGMA_PX = 3.0
RING_MARGIN_SHARE = 0.03  # `ring_highpass` leaves out the ring's pixels this close to the known region (share of the short side)
FIDELITY_SIGMA_PX = 8.0
LAYOUT_GRID = 4  # cells per side of the coarse colour layout (zoom 2: the kept centre is the middle 2x2)
TEXTURE_GRID = 8  # cells per side over which the texture strength's variation is measured
MIN_COVER = 0.5  # a cell counts when at least this share of it lies in the region
LOOP_NEIGHBOURS = 6  # changes on either side of a loop's seam it is compared with
DOUBLE_EXPOSURE_LEVELS = 24  # two pictures differ where a channel differs by more than this (0-255)
SUBJECT_DEPTH_SHARE = 0.44  # the subject: the known centre's pixels deeper than this share of its deepest
CLONE_RATIO = 0.7  # Lowe's ratio test: a match counts when it is this much closer than the second best


def luminance(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 luma (BT.601) of an (H, W, 3) uint8 RGB image."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) if image.ndim == 3 else image.astype(np.float32)


def ray_index(image: np.ndarray, ring: np.ndarray) -> float:
    """√(Σ across² / Σ along²) of the blurred luminance gradient over the ring.

    "Along" is the gradient's component on the line from the image centre, "across" the
    component perpendicular to it. A fill that drags border colours outward makes streaks
    that vary across and not along that line: the index grows (2–3 for Telea inpainting).

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    ring : (H, W) bool ndarray
        The pixels to measure (a slot's generated ring).
    """
    height, width = ring.shape
    grey = cv2.GaussianBlur(luminance(image), (0, 0), RAY_SIGMA_SHARE * min(height, width))
    gy, gx = np.gradient(grey)
    ys, xs = np.nonzero(ring)
    dy, dx = ys + 0.5 - height / 2, xs + 0.5 - width / 2
    radius = np.maximum(np.hypot(dy, dx), 1e-6)
    along = (gy[ys, xs] * dy + gx[ys, xs] * dx) / radius
    across = (gx[ys, xs] * dy - gy[ys, xs] * dx) / radius
    return float(np.sqrt((across**2).sum() / max((along**2).sum(), 1e-12)))


def centre_box(known: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the run of `known` pixels through the image centre (bottom, right exclusive).

    For a slot, `known` = ~mask gives the kept centre (slot 0 with fit 'contain': the photo).
    """
    height, width = known.shape
    return (*_run(known[:, width // 2], height // 2), *_run(known[height // 2], width // 2))


def outer_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the `mask` runs next to the kept centre on the centre column and row: a nest band's outer edge.

    Generated pixels farther out (a nest photo's fit that leaves a sliver at the image's edge
    uncovered) are not the band's.
    """
    height, width = mask.shape
    return (*_band(mask[:, width // 2]), *_band(mask[height // 2]))


def _band(line: np.ndarray) -> tuple[int, int]:
    """Start and end of the True runs on either side of the False run through the middle of `line`."""
    inner_start, inner_end = _run(~line, line.size // 2)
    return _run(line, inner_start - 1)[0], _run(line, inner_end)[1]


def _run(line: np.ndarray, middle: int) -> tuple[int, int]:
    outside = np.flatnonzero(~line)
    before, after = outside[outside < middle], outside[outside > middle]
    return (int(before[-1]) + 1 if before.size else 0), (int(after[0]) if after.size else line.size)


SIDES = ("top", "bottom", "left", "right")


def seam_ratio(image: np.ndarray, box: tuple[int, int, int, int], sides: tuple[str, ...] = SIDES) -> float:
    """How visible the edge of `box` is: the colour step across it over the steps near it.

    Each side of the box that lies far enough inside the image is cut into SEAM_STRETCH_PX
    stretches. In each, the colour step across the border (the RGB norm of the difference of
    neighbouring pixels, perpendicular to the side) is averaged over the steps within
    SEAM_BAND_PX of the border, and over the steps SEAM_NEAR_PX inside and outside it; the
    stretch's ratio is (band + SEAM_FLOOR) / (near + SEAM_FLOOR). The result is the mean over
    all stretches: ≈ 1 where the edge cannot be told from its neighbourhood, ≥ 1.5 for a hard paste.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    box : (top, bottom, left, right)
        Pixel rows top..bottom−1 and columns left..right−1 are inside.
    sides : names from SIDES
        The sides measured (e.g. only left and right, where a photo's real surroundings exist).

    Returns
    -------
    float, or nan when no side of the box has room for the reference bands.
    """
    colour = image.astype(np.float32)
    top, bottom, left, right = box
    ratios: list[np.ndarray] = []
    for plane, (start, stop), edges in (
        (colour, (left, right), {"top": top, "bottom": bottom}),
        (colour.transpose(1, 0, 2), (top, bottom), {"left": left, "right": right}),
    ):
        measured = [edge for side, edge in edges.items() if side in sides]
        if not measured:
            continue
        # steps[i] = |c[i + 1] − c[i]|: the step from row i to row i + 1 (rows of `plane`)
        steps = np.linalg.norm(np.diff(plane[:, start:stop], axis=0), axis=2)
        for edge in measured:
            ratio = _side_ratios(steps, edge - 1)  # the step across the border: from edge − 1 to edge
            if ratio is not None:
                ratios.append(ratio)
    return float(np.concatenate(ratios).mean()) if ratios else float("nan")


def _side_ratios(steps: np.ndarray, across: int) -> np.ndarray | None:
    """Per-stretch ratios of one side: steps (rows − 1, length) with the border step at row `across`."""
    near_lo, near_hi = SEAM_NEAR_PX
    if across - near_hi < 0 or across + near_hi >= steps.shape[0]:
        return None
    band = steps[across - SEAM_BAND_PX : across + SEAM_BAND_PX + 1]
    near = np.concatenate([steps[across - near_hi : across - near_lo + 1], steps[across + near_lo : across + near_hi + 1]])
    count = steps.shape[1] // SEAM_STRETCH_PX
    if count == 0:
        return None
    cut = count * SEAM_STRETCH_PX
    band_means = band[:, :cut].reshape(band.shape[0], count, -1).mean(axis=(0, 2))
    near_means = near[:, :cut].reshape(near.shape[0], count, -1).mean(axis=(0, 2))
    return (band_means + SEAM_FLOOR) / (near_means + SEAM_FLOOR)


def ring_highpass(image: np.ndarray, ring: np.ndarray) -> float:
    """Texture strength of the ring: std of luminance minus its Gaussian blur (σ = HIGHPASS_SIGMA_PX).

    Measured RING_MARGIN_SHARE of the short side or farther from the known region: the ring's
    own texture, not its first pixels, which continue whatever the photo has at its border
    (a lit platform in a dark sky would otherwise set slot 1's figure).
    """
    distance = cv2.distanceTransform(ring.astype(np.uint8), cv2.DIST_L2, 3)
    far = ring & (distance > RING_MARGIN_SHARE * min(ring.shape))
    return float(highpass(image)[far].std())


def edge_texture_ratio(image: np.ndarray, box: tuple[int, int, int, int], width_px: int = SEAM_NEAR_PX[0]) -> float:
    """How strong the texture just inside `box` is, against just outside it: ≈ 1 where one texture goes on across the edge.

    The std of the luminance high-pass (σ = HIGHPASS_SIGMA_PX) over the pixels within
    `width_px` inside the box's edge, over the same outside it. At a nest band's outer edge
    (`outer_box`) it tells a band that goes on in the nest photo's texture from a smooth fade.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    box : (top, bottom, left, right)
    width_px : int
    """
    detail = highpass(image)
    top, bottom, left, right = box
    inside, outside = np.zeros(detail.shape, bool), np.zeros(detail.shape, bool)
    inside[top:bottom, left:right] = True
    inside[top + width_px : bottom - width_px, left + width_px : right - width_px] = False
    outside[max(top - width_px, 0) : bottom + width_px, max(left - width_px, 0) : right + width_px] = True
    outside[top:bottom, left:right] = False
    return float(detail[inside].std() / max(detail[outside].std(), 1e-6))


def cell_means(values: np.ndarray, region: np.ndarray, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """(grid², C) mean of `values` over the `region` pixels of each cell of a grid × grid split, and (grid²,) bool cells at least MIN_COVER in it.

    Parameters
    ----------
    values : (H, W[, C]) ndarray
    region : (H, W) bool ndarray
    """
    height, width = region.shape
    values = values.reshape(height, width, -1).astype(np.float64)
    rows, cols = np.linspace(0, height, grid + 1).round().astype(int), np.linspace(0, width, grid + 1).round().astype(int)
    means, covered = [], []
    for top, bottom in zip(rows, rows[1:]):
        for left, right in zip(cols, cols[1:]):
            inside = region[top:bottom, left:right]
            covered.append(inside.mean() >= MIN_COVER)
            means.append(values[top:bottom, left:right][inside].mean(axis=0) if inside.any() else np.zeros(values.shape[2]))
    return np.array(means), np.array(covered)


def layout_kept(image: np.ndarray, reference: np.ndarray, region: np.ndarray, reference_region: np.ndarray | None = None) -> float:
    """How much of `reference`'s coarse colour layout the `region` of `image` keeps: 1 all of it, 0 none (a uniform field).

    Both images are split into LAYOUT_GRID × LAYOUT_GRID cells; in each cell that lies in
    `region`, the mean colour (over `region` in `image`, over `reference_region` in
    `reference`) less the mean over those cells is the cell's layout. The score is
    1 − Σ (ours − theirs)² / Σ theirs²: a ring whose colours do not vary from cell to cell
    scores 0, one with the reference's layout inverted −3.

    Parameters
    ----------
    image, reference : (H, W, 3) uint8 ndarray
        Same size (for a chain's slot: the slot, and the photo's slot 0).
    region : (H, W) bool ndarray
        The pixels to compare (a ring).
    reference_region : (H, W) bool ndarray, optional
        The pixels of `reference` that stand for it (default `region`; the whole photo for slot 0).
    """
    ours, covered = cell_means(image, region, LAYOUT_GRID)
    theirs, _ = cell_means(reference, region if reference_region is None else reference_region, LAYOUT_GRID)
    ours, theirs = ours[covered], theirs[covered]
    ours, theirs = ours - ours.mean(axis=0), theirs - theirs.mean(axis=0)
    return float(1.0 - ((ours - theirs) ** 2).sum() / max((theirs**2).sum(), 1e-12))


def texture_variation(image: np.ndarray, region: np.ndarray) -> float:
    """How unevenly the texture is spread over `region`: the coefficient of variation of its high-pass strength over TEXTURE_GRID² cells.

    Real surroundings mix smooth and busy parts (sky and trees): ≈ 0.4–1; a field of one
    texture all over scores near 0.
    """
    energy = highpass(image) ** 2
    means, covered = cell_means(energy, region, TEXTURE_GRID)
    strength = np.sqrt(means[covered, 0])
    return float(strength.std() / max(strength.mean(), 1e-6))


def grid_contrast(image: np.ndarray, ring: np.ndarray, step: int, origin: tuple[int, int]) -> float:
    """How much the ring's texture strength rises and falls with a grid of period `step`: 1 not at all.

    The high-pass energy beside the kept centre is averaged per column (left and right of it)
    and per row (above and below it), and folded by position modulo `step` from the grid's
    `origin`. The result is the folded profiles' maximum over their mean, averaged over the
    two: a quilt whose block overlaps are busier or calmer than the blocks' middles scores
    well above a photo's own texture at the same step.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    ring : (H, W) bool ndarray
        The generated ring around a rectangular kept centre.
    step : int
        The grid's period in pixels.
    origin : (y, x)
        Where one of the grid's rows and columns starts (any integer, negative too).
    """
    energy = highpass(image) ** 2
    top, bottom, left, right = centre_box(~ring)
    contrasts = []
    for profile, start in (
        (np.r_[energy[top:bottom, :left].mean(0), energy[top:bottom, right:].mean(0)], np.r_[0:left, right : ring.shape[1]] - origin[1]),
        (np.r_[energy[:top, left:right].mean(1), energy[bottom:, left:right].mean(1)], np.r_[0:top, bottom : ring.shape[0]] - origin[0]),
    ):  # fmt: skip
        phase = start % step
        if profile.size < 2 * step:
            continue
        folded = np.bincount(phase, profile, minlength=step) / np.maximum(np.bincount(phase, minlength=step), 1)
        contrasts.append(folded.max() / max(folded.mean(), 1e-9))
    return float(np.mean(contrasts)) if contrasts else float("nan")


def highpass(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 luminance minus its Gaussian blur (σ = HIGHPASS_SIGMA_PX): the texture."""
    grey = luminance(image)
    return grey - cv2.GaussianBlur(grey, (0, 0), HIGHPASS_SIGMA_PX)


def gradient_magnitude(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 Sobel gradient magnitude of the luminance."""
    grey = luminance(image)
    return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))


def ring_fidelity_db(result: np.ndarray, truth: np.ndarray, ring: np.ndarray) -> float:
    """Colour-layout fidelity: PSNR (dB) of the ring after a σ = FIDELITY_SIGMA_PX blur of both images."""
    blur = [cv2.GaussianBlur(im.astype(np.float32), (0, 0), FIDELITY_SIGMA_PX) for im in (result, truth)]
    mse = float(((blur[0] - blur[1]) ** 2)[ring].mean())
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def texture_ratio(result: np.ndarray, truth: np.ndarray, ring: np.ndarray) -> float:
    """Mean gradient magnitude of the ring (less 2 px at its edges) in `result` over that in `truth`."""
    inner = cv2.erode(ring.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return float(gradient_magnitude(result)[inner].mean() / max(gradient_magnitude(truth)[inner].mean(), 1e-6))


def frame_changes(frames: list[np.ndarray]) -> np.ndarray:
    """(N,) mean absolute change from each frame to the next, the last one wrapping to the first."""
    stack = [f.astype(np.float32) for f in frames]
    return np.array([np.abs(b - a).mean() for a, b in zip(stack, stack[1:] + stack[:1])])


def loop_seam_ratio(frames: list[np.ndarray], blended: np.ndarray, *, neighbours: int = LOOP_NEIGHBOURS) -> float:
    """How much a loop's seam jumps: the largest ratio of a seam change to the median of the changes next to it.

    Parameters
    ----------
    frames : list of (H, W[, C]) uint8 ndarray
        A looped video's frames in order: the last one is followed by the first.
    blended : (N,) bool ndarray
        Frames that blend the loop's two sides. The seam's changes are those into, out of
        and between them, and the wrap from the last frame to the first; each is compared
        with the `neighbours` changes on either side of it, so a steady rise of the change
        (a more detailed picture coming in) is no jump.
    """
    changes = frame_changes(frames)
    seam = blended | np.roll(blended, -1)  # change i goes from frame i to frame i + 1
    seam[-1] = True
    offsets = np.r_[-neighbours:0, 1 : neighbours + 1]
    ratios = [changes[i] / max(np.median(changes[(i + offsets) % changes.size]), 1e-6) for i in np.flatnonzero(seam)]
    return float(max(ratios))


def double_exposure_s(ours: list[np.ndarray], theirs: list[np.ndarray], weights: np.ndarray, fps: float) -> float:
    """Seconds of full-frame, half-and-half double exposure a blend amounts to.

    Each blended frame counts 4·w·(1 − w) (1 at an even mix) times the share of its pixels
    where the two pictures differ by more than DOUBLE_EXPOSURE_LEVELS: blending two near-equal
    pictures costs nothing, a long cross-fade of two unrelated ones costs its whole length.

    Parameters
    ----------
    ours, theirs : lists of (H, W[, C]) uint8 ndarray
        The two sides of each blended frame.
    weights : (N,) float ndarray
        The share of `theirs` in each frame.
    """
    total = 0.0
    for a, b, w in zip(ours, theirs, weights):
        differ = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1) > DOUBLE_EXPOSURE_LEVELS
        total += 4 * w * (1 - w) * float(differ.mean())
    return total / fps


def subject_clones(image: np.ndarray, mask: np.ndarray) -> int:
    """How many SIFT features of the ring match one of the subject's (Lowe's ratio test): copies of the subject.

    The subject is the known centre less its outer band (depth beyond SUBJECT_DEPTH_SHARE of
    the deepest), where a close-up's face or object lies; the ring leaves out its first 4
    pixels, the seam itself. A mirror extension scores dozens on a portrait.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    mask : (H, W) bool ndarray
        True on the ring.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    depth = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    subject = (depth > SUBJECT_DEPTH_SHARE * depth.max()).astype(np.uint8)
    ring = cv2.erode(mask.astype(np.uint8), np.ones((9, 9), np.uint8))
    sift = cv2.SIFT_create()
    _, subject_features = sift.detectAndCompute(grey, subject)
    _, ring_features = sift.detectAndCompute(grey, ring)
    if subject_features is None or ring_features is None or len(subject_features) < 2:
        return 0
    pairs = cv2.BFMatcher().knnMatch(ring_features, subject_features, k=2)
    return sum(1 for pair in pairs if len(pair) == 2 and pair[0].distance < CLONE_RATIO * pair[1].distance)


def baseline_fills(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's Telea inpainting (it smears the border's colours) and the known centre mirrored outward (it clones the subject).

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    mask : (H, W) bool ndarray
        True on the ring; the known region is a rectangle.

    Returns
    -------
    telea, mirror : (H, W, 3) uint8 ndarray
    """
    telea = cv2.inpaint(image, mask.astype(np.uint8), 5, cv2.INPAINT_TELEA)
    top, bottom, left, right = centre_box(~mask)
    mirror = cv2.copyMakeBorder(
        image[top:bottom, left:right], top, image.shape[0] - bottom, left, image.shape[1] - right, cv2.BORDER_REFLECT
    )  # fmt: skip
    return telea, mirror
