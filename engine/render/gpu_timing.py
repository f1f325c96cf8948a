"""GPU time per pass (timestamp queries) and debug-utils labels per pass.

:class:`PassTimer`: one ``VkQueryPool`` of timestamps per frame slot. Each recorded frame resets
its slot's pool at the start of the command buffer (``vkCmdResetQueryPool``, outside the render
pass), writes a timestamp at the start of every phase and after every pass in it
(``BOTTOM_OF_PIPE``: when all earlier commands finished), and remembers which interval belongs
to which pass. The results are read when the slot comes round again: ``begin_frame`` has waited
for that slot's fence by then, so ``vkGetQueryPoolResults`` without ``WAIT`` returns them at
once; if they are not ready (a caller that renders without ``begin_frame``), the frame is
counted in ``missed`` and skipped, never waited for. Ticks are masked to the queue family's
``timestampValidBits`` and scaled by ``timestampPeriod`` (ns per tick). A pass that records in
several phases (a legacy FramePass has three hooks) sums its intervals. The interval of a pass
is the time from the end of the previous work to the end of its own: on a GPU that overlaps
passes it is an approximation; on lavapipe (commands run in order) it is the pass's time.

:class:`DebugLabels`: ``vkCmdBeginDebugUtilsLabelEXT``/``End`` around each pass, when the
context enabled ``VK_EXT_debug_utils`` and names objects (validation on, or
``ENGINE_OBJECT_NAMES=1``): validation messages then name the pass, and capture tools show it.
Label structs are built once per pass name and reused.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from engine.device.context import GraphicsContext
from engine.device.vk import check_result, ffi, lib, vk

HISTORY = 600
"""Frames of per-pass times kept (the statistics' median covers these)."""
_STAGE = vk.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT
_RESULT_FLAGS = vk.VK_QUERY_RESULT_64_BIT


class PassTimer:
    """Timestamp queries per frame slot; see the module docstring.

    Args:
        ctx: the device. frames_in_flight: slots (one pool each). capacity: timestamps per
            frame before a slot's pool grows (it is recreated, after its results were read,
            when a frame needs more).
    """

    def __init__(self, ctx: GraphicsContext, frames_in_flight: int, capacity: int = 32) -> None:
        self.ctx = ctx
        props = vk.vkGetPhysicalDeviceProperties(ctx.physical_device)
        families = vk.vkGetPhysicalDeviceQueueFamilyProperties(ctx.physical_device)
        self.valid_bits = int(families[ctx.queue_family_index].timestampValidBits)
        self.period_ns = float(props.limits.timestampPeriod)
        self.supported = self.valid_bits > 0 and self.period_ns > 0
        """False where the queue has no timestamps: nothing is recorded then."""
        self._mask = (1 << self.valid_bits) - 1 if self.valid_bits < 64 else (1 << 64) - 1
        self.capacity = [0] * frames_in_flight
        self._pools: list[Any] = [None] * frames_in_flight
        self._results: list[Any] = [None] * frames_in_flight
        self._pending: list[list[tuple[str, int]] | None] = [None] * frames_in_flight
        self._initial = capacity
        self._next = 0
        self._intervals: list[tuple[str, int]] = []
        self.history: dict[str, deque[float]] = {}
        """Per pass name, its GPU milliseconds per frame (the last :data:`HISTORY` frames)."""
        self.frame_ms: deque[float] = deque(maxlen=HISTORY)
        """GPU milliseconds from the first to the last timestamp of each frame."""
        self.frames_timed = 0
        self.missed = 0

    # --- recording -----------------------------------------------------------------------

    def begin(self, cmd: Any, slot: int, needed: int) -> None:
        """Read the slot's previous results (never waiting), make room for ``needed``
        timestamps and reset them at the start of ``cmd``."""
        self.collect(slot)
        if needed > self.capacity[slot]:
            self._grow(slot, max(needed, self._initial, 2 * self.capacity[slot]))
        lib.vkCmdResetQueryPool(cmd, self._pools[slot], 0, needed)
        self._next = 0
        self._intervals = []

    def stamp(self, cmd: Any, slot: int, name: str | None) -> None:
        """A timestamp; ``name`` labels the interval it ends (None: a phase start)."""
        index = self._next
        lib.vkCmdWriteTimestamp(cmd, _STAGE, self._pools[slot], index)
        if name is not None:
            self._intervals.append((name, index))
        self._next = index + 1

    def submitted(self, slot: int) -> None:
        """The frame went to the GPU: its results are read when ``slot`` comes round."""
        self._pending[slot] = self._intervals
        self._intervals = []

    def _grow(self, slot: int, capacity: int) -> None:
        self._destroy_pool(slot)
        info = ffi.new("VkQueryPoolCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
            "queryType": vk.VK_QUERY_TYPE_TIMESTAMP, "queryCount": capacity})
        out = ffi.new("VkQueryPool*")
        check_result(lib.vkCreateQueryPool(self.ctx.device, info, ffi.NULL, out),
                     "vkCreateQueryPool", what="PassTimer")
        self._pools[slot] = out[0]
        self._results[slot] = ffi.new("uint64_t[]", capacity)
        self.capacity[slot] = capacity
        self.ctx.set_object_name(vk.VK_OBJECT_TYPE_QUERY_POOL, out[0], f"pass-timer.slot{slot}")

    # --- results -------------------------------------------------------------------------

    def collect(self, slot: int) -> bool:
        """Read slot ``slot``'s last frame if its results are available; never waits."""
        intervals = self._pending[slot]
        if intervals is None:
            return False
        self._pending[slot] = None
        count = max((i for _, i in intervals), default=-1) + 1
        if count == 0:
            return False
        out = self._results[slot]
        result = lib.vkGetQueryPoolResults(self.ctx.device, self._pools[slot], 0, count,
                                           count * 8, out, 8, _RESULT_FLAGS)
        if result != vk.VK_SUCCESS:
            check_result(result, "vkGetQueryPoolResults", what="PassTimer.collect")
            self.missed += 1  # VK_NOT_READY: skip the frame rather than wait
            return False
        ticks = np.frombuffer(ffi.buffer(out, count * 8), np.uint64) & np.uint64(self._mask)
        scale = self.period_ns / 1e6
        per_pass: dict[str, float] = {}
        for name, end in intervals:
            delta = int(ticks[end]) - int(ticks[end - 1])
            per_pass[name] = per_pass.get(name, 0.0) + max(delta, 0) * scale
        for name, ms in per_pass.items():
            self.history.setdefault(name, deque(maxlen=HISTORY)).append(ms)
        self.frame_ms.append(max(int(ticks[count - 1]) - int(ticks[0]), 0) * scale)
        self.frames_timed += 1
        return True

    def statistics(self) -> dict[str, Any]:
        """``{"supported", "frames", "missed", "frame_ms": {...}, "passes": {name: {...}}}``;
        each summary holds ``median_ms``, ``mean_ms``, ``p95_ms`` and ``frames``."""
        return {"supported": self.supported, "frames": self.frames_timed, "missed": self.missed,
                "timestamp_period_ns": self.period_ns, "valid_bits": self.valid_bits,
                "frame_ms": _summary(self.frame_ms),
                "passes": {name: _summary(h) for name, h in self.history.items()}}

    def _destroy_pool(self, slot: int) -> None:
        if self._pools[slot] is not None and self.ctx.device is not None:
            lib.vkDestroyQueryPool(self.ctx.device, self._pools[slot], ffi.NULL)
        self._pools[slot] = None
        self.capacity[slot] = 0

    def destroy(self) -> None:
        """Destroy the pools (the GPU must be done with them); idempotent."""
        if any(p is not None for p in self._pools) and self.ctx.device is not None:
            self.ctx.wait_idle()
        for slot in range(len(self._pools)):
            self._destroy_pool(slot)
        self._pending = [None] * len(self._pools)


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
        """Open a label called ``name`` in ``cmd`` (struct cached per name)."""
        label = self._labels.get(name)
        if label is None:
            text = ffi.new("char[]", name.encode("utf-8", errors="replace"))
            label = ffi.new("VkDebugUtilsLabelEXT*", {
                "sType": vk.VK_STRUCTURE_TYPE_DEBUG_UTILS_LABEL_EXT, "pLabelName": text})
            self._labels[name] = label
            self._labels[name + "\0text"] = text  # keeps the string alive with the struct
        self._begin(cmd, label)

    def end(self, cmd: Any) -> None:
        self._end(cmd)
