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

Allocation is :class:`~engine.memory.allocator.MemoryAllocator` (block suballocation, budget;
its module documents block size, thresholds and the alignment rules), re-exported here.
"""

from __future__ import annotations

import math
from typing import Any

from engine.buffers.types import BufferStrategy
from engine.device.context import GraphicsContext, MemoryType
from engine.device.vk import check_result, ffi, lib, vk
from engine.errors import NoSuitableMemoryTypeError
from engine.memory.allocator import MemoryAllocator
from engine.memory.blocks import Allocation, align_down, align_up

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


def candidate_types(
    types: tuple[MemoryType, ...], strategy: BufferStrategy, type_bits: int,
) -> list[MemoryType]:
    """Every memory type usable for ``strategy`` among ``type_bits``, best first
    (:data:`FALLBACK_ORDER`); raises :class:`NoSuitableMemoryTypeError` if there is none."""
    out: list[MemoryType] = []
    for required, unwanted in FALLBACK_ORDER[strategy]:
        for t in types:
            if (type_bits & (1 << t.index) and t.flags & required == required
                    and not t.flags & unwanted and t not in out):
                out.append(t)
    if not out:
        raise NoSuitableMemoryTypeError(
            f"choose_memory_type({strategy.value}): none of the device's memory types "
            f"{[hex(t.flags) for t in types]} allowed by bits {type_bits:#x} fits; "
            "pick another strategy.")
    return out


def choose_memory_type(
    types: tuple[MemoryType, ...], strategy: BufferStrategy, type_bits: int,
) -> MemoryType:
    """The memory type for ``strategy`` among ``type_bits``, by :data:`FALLBACK_ORDER`."""
    return candidate_types(types, strategy, type_bits)[0]


def buffer_alignment(ctx: GraphicsContext) -> int:
    """The granule every buffer's size is rounded to: lcm of UBO offset and atom alignment."""
    lim = ctx.limits
    return math.lcm(lim.min_uniform_buffer_offset_alignment,
                    lim.min_storage_buffer_offset_alignment, lim.non_coherent_atom_size)


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


__all__ = [
    "DEVICE_LOCAL", "FALLBACK_ORDER", "HOST_CACHED", "HOST_COHERENT", "HOST_VISIBLE",
    "Allocation", "MemoryAllocator", "align_down", "align_up", "bind_buffer",
    "buffer_alignment", "buffer_requirements", "choose_memory_type", "create_vk_buffer",
    "destroy_vk_buffer",
]
