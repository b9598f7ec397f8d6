"""A job's slots on their way from its outpaint worker to its render task, as they are made.

The worker streams each slot to the driver as it is made (a Ray generator, see `stages`), but
Ray cannot hand such a stream on to another task. So the driver posts each slot's reference,
as it comes, on `SlotPost`: one small actor for the whole batch, on the driver's node. The
render task takes them in order (`PostedSlots`, a `stream.SlotSource`), so `finish_video`
renders every frame as soon as its slots exist, as `zoomout make` does. Only references go
through the post and the driver: the pixels go from the worker's node to the render task's.

The driver owns the slots (it called the generator), so they outlive a worker that dies or
is stopped; if they are lost with a node, Ray makes them again by running the job again on a
restarted worker (lineage reconstruction), and a job whose worker dies mid-way is retried
by Ray as one stream: the driver and the render task see each slot once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

import numpy as np
import ray
from ray import ObjectRef
from ray.actor import ActorHandle

from ..chain import SlotStack
from ..errors import ZoomoutError
from ..progress import ProgressEvent


@dataclass(frozen=True)
class ChainsEnd:
    """The entry after a job's last slot: its chains without their images (the render task has those), and the notes."""

    stacks: list[SlotStack]
    notes: list[str]

    @classmethod
    def of(cls, stacks: list[SlotStack], notes: list[str]) -> ChainsEnd:
        return cls([replace(stack, images=[]) for stack in stacks], notes)


class OutpaintingFailed(ZoomoutError):
    """The job's outpainting failed before its render task had every slot."""


@ray.remote
class SlotPost:
    """The posted slots of every job being made, by line, until the driver forgets the job; and the slot counts.

    An async actor: a `take` waits for its slot without holding up the others.
    """

    def __init__(self) -> None:
        self._entries: dict[int, dict[int, list[ObjectRef]]] = {}  # line → index → [ref] (in a list, Ray passes the reference on)
        self._errors: dict[int, str] = {}  # line → why its outpainting failed
        self._counts: dict[int, tuple[int, str]] = {}  # line → (slots made, node), changed since the driver last read them
        self._posted = asyncio.Condition()

    async def put(self, line: int, index: int, entry: list[ObjectRef]) -> None:
        """Entry `index` of the job on `line`: a slot's "chain" event, then a `ChainsEnd`."""
        self._entries.setdefault(line, {})[index] = entry
        async with self._posted:
            self._posted.notify_all()

    async def close(self, line: int, error: str) -> None:
        """The job's outpainting failed: its render task stops with `error`."""
        self._errors[line] = error
        async with self._posted:
            self._posted.notify_all()

    async def take(self, line: int, index: int) -> tuple[list[ObjectRef] | None, str | None]:
        """(entry, None) once entry `index` of the job is posted; (None, error) if its outpainting failed first."""

        def answer() -> tuple[list[ObjectRef] | None, str | None] | None:
            if index in self._entries.get(line, {}):
                return self._entries[line][index], None
            return (None, self._errors[line]) if line in self._errors else None

        async with self._posted:
            await self._posted.wait_for(lambda: answer() is not None)
        found = answer()
        assert found is not None
        return found

    async def forget(self, line: int) -> None:
        """The job is reported: its slots may go."""
        self._entries.pop(line, None)
        self._errors.pop(line, None)

    async def count(self, line: int, done: int, node: str) -> None:
        """A worker's latest slot count of the job on `line` (progress counts: the photos' slots 0 are not counted)."""
        self._counts[line] = (done, node)

    async def counts(self) -> dict[int, tuple[int, str]]:
        """The slot counts that changed since the last call, by line."""
        counts, self._counts = self._counts, {}
        return counts


class PostedSlots:
    """The render task's end: the slots of the job on `line`, as the driver posts them (a `stream.SlotSource`)."""

    def __init__(self, post: ActorHandle, line: int) -> None:
        self._post, self._line = post, line
        self._taken = 0
        self._images: list[list[np.ndarray]] = []  # by chain
        self._end: ChainsEnd | None = None
        self._reply = post.take.remote(line, 0)  # always one take in flight: a posted slot costs no round trip

    def take(self, block: bool) -> ProgressEvent | None:
        if self._end is not None or (not block and not ray.wait([self._reply], timeout=0)[0]):
            return None
        entry, error = ray.get(self._reply)
        if error is not None:
            raise OutpaintingFailed(error)
        assert entry is not None
        item = ray.get(entry[0])
        self._taken += 1
        if isinstance(item, ChainsEnd):
            self._end = item
            return None
        if not isinstance(item, ProgressEvent):  # the worker's report came before the chains' end: it failed
            raise OutpaintingFailed(f"the outpainting ended after {self._taken - 1} slots, before the last")
        self._reply = self._post.take.remote(self._line, self._taken)
        if item.part == len(self._images):
            self._images.append([])
        self._images[item.part].append(item.slot_image)
        return item

    def result(self) -> tuple[list[SlotStack], list[str]]:
        if self._end is None:
            raise RuntimeError("the outpainting has not finished: take every slot first")
        stacks = [replace(stack, images=images) for stack, images in zip(self._end.stacks, self._images)]
        return stacks, self._end.notes
