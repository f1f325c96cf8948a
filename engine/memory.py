"""Memory-type choice per strategy, alignment rules, and device-memory allocation.

Memory-type choice is generic over ``vkGetPhysicalDeviceMemoryProperties``. For each strategy we
try these property sets in order, among the types the buffer's ``memoryTypeBits`` allow; the
first match wins and is recorded on the buffer (``memory_type_index``, ``memory_flags``):

====================  =========================================================================
strategy              fallback order (required flags; "not X" = preferred without X)
====================  =========================================================================
DEVICE_LOCAL          DEVICE_LOCAL not HOST_VISIBLE -> DEVICE_LOCAL -> any type
HOST_VISIBLE          HOST_VISIBLE|HOST_COHERENT not DEVICE_LOCAL -> HOST_VISIBLE|HOST_COHERENT
HOST_CACHED           HOST_VISIBLE|HOST_CACHED not DEVICE_LOCAL -> HOST_VISIBLE|HOST_CACHED
                      -> HOST_VISIBLE|HOST_COHERENT (then it is simply coherent)
====================  =========================================================================

On lavapipe all three resolve to its single type 0xF; on NVIDIA to 0x1, 0x6 and 0xE.

Allocation goes through :class:`MemoryAllocator`; every ``vkAllocateMemory`` is counted. Host
memory is mapped once, persistently, when allocated and unmapped only when freed; views into it
are dropped before that (P9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .buffer_types import BufferStrategy
from .context import GraphicsContext, MemoryType
from .errors import NoSuitableMemoryTypeError
from .vk import FAULTS, check_result, ffi, lib, vk

DEVICE_LOCAL = vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT
HOST_VISIBLE = vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
HOST_COHERENT = vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
HOST_CACHED = vk.VK_MEMORY_PROPERTY_HOST_CACHED_BIT

# (required, unwanted) pairs, tried in order.
FALLBACK_ORDER: dict[BufferStrategy, tuple[tuple[int, int], ...]] = {
    BufferStrategy.DEVICE_LOCAL: (
        (DEVICE_LOCAL, HOST_VISIBLE), (DEVICE_LOCAL, 0), (0, 0)),
    BufferStrategy.HOST_VISIBLE: (
        (HOST_VISIBLE | HOST_COHERENT, DEVICE_LOCAL), (HOST_VISIBLE | HOST_COHERENT, 0)),
    BufferStrategy.HOST_CACHED: (
        (HOST_VISIBLE | HOST_CACHED, DEVICE_LOCAL), (HOST_VISIBLE | HOST_CACHED, 0),
        (HOST_VISIBLE | HOST_COHERENT, 0)),
}


def choose_memory_type(
    types: tuple[MemoryType, ...], strategy: BufferStrategy, type_bits: int,
    *, exclude: frozenset[int] = frozenset(),
) -> MemoryType:
    """The memory type for ``strategy`` among ``type_bits``, by :data:`FALLBACK_ORDER`."""
    for required, unwanted in FALLBACK_ORDER[strategy]:
        for t in types:
            if not type_bits & (1 << t.index) or t.index in exclude:
                continue
            if t.flags & required == required and not t.flags & unwanted:
                return t
    raise NoSuitableMemoryTypeError(
        f"choose_memory_type({strategy.value}): none of the device's memory types "
        f"{[hex(t.flags) for t in types]} allowed by bits {type_bits:#x} fits; "
        "pick another strategy.")


def align_up(value: int, alignment: int) -> int:
    """``value`` rounded up to a multiple of ``alignment`` (any positive integer)."""
    return -(-value // alignment) * alignment


def align_down(value: int, alignment: int) -> int:
    return value // alignment * alignment


def buffer_alignment(ctx: GraphicsContext) -> int:
    """The granule every buffer's size is rounded to: lcm of UBO offset and atom alignment."""
    lim = ctx.limits
    return math.lcm(lim.min_uniform_buffer_offset_alignment,
                    lim.min_storage_buffer_offset_alignment, lim.non_coherent_atom_size)


@dataclass(eq=False)
class Allocation:
    """A range of device memory: ``memory`` handle, ``offset`` and ``size`` in bytes.

    ``view`` is a writable ``np.uint8`` array over the mapped bytes (host types only); it is
    released before the memory is unmapped or freed.
    """

    memory: Any
    offset: int
    size: int
    type_index: int
    flags: int
    view: np.ndarray[Any, np.dtype[np.uint8]] | None = None
    dedicated: bool = True
    block: Any = field(default=None, repr=False)


class MemoryAllocator:
    """Allocates device memory for buffers; counts ``vkAllocateMemory`` calls.

    This allocator gives each buffer its own ``VkDeviceMemory`` (mapped persistently when
    host-visible).
    """

    def __init__(self, ctx: GraphicsContext) -> None:
        self.ctx = ctx
        self.allocate_calls = 0
        self.live_allocations = 0
        self.live_bytes_by_type: dict[int, int] = {}

    def allocate(self, size: int, memory_type: MemoryType, *, what: str, site: str = "buffer",
                 map_memory: bool) -> Allocation:
        """Allocate ``size`` bytes of ``memory_type``; map it when ``map_memory``."""
        FAULTS.check(site, what)
        info = ffi.new("VkMemoryAllocateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
            "allocationSize": size, "memoryTypeIndex": memory_type.index})
        out = ffi.new("VkDeviceMemory*")
        check_result(lib.vkAllocateMemory(self.ctx.device, info, ffi.NULL, out),
                     "vkAllocateMemory", what=what)
        self.allocate_calls += 1
        memory = out[0]
        view = None
        if map_memory:
            try:
                view = self._map(memory, size, what)
            except BaseException:
                lib.vkFreeMemory(self.ctx.device, memory, ffi.NULL)
                raise
        self.live_allocations += 1
        self.live_bytes_by_type[memory_type.index] = (
            self.live_bytes_by_type.get(memory_type.index, 0) + size)
        return Allocation(memory, 0, size, memory_type.index, memory_type.flags, view)

    def _map(self, memory: Any, size: int, what: str) -> np.ndarray[Any, np.dtype[np.uint8]]:
        pointer = ffi.new("void**")
        check_result(lib.vkMapMemory(self.ctx.device, memory, 0, size, 0, pointer),
                     "vkMapMemory", what=what)
        return np.frombuffer(ffi.buffer(pointer[0], size), dtype=np.uint8)

    def free(self, allocation: Allocation) -> None:
        """Unmap (dropping the view first) and free ``allocation``."""
        if allocation.view is not None:
            allocation.view = None
            lib.vkUnmapMemory(self.ctx.device, allocation.memory)
        lib.vkFreeMemory(self.ctx.device, allocation.memory, ffi.NULL)
        self.live_allocations -= 1
        self.live_bytes_by_type[allocation.type_index] -= allocation.size

    def flush(self, allocation: Allocation, offset: int, size: int, *, what: str) -> None:
        """Flush host writes of ``[offset, offset+size)`` (bytes within the allocation)."""
        self._ranges(allocation, offset, size, lib.vkFlushMappedMemoryRanges, what)

    def invalidate(self, allocation: Allocation, offset: int, size: int, *, what: str) -> None:
        """Make device writes of ``[offset, offset+size)`` visible to the host."""
        self._ranges(allocation, offset, size, lib.vkInvalidateMappedMemoryRanges, what)

    def _ranges(self, allocation: Allocation, offset: int, size: int, fn: Any, what: str) -> None:
        atom = self.ctx.limits.non_coherent_atom_size
        start = align_down(allocation.offset + offset, atom)
        end = min(align_up(allocation.offset + offset + size, atom),
                  allocation.offset + allocation.size)
        rng = ffi.new("VkMappedMemoryRange*", {
            "sType": vk.VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, "memory": allocation.memory,
            "offset": start, "size": end - start})
        check_result(fn(self.ctx.device, 1, rng), fn.__name__, what=what)

    def close(self) -> None:
        """Nothing pooled to release in this allocator."""


def create_vk_buffer(ctx: GraphicsContext, size: int, usage: int, *, what: str) -> Any:
    """``vkCreateBuffer`` (exclusive sharing) and its memory requirements."""
    info = ffi.new("VkBufferCreateInfo*", {
        "sType": vk.VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, "size": size, "usage": usage,
        "sharingMode": vk.VK_SHARING_MODE_EXCLUSIVE})
    out = ffi.new("VkBuffer*")
    check_result(lib.vkCreateBuffer(ctx.device, info, ffi.NULL, out), "vkCreateBuffer",
                 what=what)
    return out[0]


def buffer_requirements(ctx: GraphicsContext, handle: Any) -> tuple[int, int, int]:
    """(size, alignment, memoryTypeBits) of a buffer."""
    req = ffi.new("VkMemoryRequirements*")
    lib.vkGetBufferMemoryRequirements(ctx.device, handle, req)
    return int(req.size), int(req.alignment), int(req.memoryTypeBits)


def bind_buffer(ctx: GraphicsContext, handle: Any, allocation: Allocation, *, what: str) -> None:
    check_result(lib.vkBindBufferMemory(ctx.device, handle, allocation.memory, allocation.offset),
                 "vkBindBufferMemory", what=what)


def destroy_vk_buffer(ctx: GraphicsContext, handle: Any) -> None:
    lib.vkDestroyBuffer(ctx.device, handle, ffi.NULL)
