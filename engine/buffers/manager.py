"""BufferManager: creates, updates, resizes and frame-safely destroys GPU buffers.

Life cycle of a frame (see :mod:`engine.schedule` for the esper phases)::

    manager.begin_frame()      # waits for the slot's previous frame, frees what it retired
    manager.update_buffer(...) # host strategies: one copy into mapped memory
                               # device_local: one copy into the staging ring + a CopyOp
    manager.submit_uploads()   # BufferSystem: the frame's copies, one command buffer, barriers
    ... render: compute, draws, submitted through manager.frames ...
    manager.end_frame()        # submits late uploads, closes the frame

Rules kept here:

- ``generation`` is 1 at creation and +1 exactly when the VkBuffer is replaced (resize).
- Every public call validates everything first; a call that raises changes nothing.
- Destroyed buffers and the old VkBuffer of a resize are retired into the current frame and
  freed only when every submission of that frame (and of all earlier ones) completed.
- Writing a host-visible buffer that a frame still in flight may read raises
  :class:`~engine.errors.HostWriteHazardError` (``hazard_checks``, on by default): use one
  buffer per frame slot (:class:`~engine.buffers.sets.BufferSet`) for per-frame data.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

import engine.buffers.checks as checks
from engine.buffers.staging import CopyOp, CopyRecorder, StagingRing
from engine.buffers.statistics import BufferCounters, BufferStatistics, StrategyStats
from engine.buffers.types import (
    AUTO_USAGE,
    BufferConfig,
    BufferStrategy,
    BufferUsage,
    ManagedBuffer,
)
from engine.device.barriers import HOST
from engine.device.context import GraphicsContext
from engine.device.interrupts import defers_interrupts
from engine.device.vk import check_result, ffi, lib, vk
from engine.errors import EngineError, FrameStateError
from engine.frames.slot import FrameSlot
from engine.frames.tracker import FrameTracker
from engine.identity import Unshareable
from engine.memory.allocator import MemoryAllocator
from engine.memory.blocks import Allocation, align_up
from engine.memory.stats import STAGING_USAGE, AllocationInfo
from engine.memory.type_choice import HOST_COHERENT, buffer_alignment
from engine.memory.vk_buffers import create_bound_buffer, destroy_bound_buffer

memmove = ffi.memmove
_get_ident = threading.get_ident

DEFAULT_STAGING_BYTES = 4 * 1024 * 1024
RETIRE_DRAIN_COUNT = 256
"""Outside frames, this many retired buffers in the current slot trigger a drain (submit,
wait, free): memory stays bounded for programs that never call ``begin_frame``."""


@dataclass(eq=False)
class RetiredBuffer:
    """A VkBuffer and its memory retired into a frame slot; released when the slot recycles."""

    manager: BufferManager
    handle: Any
    allocation: Allocation
    nbytes: int
    name: str

    def release(self) -> None:
        m = self.manager
        destroy_bound_buffer(m.context, m.allocator, self.handle, self.allocation)
        m._counters.freed += 1


class BufferManager(Unshareable):
    """Owns every buffer it creates; one per GraphicsContext is typical (not copyable).

    Args:
        context: the device.
        frames_in_flight: 1-4 (default 3): frame slots whose GPU work may overlap.
        discrete_like: behave as on a discrete GPU even on lavapipe: host_cached memory is
            treated as non-coherent (every write flushed, every read invalidated, on
            ``nonCoherentAtomSize``-aligned ranges). Device-local buffers are always staged.
        hazard_checks: raise on host writes racing an unfinished frame (default on; off with
            ``ENGINE_HAZARD_CHECKS=0``).
        staging_bytes: initial staging-ring size per frame slot, in bytes (it grows).
    """

    def __init__(self, context: GraphicsContext, *, frames_in_flight: int = 3,
                 discrete_like: bool = False, hazard_checks: bool | None = None,
                 staging_bytes: int = DEFAULT_STAGING_BYTES) -> None:
        frames_in_flight, staging_bytes, discrete_like, hazard_checks = checks.check_manager_args(
            context, frames_in_flight, staging_bytes, discrete_like, hazard_checks)
        context.require_open("BufferManager()")
        self.context = context
        self.frames_in_flight = frames_in_flight
        self.discrete_like = discrete_like
        if hazard_checks is None:
            hazard_checks = os.environ.get("ENGINE_HAZARD_CHECKS", "1") not in ("0", "false")
        self.hazard_checks = hazard_checks
        self.allocator = MemoryAllocator(context)
        self.frames = FrameTracker(context, frames_in_flight, what="BufferManager()")
        """The frame slots: numbers, waits, command buffers, retire lists (one owner)."""
        self._owner = context.owner_thread
        self._timeline = self.frames.timeline
        self._alignment = buffer_alignment(context)
        for slot in self.frames.all_slots():
            slot.staging = StagingRing(context, self.allocator, slot.index, staging_bytes)
        self._recorder = CopyRecorder()
        self._ops: list[CopyOp] = []
        self._live: dict[int, ManagedBuffer] = {}
        self._next_id = 1
        self._closed = False
        self._counters = BufferCounters()
        context.add_close_hook(self.close)

    # --- properties ----------------------------------------------------------------------

    @property
    def frame_number(self) -> int:
        """The current frame (-1 before the first ``begin_frame``)."""
        return self.frames.frame_number

    @property
    def frame_index(self) -> int:
        """The current frame slot, ``frame_number % frames_in_flight``."""
        return self.frames.frame_number % self.frames_in_flight

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def frame_open(self) -> bool:
        """True between ``begin_frame`` and ``end_frame``."""
        return self.frames.frame_open

    def staging_rings(self) -> list[StagingRing]:
        """The staging ring of every frame slot, slot 0 first (the set-up slot last)."""
        rings = []
        for slot in self.frames.all_slots():
            assert isinstance(slot.staging, StagingRing)
            rings.append(slot.staging)
        return rings

    def _ring(self) -> StagingRing:
        ring = self.frames.current.staging
        assert isinstance(ring, StagingRing)
        return ring

    def live_buffers(self) -> list[ManagedBuffer]:
        """Every buffer not yet destroyed, in creation order."""
        return list(self._live.values())

    # --- creation ------------------------------------------------------------------------

    @defers_interrupts
    def create_buffer(self, config: BufferConfig, frame_index: int | None = None
                      ) -> ManagedBuffer:
        """Create a buffer (contents undefined); ``generation`` is 1.

        Raises:
            InvalidNameError, InvalidSizeError, InvalidStrategyError, InvalidUsageError,
            InvalidFrameIndexError: bad arguments (nothing is created).
            OutOfDeviceMemoryError: the memory does not fit (nothing is leaked).
        """
        what = f"create_buffer({getattr(config, 'name', config)!r})"
        self.require_open(what)
        config = checks.check_config(config, what)
        self._check_frame_index(frame_index, what)
        strategy = checks.coerce_strategy(config.strategy, what)
        usage = BufferUsage(int(config.usage) | AUTO_USAGE)
        handle = allocation = buffer = None
        try:  # up to the return: any exception (a Ctrl-C too) leaves nothing behind
            handle, allocation = self._allocate(config.name, config.size, strategy,
                                                int(usage), what)
            buffer = ManagedBuffer(
                name=config.name, size=config.size, strategy=strategy, usage=usage,
                dtype=None if config.dtype is None else np.dtype(config.dtype),
                memory_type_index=allocation.type_index, memory_flags=allocation.flags,
                created_frame=self.frames.frame_number, handle=handle,
                capacity=allocation.size, buffer_id=self._next_id)
            self._attach(buffer, handle, allocation)
            self._zero(buffer)
            self._live[buffer.buffer_id] = buffer
            self._next_id += 1
            self._counters.created += 1
            self._counters.note_live(len(self._live), buffer.size)
            return buffer
        except BaseException:
            if buffer is not None and self._live.get(buffer.buffer_id) is buffer:
                del self._live[buffer.buffer_id]
            if handle is not None and allocation is not None:
                self._ops = [op for op in self._ops if op.dst is not handle]
                destroy_bound_buffer(self.context, self.allocator, handle, allocation)
            raise

    @defers_interrupts
    def create_and_upload(self, name: str, data: Any, frame_index: int | None = None, *,
                          usage: BufferUsage = BufferUsage.VERTEX,
                          strategy: BufferStrategy = BufferStrategy.DEVICE_LOCAL,
                          ) -> ManagedBuffer:
        """Create a buffer of exactly ``data``'s size with any usage, and upload ``data``."""
        what = f"create_and_upload({name!r})"
        self.require_open(what)
        nbytes = checks.data_nbytes(data, what)
        dtype = data.dtype if isinstance(data, np.ndarray) else None
        buffer = None
        try:
            buffer = self.create_buffer(BufferConfig(name, nbytes, strategy, usage, dtype),
                                        frame_index)
            self.update_buffer(buffer, data, frame_index)
            return buffer
        except BaseException:
            if buffer is not None and buffer.alive:
                self.destroy_buffer(buffer)
            raise

    def _allocate(self, name: str, size: int, strategy: BufferStrategy, usage: int, what: str
                  ) -> tuple[Any, Allocation]:
        """A bound VkBuffer of ``size`` bytes (rounded to the buffer granule) for ``strategy``."""
        return create_bound_buffer(
            self.context, self.allocator, align_up(size, self._alignment), usage,
            strategy.memory_order, map_memory=strategy.is_host, what=what,
            label=strategy.value, name=name)

    def _zero(self, buffer: ManagedBuffer) -> None:
        """New buffers start zeroed (as in WebGPU): host memset, or a GPU fill in the frame."""
        if buffer._view is not None:
            buffer._view[: buffer.capacity] = 0
            if not buffer._coherent:
                self.allocator.flush(buffer._allocation, 0, buffer.capacity, what="create_buffer")
        else:
            self._ops.append(CopyOp(None, 0, buffer.handle, 0, buffer.capacity))

    def _attach(self, buffer: ManagedBuffer, handle: Any, allocation: Allocation) -> None:
        buffer._handle = handle
        buffer._allocation = allocation
        buffer._manager = self
        buffer._view = allocation.view
        buffer._append_view = None
        buffer._ptr = None if allocation.view is None else ffi.from_buffer(allocation.view)
        buffer._capacity = allocation.size
        buffer._memory_type_index = allocation.type_index
        buffer._memory_flags = allocation.flags
        buffer._coherent = bool(allocation.flags & HOST_COHERENT) and not (
            self.discrete_like and buffer._strategy is BufferStrategy.HOST_CACHED)

    # --- writes --------------------------------------------------------------------------

    def update_buffer(self, buffer: ManagedBuffer, data: Any, frame_index: int | None = None,
                      *, offset: int = 0) -> None:
        """Write ``data`` (bytes-like, numpy array or numpy scalar) at byte ``offset``.

        Host strategies copy once into the mapped memory (and flush when not coherent);
        device_local copies once into this frame's staging ring, and the GPU copy runs with the
        frame's uploads, before anything of the frame reads the buffer. ``generation`` is
        unchanged.

        Raises (before changing anything): ForeignBufferError, BufferDestroyedError,
        InvalidOffsetError, InvalidDataError, OutOfBoundsError, InvalidFrameIndexError,
        HostWriteHazardError, ManagerClosedError.
        """
        if _get_ident() != self._owner:
            self.context.raise_wrong_thread("update_buffer")
        if buffer.__class__ is not ManagedBuffer or buffer._manager is not self:
            checks.raise_foreign(buffer, self, "update_buffer")
        if not buffer._alive:
            checks.raise_destroyed(buffer, "update_buffer")
        if offset.__class__ is not int or not 0 <= offset <= checks.MAX_DEVICE_SIZE:
            offset = checks.coerce_offset(offset, buffer, "update_buffer")
        if frame_index is not None:
            self._check_frame_index(frame_index, f"update_buffer({buffer.name!r})")
        cls = data.__class__
        if cls is np.ndarray:
            if buffer._dtype is not None and data.dtype != buffer._dtype:
                checks.raise_dtype(buffer, data, "update_buffer")
            if data.dtype.hasobject:
                checks.raise_object_dtype(buffer, "update_buffer")
            if not data.flags.c_contiguous:
                data = np.ascontiguousarray(data)
            nbytes = data.nbytes
        elif (cls is bytes or cls is bytearray) and buffer._dtype is None:
            nbytes = len(data)
        else:
            data = checks.as_bytes_view(data, buffer, "update_buffer")
            nbytes = data.nbytes
        end = offset + nbytes
        if end > buffer._size:
            checks.raise_out_of_bounds(buffer, offset, nbytes, "update_buffer")
        if buffer._dtype is not None and offset % buffer._dtype.itemsize:
            checks.raise_misaligned(buffer, offset, "update_buffer")
        frames = self.frames
        counters = self._counters
        if buffer._ptr is not None:
            write_frame = frames.frame_number if frames.frame_open or \
                frames.frame_number < 0 else frames.frame_number + 1
            last = buffer._host_write_frame
            if self.hazard_checks:
                timeline = self._timeline
                if last != write_frame:
                    if last > frames.completed_frame:
                        checks.raise_hazard(buffer, last, write_frame, self.frames_in_flight)
                elif buffer._host_write_serial < timeline.last_serial > timeline.completed:
                    checks.raise_submitted_hazard(buffer, write_frame)
            if nbytes:
                memmove(buffer._ptr + offset, data, nbytes)  # one copy into the mapping
                if not buffer._coherent:
                    self.allocator.flush(buffer._allocation, offset, nbytes,
                                         what=f"update_buffer({buffer.name!r})")
            buffer._host_write_frame = write_frame
            buffer._host_write_serial = self._timeline.last_serial
            counters.host_writes += 1
        elif nbytes:
            self._stage(buffer._handle, offset, data, nbytes)
        buffer._last_updated_frame = frames.frame_number

    def _stage(self, handle: Any, offset: int, data: Any, nbytes: int) -> None:
        """Copy ``data`` into this frame's staging ring and queue the GPU copy to ``handle``.

        Inside a frame a full ring grows (never stalls). Outside frames (scripts that never
        call ``begin_frame``) a full ring is drained first: the queued copies are submitted,
        the queue waited for, and the ring reused, so staging stays bounded.
        """
        ring = self._ring()
        if not self.frames.frame_open and self._ops and not ring.fits(nbytes):
            self.submit_uploads()
            self.frames.wait_idle_and_recycle(what="update_buffer (staging drained)")
        chunk, staged = ring.allocate(nbytes)
        memmove(chunk.ptr + staged, data, nbytes)  # one copy into the staging ring
        self._ops.append(CopyOp(chunk.handle, staged, handle, offset, nbytes))
        counters = self._counters
        counters.uploads += 1
        counters.upload_bytes += nbytes

    # --- resize and destroy --------------------------------------------------------------

    @defers_interrupts
    def resize_buffer(self, buffer: ManagedBuffer, new_size: int) -> None:
        """Replace the VkBuffer with one of ``new_size`` bytes; keep ``min(old, new)`` bytes.

        ``generation`` goes up by exactly 1 (a same-size resize changes nothing). The old
        VkBuffer is retired into the current frame. Contents of a host buffer are copied by the
        host at once; those of a device-local buffer by a GPU copy with this frame's uploads.
        """
        what = f"resize_buffer({getattr(buffer, 'name', buffer)!r})"
        self.require_open(what)
        self._check_live(buffer, what)
        new_size = checks.check_size(new_size, what)
        if new_size == buffer.size:
            return
        self._replace(buffer, new_size, what)
        self._counters.resizes += 1

    @defers_interrupts
    def relocate_buffer(self, buffer: ManagedBuffer) -> None:
        """Move ``buffer`` to a new VkBuffer of the same size (contents kept by a GPU copy in
        this frame; ``generation`` + 1, the binder rewrites its descriptors). Defragmentation
        uses this; the allocator decides where the new memory comes from."""
        what = f"relocate_buffer({getattr(buffer, 'name', buffer)!r})"
        self.require_open(what)
        self._check_live(buffer, what)
        self._replace(buffer, buffer.size, what)

    def _replace(self, buffer: ManagedBuffer, new_size: int, what: str) -> None:
        """The one replace path (resize, relocation): a new VkBuffer of ``new_size`` bytes
        gets the first ``min(old, new)`` bytes (host copy now, or a GPU copy in the frame, the
        rest zeroed), the old one is retired into the frame, ``generation`` += 1 and the
        binder hears "replaced"."""
        old_size, old_handle, old_allocation = buffer.size, buffer._handle, buffer._allocation
        keep = min(old_size, new_size)
        generation = buffer._generation
        handle = allocation = item = None
        try:  # the commit point is the generation bump; before it everything is undone
            handle, allocation = self._allocate(buffer.name, new_size, buffer.strategy,
                                                int(buffer.usage), what)
            if buffer.strategy.is_host:
                assert allocation.view is not None and buffer._view is not None
                if not buffer._coherent:
                    self.allocator.invalidate(old_allocation, 0, keep, what=what)
                allocation.view[:keep] = buffer._view[:keep]
                allocation.view[keep:] = 0
            else:
                self._ops.append(CopyOp(None, 0, handle, 0, allocation.size))
                self._ops.append(CopyOp(old_handle, 0, handle, 0, keep))
            item = RetiredBuffer(self, old_handle, old_allocation, old_size, buffer.name)
            self.frames.retire(item)
            buffer._size = new_size
            self._attach(buffer, handle, allocation)
            if buffer.strategy.is_host and not buffer._coherent:
                self.allocator.flush(allocation, 0, keep, what=what)
            buffer._generation = generation + 1
        except BaseException:
            if buffer._generation != generation:  # committed: finish telling the binders
                self._replaced(buffer, old_size)
                raise
            if buffer._handle is not old_handle:
                buffer._size = old_size
                self._attach(buffer, old_handle, old_allocation)
            if item is not None:
                self.frames.unretire(item)
            if handle is not None and allocation is not None:
                self._ops = [op for op in self._ops if op.dst is not handle]
                destroy_bound_buffer(self.context, self.allocator, handle, allocation)
            raise
        self._replaced(buffer, old_size)

    def _replaced(self, buffer: ManagedBuffer, old_size: int) -> None:
        """After a replace committed: the new memory has no host-write history, the counters
        move, and the binders hear "replaced"."""
        buffer._host_write_frame = -(1 << 62)  # new memory: no GPU work has read it yet
        buffer._append_frame = -(1 << 62)
        buffer._host_write_serial = self._timeline.last_serial
        self._counters.note_live(len(self._live), buffer.size - old_size)
        self._notify(buffer, "replaced")

    @defers_interrupts
    def destroy_buffer(self, buffer: ManagedBuffer) -> None:
        """Retire ``buffer``: unusable at once, freed when the GPU finished the current frame.

        Raises BufferDestroyedError when called twice, ForeignBufferError for a buffer of
        another manager.
        """
        what = f"destroy_buffer({getattr(buffer, 'name', buffer)!r})"
        self.require_open(what)
        self._check_live(buffer, what)
        item = RetiredBuffer(self, buffer._handle, buffer._allocation, buffer.size, buffer.name)
        try:  # all of it or none of it, even under a Ctrl-C
            self.frames.retire(item)
            del self._live[buffer.buffer_id]
            buffer._alive = False
            buffer._view = buffer._ptr = buffer._allocation = buffer._append_view = None
        except BaseException:
            self.frames.unretire(item)
            self._live[buffer.buffer_id] = buffer
            buffer._alive = True
            self._attach(buffer, item.handle, item.allocation)
            raise
        self._counters.destroyed += 1
        self._counters.note_live(len(self._live), -buffer.size)
        self._notify(buffer, "destroyed")
        self._drain_outside_frames(item.name)

    def _drain_outside_frames(self, name: str) -> None:
        """Scripts without frames: after many retirements, submit, wait and free them, or
        retired memory would grow without bound."""
        frames = self.frames
        if not frames.frame_open and len(frames.current.retired) >= RETIRE_DRAIN_COUNT:
            self.submit_uploads()
            frames.wait_idle_and_recycle(what=f"destroy ({name!r}, outside frames)")

    def _notify(self, buffer: ManagedBuffer, event: str) -> None:
        """Tell the listeners (binders); a Ctrl-C in between tells them all again (they only
        mark bindings, so hearing it twice is harmless) before it propagates."""
        try:
            self.context.notify_buffer(buffer, event)
        except KeyboardInterrupt:
            self.context.notify_buffer(buffer, event)
            raise

    # --- frames --------------------------------------------------------------------------

    @defers_interrupts
    def begin_frame(self, frame_index: int | None = None) -> int:
        """Start the next frame: wait for its slot's previous frame, free what it retired.

        Args:
            frame_index: the slot, ``(frame_number + 1) % frames_in_flight``; ``None`` = next.

        Returns:
            The new frame number.
        """
        self.require_open("begin_frame")
        frames = self.frames
        if frames.frame_open and frames.frame_number >= 0:
            raise FrameStateError(
                f"begin_frame: frame {frames.frame_number} is still open; call end_frame() "
                "first.")
        expected = (frames.frame_number + 1) % self.frames_in_flight
        if frame_index is not None:
            frame_index = checks.check_slot(frame_index, self.frames_in_flight, "begin_frame")
            if frame_index != expected:
                raise checks.misordered(frame_index, expected, "begin_frame")
        self.submit_uploads()
        previous = self._ring()
        self._counters.peak_staging = max(self._counters.peak_staging, previous.used_this_frame)
        slot = frames.begin()
        self._counters.new_frame()
        self.context.counters.new_frame()
        if slot.deferred:
            self._apply_deferred(slot)
        return slot.frame_number

    @defers_interrupts
    def write_when_slot_begins(self, buffer: ManagedBuffer, data: Any, frame_index: int, *,
                               offset: int = 0) -> None:
        """Write ``data`` into ``buffer`` when slot ``frame_index``'s next frame begins.

        For per-slot buffers (:class:`~engine.buffers.sets.BufferSet`) whose slot the GPU may
        still be reading now: the write happens once that slot's frame has begun (its previous
        use is complete), before anything of the frame renders. ``data`` is not copied: pass an
        object you will not modify (``BufferSet.update_all`` passes a private copy).
        """
        what = "write_when_slot_begins"
        self.require_open(what)
        frame_index = checks.check_slot(frame_index, self.frames_in_flight, what)
        self._check_live(buffer, what)
        offset = checks.coerce_offset(offset, buffer, what)
        if isinstance(data, np.generic):
            data = np.asarray(data)
        data = checks.as_bytes_view(data, buffer, what)
        nbytes = data.nbytes
        if offset + nbytes > buffer.size:
            checks.raise_out_of_bounds(buffer, offset, nbytes, what)
        if buffer.dtype is not None and offset % buffer.dtype.itemsize:
            checks.raise_misaligned(buffer, offset, what)
        self.frames.slots[int(frame_index)].deferred.append((buffer, data, offset))

    def _apply_deferred(self, slot: FrameSlot) -> None:
        """Write the values queued for ``slot`` (checked when queued; the slot is free now)."""
        deferred, slot.deferred = slot.deferred, []
        write_frame = self.frames.frame_number
        for buffer, data, offset in deferred:
            if not buffer.alive:
                continue
            nbytes = data.nbytes
            if offset + nbytes > buffer.size:
                continue  # shrunk meanwhile: the value no longer fits
            if buffer._ptr is None:
                if nbytes:
                    self._stage(buffer._handle, offset, data, nbytes)  # checked when queued
                buffer._last_updated_frame = write_frame
                continue
            memmove(buffer._ptr + offset, data, nbytes)
            if not buffer._coherent:
                self.allocator.flush(buffer._allocation, offset, nbytes,
                                     what=f"write_when_slot_begins({buffer.name!r})")
            buffer._host_write_frame = write_frame
            buffer._host_write_serial = self._timeline.last_serial
            buffer._last_updated_frame = write_frame
            self._counters.host_writes += 1

    def append_blocks(self, buffer: ManagedBuffer, rows: np.ndarray[Any, Any], offset: int,
                      stride: int, what: str = "append_blocks") -> None:
        """Write row ``i`` of ``rows`` at byte ``offset + i * stride`` of a host-visible buffer,
        in ONE copy into the mapping (a memmove when the rows are packed, ``stride`` equal to
        a row; else one vectorised numpy copy through a strided view), then one flush of the
        whole span where the memory is not coherent.

        ``rows``: a C-contiguous numpy array; its first axis counts the rows, the rest of each
        row (``rows.nbytes // len(rows)`` bytes) is copied as raw bytes. ``stride`` (bytes) is
        at least one row; the bytes between rows are left as they are.

        The write is *append-only within a frame*: the hazard rule of :meth:`update_buffer`
        applies (the frame that last wrote the buffer must have completed), except that
        inside one frame, rows at or past the end of what ``append_blocks`` already wrote in
        that frame may follow GPU submissions of the same frame: those bytes are fresh, and a
        linear allocator (:class:`~engine.buffers.uniform_ring.UniformRing`) hands their
        offsets out only after this call returned, so no GPU work recorded earlier reads them.
        Rewriting bytes of this frame after a submission raises HostWriteHazardError.

        Raises (before changing anything): ForeignBufferError, BufferDestroyedError,
        InvalidStrategyError (not host-visible), InvalidDataError, InvalidOffsetError,
        InvalidSizeError, OutOfBoundsError, HostWriteHazardError, ManagerClosedError.
        """
        if _get_ident() != self._owner:
            self.context.raise_wrong_thread(what)
        if buffer.__class__ is not ManagedBuffer or buffer._manager is not self:
            checks.raise_foreign(buffer, self, what)
        if not buffer._alive:
            checks.raise_destroyed(buffer, what)
        ptr = buffer._ptr
        if ptr is None:
            checks.raise_not_host(buffer, what)
        if rows.__class__ is not np.ndarray or not rows.flags.c_contiguous or rows.ndim == 0 \
                or rows.dtype.hasobject:
            checks.raise_bad_rows(buffer, rows, what)
        if buffer._dtype is not None and rows.dtype != buffer._dtype:
            checks.raise_dtype(buffer, rows, what)
        n = rows.shape[0]
        if n == 0:
            return
        nbytes = rows.nbytes
        row_bytes = nbytes // n
        if offset.__class__ is not int or stride.__class__ is not int:
            offset = checks.coerce_offset(offset, buffer, what)
            stride = checks.coerce_stride(stride, what)
        if stride < row_bytes or stride <= 0 or offset < 0:
            checks.raise_bad_stride(buffer, offset, stride, row_bytes, what)
        span = (n - 1) * stride + row_bytes
        if offset + span > buffer._size:
            checks.raise_out_of_bounds(buffer, offset, span, what)
        frames = self.frames
        write_frame = frames.frame_number
        if not frames.frame_open and write_frame >= 0:
            write_frame += 1
        last = buffer._host_write_frame
        if self.hazard_checks:
            if last != write_frame:
                if last > frames.completed_frame:
                    checks.raise_hazard(buffer, last, write_frame, self.frames_in_flight, what)
            elif buffer._append_frame != write_frame or offset < buffer._append_end:
                timeline = self._timeline
                if buffer._host_write_serial < timeline.last_serial > timeline.completed:
                    checks.raise_submitted_hazard(buffer, write_frame, what)
        if stride == row_bytes:
            memmove(ptr + offset, rows, nbytes)  # packed rows: one copy into the mapping
        else:
            self._strided_copy(buffer, rows, n, row_bytes, offset, stride)
        if not buffer._coherent:
            self.allocator.flush(buffer._allocation, offset, span, what=f"{what}({buffer.name!r})")
        end = offset + span
        if buffer._append_frame != write_frame:
            buffer._append_frame = write_frame
            buffer._append_end = end
        elif end > buffer._append_end:
            buffer._append_end = end
        if last != write_frame:
            # The serial of the frame's FIRST write is kept: fresh rows appended after a
            # submission must not hide that earlier rows of the frame may be read by it.
            buffer._host_write_serial = self._timeline.last_serial
            buffer._host_write_frame = write_frame
        buffer._last_updated_frame = frames.frame_number
        self._counters.host_writes += 1

    def _strided_copy(self, buffer: ManagedBuffer, rows: np.ndarray[Any, Any], n: int,
                      row_bytes: int, offset: int, stride: int) -> None:
        """One vectorised numpy copy of ``n`` rows into the mapping at ``stride`` (a strided
        uint8 view of the whole buffer, kept per (mapping, stride, row size)); the source is
        read as raw bytes through the buffer protocol (a structured dtype's
        ``.view(np.uint8)`` costs microseconds)."""
        view = buffer._view
        cached = buffer._append_view
        if cached is None or cached[0] is not view or cached[1] != stride \
                or cached[2] != row_bytes:
            fit = (buffer._size - row_bytes) // stride + 1
            cached = (view, stride, row_bytes,
                      np.ndarray((fit, row_bytes), np.uint8, view, 0, (stride, 1)))
            buffer._append_view = cached
        src = np.ndarray((n, row_bytes), np.uint8, rows, 0, (row_bytes, 1))
        if offset % stride:
            np.ndarray((n, row_bytes), np.uint8, view, offset, (stride, 1))[...] = src
        else:
            first = offset // stride
            cached[3][first:first + n] = src

    @defers_interrupts
    def submit_uploads(self) -> int:
        """Record this frame's staged copies into one command buffer, queued for submission.

        Called by the BufferSystem in the upload phase (and by ``end_frame`` for late
        writes). The command buffer goes to the GPU in the same ``vkQueueSubmit`` as the
        frame's next submission (the render, through ``frames.submit``), ahead of it, or on its
        own at ``end_frame``/``read_buffer``. Returns the number of copies recorded.
        """
        frames = self.frames
        ops = self._ops
        if not ops:
            return 0
        self.require_open("submit_uploads")
        cmd = frames.command_buffer(what="submit_uploads")
        self._recorder.record(cmd, ops)
        check_result(lib.vkEndCommandBuffer(cmd), "vkEndCommandBuffer", what="submit_uploads")
        # Sent first in the frame's next submission (its render), or at end_frame.
        frames.queue(cmd)
        count = len(ops)
        self._ops = []
        if not frames.frame_open:  # no frame will carry it: submit now, and stay bounded
            frames.flush(what="submit_uploads")
            if len(frames.current.commands) >= RETIRE_DRAIN_COUNT:
                frames.wait_idle_and_recycle(what="submit_uploads (outside frames)")
        return count

    @defers_interrupts
    def end_frame(self) -> None:
        """Submit what the frame recorded (late uploads) and close the frame."""
        self.require_open("end_frame")
        if not self.frames.frame_open or self.frames.frame_number < 0:
            raise FrameStateError("end_frame: no frame is open; call begin_frame() first.")
        self.submit_uploads()
        self.frames.end()

    # --- reads ---------------------------------------------------------------------------

    @defers_interrupts
    def read_buffer(self, buffer: ManagedBuffer, offset: int = 0, size: int | None = None
                    ) -> bytes:
        """Copy ``size`` bytes at ``offset`` back to the host (blocking; not for frame loops).

        Submits this frame's pending uploads, then waits for every submission so far, so the
        result includes every write made before the call (host or GPU).
        """
        what = f"read_buffer({getattr(buffer, 'name', buffer)!r})"
        self.require_open(what)
        self._check_live(buffer, what)
        offset = checks.coerce_offset(offset, buffer, "read_buffer")
        size = checks.check_read_range(buffer, offset, size, "read_buffer")
        if size == 0:
            return b""
        self.submit_uploads()
        return self._read_back(buffer, offset, size, what)

    def _read_back(self, buffer: ManagedBuffer, offset: int, size: int, what: str) -> bytes:
        """One command buffer: a barrier from all earlier GPU writes, then a copy into a
        temporary host-cached buffer (device-local memory) or a barrier to the host (mapped
        memory); submitted with the queued uploads ahead of it; then a wait for the queue and
        an invalidate where memory is not coherent. The temporary and the command buffer are
        released in ``finally``, so an interrupt leaks neither."""
        frames = self.frames
        rec = self._recorder
        temp: tuple[Any, Allocation] | None = None
        try:
            cmd = frames.command_buffer(what=what)
            if buffer._view is None:
                temp = self._allocate(f"{buffer.name}:readback", size,
                                      BufferStrategy.HOST_CACHED, AUTO_USAGE, what)
                rec.barrier(cmd, rec.ALL, vk.VK_ACCESS_MEMORY_WRITE_BIT, rec.TRANSFER,
                            vk.VK_ACCESS_TRANSFER_READ_BIT)
                rec.copy(cmd, buffer.handle, offset, temp[0], 0, size)
                rec.barrier(cmd, rec.TRANSFER, vk.VK_ACCESS_TRANSFER_WRITE_BIT, HOST,
                            vk.VK_ACCESS_HOST_READ_BIT)
            else:
                rec.barrier(cmd, rec.ALL, vk.VK_ACCESS_MEMORY_WRITE_BIT, HOST,
                            vk.VK_ACCESS_HOST_READ_BIT)
            check_result(lib.vkEndCommandBuffer(cmd), "vkEndCommandBuffer", what=what)
            frames.submit(cmd, what=what)
            frames.wait_idle_and_recycle(what=what)
            if temp is None:
                assert buffer._view is not None
                if not buffer._coherent:
                    self.allocator.invalidate(buffer._allocation, offset, size, what=what)
                return bytes(buffer._view[offset:offset + size])
            allocation = temp[1]
            assert allocation.view is not None
            if not allocation.flags & HOST_COHERENT or self.discrete_like:
                self.allocator.invalidate(allocation, 0, size, what=what)
            return bytes(allocation.view[:size])
        finally:
            if temp is not None:
                if self._timeline.completed < self._timeline.last_serial:
                    self.frames.retire(RetiredBuffer(self, temp[0], temp[1], size,
                                                     f"{buffer.name}:readback"))
                else:
                    destroy_bound_buffer(self.context, self.allocator, temp[0], temp[1])

    @defers_interrupts
    def read_array(self, buffer: ManagedBuffer, dtype: Any = None, offset: int = 0,
                   count: int | None = None) -> np.ndarray[Any, Any]:
        """``read_buffer`` as a numpy array of ``dtype`` (default: the buffer's dtype)."""
        what = f"read_array({getattr(buffer, 'name', buffer)!r})"
        self.require_open(what)
        self._check_live(buffer, what)
        dt, count = checks.check_read_array(buffer, dtype, offset, count)
        size = None if count is None else count * dt.itemsize
        raw = self.read_buffer(buffer, offset, size)
        usable = len(raw) // dt.itemsize * dt.itemsize
        return np.frombuffer(raw[:usable], dtype=dt).copy()

    # --- statistics ----------------------------------------------------------------------

    def statistics(self) -> BufferStatistics:
        """A snapshot; serialise with ``to_json()``."""
        self.context.check_thread("statistics")
        stats = BufferStatistics(frame_number=self.frames.frame_number,
                                 frames_in_flight=self.frames_in_flight)
        for buffer in self._live.values():
            stats.live_buffers += 1
            stats.live_bytes += buffer.size
            s = stats.by_strategy.setdefault(buffer.strategy.value, StrategyStats())
            s.buffers += 1
            s.bytes += buffer.size
            m = stats.by_memory_type.setdefault(str(buffer.memory_type_index), StrategyStats())
            m.buffers += 1
            m.bytes += buffer.size
        stats.pending_destroy_count = self.frames.retired_count
        stats.pending_destroy_bytes = self.frames.retired_bytes
        c = self._counters
        slot_ring = self._ring()
        rings = self.staging_rings()
        stats.uploads_this_frame = c.uploads - c.frame_start_uploads
        stats.upload_bytes_this_frame = c.upload_bytes - c.frame_start_upload_bytes
        stats.staging_bytes_this_frame = slot_ring.used_this_frame
        stats.host_writes_this_frame = c.host_writes - c.frame_start_host_writes
        stats.staging_capacity = sum(r.capacity for r in rings)
        stats.staging_growths = sum(r.growths for r in rings)
        counters = self.context.counters
        stats.descriptor_writes_this_frame = counters.descriptor_writes_frame
        stats.descriptor_writes_total = counters.descriptor_writes_total
        stats.buffers_created_total = c.created
        stats.buffers_destroyed_total = c.destroyed
        stats.buffers_freed_total = c.freed
        stats.resizes_total = c.resizes
        stats.uploads_total = c.uploads
        stats.upload_bytes_total = c.upload_bytes
        stats.allocate_memory_calls = self.allocator.allocate_calls
        stats.live_allocations = self.allocator.live_allocations
        stats.submissions_total = self.frames.submissions
        stats.peak_live_buffers = c.peak_buffers
        stats.peak_live_bytes = c.peak_bytes
        stats.peak_staging_bytes_per_frame = max(c.peak_staging, slot_ring.used_this_frame)
        stats.memory = self.allocator.statistics()
        return stats

    def print_statistics(self) -> None:
        """Print :meth:`statistics` as a table on stdout."""
        print(self.statistics().format_table())  # noqa: T201

    # --- checks --------------------------------------------------------------------------

    def require_open(self, what: str) -> None:
        """Raise ManagerClosedError/ContextClosedError if the manager or its context is closed,
        WrongThreadError off the context's owner thread; ``what`` names the call."""
        if self._closed:
            checks.raise_closed(what)
        self.context.require_open(what)

    def _check_live(self, buffer: Any, what: str) -> None:
        call_name = what.split("(")[0]
        if buffer.__class__ is not ManagedBuffer or buffer._manager is not self:
            checks.raise_foreign(buffer, self, call_name)
        if not buffer.alive:
            checks.raise_destroyed(buffer, call_name)

    def _check_frame_index(self, frame_index: int | None, what: str) -> None:
        if frame_index is None:
            return
        frame_index = checks.check_slot(frame_index, self.frames_in_flight, what)
        current = self.frames.frame_number % self.frames_in_flight
        if self.frames.frame_number >= 0 and frame_index != current:
            raise checks.misordered(frame_index, current, what)

    def allocation_descriptions(self) -> dict[int, AllocationInfo]:
        """``id(allocation) -> AllocationInfo`` for every allocation this manager made: live
        buffers (name, usage, strategy), retired ones (``pending_destroy``) and staging-ring
        chunks (``staging``). The memory statistics and the memory map use it."""
        described: dict[int, AllocationInfo] = {}
        for buffer in self._live.values():
            if buffer._allocation is not None:
                described[id(buffer._allocation)] = AllocationInfo(
                    buffer.name, int(buffer.usage), buffer.strategy.value)
        for slot in self.frames.all_slots():
            for item in slot.retired:
                if isinstance(item, RetiredBuffer):
                    described[id(item.allocation)] = AllocationInfo(
                        item.name, 0, "pending_destroy")
        for ring in self.staging_rings():
            for i, chunk in enumerate(ring.chunks):
                described[id(chunk.allocation)] = AllocationInfo(
                    f"staging[{ring.slot}]#{i}", STAGING_USAGE, "staging")
        return described

    # --- shutdown ------------------------------------------------------------------------

    @defers_interrupts
    def close(self) -> None:
        """Wait for the GPU, then free every buffer (live or retired) and the staging rings.

        Safe to call twice; the context calls it on ``GraphicsContext.close()``.
        """
        if self._closed:
            return
        self.context.check_thread("BufferManager.close")
        if self.context.device is None:
            self._closed = True
            return
        try:
            self.submit_uploads()
        except EngineError:
            self._ops = []
        self._closed = True
        live = list(self._live.values())
        for buffer in live:  # binders drop them now, before the handles go
            self.context.notify_buffer(buffer, "destroyed")
        self.frames.close()
        while self._live:
            _id, buffer = self._live.popitem()
            destroy_bound_buffer(self.context, self.allocator, buffer._handle, buffer._allocation)
            buffer._alive = False
            buffer._view = buffer._ptr = buffer._append_view = None
            buffer._allocation = None
        for ring in self.staging_rings():
            ring.close()
        self.allocator.close()
        self.context.remove_close_hook(self.close)

    def __enter__(self) -> BufferManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
