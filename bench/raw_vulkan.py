"""The limit for staged uploads: a minimal raw Vulkan staging copy, written here on purpose.

Only this module (and :mod:`bench.machine`) use the ``vulkan`` package directly. It borrows the
session's device and queue and does per upload exactly what a hand-written C loop would:
``memcpy`` into a persistently mapped host-visible staging buffer, begin a one-time command
buffer, one ``vkCmdCopyBuffer``, end, ``vkQueueSubmit`` with a fence, and (for the fenced
figure) ``vkWaitForFences`` + ``vkResetFences``. All structs are prebuilt (no binding
constructors per call): the Python cost per upload is a handful of cffi calls. No barriers
are recorded: the fence wait orders everything, and the staging memory is host-coherent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import vulkan as vk

ffi, lib = vk.ffi, vk.lib
HOST = vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
DEVICE = vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT
UINT64_MAX = (1 << 64) - 1


def _check(result: int, what: str) -> None:
    if result < 0:
        raise RuntimeError(f"raw Vulkan {what} returned {result}")


class RawStagingCopy:
    """A staging buffer + a device-local buffer of ``size`` bytes, and ``slots`` command buffers.

    ``slots`` > 1 lets :meth:`upload_pipelined` keep that many uploads in flight (one staging
    region, command buffer and fence per slot), like an engine's frames in flight.
    """

    def __init__(self, ctx: Any, size: int, slots: int = 1) -> None:
        self.device = ctx.device
        self.queue = ctx.queue
        self.size = size
        self.slots = slots
        self._objects: list[tuple[str, Any]] = []
        self.dst, self.dst_mem, self.dst_type = self._buffer(ctx, size, DEVICE, HOST)
        self.src, self.src_mem, self.src_type = self._buffer(ctx, size * slots, HOST, 0)
        p = ffi.new("void**")
        _check(lib.vkMapMemory(self.device, self.src_mem, 0, size * slots, 0, p), "map")
        self.mapped = np.frombuffer(ffi.buffer(p[0], size * slots), dtype=np.uint8)
        pool_info = ffi.new("VkCommandPoolCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
            "flags": vk.VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
            "queueFamilyIndex": ctx.queue_family_index})
        out = ffi.new("VkCommandPool*")
        _check(lib.vkCreateCommandPool(self.device, pool_info, ffi.NULL, out), "pool")
        self.pool = out[0]
        alloc = ffi.new("VkCommandBufferAllocateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            "commandPool": self.pool, "level": vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            "commandBufferCount": slots})
        self.cmds = ffi.new("VkCommandBuffer[]", slots)
        _check(lib.vkAllocateCommandBuffers(self.device, alloc, self.cmds), "cmd")
        fence_info = ffi.new("VkFenceCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO})
        self.fences = ffi.new("VkFence[]", slots)
        for i in range(slots):
            _check(lib.vkCreateFence(self.device, fence_info, ffi.NULL, self.fences + i), "fence")
        self.in_flight = [False] * slots
        self.next_slot = 0
        self.begin = ffi.new("VkCommandBufferBeginInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
            "flags": vk.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT})
        self.region = ffi.new("VkBufferCopy*", {"srcOffset": 0, "dstOffset": 0, "size": size})
        self.submit = ffi.new("VkSubmitInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_SUBMIT_INFO, "commandBufferCount": 1})

    def _buffer(self, ctx: Any, size: int, want: int, avoid: int) -> tuple[Any, Any, int]:
        info = ffi.new("VkBufferCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, "size": size,
            "usage": vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT | vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT
            | vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
            "sharingMode": vk.VK_SHARING_MODE_EXCLUSIVE})
        out = ffi.new("VkBuffer*")
        _check(lib.vkCreateBuffer(self.device, info, ffi.NULL, out), "buffer")
        buf = out[0]
        req = ffi.new("VkMemoryRequirements*")
        lib.vkGetBufferMemoryRequirements(self.device, buf, req)
        candidates = [t for t in ctx.memory_types if req.memoryTypeBits & (1 << t.index)
                      and t.flags & want == want]
        best = [t for t in candidates if not t.flags & avoid] or candidates
        mtype = best[0]
        mem_info = ffi.new("VkMemoryAllocateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
            "allocationSize": req.size, "memoryTypeIndex": mtype.index})
        mem = ffi.new("VkDeviceMemory*")
        _check(lib.vkAllocateMemory(self.device, mem_info, ffi.NULL, mem), "alloc")
        _check(lib.vkBindBufferMemory(self.device, buf, mem[0], 0), "bind")
        self._objects.append(("buffer", buf))
        self._objects.append(("memory", mem[0]))
        return buf, mem[0], mtype.index

    def _record_submit(self, slot: int, src_offset: int) -> None:
        cmd = self.cmds[slot]
        _check(lib.vkBeginCommandBuffer(cmd, self.begin), "begin")
        self.region.srcOffset = src_offset
        lib.vkCmdCopyBuffer(cmd, self.src, self.dst, 1, self.region)
        _check(lib.vkEndCommandBuffer(cmd), "end")
        self.submit.pCommandBuffers = self.cmds + slot
        _check(lib.vkQueueSubmit(self.queue, 1, self.submit, self.fences[slot]), "submit")

    def _wait(self, slot: int) -> None:
        fence = self.fences + slot
        _check(lib.vkWaitForFences(self.device, 1, fence, vk.VK_TRUE, UINT64_MAX), "wait")
        _check(lib.vkResetFences(self.device, 1, fence), "reset")
        self.in_flight[slot] = False

    def upload_fenced(self, data: np.ndarray[Any, Any]) -> None:
        """memcpy, record, submit, wait: one complete upload."""
        self.mapped[: self.size] = data.reshape(-1).view(np.uint8)
        self._record_submit(0, 0)
        self._wait(0)

    def upload_pipelined(self, data: np.ndarray[Any, Any]) -> None:
        """Like an engine frame with ``slots`` frames in flight: wait only for the slot's last."""
        slot = self.next_slot
        self.next_slot = (slot + 1) % self.slots
        if self.in_flight[slot]:
            self._wait(slot)
        start = slot * self.size
        self.mapped[start:start + self.size] = data.reshape(-1).view(np.uint8)
        self._record_submit(slot, start)
        self.in_flight[slot] = True

    def drain(self) -> None:
        for slot in range(self.slots):
            if self.in_flight[slot]:
                self._wait(slot)

    def read_back_matches(self, data: np.ndarray[Any, Any]) -> bool:
        """Copy dst back into the staging buffer and compare (checks the copy really ran)."""
        self.drain()
        cmd = self.cmds[0]
        _check(lib.vkBeginCommandBuffer(cmd, self.begin), "begin")
        back = ffi.new("VkBufferCopy*", {"srcOffset": 0, "dstOffset": 0, "size": self.size})
        self.mapped[: self.size] = 0
        lib.vkCmdCopyBuffer(cmd, self.dst, self.src, 1, back)
        _check(lib.vkEndCommandBuffer(cmd), "end")
        self.submit.pCommandBuffers = self.cmds
        _check(lib.vkQueueSubmit(self.queue, 1, self.submit, self.fences[0]), "submit")
        self._wait(0)
        return bool(np.array_equal(self.mapped[: self.size], data.reshape(-1).view(np.uint8)))

    def close(self) -> None:
        self.drain()
        self.mapped = None  # type: ignore[assignment]
        lib.vkUnmapMemory(self.device, self.src_mem)
        for i in range(self.slots):
            lib.vkDestroyFence(self.device, self.fences[i], ffi.NULL)
        lib.vkDestroyCommandPool(self.device, self.pool, ffi.NULL)
        for kind, obj in self._objects:
            if kind == "buffer":
                lib.vkDestroyBuffer(self.device, obj, ffi.NULL)
        for kind, obj in self._objects:
            if kind == "memory":
                lib.vkFreeMemory(self.device, obj, ffi.NULL)
        self._objects.clear()
