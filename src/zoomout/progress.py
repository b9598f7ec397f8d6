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
    stage : "chain" or "render"
    done, total : int
        Slots made (chain) or frames encoded (render) so far, out of `total`.
    slot_image : (H, W, 3) uint8 ndarray or None
        In the chain stage, the slot just made.
    """

    stage: Literal["chain", "render"]
    done: int
    total: int
    slot_image: np.ndarray | None = None


# A callback may raise to cancel the job: nothing is written and the exception propagates.
ProgressCallback = Callable[[ProgressEvent], None]
