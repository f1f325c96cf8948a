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
import weakref
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

import engine.buffers.checks as checks
import engine.buffers.scatter as scatter
from engine.buffers.gpu_scatter import GpuScatter, SlotPools
from engine.buffers.mapped import MappedWrite
from engine.buffers.readback import PendingRead, Readback
from engine.buffers.record import NEVER_WRITTEN, BufferRecord
from engine.buffers.staging import CopyOp, CopyRecorder, ScatterPlan, StagingRing
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
from engine.errors import (
    BudgetExceededError,
    EngineError,
    FrameStateError,
    InvalidSizeError,
    NoSuitableMemoryTypeError,
)
from engine.frames.slot import FrameSlot
from engine.frames.tracker import FrameTracker
from engine.identity import Unshareable
from engine.memory.allocator import MemoryAllocator
from engine.memory.blocks import Allocation, align_up
from engine.memory.stats import STAGING_USAGE, AllocationInfo
from engine.memory.type_choice import DEVICE_LOCAL, HOST_COHERENT, HOST_VISIBLE, buffer_alignment
from engine.memory.vk_buffers import create_bound_buffer, destroy_bound_buffer

memmove = ffi.memmove
_get_ident = threading.get_ident

DEFAULT_STAGING_BYTES = 4 * 1024 * 1024
DIRECT_MAX_BYTES = 16 * 1024 * 1024
"""DEVICE_LOCAL buffers up to this size may live in DEVICE_LOCAL|HOST_VISIBLE memory (the
resizable-BAR window) and be written in place (``direct_writes``)."""
DIRECT_ORDER = ((DEVICE_LOCAL | HOST_VISIBLE | HOST_COHERENT, 0), (DEVICE_LOCAL | HOST_VISIBLE, 0))
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
        direct_writes: DEVICE_LOCAL buffers of at most :data:`DIRECT_MAX_BYTES` go to
            DEVICE_LOCAL|HOST_VISIBLE memory when the device has it and its heap has room
            (else ordinary device-local memory), and a write to one goes straight into it
            when no GPU work is in flight and none of its copies is pending (set-up,
            level loads); otherwise through staging as usual, so the DEVICE_LOCAL rule
            "write any time" holds. Default (None): on for GPUs that have such memory
            (``ENGINE_DIRECT_WRITES=0``/``1`` overrides), off on CPU devices (lavapipe,
            where every type is host memory and the tests exercise the staged path).
    """

    def __init__(self, context: GraphicsContext, *, frames_in_flight: int = 3,
                 discrete_like: bool = False, hazard_checks: bool | None = None,
                 staging_bytes: int = DEFAULT_STAGING_BYTES,
                 direct_writes: bool | None = None) -> None:
        frames_in_flight, staging_bytes, discrete_like, hazard_checks = checks.check_manager_args(
            context, frames_in_flight, staging_bytes, discrete_like, hazard_checks)
        context.require_open("BufferManager()")
        self.context = context
        self.frames_in_flight = frames_in_flight
        self.discrete_like = discrete_like
        if hazard_checks is None:
            hazard_checks = os.environ.get("ENGINE_HAZARD_CHECKS", "1") not in ("0", "false")
        self.hazard_checks = hazard_checks
        self.direct_writes = checks.check_direct_writes(context, direct_writes)
        """Whether small DEVICE_LOCAL buffers may be written in place (see the class doc)."""
        self._pending_dst: set[Any] = set()
        """VkBuffers that a recorded-but-unsubmitted copy of this manager writes."""
        self.allocator = MemoryAllocator(context)
        self.frames = FrameTracker(context, frames_in_flight, what="BufferManager()")
        """The frame slots: numbers, waits, command buffers, retire lists (one owner)."""
        self._owner = context.owner_thread
        self._timeline = self.frames.timeline
        self._alignment = buffer_alignment(context)
        for slot in self.frames.all_slots():
            slot.staging = StagingRing(context, self.allocator, slot.index, staging_bytes)
        self._gpu_scatter = GpuScatter(context)
        """The scatter pipeline of ``update_rows`` on DEVICE_LOCAL buffers (made on first
        use); its descriptor pools are per frame slot, reset with the slot."""
        self._scatter_pools: dict[int, SlotPools] = {}
        for slot in self.frames.all_slots():
            pools = SlotPools(self._gpu_scatter)
            slot.resets.append(pools)
            self._scatter_pools[slot.index] = pools
        self._recorder = CopyRecorder(self._gpu_scatter)
        self._scatter_queued = False  # a scatter dispatch waits in self._ops
        self._ops: list[CopyOp] = []
        self._live: dict[ManagedBuffer, BufferRecord] = {}
        """Live buffers -> their records (creation order); the one way from a buffer to its
        state, so the lookup is also the check that the buffer is this manager's and alive."""
        self._next_id = 1
        self._closed = False
        self._counters = BufferCounters()
        self._reads: list[tuple[weakref.ref[Readback], PendingRead]] = []
        """Reads whose temporary is not given back yet (the Readback may be gone)."""
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
        return list(self._live)

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
            record = BufferRecord(
                self, config.name, config.size, strategy, usage,
                None if config.dtype is None else np.dtype(config.dtype), self._next_id,
                self.frames.frame_number)
            self._attach(record, handle, allocation)
            buffer = ManagedBuffer(record)
            self._zero(record)
            self._live[buffer] = record
            self._next_id += 1
            self._counters.created += 1
            self._counters.note_live(len(self._live), record.size)
            return buffer
        except BaseException:
            if buffer is not None:
                self._live.pop(buffer, None)
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
        """A bound VkBuffer of ``size`` bytes (rounded to the buffer granule) for ``strategy``
        (a small DEVICE_LOCAL one in DEVICE_LOCAL|HOST_VISIBLE memory with ``direct_writes``,
        when there is room: over budget it falls back to ordinary device-local memory)."""
        if (self.direct_writes and strategy is BufferStrategy.DEVICE_LOCAL
                and size <= DIRECT_MAX_BYTES):
            try:
                return create_bound_buffer(
                    self.context, self.allocator, align_up(size, self._alignment), usage,
                    DIRECT_ORDER, map_memory=True, what=what, label="device_local (direct)",
                    name=name)
            except (BudgetExceededError, NoSuitableMemoryTypeError):
                pass  # no such memory, or its heap is over budget: ordinary device-local
        return create_bound_buffer(
            self.context, self.allocator, align_up(size, self._alignment), usage,
            strategy.memory_order, map_memory=strategy.is_host, what=what,
            label=strategy.value, name=name)

    def _zero(self, rec: BufferRecord) -> None:
        """New buffers start zeroed (as in WebGPU): host memset (host and direct buffers:
        no GPU work has seen the new memory), or a GPU fill in the frame."""
        mapping = rec.allocation.view
        if mapping is not None:
            mapping[: rec.capacity] = 0
            if not rec.coherent:
                self.allocator.flush(rec.allocation, 0, rec.capacity, what="create_buffer")
        else:
            self._ops.append(CopyOp(None, 0, rec.handle, 0, rec.capacity))
            self._pending_dst.add(rec.handle)

    def _attach(self, rec: BufferRecord, handle: Any, allocation: Allocation) -> None:
        """Point ``rec`` at a VkBuffer and its memory (mapping, flags, capacity)."""
        rec.handle = handle
        rec.allocation = allocation
        if rec.strategy is BufferStrategy.DEVICE_LOCAL:  # mapped only when direct (BAR)
            rec.view = rec.ptr = None
            rec.direct_ptr = None if allocation.view is None else \
                ffi.from_buffer(allocation.view)
        else:
            rec.view = allocation.view
            rec.ptr = None if allocation.view is None else ffi.from_buffer(allocation.view)
        rec.append_view = None
        rec.capacity = allocation.size
        rec.memory_type_index = allocation.type_index
        rec.memory_flags = allocation.flags
        rec.coherent = bool(allocation.flags & HOST_COHERENT) and not (
            self.discrete_like and rec.strategy is BufferStrategy.HOST_CACHED)

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
        rec = self._live.get(buffer) if buffer.__class__ is ManagedBuffer else None
        if rec is None:
            self._raise_not_live(buffer, "update_buffer")
        if offset.__class__ is not int or not 0 <= offset <= checks.MAX_DEVICE_SIZE:
            offset = checks.coerce_offset(offset, buffer, "update_buffer")
        if frame_index is not None:
            self._check_frame_index(frame_index, f"update_buffer({buffer.name!r})")
        cls = data.__class__
        if cls is np.ndarray:
            if rec.dtype is not None and data.dtype != rec.dtype:
                checks.raise_dtype(buffer, data, "update_buffer")
            if data.dtype.hasobject:
                checks.raise_object_dtype(buffer, "update_buffer")
            if not data.flags.c_contiguous:
                data = np.ascontiguousarray(data)
            nbytes = data.nbytes
        elif (cls is bytes or cls is bytearray) and rec.dtype is None:
            nbytes = len(data)
        else:
            data = checks.as_bytes_view(data, buffer, "update_buffer")
            nbytes = data.nbytes
        end = offset + nbytes
        if end > rec.size:
            checks.raise_out_of_bounds(buffer, offset, nbytes, "update_buffer")
        if rec.dtype is not None and offset % rec.dtype.itemsize:
            checks.raise_misaligned(buffer, offset, "update_buffer")
        frames = self.frames
        counters = self._counters
        if rec.ptr is not None:
            write_frame = frames.frame_number if frames.frame_open or \
                frames.frame_number < 0 else frames.frame_number + 1
            last = rec.host_write_frame
            if self.hazard_checks:
                timeline = self._timeline
                if last != write_frame:
                    if last > frames.completed_frame:
                        checks.raise_hazard(buffer, last, write_frame, self.frames_in_flight)
                elif rec.host_write_serial < timeline.last_serial > timeline.completed:
                    checks.raise_submitted_hazard(buffer, write_frame)
            if nbytes:
                memmove(rec.ptr + offset, data, nbytes)  # one copy into the mapping
                if not rec.coherent:
                    self.allocator.flush(rec.allocation, offset, nbytes,
                                         what=f"update_buffer({buffer.name!r})")
            rec.host_write_frame = write_frame
            rec.host_write_serial = self._timeline.last_serial
            counters.host_writes += 1
        elif nbytes:
            if rec.direct_ptr is not None and self._idle_for(rec.handle):
                memmove(rec.direct_ptr + offset, data, nbytes)  # in place: nothing in flight
                if not rec.coherent:
                    self.allocator.flush(rec.allocation, offset, nbytes,
                                         what=f"update_buffer({rec.name!r})")
                counters.direct_writes += 1
            else:
                self._stage(rec.handle, offset, data, nbytes)
        rec.last_updated_frame = frames.frame_number

    def _idle_for(self, handle: Any) -> bool:
        """True when a host write into ``handle``'s memory races nothing: no copy into it is
        recorded or queued, and every submission so far is known complete. "Known" means
        waited for (a frame slot's wait, a read-back), not polled: whether a write goes in
        place or through staging then depends only on the calls made, not on how fast the GPU
        is (set-up before the first frame, after a blocking read, or every frame with one
        frame in flight)."""
        if handle in self._pending_dst or self.frames.has_queued:
            return False
        timeline = self._timeline
        return timeline.completed >= timeline.last_serial

    def _stage(self, handle: Any, offset: int, data: Any, nbytes: int) -> None:
        """Copy ``data`` into this frame's staging ring and queue the GPU copy to ``handle``.

        Inside a frame a full ring grows (never stalls). Outside frames (scripts that never
        call ``begin_frame``) a full ring is drained first: the queued copies are submitted,
        the queue waited for, and the ring reused, so staging stays bounded.
        """
        chunk, staged = self._reserve_staging(nbytes, "update_buffer")
        memmove(chunk.ptr + staged, data, nbytes)  # one copy into the staging ring
        self._ops.append(CopyOp(chunk.handle, staged, handle, offset, nbytes))
        self._pending_dst.add(handle)
        counters = self._counters
        counters.uploads += 1
        counters.upload_bytes += nbytes

    # --- scatter writes ------------------------------------------------------------------

    def update_rows(self, buffer: ManagedBuffer, indices: Any, rows: Any) -> None:
        """Write ``rows[i]`` at row ``indices[i]`` of a typed buffer, in one call.

        ``indices``: a 1-D sequence of integers (rows of ``buffer.dtype``, 0 to
        ``size // itemsize - 1``); ``rows``: a 1-D numpy array of the buffer's dtype, one row
        per index. Host strategies: one vectorised assignment into the mapping. DEVICE_LOCAL:
        one staging allocation, then either one ``vkCmdCopyBuffer`` whose regions merge
        consecutive rows (up to ``scatter.SMALL`` rows, or a buffer without STORAGE usage) or
        one dispatch of the scatter shader (:mod:`engine.buffers.gpu_scatter`; rows without a
        repeated index go in the caller's order). A repeated index takes its last row.
        ``generation`` is unchanged.

        Raises (before changing anything): InvalidRowsError, ForeignBufferError,
        BufferDestroyedError, HostWriteHazardError, ManagerClosedError.
        """
        what = f"update_rows({getattr(buffer, 'name', buffer)!r})"
        self.require_open(what)
        rec = self._check_live(buffer, what)
        idx, rows = scatter.check_rows(rec.name, rec.dtype, rec.size, indices, rows)
        if not len(idx):
            return
        dtype = rec.dtype
        assert dtype is not None
        itemsize = dtype.itemsize
        counters = self._counters
        if rec.ptr is not None:
            write_frame = self._checked_host_write_frame(buffer, rec)
            count = rec.size // itemsize
            rec.view[: count * itemsize].view(dtype)[idx] = rows
            if not rec.coherent:
                low, high = int(idx.min()), int(idx.max())
                self.allocator.flush(rec.allocation, low * itemsize,
                                     (high - low + 1) * itemsize, what=what)
            rec.host_write_frame = write_frame
            rec.host_write_serial = self._timeline.last_serial
            counters.host_writes += 1
            counters.scatter_regions += len(idx)
        else:
            if len(idx) <= scatter.SMALL:
                keep_small, regions = scatter.small_plan(idx, itemsize, 0)
                packed = rows[keep_small]
                nbytes = len(keep_small) * itemsize
                chunk, staged = self._reserve_staging(nbytes, what)
                regions["src"] += staged
                first = int(regions["dst"][0])
                span = int(regions["dst"][-1] + regions["size"][-1]) - first
            else:
                gpu = self._gpu_scatter.usable(int(rec.usage), rec.capacity, 0, itemsize)
                bounds = scatter.unique_bounds(idx) if gpu else None
                if bounds is not None:  # the dispatch takes unique rows in any order
                    ordered, packed = idx, rows
                    low, high = bounds
                else:  # sorted, duplicates keep their last row (regions need ascending rows)
                    keep = scatter.last_wins_sorted(idx)
                    ordered = idx[keep]
                    packed = rows[keep]
                    low, high = int(ordered[0]), int(ordered[-1])
                nbytes = len(ordered) * itemsize
                first = low * itemsize
                span = high * itemsize + itemsize - first
                if gpu:
                    # One dispatch (engine.buffers.gpu_scatter): rows, then their indices.
                    indices = ordered.astype(np.uint32)
                    chunk, staged = self._reserve_staging(nbytes + indices.nbytes, what)
                    if self._gpu_scatter.usable(int(rec.usage), rec.capacity, chunk.capacity,
                                                itemsize):
                        chunk.view[staged:staged + nbytes] = \
                            np.ascontiguousarray(packed).view(np.uint8)
                        chunk.view[staged + nbytes:staged + nbytes + indices.nbytes] = \
                            indices.view(np.uint8)
                        plan = ScatterPlan(indices, itemsize, staged, chunk.capacity,
                                           rec.capacity)
                        self._ops.append(CopyOp(chunk.handle, staged, rec.handle, first, span,
                                                scatter=plan))
                        self._scatter_queued = True
                        self._pending_dst.add(rec.handle)
                        counters.uploads += 1
                        counters.upload_bytes += nbytes
                        counters.scatter_regions += 1
                        counters.scatter_writes += 1
                        rec.last_updated_frame = self.frames.frame_number
                        return
                else:
                    chunk, staged = self._reserve_staging(nbytes, what)
                regions = scatter.row_regions(ordered, itemsize, staged)
            chunk.view[staged:staged + nbytes] = np.ascontiguousarray(packed).view(np.uint8)
            self._ops.append(CopyOp(chunk.handle, staged, rec.handle, first, span,
                                    regions=regions))
            self._pending_dst.add(rec.handle)
            counters.uploads += 1
            counters.upload_bytes += nbytes
            counters.scatter_regions += len(regions)
        counters.scatter_writes += 1
        rec.last_updated_frame = self.frames.frame_number

    def update_ranges(self, buffer: ManagedBuffer, ranges: Any) -> None:
        """Write many byte ranges, ``[(offset, data), ...]``, in one call.

        ``data`` is anything ``update_buffer`` takes (arrays of the buffer's dtype for a typed
        buffer); ranges may come in any order but must not overlap. Host strategies: one copy
        per range and one flush over the span; DEVICE_LOCAL: one staging allocation and one
        ``vkCmdCopyBuffer`` whose regions merge ranges that touch.

        Raises (before changing anything): InvalidRowsError, InvalidDataError,
        ForeignBufferError, BufferDestroyedError, HostWriteHazardError, ManagerClosedError.
        """
        what = f"update_ranges({getattr(buffer, 'name', buffer)!r})"
        self.require_open(what)
        rec = self._check_live(buffer, what)
        items = scatter.check_ranges(
            rec.name, rec.size, ranges,
            lambda data: checks.as_bytes_view(data, buffer, "update_ranges"))
        if rec.dtype is not None:
            for offset, _view, _n in items:
                if offset % rec.dtype.itemsize:
                    checks.raise_misaligned(buffer, offset, "update_ranges")
        items = [item for item in items if item[2]]
        if not items:
            return
        counters = self._counters
        if rec.ptr is not None:
            write_frame = self._checked_host_write_frame(buffer, rec)
            ptr = rec.ptr
            for offset, view, nbytes in items:
                memmove(ptr + offset, view, nbytes)
            if not rec.coherent:
                low, high = items[0][0], items[-1][0] + items[-1][2]
                self.allocator.flush(rec.allocation, low, high - low, what=what)
            rec.host_write_frame = write_frame
            rec.host_write_serial = self._timeline.last_serial
            counters.host_writes += 1
            counters.scatter_regions += len(items)
        else:
            total = sum(n for _o, _v, n in items)
            chunk, staged = self._reserve_staging(total, what)
            merged: list[list[int]] = []  # [src, dst, size] per region
            cursor = staged
            for offset, view, nbytes in items:
                memmove(chunk.ptr + cursor, view, nbytes)
                last = merged[-1] if merged else None
                if last is not None and last[1] + last[2] == offset:
                    last[2] += nbytes  # touches the previous range: one region
                else:
                    merged.append([cursor, offset, nbytes])
                cursor += nbytes
            regions = np.array([tuple(r) for r in merged], dtype=scatter.REGION_DTYPE)
            count = len(merged)
            first = items[0][0]
            span = items[-1][0] + items[-1][2] - first
            self._ops.append(CopyOp(chunk.handle, staged, rec.handle, first, span,
                                    regions=regions))
            self._pending_dst.add(rec.handle)
            counters.uploads += 1
            counters.upload_bytes += total
            counters.scatter_regions += count
        counters.scatter_writes += 1
        rec.last_updated_frame = self.frames.frame_number

    def _reserve_staging(self, nbytes: int, what: str) -> tuple[Any, int]:
        """``nbytes`` of this frame's staging ring (outside frames a full ring is drained
        first, as :meth:`_stage` does)."""
        ring = self._ring()
        if not self.frames.frame_open and self._ops and not ring.fits(nbytes):
            self.submit_uploads()
            self.frames.wait_idle_and_recycle(what=f"{what} (staging drained)")
        return ring.allocate(nbytes)

    # --- zero-copy writes ----------------------------------------------------------------

    def map_write(self, buffer: ManagedBuffer, dtype: Any = None, *, offset: int = 0,
                  count: int | None = None) -> MappedWrite:
        """A zero-copy write: ``with manager.map_write(buf, dtype) as view: view[...] = ...``.

        ``view`` is a numpy array of ``count`` elements of ``dtype`` (default: the buffer's
        dtype, else ``np.uint8``; ``count=None``: as many whole elements as fit after
        ``offset`` bytes) over the memory the GPU reads: the persistent mapping of a host
        buffer (hazard-checked on entry, flushed on exit when not coherent), or this frame's
        staging ring for DEVICE_LOCAL (zeroed on entry; the GPU copy is recorded on exit).
        The view stays safe to hold: the memory under it is never reused while it lives
        (:mod:`engine.buffers.mapped` has the details).

        Raises (before anything changes): ForeignBufferError, BufferDestroyedError,
        InvalidDataError (dtype), InvalidOffsetError, InvalidSizeError, OutOfBoundsError;
        on entry HostWriteHazardError, ManagerClosedError, WrongThreadError.
        """
        what = f"map_write({getattr(buffer, 'name', buffer)!r})"
        self.require_open(what)
        rec = self._check_live(buffer, what)
        dt, start, count = checks.check_typed_range(buffer, dtype, offset, count, "map_write")
        return MappedWrite(self, buffer, rec, dt, start, count)

    def open_mapped_write(self, buffer: ManagedBuffer, rec: BufferRecord, offset: int,
                          nbytes: int, what: str) -> tuple[np.ndarray[Any, Any], Any]:
        """Entry of a :class:`~engine.buffers.mapped.MappedWrite`: the pinned ``np.uint8``
        view of ``nbytes`` at ``offset`` and what its exit needs (the staging chunk and
        offset, or None)."""
        self.require_open(what)
        if self._live.get(buffer) is not rec:
            checks.raise_destroyed(buffer, "map_write")
        if rec.ptr is not None:
            write_frame = self._checked_host_write_frame(buffer, rec)
            view = self.allocator.pin_view(rec.allocation, offset, nbytes)
            rec.host_write_frame = write_frame
            rec.host_write_serial = self._timeline.last_serial
            return view, None
        if nbytes == 0:
            return np.empty(0, dtype=np.uint8), None
        chunk, staged = self._reserve_staging(nbytes, what)
        view = self.allocator.pin_view(chunk.allocation, staged, nbytes)
        view[:] = 0
        return view, (chunk, staged)

    def close_mapped_write(self, rec: BufferRecord, offset: int, nbytes: int, staged: Any,
                           deliver: bool, what: str) -> None:
        """Exit of a :class:`~engine.buffers.mapped.MappedWrite`: flush (host) or queue the
        GPU copy (DEVICE_LOCAL, only when ``deliver``: the block ended without an
        exception)."""
        frames = self.frames
        counters = self._counters
        if rec.ptr is not None:
            if nbytes and not rec.coherent:
                self.allocator.flush(rec.allocation, offset, nbytes, what=what)
            counters.host_writes += 1
            counters.mapped_writes += 1
            rec.last_updated_frame = frames.frame_number
            return
        if staged is None or not deliver:
            return
        chunk, staged_offset = staged
        self._ops.append(CopyOp(chunk.handle, staged_offset, rec.handle, offset, nbytes))
        self._pending_dst.add(rec.handle)
        counters.uploads += 1
        counters.upload_bytes += nbytes
        counters.mapped_writes += 1
        rec.last_updated_frame = frames.frame_number

    def _checked_host_write_frame(self, buffer: ManagedBuffer, rec: BufferRecord) -> int:
        """The frame a host write now belongs to, after the hazard check (update_buffer runs
        the same check inline)."""
        frames = self.frames
        write_frame = frames.frame_number if frames.frame_open or \
            frames.frame_number < 0 else frames.frame_number + 1
        if self.hazard_checks:
            last = rec.host_write_frame
            timeline = self._timeline
            if last != write_frame:
                if last > frames.completed_frame:
                    checks.raise_hazard(buffer, last, write_frame, self.frames_in_flight)
            elif rec.host_write_serial < timeline.last_serial > timeline.completed:
                checks.raise_submitted_hazard(buffer, write_frame)
        return write_frame

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
        rec = self._check_live(buffer, what)
        new_size = checks.check_size(new_size, what)
        if new_size == rec.size:
            return
        self._replace(buffer, rec, new_size, what)
        self._counters.resizes += 1

    @defers_interrupts
    def relocate_buffer(self, buffer: ManagedBuffer) -> None:
        """Move ``buffer`` to a new VkBuffer of the same size (contents kept by a GPU copy in
        this frame; ``generation`` + 1, the binder rewrites its descriptors). Defragmentation
        uses this; the allocator decides where the new memory comes from."""
        what = f"relocate_buffer({getattr(buffer, 'name', buffer)!r})"
        self.require_open(what)
        rec = self._check_live(buffer, what)
        self._replace(buffer, rec, rec.size, what)

    def _replace(self, buffer: ManagedBuffer, rec: BufferRecord, new_size: int, what: str
                 ) -> None:
        """The one replace path (resize, relocation): a new VkBuffer of ``new_size`` bytes
        gets the first ``min(old, new)`` bytes (host copy now, or a GPU copy in the frame, the
        rest zeroed), the old one is retired into the frame, ``generation`` += 1 and the
        binder hears "replaced"."""
        old_size, old_handle, old_allocation = rec.size, rec.handle, rec.allocation
        keep = min(old_size, new_size)
        generation = rec.generation
        handle = allocation = item = None
        try:  # the commit point is the generation bump; before it everything is undone
            handle, allocation = self._allocate(rec.name, new_size, rec.strategy,
                                                int(rec.usage), what)
            if rec.strategy.is_host:
                assert allocation.view is not None and rec.view is not None
                if not rec.coherent:
                    self.allocator.invalidate(old_allocation, 0, keep, what=what)
                allocation.view[:keep] = rec.view[:keep]
                allocation.view[keep:] = 0
            else:
                self._ops.append(CopyOp(None, 0, handle, 0, allocation.size))
                self._ops.append(CopyOp(old_handle, 0, handle, 0, keep))
                self._pending_dst.add(handle)
            item = RetiredBuffer(self, old_handle, old_allocation, old_size, rec.name)
            self.frames.retire(item)
            rec.size = new_size
            self._attach(rec, handle, allocation)
            if rec.strategy.is_host and not rec.coherent:
                self.allocator.flush(allocation, 0, keep, what=what)
            rec.generation = generation + 1
        except BaseException:
            if rec.generation != generation:  # committed: finish telling the binders
                self._replaced(buffer, rec, old_size)
                raise
            if rec.handle is not old_handle:
                rec.size = old_size
                self._attach(rec, old_handle, old_allocation)
            if item is not None:
                self.frames.unretire(item)
            if handle is not None and allocation is not None:
                self._ops = [op for op in self._ops if op.dst is not handle]
                destroy_bound_buffer(self.context, self.allocator, handle, allocation)
            raise
        self._replaced(buffer, rec, old_size)

    def _replaced(self, buffer: ManagedBuffer, rec: BufferRecord, old_size: int) -> None:
        """After a replace committed: the new memory has no host-write history, the counters
        move, and the binders hear "replaced"."""
        rec.host_write_frame = NEVER_WRITTEN  # new memory: no GPU work has read it yet
        rec.append_frame = NEVER_WRITTEN
        rec.host_write_serial = self._timeline.last_serial
        self._counters.note_live(len(self._live), rec.size - old_size)
        self._notify(buffer, "replaced")

    @defers_interrupts
    def destroy_buffer(self, buffer: ManagedBuffer) -> None:
        """Retire ``buffer``: unusable at once, freed when the GPU finished the current frame.

        Raises BufferDestroyedError when called twice, ForeignBufferError for a buffer of
        another manager.
        """
        what = f"destroy_buffer({getattr(buffer, 'name', buffer)!r})"
        self.require_open(what)
        rec = self._check_live(buffer, what)
        item = RetiredBuffer(self, rec.handle, rec.allocation, rec.size, rec.name)
        try:  # all of it or none of it, even under a Ctrl-C
            self.frames.retire(item)
            del self._live[buffer]
            rec.alive = False
            rec.view = rec.ptr = rec.allocation = rec.append_view = None
        except BaseException:
            self.frames.unretire(item)
            self._live[buffer] = rec
            rec.alive = True
            self._attach(rec, item.handle, item.allocation)
            raise
        self._counters.destroyed += 1
        self._counters.note_live(len(self._live), -rec.size)
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
        if self._reads:
            self._collect_reads()
        if self.allocator.pins.waiting:
            self.allocator.free_unpinned()
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
            rec = self._live.get(buffer)
            if rec is None:
                continue  # destroyed meanwhile
            nbytes = data.nbytes
            if offset + nbytes > rec.size:
                continue  # shrunk meanwhile: the value no longer fits
            if rec.ptr is None:
                if nbytes:
                    self._stage(rec.handle, offset, data, nbytes)  # checked when queued
                rec.last_updated_frame = write_frame
                continue
            memmove(rec.ptr + offset, data, nbytes)
            if not rec.coherent:
                self.allocator.flush(rec.allocation, offset, nbytes,
                                     what=f"write_when_slot_begins({rec.name!r})")
            rec.host_write_frame = write_frame
            rec.host_write_serial = self._timeline.last_serial
            rec.last_updated_frame = write_frame
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
        rec = self._live.get(buffer) if buffer.__class__ is ManagedBuffer else None
        if rec is None:
            self._raise_not_live(buffer, what)
        ptr = rec.ptr
        if ptr is None:
            checks.raise_not_host(buffer, what)
        if rows.__class__ is not np.ndarray or not rows.flags.c_contiguous or rows.ndim == 0 \
                or rows.dtype.hasobject:
            checks.raise_bad_rows(buffer, rows, what)
        if rec.dtype is not None and rows.dtype != rec.dtype:
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
        if offset + span > rec.size:
            checks.raise_out_of_bounds(buffer, offset, span, what)
        self._append_rows(buffer, rec, ptr, rows, offset, stride, n, nbytes, row_bytes, what)

    def _append_rows(self, buffer: ManagedBuffer, rec: BufferRecord, ptr: Any,
                     rows: np.ndarray[Any, Any], offset: int, stride: int, n: int, nbytes: int,
                     row_bytes: int, what: str) -> None:
        """The checked part of ``append_blocks``: the hazard rule, the copy, the flush and the
        bookkeeping (arguments already validated: ``n`` rows of ``row_bytes`` in ``rows``,
        ``nbytes`` in all, inside the buffer at ``offset`` + i * ``stride``)."""
        span = (n - 1) * stride + row_bytes
        frames = self.frames
        write_frame = frames.frame_number
        if not frames.frame_open and write_frame >= 0:
            write_frame += 1
        last = rec.host_write_frame
        if self.hazard_checks:
            if last != write_frame:
                if last > frames.completed_frame:
                    checks.raise_hazard(buffer, last, write_frame, self.frames_in_flight, what)
            elif rec.append_frame != write_frame or offset < rec.append_end:
                timeline = self._timeline
                if rec.host_write_serial < timeline.last_serial > timeline.completed:
                    checks.raise_submitted_hazard(buffer, write_frame, what)
        if stride == row_bytes:
            memmove(ptr + offset, rows, nbytes)  # packed rows: one copy into the mapping
        else:
            self._strided_copy(rec, rows, n, row_bytes, offset, stride)
        if not rec.coherent:
            self.allocator.flush(rec.allocation, offset, span, what=f"{what}({buffer.name!r})")
        end = offset + span
        if rec.append_frame != write_frame:
            rec.append_frame = write_frame
            rec.append_end = end
        elif end > rec.append_end:
            rec.append_end = end
        if last != write_frame:
            # The serial of the frame's FIRST write is kept: fresh rows appended after a
            # submission must not hide that earlier rows of the frame may be read by it.
            rec.host_write_serial = self._timeline.last_serial
            rec.host_write_frame = write_frame
        rec.last_updated_frame = frames.frame_number
        self._counters.host_writes += 1

    def block_appender(self, buffer: ManagedBuffer, stride: int, row_bytes: int,
                       what: str = "append_blocks") -> Any:
        """A callable ``append(rows, offset)`` doing exactly what
        ``append_blocks(buffer, rows, offset, stride, what)`` does, for one buffer, stride and
        row size fixed here (the uniform ring's hot path).

        The same checks and hazard rule run on every call, in a cheaper form: the buffer's
        record is looked up once, and its liveness, mapping and size are read again on every
        call (a destroyed, resized or closed buffer is noticed). Anything unusual (rows that
        are not a C-contiguous array of ``row_bytes``-byte rows, an offset that is not an
        ``int``, a dead buffer, a bound exceeded, a hazard) goes to ``append_blocks`` itself,
        which raises its usual error or does the write.

        Raises now (nothing created): what ``append_blocks`` raises for the buffer, and
        InvalidSizeError for a ``stride`` or ``row_bytes`` that is not a positive integer
        (numpy integers are fine), or a ``stride`` below ``row_bytes``.
        """
        rec = self._check_live(buffer, what)
        if rec.ptr is None:
            checks.raise_not_host(buffer, what)
        stride = checks.coerce_stride(stride, f"{what}({buffer.name!r})")
        row_bytes = checks.coerce_stride(row_bytes, f"{what}({buffer.name!r})")
        if stride < row_bytes:
            raise InvalidSizeError(
                f"{what}({buffer.name!r}): block_appender stride {stride} is below the row "
                f"size {row_bytes}: rows would overlap; pass a stride of at least one row.")
        slow = self.append_blocks
        tail = self._append_rows
        owner = self._owner
        ndarray = np.ndarray
        typed = rec.dtype

        def append(rows: np.ndarray[Any, Any], offset: int) -> None:
            ptr = rec.ptr
            if ptr is None or rows.__class__ is not ndarray or offset.__class__ is not int \
                    or _get_ident() != owner or not rows.flags.c_contiguous \
                    or (typed is not None and rows.dtype != typed) or offset < 0:
                return slow(buffer, rows, offset, stride, what)  # raises, or writes
            n = len(rows)
            nbytes = rows.nbytes
            if n == 0 or nbytes != n * row_bytes or rows.dtype.hasobject \
                    or offset + (n - 1) * stride + row_bytes > rec.size:
                return slow(buffer, rows, offset, stride, what)
            return tail(buffer, rec, ptr, rows, offset, stride, n, nbytes, row_bytes, what)

        return append

    def _strided_copy(self, rec: BufferRecord, rows: np.ndarray[Any, Any], n: int,
                      row_bytes: int, offset: int, stride: int) -> None:
        """One vectorised numpy copy of ``n`` rows into the mapping at ``stride`` (a strided
        uint8 view of the whole buffer, kept per (mapping, stride, row size)); the source is
        read as raw bytes through the buffer protocol (a structured dtype's
        ``.view(np.uint8)`` costs microseconds)."""
        view = rec.view
        cached = rec.append_view
        if cached is None or cached[0] is not view or cached[1] != stride \
                or cached[2] != row_bytes:
            fit = (rec.size - row_bytes) // stride + 1
            cached = (view, stride, row_bytes,
                      np.ndarray((fit, row_bytes), np.uint8, view, 0, (stride, 1)))
            rec.append_view = cached
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
        scatters = self._scatter_queued
        self._recorder.record(cmd, ops, self._scatter_pools[frames.current.index]
                              if scatters else None)
        self._scatter_queued = False
        self._pending_dst.clear()  # recorded: frames.has_queued covers them from here
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
        rec = self._check_live(buffer, what)
        offset = checks.coerce_offset(offset, buffer, "read_buffer")
        size = checks.check_read_range(buffer, offset, size, "read_buffer")
        if size == 0:
            return b""
        self.submit_uploads()
        return self._read_back(rec, offset, size, what)

    def _read_back(self, rec: BufferRecord, offset: int, size: int, what: str) -> bytes:
        """One command buffer: a barrier from all earlier GPU writes, then a copy into a
        temporary host-cached buffer (device-local memory) or a barrier to the host (mapped
        memory); submitted with the queued uploads ahead of it; then a wait for the queue and
        an invalidate where memory is not coherent. The temporary and the command buffer are
        released in ``finally``, so an interrupt leaks neither."""
        frames = self.frames
        copier = self._recorder
        temp: tuple[Any, Allocation] | None = None
        try:
            cmd = frames.command_buffer(what=what)
            if rec.view is None:
                temp = self._allocate(f"{rec.name}:readback", size,
                                      BufferStrategy.HOST_CACHED, AUTO_USAGE, what)
                copier.barrier(cmd, copier.ALL, vk.VK_ACCESS_MEMORY_WRITE_BIT, copier.TRANSFER,
                               vk.VK_ACCESS_TRANSFER_READ_BIT)
                copier.copy(cmd, rec.handle, offset, temp[0], 0, size)
                copier.barrier(cmd, copier.TRANSFER, vk.VK_ACCESS_TRANSFER_WRITE_BIT, HOST,
                               vk.VK_ACCESS_HOST_READ_BIT)
            else:
                copier.barrier(cmd, copier.ALL, vk.VK_ACCESS_MEMORY_WRITE_BIT, HOST,
                               vk.VK_ACCESS_HOST_READ_BIT)
            check_result(lib.vkEndCommandBuffer(cmd), "vkEndCommandBuffer", what=what)
            frames.submit(cmd, what=what)
            frames.wait_idle_and_recycle(what=what)
            if temp is None:
                assert rec.view is not None
                if not rec.coherent:
                    self.allocator.invalidate(rec.allocation, offset, size, what=what)
                return bytes(rec.view[offset:offset + size])
            allocation = temp[1]
            assert allocation.view is not None
            if not allocation.flags & HOST_COHERENT or self.discrete_like:
                self.allocator.invalidate(allocation, 0, size, what=what)
            return bytes(allocation.view[:size])
        finally:
            if temp is not None:
                if self._timeline.completed < self._timeline.last_serial:
                    self.frames.retire(RetiredBuffer(self, temp[0], temp[1], size,
                                                     f"{rec.name}:readback"))
                else:
                    destroy_bound_buffer(self.context, self.allocator, temp[0], temp[1])

    @defers_interrupts
    def read_async(self, buffer: ManagedBuffer, *, offset: int = 0, size: int | None = None,
                   dtype: Any = None) -> Readback:
        """Start a non-blocking read of ``size`` bytes at ``offset`` (None: the rest).

        The copy is recorded into the current frame (after this frame's uploads) and rides
        with its next submission; poll ``Readback.ready`` on later frames and take
        ``Readback.result()`` (a numpy array of ``dtype``, default the buffer's dtype, else
        ``np.uint8``). Nothing on the frame path waits (see :mod:`engine.buffers.readback`).

        Raises (before anything changes): ForeignBufferError, BufferDestroyedError,
        InvalidOffsetError, InvalidSizeError, InvalidDataError (dtype), OutOfDeviceMemoryError.
        """
        what = f"read_async({getattr(buffer, 'name', buffer)!r})"
        self.require_open(what)
        rec = self._check_live(buffer, what)
        offset = checks.coerce_offset(offset, buffer, "read_async")
        size = checks.check_read_range(buffer, offset, size, "read_async")
        dt, _start, _count = checks.check_typed_range(buffer, dtype, offset, None, "read_async")
        self.submit_uploads()
        frames = self.frames
        temp = None
        try:
            temp = self._allocate(f"{rec.name}:read_async", max(size, 4),
                                  BufferStrategy.HOST_CACHED, AUTO_USAGE, what)
            cmd = frames.command_buffer(what=what)
            copier = self._recorder
            copier.barrier(cmd, copier.ALL, vk.VK_ACCESS_MEMORY_WRITE_BIT, copier.TRANSFER,
                           vk.VK_ACCESS_TRANSFER_READ_BIT)
            if size:
                copier.copy(cmd, rec.handle, offset, temp[0], 0, size)
            copier.barrier(cmd, copier.TRANSFER, vk.VK_ACCESS_TRANSFER_WRITE_BIT, HOST,
                           vk.VK_ACCESS_HOST_READ_BIT)
            check_result(lib.vkEndCommandBuffer(cmd), "vkEndCommandBuffer", what=what)
            pending = PendingRead(temp)
            readback = Readback(self, rec.name, offset, size, dt, frames.frame_number, pending)
            self._reads.append((weakref.ref(readback), pending))
            frames.queue(cmd, pending.submitted)
        except BaseException:
            if temp is not None and not any(p.temp is temp for _r, p in self._reads):
                destroy_bound_buffer(self.context, self.allocator, temp[0], temp[1])
            raise
        self._counters.readbacks_started += 1
        if not frames.frame_open:
            frames.flush(what=what)
        return readback

    def poll_readback(self, readback: Readback) -> bool:
        """Whether ``readback``'s copy completed (a fence poll, never a wait)."""
        self.context.check_thread(f"Readback({readback.name!r}).ready")
        pending = readback.pending
        if pending.temp is None or not pending.serial or self._closed:
            return False
        return self._timeline.poll() >= pending.serial

    def wait_readback(self, readback: Readback) -> None:
        """Block until ``readback``'s copy completed (counted as a fence wait)."""
        what = f"Readback({readback.name!r}).wait"
        self.require_open(what)
        pending = readback.pending
        if not pending.serial:
            self.submit_uploads()
            self.frames.flush(what=what)
        self._counters.readback_waits += 1
        self._timeline.wait(pending.serial, what=what)

    def take_readback(self, readback: Readback) -> np.ndarray[Any, Any]:
        """The completed ``readback``'s data as a read-only pinned view; the temporary is
        given back now (its memory stays while the view lives)."""
        what = f"Readback({readback.name!r}).result"
        self.context.check_thread(what)
        pending = readback.pending
        _handle, allocation = pending.temp
        size = readback.size
        if size and (not allocation.flags & HOST_COHERENT or self.discrete_like):
            self.allocator.invalidate(allocation, 0, size, what=what)
        itemsize = readback.dtype.itemsize
        count = size // itemsize
        raw = self.allocator.pin_view(allocation, 0, count * itemsize)
        view = raw.view(readback.dtype)
        view.flags.writeable = False
        self._release_read(pending)
        return view

    def _release_read(self, pending: PendingRead) -> None:
        temp, pending.temp = pending.temp, None
        self._reads = [(r, p) for r, p in self._reads if p is not pending]
        if temp is not None:
            destroy_bound_buffer(self.context, self.allocator, temp[0], temp[1])
            self._counters.readbacks_completed += 1

    def _collect_reads(self) -> None:
        """Give back the temporaries of reads whose Readback was dropped unread, once their
        copy is known complete (waited for: begin_frame's slot wait; no poll here, so what
        the hazard checks know does not depend on the GPU's speed)."""
        completed = self._timeline.completed
        for ref, pending in list(self._reads):
            if ref() is None and pending.serial and pending.serial <= completed:
                self._release_read(pending)

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
        for buffer in self._live.values():  # records: the fields statistics needs
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
        stats.mapped_writes_total = c.mapped_writes
        stats.direct_writes_total = c.direct_writes
        stats.direct_buffers = sum(1 for r in self._live.values() if r.direct_ptr is not None)
        stats.pinned_views = len(self.allocator.pins.pinned)
        stats.pinned_waiting = len(self.allocator.pins.waiting)
        stats.scatter_writes_total = c.scatter_writes
        stats.scatter_regions_total = c.scatter_regions
        stats.readbacks_started_total = c.readbacks_started
        stats.readbacks_completed_total = c.readbacks_completed
        stats.readbacks_pending = c.readbacks_started - c.readbacks_completed
        stats.readback_fence_waits = c.readback_waits
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

    def _check_live(self, buffer: Any, what: str) -> BufferRecord:
        """The record of ``buffer``, a live buffer of this manager; raises otherwise."""
        rec = self._live.get(buffer) if buffer.__class__ is ManagedBuffer else None
        if rec is None:
            self._raise_not_live(buffer, what.split("(")[0])
        return rec

    def _raise_not_live(self, buffer: Any, call: str) -> NoReturn:
        if buffer.__class__ is not ManagedBuffer or buffer.manager is not self:
            checks.raise_foreign(buffer, self, call)
        checks.raise_destroyed(buffer, call)

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
        for rec in self._live.values():
            if rec.allocation is not None:
                described[id(rec.allocation)] = AllocationInfo(
                    rec.name, int(rec.usage), rec.strategy.value)
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
        live = list(self._live)
        for buffer in live:  # binders drop them now, before the handles go
            self.context.notify_buffer(buffer, "destroyed")
        self.frames.close()
        for _ref, pending in self._reads:  # unread: cancelled (result() says so)
            temp, pending.temp = pending.temp, None
            destroy_bound_buffer(self.context, self.allocator, temp[0], temp[1])
        self._reads = []
        while self._live:
            _buffer, rec = self._live.popitem()
            destroy_bound_buffer(self.context, self.allocator, rec.handle, rec.allocation)
            rec.alive = False
            rec.view = rec.ptr = rec.append_view = None
            rec.allocation = None
        for ring in self.staging_rings():
            ring.close()
        for pools in self._scatter_pools.values():
            pools.destroy()
        self._gpu_scatter.destroy()
        self.allocator.close()
        self.context.remove_close_hook(self.close)

    def __enter__(self) -> BufferManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
