"""Readback: a non-blocking read of a buffer's bytes, a few frames late.

``rb = manager.read_async(buffer)`` records, into the current frame, a barrier from all earlier
GPU work and a copy of the range into a temporary HOST_CACHED buffer; the command buffer rides
with the frame's next submission (or ``end_frame``). Nothing waits:

- ``rb.ready`` polls the submission's fence (``vkGetFenceStatus``), never blocks;
- ``rb.result()`` returns the data once ready (raises :class:`~engine.errors.ReadbackNotReadyError`
  before): a read-only numpy array straight over the temporary buffer's mapping (no copy); the
  temporary is given back at once and its memory is kept while the array, or any view of it,
  lives (:mod:`engine.memory.pins`);
- ``rb.wait()`` blocks until ready (counted in ``statistics().readback_fence_waits``: a frame
  loop that only polls shows 0) and returns ``result()``.

The data is a snapshot of the range as the GPU saw it after everything submitted before the
copy (the frame's uploads are submitted first, so writes made before ``read_async`` are in it;
later ``update_buffer`` calls to a DEVICE_LOCAL buffer are not). For host strategies the copy
runs when the GPU gets to it, so a host write made after ``read_async`` may or may not be in it.
A Readback that is dropped unread gives its temporary back when the frame completes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ReadbackCancelledError, ReadbackNotReadyError
from engine.identity import SharedIdentity

if TYPE_CHECKING:
    from engine.buffers.manager import BufferManager


class PendingRead:
    """What the manager keeps of a read until its temporary is given back (the Readback
    itself may be dropped unread): the temporary ``(VkBuffer, Allocation)`` and the queue
    serial of the copy's submission (0 until submitted)."""

    __slots__ = ("serial", "temp")

    def __init__(self, temp: Any) -> None:
        self.temp = temp
        self.serial = 0

    def submitted(self, serial: int) -> None:
        """Called by the frame tracker when the copy reached the queue."""
        self.serial = serial


class Readback(SharedIdentity):
    """One pending read; made by :meth:`~engine.buffers.manager.BufferManager.read_async`
    (see the module doc).

    Attributes:
        name: the buffer's name. offset, size: the range read, in bytes.
        dtype: the element type of :meth:`result`.
        frame: the frame number the copy was recorded in.
    """

    __slots__ = ("__weakref__", "_manager", "_result", "dtype", "frame", "name", "offset",
                 "pending", "size")

    def __init__(self, manager: BufferManager, name: str, offset: int, size: int,
                 dtype: np.dtype[Any], frame: int, pending: PendingRead) -> None:
        self._manager = manager
        self.name = name
        self.offset = offset
        self.size = size
        self.dtype = dtype
        self.frame = frame
        self.pending = pending
        """The manager's record of the read (temporary and serial)."""
        self._result: np.ndarray[Any, Any] | None = None

    @property
    def ready(self) -> bool:
        """True once the copy completed on the GPU (a fence poll; never blocks)."""
        if self._result is not None:
            return True
        return self._manager.poll_readback(self)

    def result(self) -> np.ndarray[Any, Any]:
        """The bytes read, as a read-only array of :attr:`dtype` (``size // itemsize``
        elements); raises ReadbackNotReadyError before the copy completed and
        ReadbackCancelledError when the manager closed before the result was taken."""
        if self._result is not None:
            return self._result
        if self.pending.temp is None:
            raise ReadbackCancelledError(
                f"Readback({self.name!r}).result(): the BufferManager closed before the result "
                "was taken, so its memory is gone; take results before closing the manager.")
        if not self.ready:
            raise ReadbackNotReadyError(
                f"Readback({self.name!r}).result(): the copy of frame {self.frame} has not "
                "completed on the GPU yet; poll .ready each frame (or call .wait(), which "
                "blocks).")
        self._result = self._manager.take_readback(self)
        return self._result

    def wait(self) -> np.ndarray[Any, Any]:
        """Block until the copy completed, then return :meth:`result`."""
        if self._result is None and self.pending.temp is not None and not self.ready:
            self._manager.wait_readback(self)
        return self.result()

    def __repr__(self) -> str:
        state = "taken" if self._result is not None else (
            "cancelled" if self.pending.temp is None else
            "submitted" if self.pending.serial else "recorded")
        return f"<Readback {self.name!r} {self.size} B frame {self.frame} {state}>"
