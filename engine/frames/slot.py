"""FrameSlot: everything one frame slot owns, recycled in one place when its GPU work is done.

A manager with ``frames_in_flight = F`` has F slots; frame ``n`` uses slot ``n % F``, and the
set-up time before frame 0 (frame ``-1``) has a slot of its own. While a frame is current, its
slot collects:

- ``commands``: the command buffers handed out for the frame (uploads, renderer, compute,
  read-back), returned to the pool when the slot is recycled;
- ``retired``: objects retired into the frame (a destroyed buffer, the old VkBuffer of a
  resize or a defragmentation move, a staging chunk), released when the slot is recycled;
- ``deferred``: values to write when the slot's *next* frame begins
  (``BufferManager.write_when_slot_begins``);
- ``staging``: the slot's staging ring (anything with ``reset()``), reset when recycled;
- ``wait_serial``: the queue serial that must complete before any of that may be reused. It
  is the newest submission made while the slot was current, or the newest submission of the
  *queue* (by any manager) when something was retired, since that work may still read it.

Recycling (the tracker returns the slot's command buffers to the pool, releases what it
retired and resets its staging ring) happens once per use of the slot, right after
``FrameTracker.begin`` waited for ``wait_serial``: no per-frame scan over all retired buffers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class Retired(Protocol):
    """Something retired into a frame: freed by :meth:`release` once the frame completed."""

    nbytes: int

    def release(self) -> None: ...


class Resettable(Protocol):
    def reset(self) -> None: ...


@dataclass(eq=False)
class FrameSlot:
    """One frame slot's resources (see the module docstring)."""

    index: int
    """0 .. frames_in_flight - 1, or -1 for the set-up slot."""
    frame_number: int = -1
    """The frame the slot serves now, or served last."""
    wait_serial: int = 0
    commands: list[Any] = field(default_factory=list)
    retired: list[Retired] = field(default_factory=list)
    deferred: list[Any] = field(default_factory=list)
    staging: Resettable | None = None
    resets: list[Resettable] = field(default_factory=list)
    """More of the slot's per-frame state (descriptor pools of the scatter pipeline), reset
    with the staging ring."""

    @property
    def retired_bytes(self) -> int:
        return sum(r.nbytes for r in self.retired)

    def release_retired(self) -> int:
        """Release every retired object (the caller made sure the GPU is done); returns how
        many. An object whose release raised stays listed for the next attempt."""
        released = 0
        retired = self.retired
        while retired:
            retired[-1].release()
            retired.pop()
            released += 1
        return released
