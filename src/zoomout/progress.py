"""Progress reports from the long stages, for the CLI's bars and the web UI's gallery."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a stage.

    Attributes
    ----------
    stage : "ready", "chain" or "render"
        "ready" comes once, when every check has passed, before the model loads.
    done, total : int
        Slots outpainted (chain; a montage's chains together, the photos' slots 0 not counted)
        or frames encoded (render) so far, out of `total`.
    slot_image : (H, W, 3) uint8 ndarray or None
        In the chain stage, the slot just made (a photo's slot 0 comes with the count unchanged).
    notes : tuple of str
        With "ready": what the user should know before the work starts (which engine auto chose).
    part : int
        In the chain stage, the chain the slot belongs to (a montage's part, from 0).
    """

    stage: Literal["ready", "chain", "render"]
    done: int
    total: int
    slot_image: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    part: int = 0


STAGE_LABELS = {"chain": "outpainting slots", "render": "rendering frames"}  # how front ends name the stages

# A callback may raise to cancel the job: nothing is written and the exception propagates.
ProgressCallback = Callable[[ProgressEvent], None]
