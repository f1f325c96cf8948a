"""Frame numbers, frame slots and the fences that prove a frame's GPU work finished.

How it works:

- Frames are numbered 0, 1, 2, ...; the set-up time before the first frame is frame ``-1``.
  Slot ``f = frame_number % frames_in_flight``.
- Every queue submission made for a frame goes through :meth:`FrameTracker.submit`, which
  attaches a fence (from a recycled pool) and records it under the frame's number.
- :meth:`FrameTracker.wait_through` waits, in order, for the fences of every frame up to ``n``
  and advances :attr:`completed_frame`, the newest frame whose submissions (and all earlier
  ones) are known complete. A frame still open (not ended) never counts as complete, since
  more submissions may come.
- Anything retired "into" frame ``n`` (a destroyed buffer, the old VkBuffer of a resize) may be
  freed once ``completed_frame >= n``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from engine.device.context import GraphicsContext
from engine.device.vk import UINT64_MAX, check_result, ffi, lib, vk


class FrameTracker:
    """Tracks submissions per frame number with fences; one per BufferManager."""

    def __init__(self, ctx: GraphicsContext, frames_in_flight: int) -> None:
        self.ctx = ctx
        self.frames_in_flight = frames_in_flight
        self.frame_number = -1
        """The current frame (or the last ended one between frames); -1 = set-up."""
        self.frame_open = False
        self.ended_through = -2
        """The newest frame that has ended (set-up, -1, ends when frame 0 begins)."""
        self._pending: OrderedDict[int, list[Any]] = OrderedDict()
        self._free_fences: list[Any] = []
        self._all_fences: list[Any] = []
        self.submissions = 0
        self._infos = ffi.new("VkSubmitInfo[2]")
        for i in range(2):
            self._infos[i].sType = vk.VK_STRUCTURE_TYPE_SUBMIT_INFO
        self._cmd_array = ffi.new("VkCommandBuffer[1]")
        self._queued: list[Any] = []
        self._queued_array = ffi.new("VkCommandBuffer[]", 8)

    @property
    def completed_frame(self) -> int:
        """Every submission of frames <= this is known complete (waited for)."""
        if self._pending:
            return min(next(iter(self._pending)) - 1, self.ended_through)
        return self.ended_through

    def _fence(self) -> Any:
        if self._free_fences:
            return self._free_fences.pop()
        info = ffi.new("VkFenceCreateInfo*", {"sType": vk.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO})
        out = ffi.new("VkFence*")
        check_result(lib.vkCreateFence(self.ctx.device, info, ffi.NULL, out), "vkCreateFence",
                     what="FrameTracker.submit")
        self._all_fences.append(out[0])
        return out[0]

    def queue(self, command_buffer: Any) -> None:
        """Hold a recorded command buffer until the frame's next :meth:`submit` (or
        :meth:`flush`), which sends it first in the same ``vkQueueSubmit``: the frame's uploads
        ride with its render submission instead of costing a submit of their own."""
        self._queued.append(command_buffer)

    def flush(self, *, what: str) -> None:
        """Submit queued command buffers on their own (end of frame, read-back, shutdown)."""
        if self._queued:
            self.submit(None, what=what)

    def submit(self, command_buffer: Any, *, what: str, submit_info: Any = None) -> None:
        """Submit one command buffer for the current frame, tracked by a fence.

        Queued command buffers (:meth:`queue`) go first, in an earlier batch of the same
        ``vkQueueSubmit``. ``submit_info`` may be a caller-built ``VkSubmitInfo*`` (semaphores
        for present); its fields are used as given. ``command_buffer`` None submits only the
        queued ones.
        """
        queued = self._queued
        infos = self._infos
        count = 0
        if queued:
            n = len(queued)
            if n > len(self._queued_array):
                self._queued_array = ffi.new("VkCommandBuffer[]", n * 2)
            for i, cmd in enumerate(queued):
                self._queued_array[i] = cmd
            batch = infos[0]
            batch.pNext = ffi.NULL  # infos[0] may hold a caller's batch from an earlier call
            batch.waitSemaphoreCount = batch.signalSemaphoreCount = 0
            batch.commandBufferCount = n
            batch.pCommandBuffers = self._queued_array
            count = 1
        if submit_info is not None:
            infos[count] = submit_info[0]
            count += 1
        elif command_buffer is not None:
            self._cmd_array[0] = command_buffer
            infos[count].commandBufferCount = 1
            infos[count].pCommandBuffers = self._cmd_array
            infos[count].waitSemaphoreCount = infos[count].signalSemaphoreCount = 0
            infos[count].pNext = ffi.NULL
            count += 1
        if count == 0:
            return
        fence = self._fence()
        result = lib.vkQueueSubmit(self.ctx.queue, count, infos, fence)
        if result < 0:
            self._free_fences.append(fence)
        check_result(result, "vkQueueSubmit", what=what)
        self._queued = []
        self.submissions += 1
        self._pending.setdefault(self.frame_number, []).append(fence)

    def wait_through(self, frame: int, *, what: str = "wait") -> None:
        """Block until every submission of frames <= ``frame`` has completed."""
        while self._pending:
            first = next(iter(self._pending))
            if first > frame:
                break
            fences = self._pending.pop(first)
            arr = ffi.new("VkFence[]", fences)
            check_result(lib.vkWaitForFences(self.ctx.device, len(fences), arr, vk.VK_TRUE,
                                             UINT64_MAX), "vkWaitForFences", what=what)
            check_result(lib.vkResetFences(self.ctx.device, len(fences), arr), "vkResetFences",
                         what=what)
            self._free_fences.extend(fences)

    def wait_all_submitted(self, *, what: str) -> None:
        """Submit anything queued, then wait for everything submitted so far (read-back and
        shutdown; never per frame)."""
        self.flush(what=what)
        self.wait_through(self.frame_number, what=what)

    def begin(self) -> int:
        """Start the next frame; returns its number (the caller waits for its slot first)."""
        self.flush(what="begin_frame")
        self.ended_through = max(self.ended_through, self.frame_number)
        self.frame_number += 1
        self.frame_open = True
        return self.frame_number

    def end(self) -> None:
        self.flush(what="end_frame")
        self.frame_open = False
        self.ended_through = self.frame_number

    def close(self) -> None:
        """Submit what is queued, wait for all work, then destroy every fence."""
        self.flush(what="close")
        self.ended_through = self.frame_number
        self.frame_open = False
        self.wait_through(self.frame_number, what="close")
        for fence in self._all_fences:
            lib.vkDestroyFence(self.ctx.device, fence, ffi.NULL)
        self._all_fences.clear()
        self._free_fences.clear()
