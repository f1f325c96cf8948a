"""QueueTimeline: every submission to the context's queue, numbered, with a fence each.

Frame completion is known per queue, not per manager: two BufferManagers (or a manager and a
renderer, or a tool) that share one GraphicsContext submit to the same ``VkQueue``, so a buffer
retired by one of them may still be read by work another submitted. Every ``vkQueueSubmit`` of
the engine therefore goes through :meth:`QueueTimeline.submit`, which gives it the next
*serial* (1, 2, 3, ...) and a fence. Whoever must know that "everything submitted so far" has
finished remembers :attr:`QueueTimeline.last_serial` and later waits for it.

- :attr:`QueueTimeline.completed` is the newest serial whose submission, and every earlier one, is
  known complete. It advances only in :meth:`QueueTimeline.wait`, so that decisions made from it
  (host-write hazards, frees) do not depend on how fast the GPU is.
- Fences are recycled: a waited fence is reset and reused by a later submission.
- Submissions complete in serial order as far as callers can tell: :meth:`QueueTimeline.wait` waits
  for every fence up to the serial asked for, oldest first.

Thread rule: like every engine object, a timeline is used only from its context's owner
thread (:meth:`~engine.device.context.GraphicsContext.check_thread`).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from engine.device.vk import UINT64_MAX, check_result, ffi, lib, vk


class QueueTimeline:
    """Serial numbers and fences for the submissions of one ``VkQueue``.

    Args:
        device: the ``VkDevice``.
        queue: the ``VkQueue`` every submission goes to.
    """

    def __init__(self, device: Any, queue: Any) -> None:
        self._device = device
        self._queue = queue
        self.last_serial = 0
        """The serial of the newest submission (0: nothing submitted yet)."""
        self.completed = 0
        """Every submission with a serial <= this is known complete."""
        self._pending: deque[tuple[int, Any]] = deque()  # (serial, fence), oldest first
        self._free: list[Any] = []
        self._all: list[Any] = []
        self._fence_info = ffi.new("VkFenceCreateInfo*",
                                   {"sType": vk.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO})
        self._fence_out = ffi.new("VkFence*")
        self._wait_array = ffi.new("VkFence[]", 8)

    def _fence(self, what: str) -> Any:
        if self._free:
            return self._free.pop()
        self._fence_out[0] = ffi.NULL
        check_result(lib.vkCreateFence(self._device, self._fence_info, ffi.NULL,
                                       self._fence_out), "vkCreateFence", what=what)
        fence = self._fence_out[0]
        self._all.append(fence)
        return fence

    def submit(self, count: int, infos: Any, *, what: str) -> int:
        """``vkQueueSubmit`` of ``count`` ``VkSubmitInfo`` batches; returns the new serial.

        On failure nothing is recorded (the fence goes back to the pool) and the error names
        ``what``. An exception (a Ctrl-C) right after a successful ``vkQueueSubmit`` still
        records the submission before it propagates, so its fence is waited for.
        """
        fence = self._fence(what)
        result = None
        try:
            result = lib.vkQueueSubmit(self._queue, count, infos, fence)
            if result < 0:
                self._free.append(fence)
                check_result(result, "vkQueueSubmit", what=what)
            self._record(fence)
        except BaseException:
            if result is not None and result >= 0 and (
                    not self._pending or self._pending[-1][1] is not fence):
                self._record(fence)
            raise
        return self.last_serial

    def _record(self, fence: Any) -> None:
        self._pending.append((self.last_serial + 1, fence))
        self.last_serial += 1

    def wait(self, serial: int, *, what: str) -> None:
        """Block until every submission with a serial <= ``serial`` has completed."""
        if serial <= self.completed:
            return
        pending = self._pending
        popped: list[tuple[int, Any]] = []
        while pending and pending[0][0] <= serial:
            popped.append(pending.popleft())
        if not popped:
            self.completed = max(self.completed, min(serial, self.last_serial))
            return
        n = len(popped)
        if n > len(self._wait_array):
            self._wait_array = ffi.new("VkFence[]", n * 2)
        array = self._wait_array
        for i, (_serial, fence) in enumerate(popped):
            array[i] = fence
        try:
            check_result(lib.vkWaitForFences(self._device, n, array, vk.VK_TRUE, UINT64_MAX),
                         "vkWaitForFences", what=what)
        except BaseException:  # interrupted or failed: the fences are still pending
            pending.extendleft(reversed(popped))
            raise
        check_result(lib.vkResetFences(self._device, n, array), "vkResetFences", what=what)
        self._free.extend(fence for _serial, fence in popped)
        self.completed = popped[-1][0]

    def poll(self) -> int:
        """Advance :attr:`completed` past every submission whose fence has signalled, oldest
        first, without blocking (``vkGetFenceStatus``); returns :attr:`completed`."""
        pending = self._pending
        while pending:
            serial, fence = pending[0]
            if lib.vkGetFenceStatus(self._device, fence) != vk.VK_SUCCESS:
                break
            pending.popleft()
            self._fence_out[0] = fence
            check_result(lib.vkResetFences(self._device, 1, self._fence_out), "vkResetFences",
                         what="QueueTimeline.poll")
            self._free.append(fence)
            self.completed = serial
        return self.completed

    def wait_all(self, *, what: str) -> None:
        """Block until everything submitted so far has completed."""
        self.wait(self.last_serial, what=what)

    def destroy(self) -> None:
        """Wait for all work, then destroy every fence (the context calls this at close)."""
        if self._pending:
            array = ffi.new("VkFence[]", [f for _, f in self._pending])
            lib.vkWaitForFences(self._device, len(self._pending), array, vk.VK_TRUE,
                                UINT64_MAX)
            self._pending.clear()
        self.completed = self.last_serial
        for fence in self._all:
            lib.vkDestroyFence(self._device, fence, ffi.NULL)
        self._all.clear()
        self._free.clear()
