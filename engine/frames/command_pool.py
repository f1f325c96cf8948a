"""CommandPool: primary command buffers, handed out recording and taken back once complete.

One ``VkCommandPool`` (``RESET_COMMAND_BUFFER``) per :class:`~engine.frames.tracker.FrameTracker`.
:meth:`CommandPool.begin` returns a command buffer in the recording state; the frame slot that
was current keeps it (:attr:`~engine.frames.slot.FrameSlot.commands`) until the slot is
recycled, i.e. until the GPU finished that frame, and then :meth:`CommandPool.release` puts it
back on the free list. A command buffer that was begun but never submitted (an exception or a
Ctrl-C while recording) is reset on release, so none is ever left half-recorded.

Structs are built once; a frame allocates only when it needs more command buffers than are
free.
"""

from __future__ import annotations

from typing import Any

from engine.device.context import GraphicsContext
from engine.device.vk import check_result, ffi, lib, vk
from engine.errors import FrameStateError

_RECORDING: set[int] = set()
"""Addresses of every command buffer of any pool that was begun and not yet submitted."""


def _key(cmd: Any) -> int:
    """A command buffer's handle as an int (the set key; cffi wrappers are not stable)."""
    return int(ffi.cast("uintptr_t", cmd))


def is_recording(cmd: Any) -> bool:
    """Whether ``cmd`` is a live command buffer of an engine pool, begun and not submitted
    (record helpers check this, so a buffer of a closed manager is never written)."""
    return _key(cmd) in _RECORDING


class CommandPool:
    """A command pool and the free list of its primary command buffers."""

    def __init__(self, ctx: GraphicsContext, *, what: str) -> None:
        self.ctx = ctx
        info = ffi.new("VkCommandPoolCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
            "flags": vk.VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
            "queueFamilyIndex": ctx.queue_family_index})
        out = ffi.new("VkCommandPool*")
        check_result(lib.vkCreateCommandPool(ctx.device, info, ffi.NULL, out),
                     "vkCreateCommandPool", what=what)
        self.pool: Any = out[0]
        self.allocated = 0
        """Command buffers allocated so far (statistics; bounded by the busiest frames)."""
        self._free: list[Any] = []
        self._unsubmitted: set[int] = set()  # addresses of begun, not yet submitted buffers
        self._alloc = ffi.new("VkCommandBufferAllocateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            "commandPool": self.pool, "level": vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            "commandBufferCount": 1})
        self._out = ffi.new("VkCommandBuffer*")
        self._begin_info = ffi.new("VkCommandBufferBeginInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
            "flags": vk.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT})

    def begin(self, keep: list[Any], *, what: str) -> Any:
        """A command buffer in the recording state, appended to ``keep`` (the slot's list)."""
        if self.pool is None:
            raise FrameStateError(f"{what}: the command pool is destroyed (its owner was closed); "
                                  "create a new manager.")
        if self._free:
            cmd = self._free.pop()
        else:
            self._out[0] = ffi.NULL
            check_result(lib.vkAllocateCommandBuffers(self.ctx.device, self._alloc, self._out),
                         "vkAllocateCommandBuffers", what=what)
            cmd = self._out[0]
            self.allocated += 1
        keep.append(cmd)  # from here on the slot releases it, whatever happens next
        key = _key(cmd)
        self._unsubmitted.add(key)
        _RECORDING.add(key)
        check_result(lib.vkBeginCommandBuffer(cmd, self._begin_info), "vkBeginCommandBuffer",
                     what=what)
        return cmd

    def mark_submitted(self, cmd: Any) -> None:
        """``cmd`` went to the queue: it becomes reusable once that submission completed."""
        key = _key(cmd)
        self._unsubmitted.discard(key)
        _RECORDING.discard(key)

    def release(self, commands: list[Any]) -> None:
        """Take back ``commands`` (their submissions must be complete); empties the list."""
        unsubmitted = self._unsubmitted
        while commands:
            cmd = commands[-1]
            key = _key(cmd)
            if key in unsubmitted:  # begun and abandoned: never reuse it half-recorded
                lib.vkResetCommandBuffer(cmd, 0)
                unsubmitted.discard(key)
                _RECORDING.discard(key)
            self._free.append(cmd)
            commands.pop()

    def destroy(self) -> None:
        """Destroy the pool and its command buffers; the GPU must be done with them."""
        if self.pool is not None and self.ctx.device is not None:
            lib.vkDestroyCommandPool(self.ctx.device, self.pool, ffi.NULL)
        self.pool = None
        self._free.clear()
        _RECORDING.difference_update(self._unsubmitted)
        self._unsubmitted.clear()
