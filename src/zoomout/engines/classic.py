"""The classic engine: extend the background by structure + texture synthesis.

Plain PatchMatch copies the best-matching patches from anywhere, so a portrait grows
extra eyes in the ring; diffusion inpainting (Telea) smears edge colours into streaks;
mirroring repeats the subject. This engine splits the image into two layers:

- structure, the low frequencies: at low resolution, the border's local colours fade
  into the dominant colour of the known region's outer band (most likely background), so the
  far edge never goes dark and no radial rays appear, as they do when a membrane fill
  carries every border colour to infinity;
- texture, the detail (image minus a structure that sparse features such as twigs and stars do
  not pull, so they carry no halo): image quilting in onion-peel order, each block going
  over its neighbours beyond the least-error cut through their overlap, blocks taken only
  from the outer band of the known region (most likely background),
  chosen by overlap match, colour match to the structure, a penalty for distinctive
  patches (eyes, text) and a penalty for reusing a source region, and by strength: the known
  region's beside the ring, fading like the colours into the strength the band's blocks of
  the ring's colour have (a clear sky stays clear beside branches that crowd the band). In a
  nest's band, between the shrunk chain and a given photo around it, blocks come more and
  more from that photo's own frame the nearer they lie to it. Over a chain, each block's
  strength follows a smooth multi-scale field fixed to the chain's world, so the far slots
  mix calm and busy parts instead of repeating one texture all over.

Two gradient-domain corrections remove the seam: the texture's mismatch where blocks
overlap the known border, then the composed ring's last mismatch with the known pixel next
to it, so an object cut by the border (a helmet, a lit platform) does not end in a line.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar, NamedTuple

import numpy as np

from ..lazy import lazy_import
from .base import Engine, Guide

# imported when the engine first runs: listing the engines or `--help` does not load them
cv2 = lazy_import("cv2")
sparse = lazy_import("scipy.sparse")
special = lazy_import("scipy.special")

_BAND_FRACTION = 0.22  # source band depth, as a fraction of the known region's smaller side
_CANDIDATES = 48  # random source positions tried per block
_PICK_AMONG = 3  # the block is drawn among this many best candidates
_REUSE_WEIGHT = 0.6  # cost factor per earlier use of the same source cell
_DISTINCT_WEIGHT = 4.0  # cost factor per unit of detail energy above 2x the band's median
_COHERENCE_BONUS = 0.7  # cost factor for continuing a neighbour's source: larger coherent pieces
_COLOUR_SCALE = 12.0  # structure colour difference (0-255 levels) that costs as much as a texture mismatch
_ENERGY_WEIGHT = 0.5  # weight of the squared log ratio of a block's texture strength to the expected one
_SCALE_LEVELS = 4  # texture scales across a ring, from the kept centre's to full size
_NOISE_FLOOR = 4.0  # detail level (0-255) below which overlap differences are noise
_FALLOFF_BLOCKS = 1.5  # the seam correction fades out over this many blocks from the known region
_MIRROR_BLOCKS = 0.2  # the known detail continues, mirrored, this many blocks into the ring
_MIRROR_LIMIT = 3.0  # ... up to this many times the border's median detail strength
_LOCAL_BLOCKS = 3  # a nest photo's blocks are drawn within this many blocks of the frame pixel nearest the target
_BORDER_BLOCKS = 0.3  # the last mismatch with the known pixels fades out over this many blocks
_DECAY_SHARE = 0.25  # border colours fade into the background model over this share of the known region's smaller side
_DOMINANT_STEPS = 10  # reweighting steps of the background's dominant colour (it settles within a few)
_ROBUST_SCALE = 2.0  # a pixel this many times the median distance from its cell's colour counts half in it
_STRENGTH_COLOUR_SCALE = 2 * _COLOUR_SCALE  # colour distance (σ) over which sources count toward a block's expected strength
_STRENGTH_SOURCES = 2048  # sources sampled for it
_STRENGTH_PRIOR = 0.01  # share of their weight on the band's typical strength
_VARIETY = 0.6  # how much the texture's strength varies over the far field: its log is this times a unit-std field
_VARIETY_FINEST_PX = 8.0  # the variety's finest features (finer ones fade out over an octave): the texture's own scale is below
_VARIETY_UNIT = 1 / 64  # lattice spacing of the finest world octave, as a share of the slot's short side at slot 0
_CUBIC_STD = 0.8  # std of cubic-interpolated unit-variance lattice noise (averaged over positions between lattice points)
_UINT64 = 0xFFFFFFFFFFFFFFFF  # a Python int taken modulo 2^64 (negative seeds and octaves wrap)


class ClassicEngine(Engine):
    """Background extension by a structure layer that fades into a background model, and band-sourced image quilting."""

    name: ClassVar[str] = "classic"
    summary: ClassVar[str] = "no model: structure fill + texture quilting from the photo's outer band (fast, CPU)"
    revision: ClassVar[str] = "12"
    uses_reference: ClassVar[bool] = True
    uses_guide: ClassVar[bool] = True
    trained_model: ClassVar[bool] = False

    def _outpaint(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        *,
        seed: int,
        slot: int,
        reference: np.ndarray | None = None,
        reference_slot: int | None = None,
        guide: Guide | None = None,
    ) -> np.ndarray:
        rng = np.random.default_rng([seed & 0xFFFFFFFF, slot & 0xFFFFFFFF])
        height, width = mask.shape
        known = ~mask

        # 1. Scales: block size follows the image, the pad makes every block whole
        block, _ = block_grid(height, width)
        pad = block
        known_pad = np.pad(known, pad, constant_values=False)
        image_pad = np.pad(image.astype(np.float32), ((pad, pad), (pad, pad), (0, 0)))
        image_pad[~known_pad] = 0.0

        # 2. Structure: low-frequency extension of the known colours over everything; before a
        #    nested photo (a guide), it fades into that photo's colours instead of one colour
        decay_px = _DECAY_SHARE * _smaller_side(known)
        if guide is not None:
            guide = Guide(
                np.pad(guide.image, ((pad, pad), (pad, pad), (0, 0)), mode="edge").astype(np.float32),
                np.pad(guide.known, pad, mode="edge"), guide.slots_before,
            )  # fmt: skip
        structure = _structure_fill(image_pad, known_pad, cell=max(block // 3, 2), decay_px=decay_px, guide=guide)
        detail = np.where(known_pad[..., None], image_pad - structure, 0.0).astype(np.float32)

        # 3. Source positions: whole blocks of the known region, centred in its outer band; with
        #    a reference (the previous slot at full size) its outer band instead, since the shrunk
        #    centre's texture is finer by the zoom factor: sourcing it slot after slot would shrink
        #    the texture until the far slots are flat
        source_layers, zoom, outside, nested = None, _zoom_of(known), None, False
        if reference is not None and reference.shape == image.shape and min(mask.shape) >= 4 * block:
            source_layers, sources = self._reference_sources(reference, zoom, block)
            frame = _reaches_the_edge(known)  # a nest's photo around its band; a chain's open ring has none
            nested = bool(frame.any())
            if nested:
                # a nest's band runs from the shrunk chain to a photo at the ring's own scale: the
                # nearer a block lies to that photo, the more of its candidates are the photo's own
                outside = _outside_sources(known, frame, pad, block)
        else:
            sources, block = _source_positions(known, pad, block)
            sources = [sources] if sources is not None else None
        if sources is None:
            return np.clip(structure[pad:-pad, pad:-pad] + 0.5, 0, 255).astype(np.uint8)

        # 4. Variety: over a chain's open ring, the texture's strength follows a field fixed in
        #    the chain's world, so the far slots are not one texture all over
        nearest = _nearest_known(known_pad)
        gain = None
        if source_layers is not None and reference_slot is not None and not nested:
            gain = _texture_gain(
                mask.shape, pad, seed=seed - slot, slot=slot, zoom=zoom, after_photo=reference_slot == slot - 1,
                distance=nearest[0], fade_px=decay_px,
            )  # fmt: skip

        # 5. Texture: quilt detail blocks into the ring, nearest to the known region first
        residual, seam_diff, seam_weight = _quilt(
            detail, structure, known_pad, mask, pad, block, sources, rng, source_layers, gain, outside, fade_px=decay_px
        )

        # 6. Seam: carry the mismatch along the known border into the ring (gradient-domain blend),
        #    and let the known detail go on, mirrored, for the first few pixels
        residual += _seam_correction(seam_diff, seam_weight, nearest[0], falloff_px=_FALLOFF_BLOCKS * block)
        residual = _mirror_feather(residual, detail, known_pad, nearest, width_px=max(_MIRROR_BLOCKS * block, 2.0))

        # 6b. Guide: before a nested photo the ring goes over into it, colours and, one slot
        #     before, detail too: the photo takes over at the slot's edge without a seam or a
        #     rectangle of another scene
        if guide is not None:
            structure, residual = _go_over_into(
                guide, structure, residual, nearest[0], pad, cell=max(block // 3, 2), feather_px=decay_px
            )  # fmt: skip

        # 7. Compose: structure + detail, matched to the known pixels along their border
        out = structure + residual
        out += _border_match(out, image_pad, nearest, falloff_px=_BORDER_BLOCKS * block)
        return np.clip(out[pad:-pad, pad:-pad] + 0.5, 0, 255).astype(np.uint8)

    def _reference_sources(self, reference: np.ndarray, zoom: float, block: int) -> tuple[_BlockStats, list[np.ndarray]]:
        """`_reference_sources`, kept for the next slot: a chain passes the same photo slot each time."""
        key = (hashlib.blake2b(reference.tobytes(), digest_size=16).digest(), reference.shape, round(zoom, 6), block)
        if getattr(self, "_reference_key", None) != key:
            self._reference_key = key
            self._reference_value = _reference_sources(reference, zoom, block, cell=max(block // 3, 2))
        return self._reference_value


def block_grid(height: int, width: int) -> tuple[int, int]:
    """The quilt's block size for an (height, width) image, and its step: blocks overlap by a third."""
    block = int(np.clip(round(min(height, width) / 17), 4, 64))
    return block, block - _overlap(block)


def _overlap(block: int) -> int:
    """How far neighbouring quilt blocks overlap."""
    return max(block // 3, 1)


def _membrane_fill(image: np.ndarray, known: np.ndarray, *, cell: int) -> np.ndarray:
    """Smooth extension of the known values: a Laplace (membrane) fill at low resolution.

    Carries each border value outward (used for texture strength, where that is wanted).

    Parameters
    ----------
    image : (H, W, C) float32 ndarray
        Values (colours, texture energy), zero where unknown.
    known : (H, W) bool ndarray
    cell : int
        Low-resolution cell size in pixels: detail below it is left out.

    Returns
    -------
    (H, W, C) float32 ndarray
        The values extended everywhere.
    """
    colour, fixed = _low_resolution(image, known, cell)
    if not fixed.all():
        colour[~fixed] = _membrane_solve(colour, fixed)
    return _full_resolution(colour, known.shape)


def _structure_fill(image: np.ndarray, known: np.ndarray, *, cell: int, decay_px: float, guide: Guide | None = None) -> np.ndarray:
    """Colour layout of the ring: border colours that decay toward a smooth model of the background.

    A membrane fill carries every border colour to infinity: over a chain the dark and bright
    parts of the border become cones and beams radiating from the photo. Here the ring is
    b + a membrane fill of the border's offset from b, faded by a Gaussian of the distance to
    the known region (σ√2 = `decay_px`), with b the outer band's dominant colour: near the photo
    its sky stays above and its floor below, farther out the ring is background with no
    preferred direction. It does what a screened Poisson fill (Δ − k²)u = −k²·b does, but
    its fade starts flat: the screened fill's exponential leaves the border with a kink in
    the colour's slope, which shows as a line around the photo.

    Parameters
    ----------
    image : (H, W, 3) float32 ndarray
        Colours, zero where unknown.
    known : (H, W) bool ndarray
    cell : int
        Low-resolution cell size in pixels: detail below it belongs to the texture.
    decay_px : float
    guide : Guide, optional
        Padded like `image`: the border colours fade into its colours, blurred over
        `decay_px` (`_blurred_guide`), instead of into one colour.

    Returns
    -------
    (H, W, 3) float32 ndarray
    """
    colour, fixed = _robust_cells(image, known, cell)
    if fixed.all():
        return _full_resolution(colour, known.shape)
    background = _background_model(colour, fixed)
    if guide is not None:
        background = _blurred_guide(guide, cell, sigma_px=decay_px, fallback=background)
    offset = colour - background
    open_ring = _reaches_the_edge(~fixed)
    if open_ring.any():
        # a Gaussian fade is flat at the border: the ring leaves the border's colours without a kink
        offset[open_ring] = _membrane_solve(offset, ~open_ring)
        distance = cv2.distanceTransform((~fixed).astype(np.uint8), cv2.DIST_L2, 3)
        offset[open_ring] *= np.exp(-((distance[open_ring] * cell / decay_px) ** 2))[:, None]
    enclosed = ~fixed & ~open_ring
    if enclosed.any():
        # a band between known regions (a nest's) draws no rays: a thin plate spans it smoothly
        offset[enclosed] = _membrane_solve(offset, ~enclosed, order=2)
    return _full_resolution(background + offset, known.shape)


def _blurred_guide(guide: Guide, cell: int, *, sigma_px: float, fallback: np.ndarray) -> np.ndarray:
    """(h, w, C) the guide's colours per low-resolution cell, blurred by `sigma_px`, fading into `fallback` where it does not cover.

    The ring's own fill fades into these instead of the one background colour, so between
    the photo's border colours and the guide no third colour shows (a halo around the
    photo), and the guide's features, blurred over the fade's length, do not start at the
    border.
    """
    colour, fixed = _low_resolution(guide.image * guide.known[..., None], guide.known, cell)
    weight = fixed.astype(np.float64)
    sigma = max(sigma_px / cell, 0.5)
    total = cv2.GaussianBlur(colour * weight[..., None], (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    weight = cv2.GaussianBlur(weight, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)[..., None]
    return total + (1.0 - weight) * fallback  # the guide's coverage fades into the fallback over sigma


def _reaches_the_edge(region: np.ndarray) -> np.ndarray:
    """(h, w) bool: the pixels of `region` connected to the image's edge within it."""
    _, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=4)
    edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return region & np.isin(labels, edge_labels[edge_labels > 0])


def _low_resolution(image: np.ndarray, known: np.ndarray, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """(h, w, C) float64 mean known value per cell, and (h, w) bool cells that are at least half known.

    `known` may be float weights (0 to 1), with `image` already multiplied by them: the means
    are then weighted ones (and the second value is of no use).
    """
    height, width = known.shape
    size = (max(width // cell, 1), max(height // cell, 1))
    weight = cv2.resize(known.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    colour = cv2.resize(image, size, interpolation=cv2.INTER_AREA).reshape(*weight.shape, -1).astype(np.float64)
    colour /= np.maximum(weight, 1e-6)[..., None]
    return colour, weight >= min(0.5, weight.max())


def _robust_cells(image: np.ndarray, known: np.ndarray, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """`_low_resolution`, with each pixel weighted down by how far it lies from its cell's colour: the colour most of a cell has.

    A cell's plain mean is pulled by the few pixels of a sparse feature: a sky cell with a
    dark twig is darker than the sky, so the detail (image minus structure) holds the twig
    and a bright halo around it, and a star field's cells around a bright galaxy hold a
    dark hole. The quilt then scatters those halos and holes over the ring. One reweighting
    step, Cauchy's like `_dominant_colour`: 1 / (1 + (d / s)²), d a pixel's distance to the
    plain means' structure and s _ROBUST_SCALE times the median d over the known pixels.

    Parameters
    ----------
    image : (H, W, 3) float32 ndarray
        Colours, zero where unknown.
    known : (H, W) bool ndarray
    cell : int

    Returns
    -------
    colour : (h, w, 3) float64 ndarray
    fixed : (h, w) bool ndarray
        As `_low_resolution`'s: which cells are known does not change.
    """
    colour, fixed = _low_resolution(image, known, cell)
    distance = _squared_distance(image, _full_resolution(colour, known.shape))
    step = max(cell // 2, 1)  # the median from a subsample: a cell's worth of pixels each
    scale = _ROBUST_SCALE * max(float(np.sqrt(np.median(distance[::step, ::step][known[::step, ::step]]))), 1.0)
    weight = np.where(known, 1.0 / (1.0 + distance / scale**2), 0.0).astype(np.float32)
    return _low_resolution(image * weight[..., None], weight, cell)[0], fixed


def _squared_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W) float32 squared colour distance between two (H, W, 3) images."""
    difference = cv2.subtract(a, b, dtype=cv2.CV_32F)
    return cv2.transform(cv2.multiply(difference, difference), np.ones((1, 3), np.float32))


def _full_resolution(colour: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    height, width = shape
    return cv2.resize(colour.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC).reshape(height, width, -1)


def _background_model(colour: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """(C,) dominant colour of the outer band of the fixed cells: the known region's most likely background.

    The band is the fixed cells within _BAND_FRACTION of the known region's smaller side of
    a free cell. Its dominant colour is a robust mean (`_dominant_colour`), not the plain one:
    the plain mean of a sky with a few dark branches or lit towers in it is a grey found
    nowhere in the photo, and the ring fades from the sky into that grey, a soft rectangle
    around the photo (the rocket's dusk-blue sky turned grey-violet, the tower's blue sky grey).

    A constant, not a plane: a plane that keeps the band's slope saturates into a horizon
    through the photo within a few slots (ray index 2.4 on the coffee photo), and one that
    keeps 1/zoom of it meets the previous slot's at another level, which stacks up into a
    corridor of nested rectangles (ray index 1.3 on the camera photo).
    """
    ys, xs = np.nonzero(fixed)
    side = max(min(np.ptp(ys), np.ptp(xs)) + 1, 1)
    depth = cv2.distanceTransform(fixed.astype(np.uint8), cv2.DIST_L2, 3)
    band = fixed & (depth <= max(_BAND_FRACTION * side, 1.5))
    return _dominant_colour(colour[band])


def _dominant_colour(values: np.ndarray) -> np.ndarray:
    """(C,) the colour most of `values` (N, C) lie near: a mean whose weights fall off as Cauchy's with the distance to it.

    Starts from the per-channel median; each step weighs every value by 1 / (1 + (d / s)²),
    d its distance to the estimate and s the median of those distances. The minority
    colours (a subject's edge, lights) barely count, and the estimate settles in the
    majority's cluster instead of between clusters.
    """
    centre = np.median(values, axis=0)
    for _ in range(_DOMINANT_STEPS):
        distance = np.linalg.norm(values - centre, axis=1)
        weight = 1.0 / (1.0 + (distance / max(float(np.median(distance)), 1.0)) ** 2)
        centre = weight @ values / weight.sum()
    return centre


def _membrane_solve(values: np.ndarray, fixed: np.ndarray, *, order: int = 1) -> np.ndarray:
    """Values of the free cells solving Δᵒʳᵈᵉʳu = 0, u = `values` at the fixed cells (the image border is free).

    order 1 is the membrane (Laplace) fill; order 2 the thin plate (biharmonic), which also
    continues the fixed cells' slope, so a band between two known regions leaves neither
    with a kink.

    Parameters
    ----------
    values : (h, w, C) float64 ndarray
    fixed : (h, w) bool ndarray

    Returns
    -------
    (F, C) float64 ndarray
        Free cells in row-major order.
    """
    rows, cols = fixed.shape
    laplacian = _grid_laplacian(rows, cols)
    operator = (laplacian @ laplacian if order == 2 else laplacian).tocsr()
    free = ~fixed.ravel()
    rhs = -(operator[free][:, ~free] @ values.reshape(rows * cols, -1)[~free])
    return sparse.linalg.spsolve(operator[free][:, free].tocsc(), rhs).reshape(int(free.sum()), -1)


def _grid_laplacian(rows: int, cols: int) -> sparse.csr_matrix:
    """(rows·cols, rows·cols) graph Laplacian (degree − adjacency) of the 4-connected grid, row-major."""
    index = np.arange(rows * cols).reshape(rows, cols)
    pairs = [(index[:, :-1], index[:, 1:]), (index[:-1], index[1:])]
    a = np.concatenate([p[0].ravel() for p in pairs])
    b = np.concatenate([p[1].ravel() for p in pairs])
    adjacency = sparse.csr_matrix((np.ones(2 * a.size), (np.r_[a, b], np.r_[b, a])), shape=(rows * cols,) * 2)
    return (sparse.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency).tocsr()


def _smaller_side(known: np.ndarray) -> int:
    """The smaller side of the known region's bounding box, in pixels."""
    ys, xs = np.nonzero(known)
    return int(min(np.ptp(ys), np.ptp(xs))) + 1


def _zoom_of(known: np.ndarray) -> float:
    """The zoom a ring stands for: the image's width over the kept centre's (1 when it spans it).

    The kept centre is the run of known pixels through the middle row: in a nest's slot the
    photo around the blend band is known too, and the band meets the shrunk centre's texture.
    """
    height, width = known.shape
    middle = known[height // 2]
    if not middle.any():
        return 1.0
    unknown = np.flatnonzero(~middle)
    centre = width // 2 if middle[width // 2] else int(np.flatnonzero(middle)[0])
    left, right = unknown[unknown < centre], unknown[unknown > centre]
    run = (right[0] if right.size else width) - (left[-1] + 1 if left.size else 0)
    return width / max(run, 1)


def _reference_sources(reference: np.ndarray, zoom: float, block: int, *, cell: int) -> tuple[_BlockStats, list[np.ndarray]]:
    """Block statistics of a texture reference at _SCALE_LEVELS scales, and block corners per scale.

    The scales run from 1/zoom (the texture scale of the kept centre, for blocks next to it)
    to 1 (for the far edge), so the ring's texture grows from the centre's scale outward: at
    the next slot the far edge is shrunk to 1/zoom and meets the new ring's inner edge.

    Parameters
    ----------
    reference : (H, W, 3) uint8 ndarray
        The latest photo slot at full size: its outer band is background.
    zoom : float

    Returns
    -------
    _BlockStats, list of (N, 2) int ndarray
        `_block_stats` of the scales stacked top to bottom, (H', W) with H' their heights'
        sum, and per scale (finest first) the corners (y, x) in that stack of whole blocks
        centred in the scale's outer band.
    """
    height, width = reference.shape[:2]
    layers, sources, top = [], [], 0
    for level in range(_SCALE_LEVELS):
        scale = zoom ** (level / (_SCALE_LEVELS - 1) - 1)
        size = (max(round(width * scale), block + 1), max(round(height * scale), block + 1))
        image = cv2.resize(reference, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        h, w = image.shape[:2]
        structure = _full_resolution(_robust_cells(image, np.ones((h, w), bool), cell)[0], (h, w))
        band_px = _BAND_FRACTION * min(h, w)
        stride = max(block // 8, 1)
        ys, xs = np.mgrid[0 : h - block + 1 : stride, 0 : w - block + 1 : stride]
        cy, cx = ys + block / 2, xs + block / 2
        in_band = np.minimum(np.minimum(cy, h - cy), np.minimum(cx, w - cx)) <= band_px
        sources.append(np.stack([ys[in_band] + top, xs[in_band]], axis=1))
        layers.append((np.pad(image - structure, ((0, 0), (0, width - w), (0, 0))), np.pad(structure, ((0, 0), (0, width - w), (0, 0)))))
        top += h
    detail, structure = (np.concatenate([layer[i] for layer in layers]) for i in range(2))
    return _block_stats(detail, structure, block), sources


class _BlockStats(NamedTuple):
    """A texture source's detail layer and what the quilt asks of each block in it; maps hold each block's value at its top-left corner.

    Attributes
    ----------
    detail : (H, W, 3) float32 ndarray
    mean_structure : (H, W, 3) float32 ndarray
        The block's mean structure colour.
    energy : (H, W) float32 ndarray
        The block's mean detail power (mean square over the channels): its texture strength.
    log_energy : (H, W) float32 ndarray
        log(energy + _NOISE_FLOOR²).
    """

    detail: np.ndarray
    mean_structure: np.ndarray
    energy: np.ndarray
    log_energy: np.ndarray


def _block_stats(detail: np.ndarray, structure: np.ndarray, block: int) -> _BlockStats:
    """`_BlockStats` of (H, W, 3) detail and structure layers for (block, block) blocks."""
    box = (block, block)
    mean_structure = cv2.boxFilter(structure, -1, box, anchor=(0, 0), normalize=True, borderType=cv2.BORDER_REPLICATE)
    energy = cv2.boxFilter((detail**2).mean(2), -1, box, anchor=(0, 0), normalize=True, borderType=cv2.BORDER_REPLICATE)
    return _BlockStats(detail, mean_structure, energy, np.log(energy + _NOISE_FLOOR**2))


def _source_positions(known: np.ndarray, pad: int, block: int) -> tuple[np.ndarray | None, int]:
    """Top-left corners (padded frame) of whole known blocks centred in the outer band.

    Falls back to every known block when the band holds too few, then to smaller
    blocks. Returns (None, block) when not even a 4-pixel block fits.

    Parameters
    ----------
    known : (H, W) bool ndarray
    pad, block : int

    Returns
    -------
    (N, 2) int ndarray or None, int
        Source corners (y, x) and the block size they are valid for.
    """
    height, width = known.shape
    known_u8 = known.astype(np.uint8)
    depth = _depth_inside(known)
    ys, xs = np.nonzero(known)
    smaller_side = min(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
    band = known & (depth <= max(_BAND_FRACTION * smaller_side, 2.0))
    while block >= 4:
        whole = cv2.erode(known_u8, np.ones((block, block), np.uint8), anchor=(0, 0), borderValue=0)
        whole[height - block + 1 :, :] = 0
        whole[:, width - block + 1 :] = 0
        centre = np.zeros_like(band)
        half = block // 2
        centre[: height - half, : width - half] = band[half:, half:]
        for allowed in (whole.astype(bool) & centre, whole.astype(bool)):
            corners = np.argwhere(allowed)
            if len(corners) and len(corners) >= min(16, whole.sum()):
                return corners + pad, block
        block //= 2
    return None, block


class _Outside(NamedTuple):
    """A nest's photo around the band, as a texture source (`_outside_sources`); all in the padded frame.

    Attributes
    ----------
    corners : (N, 2) int ndarray
        Corners (y, x) of whole blocks of the photo's frame next to the band.
    valid : (H', W') bool ndarray
        True at those corners.
    frame : (H', W') bool ndarray
        The photo's frame: the known pixels connected to the image's edge.
    share : (H', W') float32 ndarray
        How far each pixel lies from the known centre toward the frame: the smoothstep of
        d_centre / (d_centre + d_frame), 0 on the centre and 1 on the frame.
    row, col : (H', W') int ndarray
        Each pixel's nearest frame pixel.
    """

    corners: np.ndarray
    valid: np.ndarray
    frame: np.ndarray
    share: np.ndarray
    row: np.ndarray
    col: np.ndarray


def _outside_sources(known: np.ndarray, frame: np.ndarray, pad: int, block: int) -> _Outside | None:
    """The known frame around a band (a nest's photo) as a texture source, and how near each pixel lies to it.

    Parameters
    ----------
    known : (H, W) bool ndarray
        A known centre and a frame, the band between them unknown.
    frame : (H, W) bool ndarray
        The known pixels connected to the image's edge (`_reaches_the_edge`).
    pad, block : int

    Returns
    -------
    _Outside, or None without both parts or when the frame holds no whole block.
    """
    centre = known & ~frame
    if not centre.any() or not frame.any():
        return None
    corners, found = _source_positions(frame, pad, block)
    if corners is None or found != block:
        return None
    frame = np.pad(frame, pad)
    to_frame, row, col = _nearest_known(frame)
    to_centre = cv2.distanceTransform((~np.pad(centre, pad)).astype(np.uint8), cv2.DIST_L2, 3)
    valid = np.zeros(to_frame.shape, bool)
    valid[corners[:, 0], corners[:, 1]] = True
    # smooth at both ends: the blocks next to the centre are the centre's texture, those next to the frame the photo's
    share = _way_across(to_centre, to_frame)
    return _Outside(corners, valid, frame, share, row, col)


def _quilt(
    detail: np.ndarray,
    structure: np.ndarray,
    known_pad: np.ndarray,
    mask: np.ndarray,
    pad: int,
    block: int,
    sources: np.ndarray,
    rng: np.random.Generator,
    source_layers: _BlockStats | None = None,
    gain: np.ndarray | None = None,
    outside: _Outside | None = None,
    *,
    fade_px: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill the detail layer of the ring with blocks of source detail.

    Parameters
    ----------
    detail : (H + 2 pad, W + 2 pad, 3) float32 ndarray
        Image minus structure, zero where unknown.
    structure : (H + 2 pad, W + 2 pad, 3) float32 ndarray
    known_pad : (H + 2 pad, W + 2 pad) bool ndarray
    mask : (H, W) bool ndarray
        True where to generate (unpadded frame).
    pad, block : int
    sources : list of (N, 2) int ndarray
        Allowed source corners, in the frame of `source_layers` when given; with several
        lists, blocks take list i/(n−1) of the way from the known region to the far edge.
    rng : numpy Generator
    source_layers : _BlockStats or None
        A separate texture reference's (`_reference_sources`); None: the image itself.
    gain : (H + 2 pad, W + 2 pad) float32 ndarray or None
        Factor on the source detail where it is placed (`_texture_gain`); None: 1.
    outside : _Outside or None
        With `source_layers`, a frame of the image itself (a nest's photo) that sources
        blocks too. The share of the way from the known centre to the frame sets the scale
        list (in place of the depth), the share of candidates drawn from the frame (near the
        block's nearest frame pixel, _LOCAL_BLOCKS, so the floor goes on below and the shelf
        above), and how far the expected strength has gone from the reference's typical one
        to the frame's own beside the band.
    fade_px : float
        The expected strength fades from the known region's beside the ring into the one
        the band's blocks of the ring's colour have (`_strength_by_colour`) by a Gaussian of
        the distance to the known region, σ√2 = `fade_px`, like the structure's colours.

    Returns
    -------
    residual : (H + 2 pad, W + 2 pad, 3) float32 ndarray
        Detail layer with the ring filled.
    seam_diff, seam_weight : (H + 2 pad, W + 2 pad, 3) and (H + 2 pad, W + 2 pad) float32
        Known minus synthesised detail where blocks overlapped known pixels, and where.
    """
    overlap = _overlap(block)
    step = block - overlap
    height, width = known_pad.shape
    gain = np.ones(known_pad.shape, np.float32) if gain is None else gain
    residual = detail.copy()
    filled = known_pad.copy()
    seam_diff = np.zeros_like(detail)
    seam_weight = np.zeros(known_pad.shape, np.float32)

    # block grid anchored at the known region's corner, so blocks next to it overlap it evenly
    ys, xs = np.nonzero(known_pad)
    y_grid = np.arange(ys.min() % step, height - block + 1, step)
    x_grid = np.arange(xs.min() % step, width - block + 1, step)
    mask_pad = np.pad(mask, pad, constant_values=False).astype(np.uint8)
    needs = cv2.integral(mask_pad)
    by, bx = np.meshgrid(y_grid, x_grid, indexing="ij")
    count = needs[by + block, bx + block] - needs[by, bx + block] - needs[by + block, bx] + needs[by, bx]
    by, bx = by[count > 0], bx[count > 0]
    distance = cv2.distanceTransform((~known_pad).astype(np.uint8), cv2.DIST_L2, 3)
    depth = distance[by + block // 2, bx + block // 2]
    order = np.argsort(depth, kind="stable")
    by, bx, depth = by[order], bx[order], depth[order]
    way = depth / max(depth.max(), 1e-6)
    from_outside = np.zeros(len(by), int)
    lists, below = len(sources), 0  # below: the row where a nest photo's blocks start in the source stack
    nest = outside is not None and source_layers is not None
    if nest:
        way = outside.share[by + block // 2, bx + block // 2]
        from_outside = np.rint(way * _CANDIDATES).astype(int)
        below = source_layers.detail.shape[0]
        sources = [*sources, outside.corners + (below, 0)]
    level = np.rint(way * (lists - 1)).astype(int)
    all_sources, sources = sources, np.concatenate(sources)
    touches_known = cv2.integral(known_pad.astype(np.uint8))
    touches_known = (
        touches_known[by + block, bx + block] - touches_known[by, bx + block] - touches_known[by + block, bx] + touches_known[by, bx]
    ) > 0

    # per-source costs that do not depend on the target: mean structure, texture strength
    box = (block, block)
    own_stats = _block_stats(detail, structure, block)
    mean_structure, energy = own_stats.mean_structure, own_stats.energy
    source_stats = own_stats if source_layers is None else source_layers
    source_detail, source_mean_structure, source_energy_map, log_energy = (
        source_stats.detail, source_stats.mean_structure, source_stats.energy, source_stats.log_energy
    )  # fmt: skip
    if nest:  # the frame's blocks are the image's own: read as if stacked under the reference's scales
        source_detail, source_mean_structure, source_energy_map, log_energy = (
            _Stacked(theirs, own)
            for theirs, own in (
                (source_detail, detail), (source_mean_structure, mean_structure), (source_energy_map, energy),
                (log_energy, own_stats.log_energy),
            )
        )  # fmt: skip
    source_energy = source_energy_map[sources[:, 0], sources[:, 1]]
    # texture strength the ring should have: next to the known region its strength there, fading
    # like the colours (`fade_px`) into the strength the band's blocks of the ring's colour have
    # (a sky's blocks are calmer than a band whose typical strength its branches set); never
    # above the band's typical strength: edges of objects in the band must not set the level
    in_frame = np.arange(len(sources)) >= sum(len(corners) for corners in all_sources[:lists])  # a nest's photo
    typical = np.median(source_energy[~in_frame])
    coverage = cv2.boxFilter(known_pad.astype(np.float32), -1, box, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    measured = coverage > 0.9
    # (a chain's known region is the last slot shrunk, as weak as the reference's finest scale,
    # which the blocks next to it draw from)
    local = _membrane_fill(np.where(measured, energy, 0.0)[..., None], measured, cell=max(block // 2, 1))[by, bx, 0]
    own = sources[~in_frame]
    by_colour = _strength_by_colour(
        mean_structure[by, bx], source_mean_structure[own[:, 0], own[:, 1]], log_energy[own[:, 0], own[:, 1]]
    )
    near = np.exp(-((depth / fade_px) ** 2))
    log_typical = np.log(typical + _NOISE_FLOOR**2)
    log_expected = np.full(known_pad.shape, log_typical, np.float32)
    log_expected[by, bx] = near * np.log(np.clip(local, 0.0, typical) + _NOISE_FLOOR**2) + (1.0 - near) * np.minimum(by_colour, log_typical)
    beside = None
    if nest:
        # toward a nest's photo, the strength the photo has beside the band: its frame's, a block
        # around the frame pixel nearest each pixel
        on_frame = outside.frame.astype(np.float32)
        beside = cv2.boxFilter((detail**2).mean(2) * on_frame, -1, box) / np.maximum(cv2.boxFilter(on_frame, -1, box), 1e-6)
        beside = beside[outside.row, outside.col]
        log_expected = (1.0 - outside.share) * log_expected + outside.share * np.log(beside + _NOISE_FLOOR**2)
    # distinctive sources (eyes, lights, object edges) cost more, up to never being picked; a
    # nest photo's own are judged per block, against its strength beside the band
    distinct = np.where(in_frame, 0.0, np.maximum(source_energy / max(2.0 * typical, 1e-6) - 1.0, 0.0))
    source_factor = np.zeros(source_energy_map.shape, np.float32)  # 0 = not a source
    source_factor[sources[:, 0], sources[:, 1]] = 1.0 + _DISTINCT_WEIGHT * distinct
    cell = max(block // 2, 1)
    src_h, src_w = source_factor.shape

    stride = max(block // 16, 1)
    half = block // 2
    grid_y, grid_x = np.mgrid[0:block:stride, 0:block:stride]
    neighbours = ((-step, 0), (step, 0), (0, -step), (0, step))

    def local_frame(y: int, x: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """`count` corners of frame blocks near block (y, x)'s nearest frame pixel, topped up from anywhere in the frame."""
        reach = _LOCAL_BLOCKS * block
        centre_y, centre_x = outside.row[y + half, x + half] - half, outside.col[y + half, x + half] - half
        ty = np.clip(centre_y + rng.integers(-reach, reach + 1, 4 * count), 0, height - 1)
        tx = np.clip(centre_x + rng.integers(-reach, reach + 1, 4 * count), 0, width - 1)
        keep = outside.valid[ty, tx]
        ty, tx = ty[keep][:count], tx[keep][:count]
        anywhere = outside.corners[rng.integers(0, len(outside.corners), count - len(ty))]
        return np.concatenate([ty, anywhere[:, 0]]), np.concatenate([tx, anywhere[:, 1]])

    def place(blocks: np.ndarray, rng: np.random.Generator, uses: np.ndarray, offsets: dict) -> None:
        for y, x, on_border, lvl, from_frame in blocks.tolist():
            # candidates: random draws (some from a nest's photo), plus continuing the source of each placed neighbour
            here_sources = all_sources[lvl]
            pick = rng.integers(0, len(here_sources), _CANDIDATES - from_frame)
            sy, sx = here_sources[pick, 0], here_sources[pick, 1]
            if from_frame:
                fy, fx = local_frame(y, x, from_frame, rng)
                sy, sx = np.concatenate([sy, fy + below]), np.concatenate([sx, fx])
            coherent = [(y + o[0], x + o[1]) for o in (offsets.get((y + dy, x + dx)) for dy, dx in neighbours) if o]
            coherent = [c for c in coherent if 0 <= c[0] < src_h and 0 <= c[1] < src_w and source_factor[c] > 0]
            if coherent:
                sy = np.concatenate([sy, [c[0] for c in coherent]])
                sx = np.concatenate([sx, [c[1] for c in coherent]])
            cost = ((source_mean_structure[sy, sx] - mean_structure[y, x]) ** 2).mean(1) / _COLOUR_SCALE**2
            cost += _ENERGY_WEIGHT * (log_energy[sy, sx] - log_expected[y, x]) ** 2
            here = filled[y + grid_y, x + grid_x]
            if here.any():
                # normalised so that a flat patch is no better than a textured one that does not match
                py, px = grid_y[here], grid_x[here]
                target = residual[y + py, x + px]
                patches = _gather(source_detail, sy[:, None] + py, sx[:, None] + px) * gain[y + py, x + px, None]
                mismatch = ((patches - target) ** 2).mean((1, 2))
                cost += mismatch / ((patches**2).mean((1, 2)) + (target**2).mean() + _NOISE_FLOOR**2)
            if from_frame:
                theirs = slice(_CANDIDATES - from_frame, _CANDIDATES)
                strength = source_energy_map[sy[theirs], sx[theirs]] / max(2.0 * beside[y, x], 1e-6)
                cost[theirs] *= 1.0 + _DISTINCT_WEIGHT * np.maximum(strength - 1.0, 0.0)
            cost *= source_factor[sy, sx] * (1.0 + _REUSE_WEIGHT * uses[sy // cell, sx // cell])
            cost[_CANDIDATES:] *= _COHERENCE_BONUS
            chosen = np.argpartition(cost, _PICK_AMONG)[rng.integers(_PICK_AMONG)]
            src_y, src_x = int(sy[chosen]), int(sx[chosen])
            uses[src_y // cell, src_x // cell] += 1.0
            offsets[y, x] = (src_y - y, src_x - x)
            # half the mean offset against the overlap: hides block edges, cannot drift far
            shift = 0.5 * (target - patches[chosen]).mean(0) if here.any() else 0.0

            # place: over generated pixels beyond the least-error cut through the overlap, plain over
            #        empty ones, never over known ones
            patch = source_detail[src_y : src_y + block, src_x : src_x + block] * gain[y : y + block, x : x + block, None] + shift
            window = residual[y : y + block, x : x + block]
            was_filled = filled[y : y + block, x : x + block]
            alpha = np.where(was_filled[..., None], _boundary_cut(window, patch, was_filled, overlap), 1.0)
            if on_border:
                on_known = known_pad[y : y + block, x : x + block]
                alpha[on_known] = 0.0
                seam_diff[y : y + block, x : x + block][on_known] += (window - patch)[on_known]
                seam_weight[y : y + block, x : x + block][on_known] += 1.0
            window += alpha * (patch - window)
            was_filled[:] = True

    # two threads fill the left and right block columns (they never overlap), then the middle one
    column = (bx - bx.min()) // step
    middle = column.max() // 2
    blocks = np.stack([by, bx, touches_known, level, from_outside], axis=1)
    parts = [blocks[column < middle], blocks[column > middle], blocks[column == middle]]
    rngs = rng.spawn(3)
    uses = [np.zeros((src_h // cell + 1, src_w // cell + 1), np.float32) for _ in range(2)]
    offsets: list[dict] = [{}, {}]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(place, parts[:2], rngs[:2], uses, offsets))
    place(parts[2], rngs[2], uses[0] + uses[1], {**offsets[0], **offsets[1]})
    return residual, seam_diff, seam_weight


def _strength_by_colour(colours: np.ndarray, source_colours: np.ndarray, source_log_energy: np.ndarray) -> np.ndarray:
    """The texture strength the sources of each block's colour have: a kernel regression over colour.

    Parameters
    ----------
    colours : (B, 3) float ndarray
        The blocks' mean structure colours.
    source_colours : (N, 3) float ndarray
        The sources' mean structure colours.
    source_log_energy : (N,) float ndarray
        The sources' log texture strength.

    Returns
    -------
    (B,) float ndarray
        The mean log strength of the sources weighted by exp(−d² / 2σ²), d the colour distance
        and σ _STRENGTH_COLOUR_SCALE, with _STRENGTH_PRIOR of the sources' weight on their
        median: a colour no source has takes the band's typical strength.
    """
    step = -(-len(source_colours) // _STRENGTH_SOURCES)  # an even subsample, enough for a smooth mean
    source_colours, source_log_energy = source_colours[::step].astype(np.float32), source_log_energy[::step]
    colours = colours.astype(np.float32)
    distance = (colours**2).sum(1)[:, None] + (source_colours**2).sum(1)[None] - 2.0 * colours @ source_colours.T
    weight = np.exp(-np.maximum(distance, 0.0) / (2.0 * _STRENGTH_COLOUR_SCALE**2))
    prior = _STRENGTH_PRIOR * len(source_colours)
    return (weight @ source_log_energy + prior * np.median(source_log_energy)) / (weight.sum(1) + prior)


def _boundary_cut(old: np.ndarray, new: np.ndarray, filled: np.ndarray, overlap: int) -> np.ndarray:
    """Where a block goes over what is placed: beyond the least-error cut through each overlap strip (Efros & Freeman's quilting).

    A feathered blend of two unrelated blocks halves the texture's variance midway across
    the overlap, and shows the features of both half-faded: a grid of calmer lines with
    ghosts in it. The cut instead keeps each pixel from one block, along the path where the
    two agree best, so a feature in the overlap stays whole on one side of it.

    Parameters
    ----------
    old, new : (B, B, 3) float32 ndarray
        What is there, and the block going over it.
    filled : (B, B) bool ndarray
        Where `old` holds something.
    overlap : int
        The strips' width along each side of the block.

    Returns
    -------
    (B, B, 1) float32 ndarray
        The share of `new`: 0 between a filled side's edge and its cut (the block's own edge
        always), 1 beyond the cut and on empty pixels, softened over a pixel.
    """
    size = old.shape[0]
    error = _squared_distance(new, old)
    error[~filled] = 0.0
    share = np.ones((size, size), np.float32)
    # each side's strip as (size, overlap) views, column 0 on the block's edge: left, right, top, bottom
    views = [lambda a: a[:, :overlap], lambda a: a[:, ::-1][:, :overlap], lambda a: a[:overlap].T, lambda a: a[::-1][:overlap].T]
    sides = [view for view in views if view(filled).any()]
    if not sides:
        return share[..., None]
    group = max(size // 16, 1)  # rows cut together, so the cut costs the same for any block size (16 rows)
    rows = -(-size // group)
    strips = np.zeros((rows * group, len(sides), overlap), np.float32)
    for k, view in enumerate(sides):
        strips[:size, k] = view(error)
    totals = strips.reshape(rows, group, len(sides), overlap).sum(1) if group > 1 else strips
    totals[:, :, 0] += totals.max() + 1.0  # the block's own edge stays the old content's
    kernel = np.ones((1, 3), np.uint8)
    for row in range(1, rows):
        totals[row] += cv2.erode(totals[row - 1], kernel, borderType=cv2.BORDER_REPLICATE)
    cost = totals.tolist()
    cut = np.empty((len(sides), rows), np.int64)
    for k in range(len(sides)):
        line = cost[-1][k]
        column = line.index(min(line))
        cut[k, -1] = column
        for row in range(rows - 2, -1, -1):
            line, best = cost[row][k], column
            if column > 0 and line[column - 1] < line[best]:
                best = column - 1
            if column + 1 < overlap and line[column + 1] < line[best]:
                best = column + 1
            cut[k, row] = column = best
    beyond = np.arange(overlap) >= (np.repeat(cut, group, axis=1)[:, :size] if group > 1 else cut)[..., None]
    for view, mask in zip(sides, beyond):
        np.minimum(view(share), mask, out=view(share))
    share[~filled] = 1.0  # an empty pixel takes the new block whichever side of a cut it lies
    return cv2.blur(share, (3, 3), borderType=cv2.BORDER_REPLICATE)[..., None]  # a cut softened over a pixel: no stair steps


def _gather(array: np.ndarray | _Stacked, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """array[rows, cols] for integer index arrays: as one take along the flattened rows and columns, a few times faster."""
    if isinstance(array, _Stacked) or not array.flags.c_contiguous:
        return array[rows, cols]
    return np.take(array.reshape(-1, *array.shape[2:]), rows * array.shape[1] + cols, axis=0)


class _Stacked:
    """Two arrays read as one, `bottom` under `top` (which may be narrower), without copying them.

    Indexed like an ndarray by (rows, columns) integer arrays, or by one block's (slice,
    slice) that lies within one of the two.
    """

    def __init__(self, top: np.ndarray, bottom: np.ndarray) -> None:
        self.top, self.bottom, self.split = top, bottom, top.shape[0]
        self.shape = (top.shape[0] + bottom.shape[0], *bottom.shape[1:])

    def __getitem__(self, index: tuple) -> np.ndarray:
        rows, cols = index
        if isinstance(rows, slice):
            part, first = (self.top, 0) if rows.start < self.split else (self.bottom, self.split)
            return part[rows.start - first : rows.stop - first, cols]
        rows, cols = np.broadcast_arrays(rows, cols)
        lower = rows >= self.split
        out = np.empty(rows.shape + self.bottom.shape[2:], self.bottom.dtype)
        out[~lower] = self.top[rows[~lower], cols[~lower]]
        out[lower] = self.bottom[rows[lower] - self.split, cols[lower]]
        return out


def _texture_gain(
    shape: tuple[int, int],
    pad: int,
    *,
    seed: int,
    slot: int,
    zoom: float,
    after_photo: bool,
    distance: np.ndarray,
    fade_px: float,
) -> np.ndarray:
    """Factor on the ring's texture strength: exp(_VARIETY × a smooth field fixed in the chain's world).

    One texture all over is what a viewer reads as a carpet; real surroundings mix calm and
    busy parts. The field is multi-scale noise fixed to the chain's world (`_world_noise`),
    so what one slot paints, the next slot's ring goes on with at the same places. Next to
    the known region the ring takes the field the known region was made with (none at all
    next to a photo, whose texture is its own), fading to this slot's own over `fade_px`:
    the two differ only in which octaves are fine or coarse enough to show.

    Parameters
    ----------
    shape : (H, W)
        The slot.
    pad : int
    seed : int
        The chain's seed: the same for every slot.
    slot : int
    zoom : float
        The zoom from one slot to the next.
    after_photo : bool
        Whether the known region is a photo (the previous slot was one).
    distance : (H + 2 pad, W + 2 pad) float32 ndarray
        Distance to the nearest known pixel.
    fade_px : float

    Returns
    -------
    (H + 2 pad, W + 2 pad) float32 ndarray
    """
    own = _world_noise(shape, pad, seed=seed, slot=slot, zoom=zoom, seen_at=slot)
    grid = own.shape[::-1]
    near = np.exp(-((cv2.resize(distance, grid, interpolation=cv2.INTER_AREA) / fade_px) ** 2))
    if after_photo:
        field, variance = own * (1.0 - near), (1.0 - near) ** 2
    else:
        field, variance = own + (_world_noise(shape, pad, seed=seed, slot=slot, zoom=zoom, seen_at=slot - 1) - own) * near, 1.0
    # log-normal with mean 1: the ring's mean strength stays the one the quilting matched
    log_gain = (_VARIETY * field - _VARIETY**2 / 2 * variance).astype(np.float32)
    return np.exp(cv2.resize(log_gain, distance.shape[::-1], interpolation=cv2.INTER_CUBIC))


def _world_noise(shape: tuple[int, int], pad: int, *, seed: int, slot: int, zoom: float, seen_at: int) -> np.ndarray:
    """Smooth multi-scale noise fixed to the chain's world, on slot `slot`'s padded frame, with the octaves slot `seen_at` shows.

    World coordinates are slot 0's, in units of its short side, centred: slot k shows them
    zoom^k times larger. Octave j is value noise on a lattice of spacing _VARIETY_UNIT × 2^j,
    its values hashed from (seed, j, lattice point), so every slot sees the same values at the
    same world places. A slot shows the octaves whose spacing on it lies between
    _VARIETY_FINEST_PX and half its short side, each tapering over one octave beyond.

    Returns
    -------
    (h, w) float32 ndarray
        About unit std, on a grid of cells half _VARIETY_FINEST_PX wide that spans the padded
        frame: enlarged to (H + 2 pad, W + 2 pad), each value lands in place.
    """
    height, width = shape
    short = min(height, width)
    # cell centres of a grid that spans the padded frame exactly, so enlarging it puts each value back in place;
    # its cells are half the finest features, and finer octaves (seen from an earlier slot) would only alias
    step = _VARIETY_FINEST_PX / 2
    cells = [max(round((side + 2 * pad) / step), 2) for side in (width, height)]
    columns, rows = ((np.arange(n) + 0.5) * (side + 2 * pad) / n - pad for n, side in zip(cells, (width, height)))
    world = zoom**slot / short
    u, v = (columns - width / 2) * world, (rows - height / 2) * world
    # octave j's lattice spacing in pixels is 2^(j − first) × finest/2 on slot `seen_at`; its level,
    # log2(spacing / finest), is 0 at the finest shown and `top` at the coarsest
    first = int(np.floor(np.log2(_VARIETY_FINEST_PX / 2 / (_VARIETY_UNIT * short / zoom**seen_at))))
    top = np.log2(short / 2 / _VARIETY_FINEST_PX)
    total = np.zeros((rows.size, columns.size), np.float32)
    weights = 0.0
    for octave in range(first, first + int(top) + 4):
        spacing = _VARIETY_UNIT * 2**octave
        level = np.log2(spacing * short / zoom**seen_at / _VARIETY_FINEST_PX)
        weight = float(np.clip(level + 1, 0, 1) * np.clip(top + 1 - level, 0, 1))
        if weight <= 0 or spacing * short / zoom**slot < step:
            continue
        weight = _smoothstep(weight)
        lx, ly = u / spacing, v / spacing
        x0, y0 = int(np.floor(lx[0])) - 2, int(np.floor(ly[0])) - 2
        ix = np.arange(x0, int(np.ceil(lx[-1])) + 3)
        iy = np.arange(y0, int(np.ceil(ly[-1])) + 3)
        values = _lattice_normal(seed, octave, ix[None, :], iy[:, None])
        map_x, map_y = np.meshgrid((lx - x0).astype(np.float32), (ly - y0).astype(np.float32))
        total += weight * cv2.remap(values, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        weights += weight * weight
    return total / (_CUBIC_STD * np.sqrt(max(weights, 1e-12)))


def _lattice_normal(seed: int, octave: int, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """Standard normal values fixed to lattice points: a counter-based hash (splitmix64) of (seed, octave, ix, iy), float32."""
    with np.errstate(over="ignore"):
        h = np.full(np.broadcast(ix, iy).shape, np.uint64(seed & _UINT64), np.uint64)
        for part in (np.uint64(octave & _UINT64), ix.astype(np.int64).astype(np.uint64), iy.astype(np.int64).astype(np.uint64)):
            h = _splitmix64(h ^ part)
    uniform = ((h >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
    return special.ndtri(uniform).astype(np.float32)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """One splitmix64 step: a bijection of uint64 whose every output bit depends on every input bit."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _seam_correction(
    seam_diff: np.ndarray, seam_weight: np.ndarray, distance: np.ndarray, *, falloff_px: float, flat_start: bool = False
) -> np.ndarray:
    """Known-minus-synthesis mismatch along the known border, carried into the ring (gradient-domain blend).

    The mismatch is interpolated by pull-push (a pyramid of normalised averages): next to
    the border the correction equals the mismatch pixel for pixel, so the ring continues
    the known pixels without a step, and farther out only its coarser scales remain, as in
    a membrane (Poisson) blend. It fades out over `falloff_px` from the known region:
    exponentially, or with `flat_start` as a Gaussian, exp(−(d / falloff)²), whose slope is
    zero at the border. The exponential's slope is steepest there: where the mismatch is
    large (a lit platform or a bud cut by the photo's edge), the correction's own ramp over
    the first pixels reads as a line along the photo.

    Parameters
    ----------
    seam_diff : (H, W, 3) float32 ndarray
        Summed known-minus-synthesis differences where blocks overlapped known pixels.
    seam_weight : (H, W) float32 ndarray
        How many differences each pixel summed.
    distance : (H, W) float32 ndarray
        Distance to the nearest known pixel.

    Returns
    -------
    (H, W, 3) float32 ndarray
        Correction to add to the detail layer (known pixels are pasted back anyway).
    """
    correction = _pull_push(seam_diff, seam_weight)
    fade = np.exp(-((distance / falloff_px) ** 2)) if flat_start else np.exp(-distance / falloff_px)
    return correction * fade[..., None]


def _go_over_into(
    guide: Guide, structure: np.ndarray, residual: np.ndarray, distance: np.ndarray, pad: int, *, cell: int, feather_px: float
) -> tuple[np.ndarray, np.ndarray]:
    """The ring's layers faded into the guide's, from none at the known region to all at the image's edge.

    The share is the smoothstep of d_known / (d_known + d_edge): flat at the known border, so
    the ring leaves the photo as it would without a guide, and 1 at the image's edge. The
    structure goes over into the guide's colours, and the chain's detail into its own grey
    (its colours, another scene's, would fleck the photo's: the coffee's red grain on a blue
    sky); one slot before the photo the detail goes over into the guide's too, so the ring's
    edge is the photo itself. Where the guide does not
    cover, the ring stays its own, the share feathering out over `feather_px` inside the guide.

    Parameters
    ----------
    guide : Guide
        Padded like the slot, its image float32.
    structure, residual : (H', W', 3) float32 ndarray
        The ring's colour layout and detail (padded frame: `pad` on each side).
    distance : (H', W') float32 ndarray
        Distance to the nearest known pixel.

    Returns
    -------
    structure, residual : (H', W', 3) float32 ndarray
    """
    rows, cols = (np.arange(n, dtype=np.float32) - pad for n in distance.shape)
    to_edge = np.minimum.outer(np.minimum(rows, rows[-1] - pad - rows), np.minimum(cols, cols[-1] - pad - cols))
    share = _way_across(distance, np.maximum(to_edge, 0))
    # where the photo does not cover (fit 'contain'), the fade feathers out instead of ending in a line
    share = (share * _smoothstep(np.clip(_depth_inside(guide.known) / feather_px, 0.0, 1.0)))[..., None]
    colours = _membrane_fill(guide.image * guide.known[..., None], guide.known, cell=cell)
    structure = structure + share * (colours - structure)
    # the chain's detail keeps its light and shade but drops its colours, which are another scene's
    residual = residual + share * (residual.mean(axis=2, keepdims=True) - residual)
    if guide.slots_before == 1:
        residual = residual + share * (guide.image - colours - residual)
    return structure, residual


def _nearest_known(known: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pixel's distance to the nearest known pixel, and that pixel's row and column.

    Returns
    -------
    distance : (H, W) float32 ndarray
        0 on known pixels.
    row, col : (H, W) int ndarray
    """
    distance, labels = cv2.distanceTransformWithLabels(
        (~known).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    # labels number the known pixels in scan order
    known_y, known_x = np.nonzero(known)
    return distance, known_y[labels - 1], known_x[labels - 1]


def _border_match(
    out: np.ndarray, image: np.ndarray, nearest: tuple[np.ndarray, np.ndarray, np.ndarray], *, falloff_px: float
) -> np.ndarray:
    """Correction that makes the ring start at the colour of the known pixel next to it (gradient-domain blend).

    The structure layer is coarse, so where an object meets the border (a dark helmet, a
    lit platform) the ring's first pixels take the cell's mean colour: a line around the
    photo. The mismatch between each ring pixel touching the known region and its known
    neighbour is interpolated by pull-push: exact at the border, only its coarser scales
    farther out, fading over `falloff_px` as a Gaussian, which leaves the border flat.

    Parameters
    ----------
    out : (H, W, 3) float32 ndarray
        Composed ring.
    image : (H, W, 3) float32 ndarray
        Known colours.
    nearest : `_nearest_known` of the known region

    Returns
    -------
    (H, W, 3) float32 ndarray
        Correction to add (known pixels are pasted back anyway).
    """
    distance, row, col = nearest
    py, px = np.nonzero((distance > 0) & (distance <= 1.0))  # the ring's pixels touching the known region
    total = np.zeros_like(out)
    weight = np.zeros(distance.shape, np.float32)
    total[py, px] = image[row[py, px], col[py, px]] - out[py, px]
    weight[py, px] = 1.0
    return _seam_correction(total, weight, distance, falloff_px=falloff_px, flat_start=True)


def _mirror_feather(
    residual: np.ndarray,
    detail: np.ndarray,
    known: np.ndarray,
    nearest: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    width_px: float,
) -> np.ndarray:
    """The ring's detail next to the known region faded from the known detail mirrored across the border.

    A step between the known texture and a synthesised one shows as a line however well their
    colours are matched; the mirror image of the last few known pixels continues the texture
    with no step, and a few pixels are too few to repeat anything recognisable.

    Parameters
    ----------
    residual : (H, W, 3) float32 ndarray
        Detail layer with the ring filled.
    detail : (H, W, 3) float32 ndarray
        Known detail, zero elsewhere.
    known : (H, W) bool ndarray
    nearest : `_nearest_known` of `known`

    Returns
    -------
    (H, W, 3) float32 ndarray
    """
    distance, row, col = nearest
    near = ~known & (distance < width_px)
    if not near.any():
        return residual
    # the nearest known pixel q of each ring pixel p
    py, px = np.nonzero(near)
    qy, qx = row[py, px], col[py, px]
    height, width = known.shape
    my, mx = np.clip(2 * qy - py, 0, height - 1), np.clip(2 * qx - px, 0, width - 1)
    inside = known[my, mx]
    my, mx = np.where(inside, my, qy), np.where(inside, mx, qx)
    ramp = np.clip(1.0 - (distance[py, px] - 0.5) / width_px, 0.0, 1.0)
    weight = _smoothstep(ramp)[:, None]
    # texture, not features: a light or an edge at the border is not mirrored at full strength
    mirrored = detail[my, mx]
    strength = np.linalg.norm(mirrored, axis=1, keepdims=True)
    limit = _MIRROR_LIMIT * np.median(np.linalg.norm(detail[qy, qx], axis=1)) + _NOISE_FLOOR
    mirrored *= np.minimum(1.0, limit / np.maximum(strength, 1e-6))
    out = residual.copy()
    out[py, px] = weight * mirrored + (1.0 - weight) * residual[py, px]
    return out


def _depth_inside(region: np.ndarray) -> np.ndarray:
    """(H, W) float32 distance of each pixel of `region` to the nearest pixel outside it (the image's edge does not count)."""
    return cv2.distanceTransform(np.pad(region.astype(np.uint8), 1, constant_values=1), cv2.DIST_L2, 3)[1:-1, 1:-1]


def _way_across(near: np.ndarray, far: np.ndarray) -> np.ndarray:
    """How far each pixel lies across from one side to the other: the smoothstep of near / (near + far), flat at both ends.

    `near` and `far` are each pixel's distances to the two sides: 0 on the first, 1 on the second.
    """
    return _smoothstep(np.clip(near / np.maximum(near + far, 1e-6), 0.0, 1.0))


def _smoothstep(t: np.ndarray) -> np.ndarray:
    """3t² − 2t³: from 0 to 1 over t in [0, 1] with a flat start and end (t already clipped)."""
    return t * t * (3.0 - 2.0 * t)


def _pull_push(total: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Smooth interpolation of sparse samples: value total/weight where weight ≥ 1, pyramid fill elsewhere.

    Parameters
    ----------
    total : (H, W, C) float32 ndarray
        Sums of samples.
    weight : (H, W) float32 ndarray
        Number of samples summed per pixel.

    Returns
    -------
    (H, W, C) float32 ndarray
    """
    height, width = weight.shape
    if min(height, width) < 2 or weight.max() <= 0:
        return np.zeros_like(total)
    # pull: sums over 2x2 cells, level by level (INTER_AREA averages, so 4x)
    smaller_total = cv2.resize(total, ((width + 1) // 2, (height + 1) // 2), interpolation=cv2.INTER_AREA) * 4
    smaller_weight = cv2.resize(weight, ((width + 1) // 2, (height + 1) // 2), interpolation=cv2.INTER_AREA) * 4
    coarse = _pull_push(smaller_total.reshape(*smaller_weight.shape, -1), smaller_weight)
    # push: the coarse estimate where this level has less than one sample
    estimate = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR).reshape(total.shape)
    alpha = np.minimum(weight, 1.0)[..., None]
    return alpha * total / np.maximum(weight, 1e-6)[..., None] + (1 - alpha) * estimate
