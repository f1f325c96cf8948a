"""Pipeline barriers: the one place that records ``vkCmdPipelineBarrier``.

- :func:`memory_barrier`: a global ``VkMemoryBarrier`` (buffers: uploads, dispatches,
  read-backs). Hot paths pass a prebuilt ``VkMemoryBarrier*`` (:func:`new_memory_barrier`) so
  no struct is built per call.
- :func:`image_barrier`: a layout transition of a prebuilt ``VkImageMemoryBarrier*``.
"""

from __future__ import annotations

from typing import Any

from engine.device.vk import ffi, lib, vk

ALL_COMMANDS = vk.VK_PIPELINE_STAGE_ALL_COMMANDS_BIT
TRANSFER = vk.VK_PIPELINE_STAGE_TRANSFER_BIT
HOST = vk.VK_PIPELINE_STAGE_HOST_BIT
COMPUTE = vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT


def new_memory_barrier() -> Any:
    """A ``VkMemoryBarrier*`` to reuse with :func:`memory_barrier`."""
    return ffi.new("VkMemoryBarrier*", {"sType": vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER})


def memory_barrier(cmd: Any, src_stage: int, src_access: int, dst_stage: int,
                   dst_access: int, *, barrier: Any = None) -> None:
    """Record a global memory barrier: ``src`` stages/accesses before ``dst`` ones."""
    if barrier is None:
        barrier = new_memory_barrier()
    barrier.srcAccessMask = src_access
    barrier.dstAccessMask = dst_access
    lib.vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 1, barrier, 0, ffi.NULL, 0, ffi.NULL)


def image_barrier(cmd: Any, barrier: Any, image: Any, old_layout: int, new_layout: int,
                  src_access: int, dst_access: int, src_stage: int, dst_stage: int) -> None:
    """Record a layout transition with the prebuilt ``VkImageMemoryBarrier*`` ``barrier``."""
    barrier.image, barrier.oldLayout, barrier.newLayout = image, old_layout, new_layout
    barrier.srcAccessMask, barrier.dstAccessMask = src_access, dst_access
    lib.vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 0, ffi.NULL, 0, ffi.NULL, 1, barrier)
