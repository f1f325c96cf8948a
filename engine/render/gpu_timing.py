"""GPU time per pass (timestamp queries) and debug-utils labels per pass.

:class:`PassTimer`: one ``VkQueryPool`` of timestamps per frame slot. Each recorded frame resets
its own segment of its slot's pool at the start of the command buffer (``vkCmdResetQueryPool``,
outside the render pass), writes a timestamp at the start of every phase that has passes and
after every pass in it (``BOTTOM_OF_PIPE``: when all earlier commands finished), and remembers
which interval belongs to which pass. The results are read when the slot comes round again
after its segments are used up: each frame ends with ``vkCmdCopyQueryPoolResults`` (values and
availability) into a small host-visible buffer of the slot, and ``begin_frame`` has waited for
that slot's fence by then, so reading them is a plain memory read, no driver call and no wait
(on lavapipe ``vkGetQueryPoolResults`` contends with the queue thread: 0.1-0.5 ms a call under
load); a frame whose results are not available (a caller that renders without
``begin_frame``) is counted in ``missed`` and skipped, never waited for.

Ticks are masked to the queue family's ``timestampValidBits`` and scaled by
``timestampPeriod`` (ns per tick). A pass that records in several phases (a legacy FramePass
has three hooks) sums its intervals. The interval of a pass is the time from the end of the
previous work to the end of its own: on a GPU that overlaps passes it is an approximation.
lavapipe bins the draws of a render pass and rasterises them tile by tile when the pass's scene
is flushed, so it attributes time to passes inside one render pass only roughly (Wisp's
particle sprites show 0.05 ms there); compute-phase and whole-frame times are exact.

:class:`DebugLabels`: ``vkCmdBeginDebugUtilsLabelEXT``/``End`` around each pass, when the
context enabled ``VK_EXT_debug_utils`` and names objects (validation on, or
``ENGINE_OBJECT_NAMES=1``): validation messages then name the pass, and capture tools show it.
Label structs are built once per pass name and reused.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from engine.device.barriers import memory_barrier, new_memory_barrier
from engine.device.context import GraphicsContext
from engine.device.debug import SINK
from engine.device.vk import check_result, ffi, lib, vk
from engine.errors import NoSuitableMemoryTypeError

HISTORY = 600
"""Frames of per-pass times kept (the statistics' median covers these)."""
_STAGE = vk.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT
_RESULT_FLAGS = vk.VK_QUERY_RESULT_64_BIT | vk.VK_QUERY_RESULT_WITH_AVAILABILITY_BIT
FRAMES_PER_POOL = 16
"""Frames one slot's pool holds before they are read back together."""


class PassTimer:
    """Timestamp queries per frame slot; see the module docstring.

    Each slot's pool holds :data:`FRAMES_PER_POOL` frames (segments of ``capacity``
    timestamps). A frame resets and writes its own segment; when the slot's segments are used
    up, the next frame in that slot first reads them all in one ``vkGetQueryPoolResults`` call
    (they are complete: ``begin_frame`` waited for the slot's latest frame, and the queue runs
    in order), then starts again at segment 0. Reading once per 16 frames matters on lavapipe,
    where one ``vkGetQueryPoolResults`` call costs about 0.1 ms. :meth:`poll` (called by
    ``statistics()``) reads whatever is available already, never waiting
    (``VK_QUERY_RESULT_WITH_AVAILABILITY_BIT``).

    Args:
        ctx: the device. frames_in_flight: slots (one pool each). capacity: timestamps per
            frame before a slot's pool grows (it is recreated, after its results were read,
            when a frame needs more).
    """

    def __init__(self, ctx: GraphicsContext, frames_in_flight: int, capacity: int = 16) -> None:
        self.ctx = ctx
        props = vk.vkGetPhysicalDeviceProperties(ctx.physical_device)
        families = vk.vkGetPhysicalDeviceQueueFamilyProperties(ctx.physical_device)
        self.valid_bits = int(families[ctx.queue_family_index].timestampValidBits)
        self.period_ns = float(props.limits.timestampPeriod)
        self.supported = self.valid_bits > 0 and self.period_ns > 0
        """False where the queue has no timestamps: nothing is recorded then."""
        self._mask = np.uint64((1 << self.valid_bits) - 1 if self.valid_bits < 64
                               else (1 << 64) - 1)
        self.capacity = [0] * frames_in_flight
        """Timestamps per frame segment, per slot."""
        self._pools: list[Any] = [None] * frames_in_flight
        self._results: list[Any] = [None] * frames_in_flight
        self._segment = [0] * frames_in_flight
        self._pending: list[list[tuple[int, list[tuple[str, int]], int]]] = [
            [] for _ in range(frames_in_flight)]
        """Per slot: (first query, intervals, timestamps) of each submitted, unread frame."""
        self._initial = capacity
        self._barrier = new_memory_barrier()
        self._base = 0
        self._next = 0
        self._intervals: list[tuple[str, int]] = []
        self.history: dict[str, deque[float]] = {}
        """Per pass name, its GPU milliseconds per frame (the last :data:`HISTORY` frames)."""
        self.frame_ms: deque[float] = deque(maxlen=HISTORY)
        """GPU milliseconds from the first to the last timestamp of each frame."""
        self.frames_timed = 0
        self.missed = 0
        """Frames whose results were still unavailable when their segment was reused."""

    # --- recording -----------------------------------------------------------------------

    def begin(self, cmd: Any, slot: int, needed: int) -> None:
        """Make room for ``needed`` timestamps in the slot's next segment (reading the slot's
        earlier frames first when its segments are used up) and reset them in ``cmd``.
        A frame with no passes (``needed == 0``) records nothing and is not timed."""
        if not needed:
            self._base = self._next = 0
            self._intervals = []
            return
        if needed > self.capacity[slot] or self._results[slot] is None:
            self.collect(slot)
            self._grow(slot, max(needed, self._initial, 2 * self.capacity[slot]))
        elif self._segment[slot] == FRAMES_PER_POOL:
            self.collect(slot)
        base = self._segment[slot] * self.capacity[slot]
        # The segment's copy from its last use (complete) is cleared: availability 0 until
        # this frame's copy lands, so poll() never mistakes old results for this frame's.
        self._results[slot].words[2 * base:2 * (base + needed)] = 0
        lib.vkCmdResetQueryPool(cmd, self._pools[slot], base, needed)
        self._base = self._next = base
        self._intervals = []

    def stamp(self, cmd: Any, slot: int, name: str | None) -> None:
        """A timestamp; ``name`` labels the interval it ends (None: a phase start)."""
        index = self._next
        lib.vkCmdWriteTimestamp(cmd, _STAGE, self._pools[slot], index)
        if name is not None:
            self._intervals.append((name, index))
        self._next = index + 1

    def end(self, cmd: Any, slot: int) -> None:
        """Copy this frame's timestamps (with availability) into the slot's host-visible
        buffer at the end of ``cmd`` (outside the render pass), then make them visible to the
        host: reading them later is a memory read, no driver call."""
        n = self._next - self._base
        if n:
            results = self._results[slot]
            lib.vkCmdCopyQueryPoolResults(cmd, self._pools[slot], self._base, n, results.handle,
                                          16 * self._base, 16,
                                          _RESULT_FLAGS | vk.VK_QUERY_RESULT_WAIT_BIT)
            memory_barrier(cmd, vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
                           vk.VK_ACCESS_TRANSFER_WRITE_BIT, vk.VK_PIPELINE_STAGE_HOST_BIT,
                           vk.VK_ACCESS_HOST_READ_BIT, barrier=self._barrier)

    def submitted(self, slot: int) -> None:
        """The frame went to the GPU: its results are read later (see the class docstring)."""
        if self._next == self._base:  # nothing was stamped (a frame without passes)
            return
        self._pending[slot].append((self._base, self._intervals, self._next - self._base))
        self._segment[slot] += 1
        self._intervals = []

    def _grow(self, slot: int, capacity: int) -> None:
        """Recreate the slot's pool and results buffer for ``capacity`` timestamps per frame.
        All or nothing: if either cannot be created (or a Ctrl-C lands), the slot is left
        with no pool and capacity 0, so the next ``begin`` tries again."""
        self._destroy_pool(slot)
        self.capacity[slot] = 0
        info = ffi.new("VkQueryPoolCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
            "queryType": vk.VK_QUERY_TYPE_TIMESTAMP,
            "queryCount": capacity * FRAMES_PER_POOL})
        out = ffi.new("VkQueryPool*")
        check_result(lib.vkCreateQueryPool(self.ctx.device, info, ffi.NULL, out),
                     "vkCreateQueryPool", what="PassTimer")
        self._pools[slot] = out[0]
        try:
            self._results[slot] = _HostBuffer(self.ctx, 16 * capacity * FRAMES_PER_POOL,
                                              f"pass-timer.results{slot}")
        except BaseException:
            self._destroy_pool(slot)
            raise
        self.capacity[slot] = capacity
        self.ctx.set_object_name(vk.VK_OBJECT_TYPE_QUERY_POOL, out[0], f"pass-timer.slot{slot}")

    # --- results -------------------------------------------------------------------------

    def collect(self, slot: int) -> int:
        """Read slot ``slot``'s unread frames whose timestamps are available (one call, never
        waiting); the slot's segments are free again afterwards. Returns frames read."""
        pending = self._pending[slot]
        self._segment[slot] = 0
        if not pending:
            return 0
        self._pending[slot] = []
        return self._read(slot, pending, drop_unready=True)

    def poll(self) -> None:
        """Read every slot's frames that are complete already (never waits); unready ones
        stay pending."""
        for slot, pending in enumerate(self._pending):
            if pending:
                self._pending[slot] = []
                self._read(slot, pending, drop_unready=False)

    def _read(self, slot: int, pending: list[tuple[int, list[tuple[str, int]], int]],
              drop_unready: bool) -> int:
        count = max(base + n for base, _, n in pending)
        pairs = self._results[slot].words[:2 * count].reshape(count, 2)
        ticks: list[int] = (pairs[:, 0] & self._mask).tolist()  # Python ints: fast to index
        available: list[int] = pairs[:, 1].tolist()
        scale = self.period_ns / 1e6
        read = 0
        for base, intervals, n in pending:
            if n == 0:
                continue
            if not all(available[base:base + n]):
                if drop_unready:
                    self.missed += 1
                else:
                    self._pending[slot].append((base, intervals, n))
                continue
            per_pass: dict[str, float] = {}
            for name, end in intervals:
                delta = ticks[end] - ticks[end - 1]
                per_pass[name] = per_pass.get(name, 0.0) + max(delta, 0) * scale
            for name, ms in per_pass.items():
                self.history.setdefault(name, deque(maxlen=HISTORY)).append(ms)
            self.frame_ms.append(max(ticks[base + n - 1] - ticks[base], 0) * scale)
            self.frames_timed += 1
            read += 1
        return read

    def statistics(self) -> dict[str, Any]:
        """``{"supported", "frames", "missed", "frame_ms": {...}, "passes": {name: {...}}}``
        after reading what is available; each summary holds ``median_ms``, ``mean_ms``,
        ``p95_ms`` and ``frames``."""
        self.poll()
        return {"supported": self.supported, "frames": self.frames_timed, "missed": self.missed,
                "timestamp_period_ns": self.period_ns, "valid_bits": self.valid_bits,
                "frame_ms": _summary(self.frame_ms),
                "passes": {name: _summary(h) for name, h in self.history.items()}}

    def _destroy_pool(self, slot: int) -> None:
        if self._pools[slot] is not None and self.ctx.device is not None:
            lib.vkDestroyQueryPool(self.ctx.device, self._pools[slot], ffi.NULL)
        if self._results[slot] is not None:
            self._results[slot].destroy()
        self._pools[slot] = self._results[slot] = None
        self.capacity[slot] = 0
        self._segment[slot] = 0

    def destroy(self) -> None:
        """Destroy the pools (the GPU must be done with them); idempotent."""
        if any(p is not None for p in self._pools) and self.ctx.device is not None:
            self.ctx.wait_idle()
        for slot in range(len(self._pools)):
            self._destroy_pool(slot)
        self._pending = [[] for _ in self._pools]


class _HostBuffer:
    """A small ``TRANSFER_DST`` buffer in host-visible, coherent memory, mapped for its life
    (``words``: its contents as uint64). The timer's own: a few KiB per slot."""

    def __init__(self, ctx: GraphicsContext, size: int, name: str) -> None:
        self.ctx, self.handle, self.memory = ctx, None, None
        device = ctx.device
        info = ffi.new("VkBufferCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, "size": size,
            "usage": vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT,
            "sharingMode": vk.VK_SHARING_MODE_EXCLUSIVE})
        out = ffi.new("VkBuffer*")
        check_result(lib.vkCreateBuffer(device, info, ffi.NULL, out), "vkCreateBuffer",
                     what="PassTimer")
        self.handle = out[0]
        try:
            req = ffi.new("VkMemoryRequirements*")
            lib.vkGetBufferMemoryRequirements(device, self.handle, req)
            wanted = (vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
                      | vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)
            index = next((t.index for t in ctx.memory_types
                          if req.memoryTypeBits & (1 << t.index) and t.flags & wanted == wanted),
                         None)
            if index is None:
                raise NoSuitableMemoryTypeError("PassTimer: no host-visible coherent memory "
                                                "for timestamp results.")
            alloc = ffi.new("VkMemoryAllocateInfo*", {
                "sType": vk.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                "allocationSize": req.size, "memoryTypeIndex": index})
            mem = ffi.new("VkDeviceMemory*")
            check_result(lib.vkAllocateMemory(device, alloc, ffi.NULL, mem), "vkAllocateMemory",
                         what="PassTimer")
            self.memory = mem[0]
            check_result(lib.vkBindBufferMemory(device, self.handle, self.memory, 0),
                         "vkBindBufferMemory", what="PassTimer")
            ptr = ffi.new("void**")
            check_result(lib.vkMapMemory(device, self.memory, 0, size, 0, ptr), "vkMapMemory",
                         what="PassTimer")
            self.words = np.frombuffer(ffi.buffer(ptr[0], size), np.uint64)
            self.words[:] = 0
        except BaseException:
            self.destroy()
            raise
        ctx.set_object_name(vk.VK_OBJECT_TYPE_BUFFER, self.handle, name)

    def destroy(self) -> None:
        device = self.ctx.device
        if device is None:
            return
        if self.memory is not None:
            lib.vkFreeMemory(device, self.memory, ffi.NULL)  # unmaps it
            self.memory = None
        if self.handle is not None:
            lib.vkDestroyBuffer(device, self.handle, ffi.NULL)
            self.handle = None


def _summary(values: Any) -> dict[str, float]:
    data = np.asarray(list(values) or [0.0])
    return {"frames": float(len(values)), "median_ms": float(np.median(data)),
            "mean_ms": float(data.mean()), "p95_ms": float(np.percentile(data, 95))}


class DebugLabels:
    """Debug-utils labels around passes (no-ops when the extension or naming is off)."""

    def __init__(self, ctx: GraphicsContext) -> None:
        self.enabled = bool(ctx.debug_utils and ctx.names_objects)
        self._begin: Any = None
        self._end: Any = None
        self._labels: dict[str, Any] = {}
        if self.enabled:
            begin = lib.vkGetDeviceProcAddr(ctx.device, b"vkCmdBeginDebugUtilsLabelEXT")
            end = lib.vkGetDeviceProcAddr(ctx.device, b"vkCmdEndDebugUtilsLabelEXT")
            if begin == ffi.NULL or end == ffi.NULL:
                self.enabled = False
            else:
                self._begin = ffi.cast("PFN_vkCmdBeginDebugUtilsLabelEXT", begin)
                self._end = ffi.cast("PFN_vkCmdEndDebugUtilsLabelEXT", end)

    def begin(self, cmd: Any, name: str) -> None:
        """Open a label called ``name`` in ``cmd`` (struct cached per name), and tell the
        message sink that this thread records pass ``name`` (messages name it)."""
        SINK.enter_pass(name)
        label = self._labels.get(name)
        if label is None:
            text = ffi.new("char[]", name.encode("utf-8", errors="replace"))
            label = ffi.new("VkDebugUtilsLabelEXT*", {
                "sType": vk.VK_STRUCTURE_TYPE_DEBUG_UTILS_LABEL_EXT, "pLabelName": text})
            self._labels[name] = label
            self._labels[name + "\0text"] = text  # keeps the string alive with the struct
        self._begin(cmd, label)

    def end(self, cmd: Any) -> None:
        """Close the label :meth:`begin` opened; the thread records no pass any more."""
        self._end(cmd)
        SINK.leave_pass()

    def abandon(self) -> None:
        """A pass raised: its label is never closed (the command buffer is dropped), but the
        thread records no pass any more."""
        SINK.leave_pass()
