"""The per-frame staging ring and the frame's transfer recording.

How uploads to device-local buffers work:

1. ``update_buffer`` copies the data once into the current slot's :class:`StagingRing`
   (persistently mapped, host-visible coherent memory) and appends a :class:`CopyOp`.
2. The BufferSystem (schedule phase "uploads") calls ``BufferManager.submit_uploads()``, which
   records every op of the frame into one command buffer by :meth:`CopyRecorder.record`:
   a barrier (earlier GPU work -> transfer), the copies (with a transfer->transfer barrier only
   where a copy touches bytes an earlier copy of the batch wrote), and a barrier (transfer ->
   everything later) so that the frame's compute and draws see the data. It is submitted on the
   frame's queue, tracked by the frame's fence. No ``vkQueueWaitIdle``, no per-update submit.
3. A slot's ring is reset only when its frame slot is recycled
   (:class:`~engine.frames.slot.FrameSlot`), i.e. after the slot's previous frame completed.

A full ring grows: a new chunk (double the size, or the request) is added to the slot at once,
so nothing stalls or is overwritten; at the slot's next reset the chunks are merged into one of
the total size. Growth is counted in the statistics.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.buffers.types import BufferStrategy
from engine.device.barriers import ALL_COMMANDS, TRANSFER, memory_barrier, new_memory_barrier
from engine.device.context import GraphicsContext
from engine.device.vk import ffi, lib, vk
from engine.errors import OutOfDeviceMemoryError
from engine.memory.allocator import MemoryAllocator
from engine.memory.blocks import Allocation, align_up
from engine.memory.vk_buffers import create_bound_buffer, destroy_bound_buffer

COMPUTE = vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT
STAGING_ALIGNMENT = 16
"""Byte alignment of each staged region (keeps memcpy on aligned addresses)."""


@dataclass(eq=False)
class StagingChunk:
    """One host-visible VkBuffer of a ring slot."""

    handle: Any
    allocation: Allocation
    capacity: int
    view: np.ndarray[Any, np.dtype[np.uint8]]
    ptr: Any = None
    """cffi ``char[]`` over ``view`` (for ``ffi.memmove``, the fastest host copy)."""

    def __post_init__(self) -> None:
        self.ptr = ffi.from_buffer(self.view)


@dataclass(slots=True)
class CopyOp:
    """One GPU copy of a frame: ``size`` bytes from (src, src_offset) to (dst, dst_offset).

    ``src`` None means "fill with zeros" (``vkCmdFillBuffer``; offset and size multiples of 4).
    ``regions`` (a numpy array of :data:`engine.buffers.scatter.REGION_DTYPE`, in
    ``VkBufferCopy`` layout) makes it one ``vkCmdCopyBuffer`` with many regions; then the
    offsets and ``size`` give the span the regions cover (for the recorder's overlap barriers).
    """

    src: Any
    src_offset: int
    dst: Any
    dst_offset: int
    size: int
    regions: Any = None
    scatter: Any = None
    """A :class:`ScatterPlan`: rows to write by the scatter dispatch (or, when a later op of
    the batch touches ``dst``, by region copies made from the plan)."""


@dataclass(slots=True)
class ScatterPlan:
    """Staged rows for :class:`~engine.buffers.gpu_scatter.GpuScatter`: ``rows`` rows of
    ``row_bytes`` at ``staged`` in the chunk (``chunk_bytes`` long), then their unique
    ascending indices (``ordered``, uint32) right after; ``dst_bytes`` is the target's size."""

    ordered: Any
    row_bytes: int
    staged: int
    chunk_bytes: int
    dst_bytes: int

    @property
    def rows(self) -> int:
        return len(self.ordered)


class StagingRing:
    """Staging memory for one frame slot: a bump allocator over one or more chunks."""

    def __init__(self, ctx: GraphicsContext, allocator: MemoryAllocator, slot: int,
                 initial_capacity: int) -> None:
        self.ctx = ctx
        self.allocator = allocator
        self.slot = slot
        self.chunks: list[StagingChunk] = []
        self.cursor = 0
        self.used_this_frame = 0
        self.growths = 0
        self._initial = initial_capacity

    @property
    def capacity(self) -> int:
        return sum(c.capacity for c in self.chunks)

    def _new_chunk(self, capacity: int) -> StagingChunk:
        what = f"staging ring slot {self.slot} ({capacity} B)"
        # STORAGE: the scatter dispatch (engine.buffers.gpu_scatter) reads staged rows.
        usage = (vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT | vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT
                 | vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT)
        handle, allocation = create_bound_buffer(
            self.ctx, self.allocator, capacity, usage, BufferStrategy.HOST_VISIBLE.memory_order,
            map_memory=True, what=what, site="staging", label="staging",
            name=f"staging[{self.slot}]#{len(self.chunks)}")
        assert allocation.view is not None
        return StagingChunk(handle, allocation, capacity, allocation.view[:capacity])

    def fits(self, nbytes: int) -> bool:
        """Whether ``nbytes`` fit in the current chunk without growing the ring."""
        if not self.chunks:
            return nbytes <= self._initial
        return align_up(self.cursor, STAGING_ALIGNMENT) + nbytes <= self.chunks[-1].capacity

    def allocate(self, nbytes: int) -> tuple[StagingChunk, int]:
        """Reserve ``nbytes`` in this frame's ring; grows (never waits) when full."""
        if not self.chunks:
            self.chunks.append(self._new_chunk(max(self._initial, align_up(nbytes, 4096))))
            self.cursor = 0
        chunk = self.chunks[-1]
        offset = align_up(self.cursor, STAGING_ALIGNMENT)
        if offset + nbytes > chunk.capacity:
            capacity = max(chunk.capacity * 2, align_up(nbytes, 4096))
            chunk = self._new_chunk(capacity)
            self.chunks.append(chunk)
            self.growths += 1
            offset = 0
        self.cursor = offset + nbytes
        self.used_this_frame += nbytes
        return chunk, offset

    def reset(self) -> None:
        """Start the slot's next frame. Call only after the slot's previous frame completed.

        A chunk that a live ``map_write`` view still pins is not reused: the ring moves to a
        new chunk and the pinned one is freed once its views are gone."""
        self.allocator.free_unpinned()
        if len(self.chunks) > 1 or (self.chunks and self.chunks[0].allocation.pins):
            total = sum(c.capacity for c in self.chunks)
            while self.chunks:
                self._free_chunk(self.chunks[-1])
                self.chunks.pop()
            self._initial = total
            # On failure the next allocate() retries lazily (and raises if still short).
            with contextlib.suppress(OutOfDeviceMemoryError):
                self.chunks.append(self._new_chunk(total))
        self.cursor = 0
        self.used_this_frame = 0

    def _free_chunk(self, chunk: StagingChunk) -> None:
        destroy_bound_buffer(self.ctx, self.allocator, chunk.handle, chunk.allocation)

    def close(self) -> None:
        while self.chunks:
            self._free_chunk(self.chunks[-1])
            self.chunks.pop()


class CopyRecorder:
    """Records a frame's :class:`CopyOp` list with the barriers it needs; no per-call structs."""

    ALL = ALL_COMMANDS
    TRANSFER = TRANSFER

    def __init__(self, scatter: Any = None) -> None:
        self._region = ffi.new("VkBufferCopy*")
        self._barrier = new_memory_barrier()
        self.scatter = scatter
        """The :class:`~engine.buffers.gpu_scatter.GpuScatter` (None: region copies only)."""

    def barrier(self, cmd: Any, src_stage: int, src_access: int, dst_stage: int,
                dst_access: int) -> None:
        """A global memory barrier (with the recorder's prebuilt struct)."""
        memory_barrier(cmd, src_stage, src_access, dst_stage, dst_access, barrier=self._barrier)

    def copy(self, cmd: Any, src: Any, src_offset: int, dst: Any, dst_offset: int,
             size: int) -> None:
        """One ``vkCmdCopyBuffer`` region (with the recorder's prebuilt struct)."""
        region = self._region
        region.srcOffset, region.dstOffset, region.size = src_offset, dst_offset, size
        lib.vkCmdCopyBuffer(cmd, src, dst, 1, region)

    def record(self, cmd: Any, ops: list[CopyOp], pools: Any = None) -> None:
        """Record ``ops`` in order: pre-barrier, copies (+ hazard barriers), then the scatter
        dispatches (a scatter that a later op writes or reads becomes region copies in its
        place instead), post-barrier. ``pools``: the slot's scatter descriptor pools."""
        deferred = self._split_scatters(ops) if self.scatter is not None and pools else []
        transfer_rw = vk.VK_ACCESS_TRANSFER_READ_BIT | vk.VK_ACCESS_TRANSFER_WRITE_BIT
        memory_rw = vk.VK_ACCESS_MEMORY_READ_BIT | vk.VK_ACCESS_MEMORY_WRITE_BIT
        # Earlier GPU work (previous frames' reads and shader writes) before our copies.
        self.barrier(cmd, self.ALL, vk.VK_ACCESS_MEMORY_WRITE_BIT, self.TRANSFER, transfer_rw)
        written: dict[Any, list[tuple[int, int]]] = {}  # VkBuffer cdata -> written ranges
        region = self._region
        copy, fill = lib.vkCmdCopyBuffer, lib.vkCmdFillBuffer
        for op in ops:
            src, dst = op.src, op.dst
            end = op.dst_offset + op.size
            ranges = written.get(dst)
            hazard = ranges is not None and _overlaps(ranges, op.dst_offset, end)
            if not hazard and src is not None:
                src_ranges = written.get(src)  # only resize copies read a written buffer
                hazard = src_ranges is not None and _overlaps(
                    src_ranges, op.src_offset, op.src_offset + op.size)
            if hazard:
                self.barrier(cmd, self.TRANSFER, vk.VK_ACCESS_TRANSFER_WRITE_BIT, self.TRANSFER,
                             transfer_rw)
                written.clear()
                ranges = None
            if op.scatter is not None and op.regions is None:
                if any(d is op for d in deferred):
                    continue  # runs as a dispatch after the copies
                op.regions = _plan_regions(op.scatter)
            if src is None:
                fill(cmd, dst, op.dst_offset, op.size, 0)
            elif op.regions is not None:
                regions = op.regions
                copy(cmd, src, dst, len(regions),
                     ffi.cast("VkBufferCopy *", ffi.from_buffer(regions)))
            else:
                region.srcOffset = op.src_offset
                region.dstOffset = op.dst_offset
                region.size = op.size
                copy(cmd, src, dst, 1, region)
            if ranges is None:
                written[dst] = [(op.dst_offset, end)]
            else:
                ranges.append((op.dst_offset, end))
        if deferred:
            self._dispatch(cmd, deferred, pools)
            # Copies and dispatches before everything later in this frame.
            self.barrier(cmd, self.TRANSFER | COMPUTE, vk.VK_ACCESS_TRANSFER_WRITE_BIT
                         | vk.VK_ACCESS_SHADER_WRITE_BIT, self.ALL, memory_rw)
            return
        # Our copies before everything later in this frame (compute, vertex input, shaders).
        self.barrier(cmd, self.TRANSFER, vk.VK_ACCESS_TRANSFER_WRITE_BIT, self.ALL, memory_rw)

    def _split_scatters(self, ops: list[CopyOp]) -> list[CopyOp]:
        """The scatter ops that may run as dispatches after the copies: no later op of the
        batch writes or reads their buffer (the manager made a plan only where the pipeline
        can take it)."""
        last_use: dict[Any, int] = {}
        for i, op in enumerate(ops):
            last_use[op.dst] = i
            if op.src is not None:
                last_use[op.src] = i
        return [op for i, op in enumerate(ops)
                if op.scatter is not None and op.regions is None and last_use.get(op.dst) == i]

    def _dispatch(self, cmd: Any, deferred: list[CopyOp], pools: Any) -> None:
        """The deferred scatters: a barrier from the copies (and all earlier GPU work) to the
        compute shader, then one dispatch each."""
        self.barrier(cmd, self.ALL, vk.VK_ACCESS_MEMORY_WRITE_BIT, COMPUTE,
                     vk.VK_ACCESS_SHADER_READ_BIT | vk.VK_ACCESS_SHADER_WRITE_BIT)
        scatter = self.scatter
        for op in deferred:
            plan = op.scatter
            rows_word = plan.staged // 4
            words = plan.row_bytes // 4
            scatter.record(cmd, pools, op.src, plan.chunk_bytes, op.dst, plan.dst_bytes,
                           plan.rows, words, rows_word, rows_word + plan.rows * words)


def _plan_regions(plan: ScatterPlan) -> Any:
    from engine.buffers.scatter import row_regions

    return row_regions(plan.ordered.astype(np.int64), plan.row_bytes, plan.staged)


def _overlaps(ranges: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in ranges)
