"""The one way to make a VkBuffer with memory: create, allocate, bind (and map), with rollback.

Every buffer of the engine comes from :func:`create_bound_buffer` (user buffers, staging-ring
chunks, read-back temporaries, the new buffer of a resize or a defragmentation move) and goes
through :func:`destroy_bound_buffer`, as ``vmaCreateBuffer``/``vmaDestroyBuffer`` do:

1. a heap pre-check: a request larger than the whole heap of the order's first memory type is
   refused at once with :class:`~engine.errors.OutOfDeviceMemoryError` (no driver call);
2. ``vkCreateBuffer`` (exclusive sharing) and its memory requirements;
3. the memory type: the first candidate of the order among ``memoryTypeBits``
   (:func:`~engine.memory.type_choice.candidate_types`), the rest are budget fall-backs;
4. a suballocation (or a dedicated block) from the
   :class:`~engine.memory.allocator.MemoryAllocator`, persistently mapped for host-visible
   memory;
5. ``vkBindBufferMemory``.

If any step fails or is interrupted (an exception, a ``KeyboardInterrupt``), everything made
so far is destroyed before the exception propagates: nothing leaks and the allocator is as
before. Sizes are bytes; ``capacity`` must already be rounded to the caller's granule.
"""

from __future__ import annotations

from typing import Any

from engine.device.context import GraphicsContext
from engine.device.vk import check_result, ffi, lib, vk
from engine.errors import OutOfDeviceMemoryError
from engine.memory.allocator import MemoryAllocator
from engine.memory.blocks import Allocation
from engine.memory.type_choice import MemoryOrder, candidate_types, choose_memory_type


def create_bound_buffer(ctx: GraphicsContext, allocator: MemoryAllocator, capacity: int,
                        usage: int, order: MemoryOrder, *, map_memory: bool, what: str,
                        site: str = "buffer", label: str = "", name: str = ""
                        ) -> tuple[Any, Allocation]:
    """A ``VkBuffer`` of ``capacity`` bytes bound to memory of ``order``; see the module doc.

    Args:
        usage: ``VkBufferUsageFlags``.
        map_memory: map the memory persistently (host-visible orders).
        what: the public call, for error messages.
        site: the fault-injection site and allocation kind (``buffer``, ``staging``...).
        label: the request's name in memory-type errors (e.g. ``"device_local"``).
        name: the debug-utils object name (shown by validation messages and tools).

    Returns:
        ``(handle, allocation)``; free with :func:`destroy_bound_buffer`.
    """
    first = choose_memory_type(ctx.memory_types, order, -1, label=label)
    if capacity > first.heap_size:
        raise OutOfDeviceMemoryError(
            f"{what}: {capacity} bytes exceed the whole memory heap {first.heap_index} "
            f"({first.heap_size} bytes) that {label or 'this'} memory comes from; make the "
            "buffer smaller or split it.")
    info = ffi.new("VkBufferCreateInfo*", {
        "sType": vk.VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, "size": capacity, "usage": usage,
        "sharingMode": vk.VK_SHARING_MODE_EXCLUSIVE})
    out = ffi.new("VkBuffer*")
    allocation: Allocation | None = None
    try:
        check_result(lib.vkCreateBuffer(ctx.device, info, ffi.NULL, out), "vkCreateBuffer",
                     what=what)
        req = ffi.new("VkMemoryRequirements*")
        lib.vkGetBufferMemoryRequirements(ctx.device, out[0], req)
        req_size, req_align, bits = int(req.size), int(req.alignment), int(req.memoryTypeBits)
        candidates = candidate_types(ctx.memory_types, order, bits, label=label)
        mtype = candidates[0]
        if req_size > mtype.heap_size:
            raise OutOfDeviceMemoryError(
                f"{what}: {req_size} bytes exceed the whole memory heap {mtype.heap_index} "
                f"({mtype.heap_size} bytes) of memory type {mtype.index}; make the buffer "
                "smaller or split it.")
        allocation = allocator.allocate(req_size, mtype, what=what, site=site,
                                        map_memory=map_memory, alignment=req_align,
                                        fallback_types=tuple(candidates[1:]))
        check_result(lib.vkBindBufferMemory(ctx.device, out[0], allocation.memory,
                                            allocation.offset), "vkBindBufferMemory", what=what)
        if name:
            ctx.set_object_name(vk.VK_OBJECT_TYPE_BUFFER, out[0], name)
        return out[0], allocation  # inside the try: an interrupt here still rolls back
    except BaseException:
        if allocation is not None:
            allocator.free(allocation)
        if out[0] != ffi.NULL:
            destroy_vk_buffer(ctx, out[0])
        raise


def destroy_vk_buffer(ctx: GraphicsContext, handle: Any) -> None:
    """``vkDestroyBuffer`` (the GPU must be done with ``handle``)."""
    lib.vkDestroyBuffer(ctx.device, handle, ffi.NULL)


def destroy_bound_buffer(ctx: GraphicsContext, allocator: MemoryAllocator, handle: Any,
                         allocation: Allocation) -> None:
    """Destroy a buffer of :func:`create_bound_buffer` and free its memory range."""
    destroy_vk_buffer(ctx, handle)
    allocator.free(allocation)
