"""FrameTracker: frame numbers, the frame slots, and every submission a frame makes.

How a frame goes (one owner: this object; the BufferManager, the Renderer and FrameCommands
all use it):

1. :meth:`FrameTracker.begin` numbers the next frame ``n``, picks slot ``n % F``, waits once
   for the slot's ``wait_serial`` on the context's :class:`~engine.device.queue.QueueTimeline`
   (the slot's previous frame, and anything else the queue ran before a retire), then
   recycles the slot: its command buffers go back to the pool, its retired objects are
   released, its staging ring is reset. Frame 0 also recycles the set-up slot (frame ``-1``).
2. During the frame, :meth:`FrameTracker.command_buffer` hands out recording command buffers that
   the slot keeps; :meth:`FrameTracker.queue` holds recorded ones (the uploads) so that they ride in
   the frame's next :meth:`FrameTracker.submit` (the render) instead of costing a submit of their
   own; :meth:`FrameTracker.retire` puts a destroyed object on the slot's list.
3. :meth:`FrameTracker.end` submits anything still queued and closes the frame.

Outside frames (scripts, notebooks, tests that never call ``begin_frame``) the current slot is
the set-up slot or the last ended frame's; :meth:`FrameTracker.wait_idle_and_recycle` (used after
blocking read-backs and when a staging ring fills up outside a frame) waits for the queue and
recycles the current slot in place, so memory stays bounded whether or not frames run.

Frame completion is per queue: waits go through the shared timeline, so work another manager
submitted on the same context is waited for before a buffer retired here is freed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.device.context import GraphicsContext
from engine.device.interrupts import interrupts_deferred
from engine.device.vk import ffi, vk
from engine.frames.command_pool import CommandPool
from engine.frames.slot import FrameSlot, Retired


class FrameTracker:
    """The frames of one BufferManager (see the module docstring).

    Args:
        ctx: the device; its timeline numbers every submission.
        frames_in_flight: 1-4 slots whose GPU work may overlap.
        what: the owner's name for error messages.
    """

    def __init__(self, ctx: GraphicsContext, frames_in_flight: int, *, what: str) -> None:
        assert ctx.timeline is not None
        self.ctx = ctx
        self.timeline = ctx.timeline
        self.frames_in_flight = frames_in_flight
        self.frame_number = -1
        """The current frame (or the last ended one between frames); -1 = set-up."""
        self.frame_open = False
        self.completed_frame = -2
        """Every submission of frames <= this is known complete (waited for)."""
        self.slots = [FrameSlot(i) for i in range(frames_in_flight)]
        self.setup = FrameSlot(-1)
        self.current: FrameSlot = self.setup
        """The slot of the current (or last ended) frame; the set-up slot before frame 0."""
        self.commands = CommandPool(ctx, what=what)
        self.submissions = 0
        self._infos = ffi.new("VkSubmitInfo[2]")
        for i in range(2):
            self._infos[i].sType = vk.VK_STRUCTURE_TYPE_SUBMIT_INFO
        self._cmd_array = ffi.new("VkCommandBuffer[1]")
        self._queued: list[Any] = []
        self._on_submitted: list[Callable[[int], None]] = []
        self._queued_array = ffi.new("VkCommandBuffer[]", 8)

    # --- frames --------------------------------------------------------------------------

    def begin(self) -> FrameSlot:
        """Start the next frame: wait for its slot, recycle it; returns the slot."""
        self.flush(what="begin_frame")
        number = self.frame_number + 1
        slot = self.slots[number % self.frames_in_flight]
        if number == 0:
            self._wait(self.setup, what="begin_frame")
            self._recycle(self.setup)
        self._wait(slot, what="begin_frame")
        self._advance_completed(number - 1)
        self.frame_number = number
        self.frame_open = True
        self.current = slot
        self._recycle(slot)
        slot.frame_number = number
        return slot

    def end(self) -> None:
        """Submit what is queued and close the frame."""
        self.flush(what="end_frame")
        self.frame_open = False

    def _advance_completed(self, last_ended: int) -> None:
        """Move :attr:`completed_frame` over ended frames whose work the queue finished
        (a frame that submitted nothing is complete once the frames before it are)."""
        done = self.timeline.completed
        frame = self.completed_frame + 1
        while frame <= last_ended:
            slot = self.setup if frame < 0 else self.slots[frame % self.frames_in_flight]
            if slot.frame_number == frame and slot.wait_serial > done:
                break
            self.completed_frame = frame
            frame += 1

    def _wait(self, slot: FrameSlot, *, what: str) -> None:
        self.timeline.wait(slot.wait_serial, what=what)

    def _recycle(self, slot: FrameSlot) -> None:
        """Reuse ``slot``'s resources; the caller waited for its ``wait_serial``."""
        self.commands.release(slot.commands)
        slot.release_retired()
        if slot.staging is not None:
            slot.staging.reset()
        for state in slot.resets:
            state.reset()

    def wait_idle_and_recycle(self, *, what: str) -> None:
        """Submit what is queued, wait for everything the queue ran, and (between frames)
        recycle the current slot in place. Blocking: read-back and scripts, never per frame."""
        self.flush(what=what)
        self.timeline.wait_all(what=what)
        ended = self.frame_number if not self.frame_open else self.frame_number - 1
        self.completed_frame = max(self.completed_frame, ended)
        if not self.frame_open:
            self._recycle(self.current)

    # --- work of the current frame -------------------------------------------------------

    def command_buffer(self, *, what: str) -> Any:
        """A recording command buffer, kept by the current slot until it is recycled."""
        return self.commands.begin(self.current.commands, what=what)

    def retire(self, item: Retired) -> None:
        """Release ``item`` once the current frame, and all the queue ran so far, completed."""
        slot = self.current
        slot.wait_serial = max(slot.wait_serial, self.timeline.last_serial)
        slot.retired.append(item)

    def unretire(self, item: Retired) -> None:
        """Take back a :meth:`retire` of the current frame (its caller rolled back)."""
        retired = self.current.retired
        for i in range(len(retired) - 1, -1, -1):
            if retired[i] is item:
                del retired[i]
                return

    @property
    def has_queued(self) -> bool:
        """Whether recorded command buffers wait for the frame's next submission."""
        return bool(self._queued)

    def queue(self, command_buffer: Any, on_submitted: Callable[[int], None] | None = None
              ) -> None:
        """Hold a recorded command buffer until the frame's next :meth:`submit` (or
        :meth:`flush`), which sends it first in the same ``vkQueueSubmit``.
        ``on_submitted(serial)`` is called once it reached the queue, with that serial."""
        self._queued.append(command_buffer)
        if on_submitted is not None:
            self._on_submitted.append(on_submitted)

    def flush(self, *, what: str) -> None:
        """Submit queued command buffers on their own (end of frame, read-back, shutdown)."""
        if self._queued:
            self.submit(None, what=what)

    def submit(self, command_buffer: Any, *, what: str, submit_info: Any = None) -> int:
        """Submit one command buffer for the current frame; returns the queue serial.

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
            return self.timeline.last_serial
        timeline = self.timeline
        before = timeline.last_serial
        with interrupts_deferred():  # a real Ctrl-C waits until the bookkeeping is done
            self._queued = []  # taken: never submitted twice, whatever happens below
            try:
                timeline.submit(count, infos, what=what)
            except BaseException:
                if timeline.last_serial == before:  # it did not reach the queue
                    self._queued = queued + self._queued
                raise
            finally:
                self.current.wait_serial = max(self.current.wait_serial, timeline.last_serial)
            self.submissions += 1
            if self._on_submitted and queued:
                callbacks, self._on_submitted = self._on_submitted, []
                for callback in callbacks:
                    callback(timeline.last_serial)
            commands = self.commands
            for cmd in queued:
                commands.mark_submitted(cmd)
            if command_buffer is not None:
                commands.mark_submitted(command_buffer)
        return timeline.last_serial

    # --- statistics and shutdown ---------------------------------------------------------

    def all_slots(self) -> list[FrameSlot]:
        return [*self.slots, self.setup]

    @property
    def retired_count(self) -> int:
        return sum(len(s.retired) for s in self.all_slots())

    @property
    def retired_bytes(self) -> int:
        return sum(s.retired_bytes for s in self.all_slots())

    def close(self) -> None:
        """Submit what is queued, wait for the queue, release every slot, destroy the pool."""
        self.flush(what="close")
        self.frame_open = False
        self.timeline.wait_all(what="close")
        self.completed_frame = self.frame_number
        for slot in self.all_slots():
            self._recycle(slot)
        self.commands.destroy()
