"""Read-back: copy a buffer's bytes to the host, for tests, tools and ``read_buffer``.

Blocking by design (never on the frame path): one command buffer with a barrier from all
earlier GPU writes, a copy into a temporary host-cached buffer for device-local memory (or just
a barrier to the host for mapped memory), submitted with the frame's queued uploads ahead of
it, then a wait for everything submitted so far and an invalidate where memory is not coherent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.buffers.types import AUTO_USAGE, BufferStrategy, ManagedBuffer
from engine.device.vk import ffi, lib, vk
from engine.memory.type_choice import HOST_COHERENT, Allocation, destroy_vk_buffer

if TYPE_CHECKING:
    from engine.buffers.manager import BufferManager


def read_back(manager: BufferManager, buffer: ManagedBuffer, offset: int, size: int,
              what: str) -> bytes:
    """``size`` bytes of ``buffer`` at ``offset`` (checked by the caller), after all work."""
    cmd = manager._next_command_buffer(what)
    rec = manager._recorder
    temp: tuple[Any, Allocation] | None = None
    host_read = vk.VK_ACCESS_HOST_READ_BIT
    if buffer._view is None:
        temp = manager._allocate(f"{buffer.name}:readback", size, BufferStrategy.HOST_CACHED,
                                 AUTO_USAGE, what)
        rec.barrier(cmd, rec.ALL, vk.VK_ACCESS_MEMORY_WRITE_BIT, rec.TRANSFER,
                    vk.VK_ACCESS_TRANSFER_READ_BIT)
        region = ffi.new("VkBufferCopy*", {"srcOffset": offset, "dstOffset": 0, "size": size})
        lib.vkCmdCopyBuffer(cmd, buffer.handle, temp[0], 1, region)
        rec.barrier(cmd, rec.TRANSFER, vk.VK_ACCESS_TRANSFER_WRITE_BIT,
                    vk.VK_PIPELINE_STAGE_HOST_BIT, host_read)
    else:
        rec.barrier(cmd, rec.ALL, vk.VK_ACCESS_MEMORY_WRITE_BIT,
                    vk.VK_PIPELINE_STAGE_HOST_BIT, host_read)
    manager._end_and_submit(cmd, what)
    manager.frames.wait_all_submitted(what=what)
    if temp is None:
        assert buffer._view is not None
        if not buffer._coherent:
            manager.allocator.invalidate(buffer._allocation, offset, size, what=what)
        return bytes(buffer._view[offset:offset + size])
    handle, allocation = temp
    try:
        assert allocation.view is not None
        if not allocation.flags & HOST_COHERENT or manager.discrete_like:
            manager.allocator.invalidate(allocation, 0, size, what=what)
        return bytes(allocation.view[:size])
    finally:
        destroy_vk_buffer(manager.context, handle)
        manager.allocator.free(allocation)
