"""Memory-type choice by property flags, and the alignment granule of buffers.

Memory-type choice is generic over ``vkGetPhysicalDeviceMemoryProperties``: a caller names an
*order*, a tuple of ``(required, unwanted)`` property-flag pairs tried in turn among the types
a resource's ``memoryTypeBits`` allow; the first match wins. The buffer layer maps each
``BufferStrategy`` to its order (``engine.buffers.types.MEMORY_ORDER``): for example device-local
memory is "DEVICE_LOCAL without HOST_VISIBLE, then DEVICE_LOCAL, then anything". Every type
that matches some pair is a candidate, best first; the allocator falls back along that list
when a heap is over budget.

On lavapipe every order resolves to its single type 0xF; on NVIDIA device-local, host-visible
and host-cached orders resolve to 0x1, 0x6 and 0xE.
"""

from __future__ import annotations

import math

from engine.device.context import GraphicsContext, MemoryType
from engine.device.vk import vk
from engine.errors import NoSuitableMemoryTypeError

DEVICE_LOCAL = vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT
HOST_VISIBLE = vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
HOST_COHERENT = vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
HOST_CACHED = vk.VK_MEMORY_PROPERTY_HOST_CACHED_BIT

MemoryOrder = tuple[tuple[int, int], ...]
"""``(required, unwanted)`` property-flag pairs, tried in order."""


def candidate_types(types: tuple[MemoryType, ...], order: MemoryOrder, type_bits: int, *,
                    label: str = "") -> list[MemoryType]:
    """Every memory type matching a pair of ``order`` among ``type_bits``, best first.

    ``type_bits`` -1 means any type. ``label`` names the request (e.g. a strategy) in the
    :class:`~engine.errors.NoSuitableMemoryTypeError` raised when no type matches.
    """
    out: list[MemoryType] = []
    for required, unwanted in order:
        for t in types:
            if (type_bits & (1 << t.index) and t.flags & required == required
                    and not t.flags & unwanted and t not in out):
                out.append(t)
    if not out:
        raise NoSuitableMemoryTypeError(
            f"choose_memory_type({label or order}): none of the device's memory types "
            f"{[hex(t.flags) for t in types]} allowed by bits {type_bits:#x} fits; "
            "pick another strategy.")
    return out


def choose_memory_type(types: tuple[MemoryType, ...], order: MemoryOrder, type_bits: int, *,
                       label: str = "") -> MemoryType:
    """The first of :func:`candidate_types`."""
    return candidate_types(types, order, type_bits, label=label)[0]


def buffer_alignment(ctx: GraphicsContext) -> int:
    """The granule every buffer's size is rounded to: lcm of UBO offset and atom alignment."""
    lim = ctx.limits
    return math.lcm(lim.min_uniform_buffer_offset_alignment,
                    lim.min_storage_buffer_offset_alignment, lim.non_coherent_atom_size)


__all__ = [
    "DEVICE_LOCAL", "HOST_CACHED", "HOST_COHERENT", "HOST_VISIBLE", "MemoryOrder",
    "buffer_alignment", "candidate_types", "choose_memory_type",
]
