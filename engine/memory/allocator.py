"""MemoryAllocator: block suballocation of device memory, dedicated allocations and budget.

Design (as the Vulkan Memory Allocator, VMA, does it; constants below):

- **Blocks** per memory type (:mod:`engine.memory.blocks`, best fit with coalescing). Preferred
  block size :func:`preferred_block_size`: 64 MiB, or heap/8 for heaps of 1 GiB or less. VMA
  uses 256 MiB; this project's buffers are far smaller (256 B uniforms, KiB light arrays,
  3-32 MiB particle buffers, 4 MiB staging chunks), 64 MiB blocks hold thousands of them and
  the largest particle buffer, and on lavapipe a block is plain RAM of a 2-core CI box. The
  first blocks of a type are 1/8, 1/4, 1/2 of that size, so a small program maps 8 MiB.
- **Dedicated** ``VkDeviceMemory`` for a request above half the preferred block size (VMA's
  rule), unless 3/4 of ``maxMemoryAllocationCount`` is used and it fits a block.
- **Alignment**: each range starts at a multiple of the buffer's
  ``VkMemoryRequirements.alignment`` (the ``alignment`` argument). In host-visible types every
  range also starts and ends on a multiple of ``nonCoherentAtomSize`` (the pool granule; 16
  bytes in other types), coherent or not (``discrete_like`` managers flush coherent memory too),
  so the atom-rounded range that :meth:`MemoryAllocator.flush` and ``invalidate``
  pass to Vulkan never reaches a neighbour: an invalidate can not discard a neighbour's
  unflushed writes. ``bufferImageGranularity`` only separates linear from optimal-tiling
  resources; these pools hold buffers only (linear), so it never applies.
- **Mapping**: each host-visible block is mapped once, when made, and unmapped when released;
  an allocation's ``view`` is a slice of that mapping (dropped when freed, so no numpy view
  outlives the mapping).
- **Empty blocks** are released with hysteresis: one empty block per type is kept (all of them
  when the heap is over budget).
- **Budget** (:mod:`engine.memory.budget`): a new block or dedicated allocation that would
  exceed the heap's budget raises :class:`~engine.errors.BudgetExceededError`.

Every ``vkAllocateMemory`` is counted (``allocate_calls``).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from engine.device.context import GraphicsContext, MemoryType
from engine.device.vk import FAULTS, check_result, ffi, lib, vk
from engine.errors import BudgetExceededError, NoSuitableMemoryTypeError, OutOfDeviceMemoryError
from engine.memory.blocks import Allocation, BlockPool, ByteView, align_down, align_up
from engine.memory.budget import BudgetTracker, vulkan_budget_query
from engine.memory.pins import PinTable

HOST_VISIBLE = vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
MIB = 1024 * 1024
DEFAULT_BLOCK_SIZE = 64 * MIB
"""Preferred block size for heaps over 1 GiB (VMA: 256 MiB; see the module docstring)."""
SMALL_HEAP = 1024 * MIB
"""Heaps of at most this size use heap/8 blocks (VMA's rule)."""
MIN_GRANULE = 16
"""Granule of ranges in memory types that are not host-visible (bytes)."""
DEFAULT_ALIGNMENT = 256
"""Used when a caller passes no ``alignment``: covers the buffer alignments drivers report."""


def preferred_block_size(heap_size: int) -> int:
    """Block size for a heap: 64 MiB, or heap/8 (at least 1 MiB) for heaps <= 1 GiB."""
    if heap_size > SMALL_HEAP:
        return DEFAULT_BLOCK_SIZE
    return max(MIB, align_down(heap_size // 8, MIB))


class MemoryAllocator:
    """Suballocates device memory for buffers; counts ``vkAllocateMemory`` calls.

    Args:
        ctx: the device.
        block_size: preferred block size in bytes for every type (default
            :func:`preferred_block_size` of each type's heap).
        dedicated_threshold: requests above this many bytes get their own ``VkDeviceMemory``
            (default: half the preferred block size).
        keep_empty_blocks: empty blocks kept per memory type (hysteresis, default 1).

    Attributes:
        allocate_calls: successful ``vkAllocateMemory`` calls so far.
        live_allocations: allocations handed out and not yet freed.
        device_memory_count: ``VkDeviceMemory`` objects alive (blocks + dedicated).
        pools: the :class:`~engine.memory.blocks.BlockPool` of each memory type index that has
            been used.
        budget: the per-heap :class:`~engine.memory.budget.BudgetTracker`.
    """

    def __init__(self, ctx: GraphicsContext, *, block_size: int | None = None,
                 dedicated_threshold: int | None = None, keep_empty_blocks: int = 1) -> None:
        self.ctx = ctx
        self.allocate_calls = 0
        self.live_allocations = 0
        self.device_memory_count = 0
        self.live_bytes_by_type: dict[int, int] = {}
        self.pools: dict[int, BlockPool] = {}
        self.budget = BudgetTracker([size for size, _ in ctx.memory_heaps],
                                    vulkan_budget_query(ctx))
        self._block_size = block_size
        self._dedicated_threshold = dedicated_threshold
        self._keep_empty = keep_empty_blocks
        self._dedicated: dict[int, dict[int, tuple[Allocation, bool]]] = {}
        self._types = {t.index: t for t in ctx.memory_types}
        self._atom = ctx.limits.non_coherent_atom_size
        self._max_count = ctx.limits.max_memory_allocation_count
        self._range = ffi.new("VkMappedMemoryRange*",
                              {"sType": vk.VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE})
        self.pins = PinTable()
        """Zero-copy views over this allocator's memory (see :mod:`engine.memory.pins`)."""
        self._closing = False
        self._close_lock = threading.Lock()

    # --- policy ----------------------------------------------------------------------------

    def block_size(self, type_index: int) -> int:
        """Preferred block size of a memory type (bytes, a multiple of its granule)."""
        if self._block_size is not None:
            return align_up(self._block_size, self.granule(type_index))
        return align_up(preferred_block_size(self._types[type_index].heap_size),
                        self.granule(type_index))

    def dedicated_threshold(self, type_index: int) -> int:
        """Requests above this many bytes get a dedicated ``VkDeviceMemory``."""
        if self._dedicated_threshold is not None:
            return self._dedicated_threshold
        return self.block_size(type_index) // 2

    def granule(self, type_index: int) -> int:
        """Range granule: ``lcm(16, nonCoherentAtomSize)`` in host-visible types, else 16."""
        if self._types[type_index].flags & HOST_VISIBLE:
            return math.lcm(MIN_GRANULE, self._atom)
        return MIN_GRANULE

    def set_budget_override(self, heap_index: int, budget: int | None) -> None:
        """Test switch: pretend heap ``heap_index`` has ``budget`` bytes (None: the real one)."""
        self.budget.set_override(heap_index, budget)

    # --- allocate / free -------------------------------------------------------------------

    def allocate(self, size: int, memory_type: MemoryType, *, what: str, site: str = "buffer",
                 map_memory: bool, alignment: int | None = None,
                 fallback_types: tuple[MemoryType, ...] = ()) -> Allocation:
        """Allocate ``size`` bytes of ``memory_type`` at a multiple of ``alignment`` (bytes).

        Args:
            what: the caller's description, used in errors, statistics and the JSON dump.
            site: fault-injection site (``FAULTS``) and map colour (``"buffer"``,
                ``"staging"``).
            map_memory: give the allocation a ``view`` of its mapped bytes (host types only).
            alignment: ``VkMemoryRequirements.alignment`` of the buffer (default 256).
            fallback_types: memory types tried in order when ``memory_type``'s heap is over
                budget; the allocation's ``type_index`` says which one was used.

        Raises:
            OutOfDeviceMemoryError: the device refused, or (``BudgetExceededError``) every
                type's heap is over budget, or ``maxMemoryAllocationCount`` is reached.
        """
        FAULTS.check(site, what)
        if self.pins.waiting:
            self.free_unpinned()
        align = DEFAULT_ALIGNMENT if alignment is None else int(alignment)
        error: BudgetExceededError | None = None
        for mtype in (memory_type, *fallback_types):
            try:
                allocation = self._allocate_in(mtype, size, align, what, site, map_memory)
            except BudgetExceededError as exc:
                error = error or exc
                continue
            self.live_allocations += 1
            self.live_bytes_by_type[mtype.index] = (
                self.live_bytes_by_type.get(mtype.index, 0) + size)
            return allocation
        assert error is not None
        raise error

    def _allocate_in(self, mtype: MemoryType, size: int, alignment: int, what: str, site: str,
                     map_memory: bool) -> Allocation:
        index = mtype.index
        if map_memory and not mtype.flags & HOST_VISIBLE:
            raise NoSuitableMemoryTypeError(
                f"{what}: memory type {index} (flags {mtype.flags:#x}) is not host-visible, so "
                "it cannot be mapped; pick a host strategy.")
        pool = self.pools.get(index)
        if pool is None:
            pool = self._new_pool(mtype)
        reserved = align_up(max(size, 1), pool.granule)
        if reserved > pool.dedicated_threshold and (
                reserved > pool.preferred_block_size
                or self.device_memory_count < self._max_count * 3 // 4):
            return self._allocate_dedicated(mtype, size, reserved, what, site, map_memory)
        return pool.allocate(size, alignment, what=what, map_memory=map_memory, site=site)

    def _new_pool(self, mtype: MemoryType) -> BlockPool:
        index = mtype.index
        pool = self.pools[index] = BlockPool(
            self, index, mtype.flags, preferred_block_size=self.block_size(index),
            granule=self.granule(index), keep_empty=self._keep_empty)
        pool.dedicated_threshold = self.dedicated_threshold(index)
        return pool

    def _allocate_dedicated(self, mtype: MemoryType, size: int, reserved: int, what: str,
                            site: str, map_memory: bool) -> Allocation:
        memory, view = self._vk_allocate(mtype.index, reserved, what, map_memory)
        allocation = Allocation(memory, 0, size, mtype.index, mtype.flags,
                                None if view is None else view[:size], True, None, reserved,
                                what, site)
        self._dedicated.setdefault(mtype.index, {})[id(allocation)] = (allocation, map_memory)
        return allocation

    def create_block_memory(self, type_index: int, size: int, *, what: str
                            ) -> tuple[Any, ByteView | None]:
        """For :class:`~engine.memory.blocks.BlockBackend`: a block, mapped persistently when
        host-visible."""
        host = bool(self._types[type_index].flags & HOST_VISIBLE)
        return self._vk_allocate(type_index, size, f"{what} (new {size}-byte block)", host)

    def destroy_block_memory(self, type_index: int, memory: Any, size: int, mapped: bool
                             ) -> None:
        """For :class:`~engine.memory.blocks.BlockBackend`: unmap and free a block."""
        self._vk_free(type_index, memory, size, mapped)

    def _vk_allocate(self, type_index: int, size: int, what: str, map_memory: bool
                     ) -> tuple[Any, ByteView | None]:
        heap = self._types[type_index].heap_index
        if self.device_memory_count >= self._max_count:
            raise OutOfDeviceMemoryError(
                f"{what}: {self.device_memory_count} VkDeviceMemory objects reach the device's "
                f"maxMemoryAllocationCount ({self._max_count}); destroy buffers first.")
        self.budget.check(heap, size, what=what, type_index=type_index)
        memory, view = self._device_allocate(type_index, size, what, map_memory)
        self.allocate_calls += 1
        self.device_memory_count += 1
        self.budget.note_allocated(heap, size)
        return memory, view

    def _device_allocate(self, type_index: int, size: int, what: str, map_memory: bool
                         ) -> tuple[Any, ByteView | None]:
        """``vkAllocateMemory`` (+ ``vkMapMemory`` of the whole range when ``map_memory``)."""
        info = ffi.new("VkMemoryAllocateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
            "allocationSize": size, "memoryTypeIndex": type_index})
        out = ffi.new("VkDeviceMemory*")
        check_result(lib.vkAllocateMemory(self.ctx.device, info, ffi.NULL, out),
                     "vkAllocateMemory", what=what)
        memory = out[0]
        view = None
        if map_memory:
            try:
                view = self._map(memory, size, what)
            except BaseException:
                lib.vkFreeMemory(self.ctx.device, memory, ffi.NULL)
                raise
        return memory, view

    def _vk_free(self, type_index: int, memory: Any, size: int, mapped: bool) -> None:
        self._device_free(memory, mapped)
        self.device_memory_count -= 1
        self.budget.note_freed(self._types[type_index].heap_index, size)

    def _device_free(self, memory: Any, mapped: bool) -> None:
        """``vkUnmapMemory`` (when ``mapped``; views were dropped) and ``vkFreeMemory``."""
        if mapped:
            lib.vkUnmapMemory(self.ctx.device, memory)
        lib.vkFreeMemory(self.ctx.device, memory, ffi.NULL)

    def _map(self, memory: Any, size: int, what: str) -> ByteView:
        pointer = ffi.new("void**")
        check_result(lib.vkMapMemory(self.ctx.device, memory, 0, size, 0, pointer),
                     "vkMapMemory", what=what)
        return np.frombuffer(ffi.buffer(pointer[0], size), dtype=np.uint8)

    def pin_view(self, allocation: Allocation, offset: int, nbytes: int
                 ) -> np.ndarray[Any, Any]:
        """A ``np.uint8`` array over ``nbytes`` mapped bytes at ``offset`` within
        ``allocation`` that keeps the range reserved while it (or any view of it) lives."""
        return self.pins.view(allocation, offset, nbytes)

    def free_unpinned(self) -> int:
        """Free the allocations given back while pinned whose views are all gone; returns how
        many. Runs on the allocator's own calls; callers may run it at frame boundaries."""
        ready = self.pins.drain()
        for allocation in ready:
            self._free_now(allocation)
        return len(ready)

    def free(self, allocation: Allocation) -> None:
        """Give ``allocation`` back (its ``view`` is dropped first). Frees a surplus block.

        While a pinned view of it lives (:meth:`pin_view`), the range stays reserved and is
        freed by a later call once the views are gone."""
        if allocation.freed or id(allocation) in self.pins.waiting:
            raise ValueError(f"free({allocation.name!r}): not a live allocation (freed twice?)")
        if self.pins.pinned:
            self.pins.drain()
        if self.pins.hold(allocation):
            return
        self._free_now(allocation)

    def _free_now(self, allocation: Allocation) -> None:
        index = allocation.type_index
        if allocation.dedicated:
            entry = self._dedicated.get(index, {}).pop(id(allocation), None)
            if entry is None:
                raise ValueError(f"free({allocation.name!r}): not a live allocation (freed "
                                 "twice?)")
            allocation.view = None
            allocation.freed = True
            self._vk_free(index, allocation.memory, allocation.reserved, entry[1])
        else:
            pool = self.pools[index]
            pool.free(allocation)
            block = allocation.block
            if block is not None and block.empty and block.block_id in pool.blocks:
                heap = self.budget.heap(self._types[index].heap_index)
                if heap.usage > heap.budget:
                    pool.release_empty()
        self.live_allocations -= 1
        self.live_bytes_by_type[index] -= allocation.size

    def dedicated_allocations(self, type_index: int) -> list[Allocation]:
        """Live dedicated allocations of a memory type, oldest first."""
        return [a for a, _ in self._dedicated.get(type_index, {}).values()]

    # --- host coherence --------------------------------------------------------------------

    def flush(self, allocation: Allocation, offset: int, size: int, *, what: str) -> None:
        """Flush host writes of ``[offset, offset+size)`` (bytes within the allocation)."""
        self._ranges(allocation, offset, size, lib.vkFlushMappedMemoryRanges,
                     "vkFlushMappedMemoryRanges", what)

    def invalidate(self, allocation: Allocation, offset: int, size: int, *, what: str) -> None:
        """Make device writes of ``[offset, offset+size)`` visible to the host."""
        self._ranges(allocation, offset, size, lib.vkInvalidateMappedMemoryRanges,
                     "vkInvalidateMappedMemoryRanges", what)

    def _ranges(self, allocation: Allocation, offset: int, size: int, fn: Any, name: str,
                what: str) -> None:
        # Rounded to the atom, but never past the allocation's reserved span (see module doc).
        atom = self._atom
        start = align_down(allocation.offset + offset, atom)
        end = min(align_up(allocation.offset + offset + size, atom),
                  allocation.offset + allocation.reserved)
        rng = self._range
        rng.memory = allocation.memory
        rng.offset = start
        rng.size = end - start
        check_result(fn(self.ctx.device, 1, rng), name, what=what)

    # --- statistics and shutdown -----------------------------------------------------------

    def statistics(self) -> dict[str, Any]:
        """Per heap and memory type figures (see :func:`engine.memory.stats.memory_statistics`)."""
        from engine.memory.stats import memory_statistics
        return memory_statistics(self)

    def build_stats_string(self, detailed_map: bool = True) -> str:
        """A JSON dump in the format of VMA's ``vmaBuildStatsString`` (see memory_stats)."""
        from engine.memory.stats import build_stats_string
        return build_stats_string(self, detailed_map=detailed_map)

    def close(self) -> None:
        """Free every block and dedicated allocation (live allocations too); idempotent.

        With zero-copy views still alive, the memory (and, through the context, the device)
        is kept until the last of them is gone; their finalizers then finish the close."""
        if self._closing:
            return
        self.pins.drain()
        if self.pins.pinned:
            self._closing = True
            self.ctx.keep_device(self)
            self.pins.on_drop = self._close_when_unpinned
            return
        self._release_everything()

    def _close_when_unpinned(self) -> None:
        """A view died after close (any thread): finish the close once none is left."""
        while self.pins.dropped and self._close_lock.acquire(blocking=False):
            try:
                self.pins.drain()
                if not self.pins.pinned and self._closing:
                    self._closing = False
                    self.pins.on_drop = None
                    self._release_everything()
                    self.ctx.release_device(self)
                    return
            finally:
                self._close_lock.release()

    def _release_everything(self) -> None:
        self.pins.waiting.clear()
        for pool in self.pools.values():
            self.live_allocations -= pool.live_allocations
            pool.close()
        self.pools.clear()
        for index, entries in self._dedicated.items():
            for allocation, mapped in entries.values():
                allocation.view = None
                allocation.freed = True
                self._vk_free(index, allocation.memory, allocation.reserved, mapped)
                self.live_allocations -= 1
        self._dedicated.clear()
        self.live_bytes_by_type.clear()
