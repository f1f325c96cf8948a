"""CommandRing: primary command buffers per frame slot, reused once the slot's frame is done.

Command buffers of slot ``f`` are recorded in frame ``n`` (``n % frames_in_flight == f``) and
reused from the next frame of that slot on, which ``BufferManager.begin_frame`` only starts
after waiting for frame ``n``'s fences. Structs are built once; a frame allocates only when it
needs more command buffers than any earlier frame of its slot.
"""

from __future__ import annotations

from typing import Any

from engine.device.context import GraphicsContext
from engine.device.vk import check_result, ffi, lib, vk


class CommandRing:
    """A command pool and, per slot, the command buffers handed out in the slot's frame."""

    def __init__(self, ctx: GraphicsContext, frames_in_flight: int, *, what: str) -> None:
        self.ctx = ctx
        self.frames_in_flight = frames_in_flight
        info = ffi.new("VkCommandPoolCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
            "flags": vk.VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
            "queueFamilyIndex": ctx.queue_family_index})
        out = ffi.new("VkCommandPool*")
        check_result(lib.vkCreateCommandPool(ctx.device, info, ffi.NULL, out),
                     "vkCreateCommandPool", what=what)
        self.pool: Any = out[0]
        self._buffers: list[list[Any]] = [[] for _ in range(frames_in_flight)]
        self._used = [0] * frames_in_flight
        self._frame = [-(1 << 62)] * frames_in_flight
        self._alloc = ffi.new("VkCommandBufferAllocateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            "commandPool": self.pool, "level": vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            "commandBufferCount": 1})
        self._begin_info = ffi.new("VkCommandBufferBeginInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
            "flags": vk.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT})

    def begin(self, frame_number: int, *, what: str) -> Any:
        """A command buffer of frame ``frame_number``'s slot, in the recording state."""
        slot = frame_number % self.frames_in_flight
        if self._frame[slot] != frame_number:
            self._frame[slot] = frame_number
            self._used[slot] = 0
        pool = self._buffers[slot]
        if self._used[slot] == len(pool):
            out = ffi.new("VkCommandBuffer*")
            check_result(lib.vkAllocateCommandBuffers(self.ctx.device, self._alloc, out),
                         "vkAllocateCommandBuffers", what=what)
            pool.append(out[0])
        cmd = pool[self._used[slot]]
        self._used[slot] += 1
        check_result(lib.vkBeginCommandBuffer(cmd, self._begin_info), "vkBeginCommandBuffer",
                     what=what)
        return cmd

    def destroy(self) -> None:
        """Destroy the pool (and its command buffers); the GPU must be done with them."""
        if self.pool is not None and self.ctx.device is not None:
            lib.vkDestroyCommandPool(self.ctx.device, self.pool, ffi.NULL)
        self.pool = None
