"""MappedWrite: a zero-copy write into a buffer, as a ``with`` block.

``with manager.map_write(buffer, dtype, offset=..., count=...) as view:`` yields a numpy array
of ``count`` elements of ``dtype`` over the bytes the GPU will read:

- **host strategies**: the buffer's persistent mapping itself. On entry the same hazard check
  as ``update_buffer`` runs (a frame the GPU may still read raises HostWriteHazardError);
  on exit a non-coherent range is flushed (``nonCoherentAtomSize``-aligned). The view shows the
  buffer's current contents, so read-modify-write works (``view["x"] += 1``); on HOST_CACHED
  memory that read is fast; on write-combined HOST_VISIBLE memory of a discrete GPU it is slow.
- **DEVICE_LOCAL**: a range of this frame slot's staging ring, zeroed on entry (it does not
  show the buffer's contents: write every element you want kept, the whole range is copied);
  on exit the GPU copy is recorded with the frame's uploads, exactly as ``update_buffer``.

The view is pinned (:mod:`engine.memory.pins`): while it, or any slice of it, is alive the
memory under it is never given to another buffer, even after ``destroy_buffer``, a resize or
the manager's close. Writes after the block are not ordered with the GPU (they may or may not
be seen), and never land in another buffer. If an exception leaves the block, a DEVICE_LOCAL
copy is not recorded (nothing reaches the buffer); host bytes written before it stay written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.buffers.record import BufferRecord
from engine.buffers.types import ManagedBuffer
from engine.errors import MappedBufferChangedError, MappedWriteStateError
from engine.identity import SharedIdentity

if TYPE_CHECKING:
    from engine.buffers.manager import BufferManager


class MappedWrite(SharedIdentity):
    """The context manager :meth:`~engine.buffers.manager.BufferManager.map_write` returns
    (enter it once)."""

    __slots__ = ("_buffer", "_count", "_dtype", "_generation", "_manager", "_offset",
                 "_record", "_staged", "_state")

    def __init__(self, manager: BufferManager, buffer: ManagedBuffer, record: BufferRecord,
                 dtype: np.dtype[Any], offset: int, count: int) -> None:
        self._manager = manager
        self._buffer = buffer
        self._record = record
        self._dtype = dtype
        self._offset = offset
        self._count = count
        self._generation = record.generation
        self._staged: Any = None
        self._state = "new"

    @property
    def nbytes(self) -> int:
        """Bytes the view covers (``count * dtype.itemsize``)."""
        return self._count * self._dtype.itemsize

    def __enter__(self) -> np.ndarray[Any, Any]:
        what = f"map_write({self._record.name!r})"
        if self._state != "new":
            raise MappedWriteStateError(
                f"{what}: this map_write block was already entered; call map_write() again "
                "for another write.")
        rec = self._record
        if not rec.alive or rec.generation != self._generation:
            raise MappedBufferChangedError(
                f"{what}: the buffer was resized or destroyed between map_write() and the "
                "with block; call map_write() again.")
        raw, self._staged = self._manager.open_mapped_write(
            self._buffer, rec, self._offset, self.nbytes, what)
        self._state = "open"
        return raw.view(self._dtype)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        what = f"map_write({self._record.name!r})"
        if self._state != "open":
            raise MappedWriteStateError(
                f"{what}: __exit__ without __enter__; use map_write() in a with statement.")
        self._state = "closed"
        rec = self._record
        changed = not rec.alive or rec.generation != self._generation
        if changed:
            if exc_type is None:
                raise MappedBufferChangedError(
                    f"{what}: the buffer was resized or destroyed inside the with block, so "
                    "the bytes written were not delivered; write after the resize instead.")
            return
        self._manager.close_mapped_write(rec, self._offset, self.nbytes, self._staged,
                                         exc_type is None, what)
