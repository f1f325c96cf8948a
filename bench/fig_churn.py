"""Create + destroy churn: 10,000 buffers over 100 frames; time per buffer, vkAllocateMemory.

Each frame creates 100 buffers (sizes cycling 256 B .. 64 KiB, DEVICE_LOCAL and HOST_VISIBLE
alternating) and destroys the 100 created the frame before, inside ``begin_frame`` /
``end_frame`` (so destroyed buffers are freed frame-safely when their frame completes).
``ours`` counts everything: create (vkCreateBuffer, memory from the allocator, bind, zero-fill),
destroy, and the frames' frees. ``raw`` is the naive raw-Vulkan floor of one allocation per
buffer: vkCreateBuffer + vkGetBufferMemoryRequirements + vkAllocateMemory + vkBindBufferMemory
(+ vkMapMemory for host-visible ones), then vkDestroyBuffer + vkFreeMemory, with no zeroing and
no deferral. Rounds interleave ours and raw.
"""

from __future__ import annotations

import time
from typing import Any

import vulkan as vk

from engine import BufferConfig, BufferStrategy, BufferUsage

from .figure import build
from .session import Session
from .timing import Measurement

SIZES = (256, 1 << 10, 4 << 10, 16 << 10, 64 << 10)
STRATEGIES = (BufferStrategy.DEVICE_LOCAL, BufferStrategy.HOST_VISIBLE)
ffi, lib = vk.ffi, vk.lib


def plan(total: int) -> list[tuple[int, BufferStrategy]]:
    return [(SIZES[i % len(SIZES)], STRATEGIES[(i // len(SIZES)) % 2]) for i in range(total)]


def ours_churn(session: Session, frames: int, per_frame: int) -> tuple[float, dict[str, Any]]:
    m = session.manager(frames_in_flight=3)
    specs = plan(per_frame)
    configs = [BufferConfig(f"churn{i}", size, strategy, BufferUsage.STORAGE)
               for i, (size, strategy) in enumerate(specs)]
    calls0 = m.allocator.allocate_calls
    previous: list[Any] = []
    start = time.perf_counter()
    for _ in range(frames):
        m.begin_frame()
        current = [m.create_buffer(c) for c in configs]
        for b in previous:
            m.destroy_buffer(b)
        previous = current
        m.end_frame()
    for b in previous:
        m.destroy_buffer(b)
    m.frames.wait_idle_and_recycle(what="bench churn")
    m.begin_frame()  # frees what the last frames retired
    m.end_frame()
    elapsed = time.perf_counter() - start
    stats = m.statistics()
    info = {"vkAllocateMemory_calls": m.allocator.allocate_calls - calls0,
            "live_allocations_after": stats.live_allocations,
            "peak_live_buffers": stats.peak_live_buffers}
    session.release(m)
    return elapsed, info


class RawChurn:
    """One VkDeviceMemory per buffer, straight from the ``vulkan`` package (prebuilt structs)."""

    def __init__(self, session: Session) -> None:
        ctx = session.ctx
        self.device = ctx.device
        self.types = ctx.memory_types
        self.info = ffi.new("VkBufferCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
            "usage": vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT
            | vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT | vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
            "sharingMode": vk.VK_SHARING_MODE_EXCLUSIVE})
        self.alloc = ffi.new("VkMemoryAllocateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO})
        self.req = ffi.new("VkMemoryRequirements*")
        self.calls = 0

    def _type(self, bits: int, host: bool) -> int:
        want = (vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
                if host else vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)
        for t in self.types:
            if bits & (1 << t.index) and t.flags & want == want:
                return t.index
        raise RuntimeError("no memory type")

    def create(self, size: int, host: bool) -> tuple[Any, Any, bool]:
        self.info.size = size
        out = ffi.new("VkBuffer*")
        if lib.vkCreateBuffer(self.device, self.info, ffi.NULL, out) < 0:
            raise RuntimeError("vkCreateBuffer")
        lib.vkGetBufferMemoryRequirements(self.device, out[0], self.req)
        self.alloc.allocationSize = self.req.size
        self.alloc.memoryTypeIndex = self._type(self.req.memoryTypeBits, host)
        mem = ffi.new("VkDeviceMemory*")
        if lib.vkAllocateMemory(self.device, self.alloc, ffi.NULL, mem) < 0:
            raise RuntimeError("vkAllocateMemory")
        self.calls += 1
        lib.vkBindBufferMemory(self.device, out[0], mem[0], 0)
        if host:
            p = ffi.new("void**")
            lib.vkMapMemory(self.device, mem[0], 0, self.req.size, 0, p)
        return out[0], mem[0], host

    def destroy(self, item: tuple[Any, Any, bool]) -> None:
        buf, mem, host = item
        lib.vkDestroyBuffer(self.device, buf, ffi.NULL)
        if host:
            lib.vkUnmapMemory(self.device, mem)
        lib.vkFreeMemory(self.device, mem, ffi.NULL)

    def churn(self, frames: int, per_frame: int) -> tuple[float, dict[str, Any]]:
        specs = [(size, strategy.is_host) for size, strategy in plan(per_frame)]
        calls0 = self.calls
        previous: list[Any] = []
        start = time.perf_counter()
        for _ in range(frames):
            current = [self.create(size, host) for size, host in specs]
            for item in previous:
                self.destroy(item)
            previous = current
        for item in previous:
            self.destroy(item)
        return time.perf_counter() - start, {"vkAllocateMemory_calls": self.calls - calls0}


def run(session: Session) -> list[dict[str, Any]]:
    frames, per_frame = (10, 100) if session.quick else (100, 100)
    rounds = 2 if session.quick else 7
    total = frames * per_frame
    raw = RawChurn(session)
    m = Measurement()
    m.per_op = {"ours": [], "raw": []}
    m.batch = {"ours": total, "raw": total}
    infos: dict[str, Any] = {}
    session.log(f"churn: {total} buffers over {frames} frames x {rounds} rounds")
    budget_end = time.perf_counter() + (5 if session.quick else 30)
    for r in range(rounds):
        if r >= 3 and time.perf_counter() > budget_end:
            break  # raw vkAllocateMemory costs ~0.7 ms on NVIDIA: 3 rounds are enough there
        order = ("ours", "raw") if r % 2 == 0 else ("raw", "ours")
        for name in order:
            if name == "ours":
                elapsed, info = ours_churn(session, frames, per_frame)
            else:
                elapsed, info = raw.churn(frames, per_frame)
            m.per_op[name].append(elapsed / total)
            infos[name] = info
    return [build(
        "churn/create_destroy", "churn",
        f"create + destroy churn, {total:,} buffers over {frames} frames", measurement=m,
        per="buffer", ratios=(("ours", "raw"),),
        params={"buffers": total, "frames": frames, "sizes": list(SIZES),
                "strategies": [s.value for s in STRATEGIES]},
        extra={"vkAllocateMemory_calls": {k: v["vkAllocateMemory_calls"]
                                          for k, v in infos.items()},
               "ours": infos.get("ours", {}),
               "note": "ours includes zero-filling every new buffer and frame-safe deferral"})]
