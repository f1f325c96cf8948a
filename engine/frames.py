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

from .context import GraphicsContext
from .vk import UINT64_MAX, check_result, ffi, lib, vk


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
        self._fence_array = ffi.new("VkFence[1]")
        self._submit_info = ffi.new("VkSubmitInfo*", {"sType": vk.VK_STRUCTURE_TYPE_SUBMIT_INFO})
        self._cmd_array = ffi.new("VkCommandBuffer[1]")

    @property
    def completed_frame(self) -> int:
        """Every submission of frames <= this is known complete (waited for)."""
        if self._pending:
            return min(next(iter(self._pending)) - 1, self.ended_through)
        return self.ended_through

    @property
    def slot(self) -> int:
        return self.frame_number % self.frames_in_flight

    def _fence(self) -> Any:
        if self._free_fences:
            return self._free_fences.pop()
        info = ffi.new("VkFenceCreateInfo*", {"sType": vk.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO})
        out = ffi.new("VkFence*")
        check_result(lib.vkCreateFence(self.ctx.device, info, ffi.NULL, out), "vkCreateFence",
                     what="FrameTracker.submit")
        self._all_fences.append(out[0])
        return out[0]

    def submit(self, command_buffer: Any, *, what: str, submit_info: Any = None) -> None:
        """Submit one command buffer for the current frame, tracked by a fence.

        ``submit_info`` may be a caller-built ``VkSubmitInfo*`` (semaphores for present); its
        command-buffer fields are used as given.
        """
        fence = self._fence()
        info = submit_info
        if info is None:
            info = self._submit_info
            self._cmd_array[0] = command_buffer
            info.commandBufferCount = 1
            info.pCommandBuffers = self._cmd_array
        result = lib.vkQueueSubmit(self.ctx.queue, 1, info, fence)
        if result < 0:
            self._free_fences.append(fence)
        check_result(result, "vkQueueSubmit", what=what)
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
        """Wait for everything submitted so far (read-back and shutdown; never per frame)."""
        self.wait_through(self.frame_number, what=what)

    def pending_frames(self) -> list[int]:
        return list(self._pending)

    def begin(self) -> int:
        """Start the next frame; returns its number (the caller waits for its slot first)."""
        self.ended_through = max(self.ended_through, self.frame_number)
        self.frame_number += 1
        self.frame_open = True
        return self.frame_number

    def end(self) -> None:
        self.frame_open = False
        self.ended_through = self.frame_number

    def close(self) -> None:
        """Wait for all work, then destroy every fence."""
        self.ended_through = self.frame_number
        self.frame_open = False
        self.wait_through(self.frame_number, what="close")
        for fence in self._all_fences:
            lib.vkDestroyFence(self.ctx.device, fence, ffi.NULL)
        self._all_fences.clear()
        self._free_fences.clear()
