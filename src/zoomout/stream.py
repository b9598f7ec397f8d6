"""Outpainting and rendering at once: each slot goes to the renderer as soon as it is made.

The frames that zoom from slot k−1 to slot k need only slots ≤ k, so they are rendered and
encoded while the engine outpaints slot k+1. The engine runs in a worker thread (torch,
onnxruntime and OpenCV release the GIL while they work); the caller's thread renders, and
every frame first takes the slots it needs (`top_slot` of its zoom position) from the
worker, waiting only when they are not made yet. A montage's chains arrive in turn; a nest
or a loop waits only for the slots its frames draw.

The frames are the same, bit for bit, as when every slot exists before the first frame: a
frame is drawn from the same slots by the same renderer, whenever they arrived.

Progress events from the worker (one per slot) are handed to the caller's callback on the
caller's thread, between frames, so the chain's and the render's bars move together and a
callback that raises (to cancel) stops both stages.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

import numpy as np

from .chain import SlotStack
from .progress import ProgressCallback, ProgressEvent
from .render import I420ZoomRenderer, top_slot

Outpainted = tuple[list[SlotStack], list[str]]  # the chains and notes on what was reused or adapted


class SlotSource(Protocol):
    """Slots in the order they are made: chain 0's slots 0..N, then chain 1's, …"""

    def take(self, block: bool) -> ProgressEvent | None:
        """The next slot's "chain" event (its `part` and `slot_image` set).

        None once every slot has been taken, or when `block` is False and no slot is ready.
        """

    def result(self) -> Outpainted:
        """The chains and the notes, once every slot has been taken."""


class MadeSlots:
    """Chains already made (e.g. to render them again), handed over slot by slot."""

    def __init__(self, stacks: list[SlotStack], notes: list[str] | None = None) -> None:
        self._stacks, self._notes = stacks, notes or []
        total = sum(len(stack.images) - 1 for stack in stacks)  # outpainted slots: each chain's photo is not counted
        events, before = [], 0
        for part, stack in enumerate(stacks):
            events += [ProgressEvent("chain", before + k, total, image, part=part) for k, image in enumerate(stack.images)]
            before += len(stack.images) - 1
        self._events = iter(events)

    def take(self, block: bool) -> ProgressEvent | None:
        return next(self._events, None)

    def result(self) -> Outpainted:
        return self._stacks, self._notes


@dataclass(frozen=True)
class _Finished:
    outpainted: Outpainted
    seconds: float


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class _Stopped(Exception):
    """Raised in the worker at its next slot once the caller has stopped the work."""


class Outpainting:
    """Runs `work(progress)` (outpainting every chain, reporting each slot) in a worker thread.

    Use it as a context manager: leaving the block by an exception (an error, a cancel, Ctrl-C)
    stops the worker after the slot it is making (that slot is cached, so a new run resumes
    from it) and waits for it, so that no engine keeps running behind a finished call.
    """

    def __init__(self, work: Callable[[ProgressCallback], Outpainted]) -> None:
        self._work = work
        self._queue: queue.SimpleQueue[ProgressEvent | _Finished | _Failed] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._finished: _Finished | None = None
        # a daemon: a second Ctrl-C while waiting for the engine's slot ends the process
        self._thread = threading.Thread(target=self._run, name="zoomout-outpaint", daemon=True)

    @property
    def seconds(self) -> float:
        """Wall seconds the worker took (once `result()` has returned)."""
        return self._finished.seconds if self._finished else 0.0

    def _run(self) -> None:
        start = time.perf_counter()
        try:
            outpainted = self._work(self._made)
        except _Stopped:
            return
        except BaseException as error:  # handed to the caller's thread
            self._queue.put(_Failed(error))
        else:
            self._queue.put(_Finished(outpainted, time.perf_counter() - start))

    def _made(self, event: ProgressEvent) -> None:
        if self._stop.is_set():
            raise _Stopped
        self._queue.put(event)

    def take(self, block: bool) -> ProgressEvent | None:
        if self._finished is not None:
            return None
        try:
            item = self._queue.get(block=block)
        except queue.Empty:
            return None
        if isinstance(item, _Failed):
            raise item.error
        if isinstance(item, _Finished):
            self._finished = item
            return None
        return item

    def result(self) -> Outpainted:
        if self._finished is None:
            raise RuntimeError("the outpainting has not finished: take every slot first")
        return self._finished.outpainted

    def __enter__(self) -> Outpainting:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()


class SlotFeed:
    """The renderers of a run's chains, fed from a `SlotSource` as their frames need slots.

    Parameters
    ----------
    source : SlotSource
    slots : list of int
        Slots of each chain beyond its photo (the plan's segments' `slots`).
    zoom_per_slot : float
    output_size : (width, height)
    progress : ProgressCallback or None
        Gets each slot's "chain" event, on this thread, when the feed takes the slot.
    """

    def __init__(
        self,
        source: SlotSource,
        slots: list[int],
        zoom_per_slot: float,
        output_size: tuple[int, int],
        progress: ProgressCallback | None = None,
    ) -> None:
        self.source, self.progress = source, progress
        self.renderers = [StreamedRenderer(self, part, count, zoom_per_slot, output_size) for part, count in enumerate(slots)]

    def need(self, part: int, slot: int) -> None:
        """Take slots from the source, waiting for them, until chain `part` has slot `slot`."""
        while self.renderers[part].made <= slot:
            event = self.source.take(block=True)
            if event is None:
                raise RuntimeError(f"chain {part} ended before slot {slot}")
            self._deliver(event)

    def poll(self) -> None:
        """Take every slot already made, without waiting (keeps the chain's progress current)."""
        while (event := self.source.take(block=False)) is not None:
            self._deliver(event)

    def finish(self) -> None:
        """Take the slots no frame needed, if any, until the source has made every slot."""
        while (event := self.source.take(block=True)) is not None:
            self._deliver(event)

    def _deliver(self, event: ProgressEvent) -> None:
        assert event.slot_image is not None
        self.renderers[event.part].add(event.slot_image)
        if self.progress:
            self.progress(event)


class StreamedRenderer:
    """An `I420ZoomRenderer` of one chain whose slots arrive one by one: `render(z)` first takes what z needs."""

    def __init__(
        self, feed: SlotFeed, part: int, slots: int, zoom_per_slot: float, output_size: tuple[int, int]
    ) -> None:
        self.feed, self.part, self.deepest = feed, part, slots
        self.zoom_per_slot, self.output_size = zoom_per_slot, output_size
        self._renderer: I420ZoomRenderer | None = None

    @property
    def made(self) -> int:
        """Slots taken so far."""
        return 0 if self._renderer is None else self._renderer.deepest + 1

    def add(self, slot: np.ndarray) -> None:
        if self._renderer is None:
            self._renderer = I420ZoomRenderer([slot], self.zoom_per_slot, self.output_size)
        else:
            self._renderer.append(slot)

    def render(self, z: float) -> np.ndarray:
        """(out_h·3/2, out_w) uint8 I420 frame at zoom position z, once the slots it draws exist."""
        self.feed.need(self.part, top_slot(z, self.deepest))
        assert self._renderer is not None
        return self._renderer.render(z)

    def white_frame(self) -> np.ndarray:
        self.feed.need(self.part, 0)
        assert self._renderer is not None
        return self._renderer.white_frame()
