"""Frames of the whole video: the segments' zooms, the transitions between them, the loop seam.

Everything here is a function of the plan's per-frame (chain, z) and the renderers; nothing
special-cases a direction or an easing.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from .plan import Plan
from .render import I420ZoomRenderer, ZoomRenderer

FLASH_S = 0.25  # a white flash on a cut fades out over this long
FADE_S = 0.5  # a fade crossfades the end of one part into the next over at most this long


LOOP_BLEND_SLOTS = 0.5  # the loop's seam blends its two sides over this much of the last slot


def loop_weight(z: float, slots: int) -> float:
    """Share of the loop's other side in a frame at z: 0 until LOOP_BLEND_SLOTS before z = slots, then eased to 1."""
    u = min(max((z - slots) / LOOP_BLEND_SLOTS + 1.0, 0.0), 1.0)
    return u * u * (3 - 2 * u)


def iter_video_frames(plan: Plan, renderers: list[ZoomRenderer] | list[I420ZoomRenderer]) -> Iterator[np.ndarray]:
    """Frames of `plan`, one at a time, in the renderers' format ((H, W, 3) RGB or I420).

    With `plan.loop`, the outermost slot of the part at the seam crossfades into the other
    side's photo magnified by the same zoom (`z − N` in that chain: both move at the same
    speed), so the frame at the seam is exactly the frame on the other side of it. The chain
    closes on itself (its last slot's outside is that photo), so the two sides differ only in
    the last slot's centre, and the blend is short.
    """
    chains, zooms = plan.frame_views()
    seam_chain = {"out": chains[-1], "in": chains[0]}.get(plan.direction)
    other_chain = {"out": chains[0], "in": chains[-1]}.get(plan.direction)
    cut_frames = [segment.start_frame for segment in plan.segments[1:]]
    incoming: dict[int, np.ndarray] = {}  # a fade's target, the first frame after its cut: rendered once
    fade_frames = min(round(FADE_S * plan.fps), round(plan.hold_end_s * plan.fps)) if plan.transition == "fade" else 0
    looks = []  # everything each frame is a function of
    for i, (chain, z) in enumerate(zip(chains, zooms)):
        loop = loop_weight(float(z), renderers[chain].deepest) if plan.loop and chain == seam_chain else 0.0
        flash = [0.85 * (1 - (i - cut) / (FLASH_S * plan.fps)) for cut in cut_frames
                 if plan.transition == "flash" and 0 <= i - cut < FLASH_S * plan.fps]  # fmt: skip
        fade = [(cut, 1 - (cut - i) / (fade_frames + 1)) for cut in cut_frames if fade_frames and 0 < cut - i <= fade_frames]
        looks.append((int(chain), float(z), loop, tuple(flash), tuple(fade)))
    kept: np.ndarray | None = None  # a frame the next one repeats (a hold): rendered once
    for i, (chain, z, loop, flash, fade) in enumerate(looks):
        if kept is not None:  # this frame repeats the one before
            frame = kept
        else:
            renderer = renderers[chain]
            frame = renderer.render(z)
            if loop > 0:
                other = renderers[other_chain].render(z - renderer.deepest)
                frame = cv2.addWeighted(frame, 1 - loop, other, loop, 0.0)
            for strength in flash:
                frame = cv2.addWeighted(frame, 1 - strength, renderer.white_frame(), strength, 0.0)
            for cut, weight in fade:
                if cut not in incoming:
                    incoming[cut] = renderers[chains[cut]].render(float(zooms[cut]))
                frame = cv2.addWeighted(frame, 1 - weight, incoming[cut], weight, 0.0)
        # the caller may draw on (label) or keep the frame it is given: a repeat gets its own copy
        kept = frame.copy() if i + 1 < len(looks) and looks[i + 1] == looks[i] else None
        yield frame
