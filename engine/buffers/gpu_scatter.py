"""GpuScatter: ``update_rows`` on DEVICE_LOCAL buffers as one compute dispatch.

A ``vkCmdCopyBuffer`` with one region per scattered row is cheap to record but expensive to
run: measured on an NVIDIA H200, 10,000 regions of 32 B take about 45 ms, six times the
cost of rewriting the whole 32 MB buffer. So a scatter whose rows are a multiple of 4 bytes,
into a buffer with STORAGE usage, is done by ``engine/glsl/scatter_rows.comp`` instead: the
packed rows and their (unique) row indices sit in the frame's staging ring, and one
dispatch writes them: one invocation per 32-bit word on a GPU (coalesced), one per row on a
CPU implementation (lavapipe: 10,000 rows of 32 B, the dispatch 3.2 ms per word, 1.0-1.4 ms
per row, measured on a 2-core machine). The recorder
(:class:`~engine.buffers.staging.CopyRecorder`) runs these dispatches after the frame's
copies, behind a barrier, and falls back to the region copy for a scatter that a later copy
of the same batch writes or reads (call order must hold).

Vulkan objects are made on first use and destroyed by :meth:`GpuScatter.destroy`: one descriptor set
layout (two storage buffers), a pipeline layout with 24 bytes of push constants, the compute
pipeline, and descriptor pools per frame slot, reset when the slot is recycled (its GPU work
is complete); a slot whose pool is full gets another pool.
"""

from __future__ import annotations

from typing import Any

from engine.device.context import GraphicsContext
from engine.device.vk import check_result, ffi, lib, vk
from engine.shaders.compiler import compile_glsl, shader_path
from engine.shaders.module import create_compute_pipeline

WORKGROUP = 64
"""``local_size_x`` of scatter_rows.comp."""
SETS_PER_POOL = 64
STORAGE = vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT
_COMPUTE = vk.VK_PIPELINE_BIND_POINT_COMPUTE
_STAGE = vk.VK_SHADER_STAGE_COMPUTE_BIT


class SlotPools:
    """The descriptor pools of one frame slot; :meth:`reset` when the slot is recycled."""

    def __init__(self, scatter: GpuScatter) -> None:
        self.scatter = scatter
        self.pools: list[Any] = []
        self.used = 0  # sets handed out from the last pool

    def allocate(self) -> Any:
        if not self.pools or self.used == SETS_PER_POOL:
            self.pools.append(self.scatter.new_pool())
            self.used = 0
        self.used += 1
        return self.scatter.allocate_set(self.pools[-1])

    def reset(self) -> None:
        """The slot's GPU work completed: every set may be reused (one pool is kept)."""
        device = self.scatter.context.device
        while len(self.pools) > 1:
            lib.vkDestroyDescriptorPool(device, self.pools.pop(), ffi.NULL)
        if self.pools:
            check_result(lib.vkResetDescriptorPool(device, self.pools[0], 0),
                         "vkResetDescriptorPool", what="GpuScatter (slot recycled)")
        self.used = 0

    def destroy(self) -> None:
        device = self.scatter.context.device
        while self.pools:
            lib.vkDestroyDescriptorPool(device, self.pools.pop(), ffi.NULL)
        self.used = 0


class GpuScatter:
    """The scatter pipeline of one BufferManager (see the module docstring)."""

    def __init__(self, context: GraphicsContext) -> None:
        self.context = context
        limits = vk.vkGetPhysicalDeviceProperties(context.physical_device).limits
        self.max_range = int(limits.maxStorageBufferRange)
        self.max_groups_x = int(limits.maxComputeWorkGroupCount[0])
        self.set_layout: Any = None
        self.layout: Any = None
        self.pipeline: Any = None
        self._writes = ffi.new("VkWriteDescriptorSet[2]")
        self._infos = ffi.new("VkDescriptorBufferInfo[2]")
        for i in range(2):
            w = self._writes[i]
            w.sType = vk.VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
            w.dstBinding = i
            w.descriptorCount = 1
            w.descriptorType = vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
            w.pBufferInfo = self._infos + i
        self._set_out = ffi.new("VkDescriptorSet*")
        self._push = ffi.new("uint32_t[6]")
        self._per_row = 1 if context.is_software else 0
        self._alloc = ffi.new("VkDescriptorSetAllocateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
            "descriptorSetCount": 1})
        self._layouts = ffi.new("VkDescriptorSetLayout[1]")

    def usable(self, usage: int, dst_bytes: int, staged_bytes: int, row_bytes: int) -> bool:
        """Whether a scatter can run as a dispatch (else: the region copy)."""
        return (bool(usage & STORAGE) and row_bytes % 4 == 0 and dst_bytes <= self.max_range
                and staged_bytes <= self.max_range and dst_bytes // 4 < 1 << 32)

    # --- Vulkan objects ------------------------------------------------------------------

    def _ensure(self) -> None:
        if self.pipeline is not None:
            return
        ctx = self.context
        what = "GpuScatter (scatter_rows.comp)"
        bindings = ffi.new("VkDescriptorSetLayoutBinding[2]")
        for i in range(2):
            bindings[i].binding = i
            bindings[i].descriptorType = vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
            bindings[i].descriptorCount = 1
            bindings[i].stageFlags = _STAGE
        out_layout = ffi.new("VkDescriptorSetLayout*")
        info = ffi.new("VkDescriptorSetLayoutCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
            "bindingCount": 2, "pBindings": bindings})
        try:
            check_result(lib.vkCreateDescriptorSetLayout(ctx.device, info, ffi.NULL,
                                                         out_layout),
                         "vkCreateDescriptorSetLayout", what=what)
            self.set_layout = out_layout[0]
            self._layouts[0] = self.set_layout
            push = ffi.new("VkPushConstantRange*", {"stageFlags": _STAGE, "offset": 0,
                                                    "size": 24})
            pinfo = ffi.new("VkPipelineLayoutCreateInfo*", {
                "sType": vk.VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                "setLayoutCount": 1, "pSetLayouts": self._layouts,
                "pushConstantRangeCount": 1, "pPushConstantRanges": push})
            out_pl = ffi.new("VkPipelineLayout*")
            check_result(lib.vkCreatePipelineLayout(ctx.device, pinfo, ffi.NULL, out_pl),
                         "vkCreatePipelineLayout", what=what)
            self.layout = out_pl[0]
            self.pipeline = create_compute_pipeline(
                ctx, self.layout, compile_glsl(shader_path("scatter_rows.comp")), what=what)
        except BaseException:
            self.destroy()
            raise

    def new_pool(self) -> Any:
        size = ffi.new("VkDescriptorPoolSize*", {
            "type": vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, "descriptorCount": 2 * SETS_PER_POOL})
        info = ffi.new("VkDescriptorPoolCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
            "maxSets": SETS_PER_POOL, "poolSizeCount": 1, "pPoolSizes": size})
        out = ffi.new("VkDescriptorPool*")
        check_result(lib.vkCreateDescriptorPool(self.context.device, info, ffi.NULL, out),
                     "vkCreateDescriptorPool", what="GpuScatter (descriptor pool)")
        return out[0]

    def allocate_set(self, pool: Any) -> Any:
        self._alloc.descriptorPool = pool
        self._alloc.pSetLayouts = self._layouts
        check_result(lib.vkAllocateDescriptorSets(self.context.device, self._alloc,
                                                  self._set_out),
                     "vkAllocateDescriptorSets", what="GpuScatter (descriptor set)")
        return self._set_out[0]

    # --- recording -----------------------------------------------------------------------

    def record(self, cmd: Any, pools: SlotPools, src: Any, src_bytes: int, dst: Any,
               dst_bytes: int, rows: int, words_per_row: int, rows_word: int,
               index_word: int) -> None:
        """One dispatch writing ``rows`` staged rows into ``dst`` (the caller put the
        barriers around it)."""
        self._ensure()
        descriptor_set = pools.allocate()
        infos = self._infos
        infos[0].buffer, infos[0].offset, infos[0].range = src, 0, src_bytes
        infos[1].buffer, infos[1].offset, infos[1].range = dst, 0, dst_bytes
        self._writes[0].dstSet = self._writes[1].dstSet = descriptor_set
        lib.vkUpdateDescriptorSets(self.context.device, 2, self._writes, 0, ffi.NULL)
        lib.vkCmdBindPipeline(cmd, _COMPUTE, self.pipeline)
        self._set_out[0] = descriptor_set
        lib.vkCmdBindDescriptorSets(cmd, _COMPUTE, self.layout, 0, 1, self._set_out, 0,
                                    ffi.NULL)
        total = rows if self._per_row else rows * words_per_row
        groups = (total + WORKGROUP - 1) // WORKGROUP
        gx = min(groups, self.max_groups_x)
        gy = (groups + gx - 1) // gx
        push = self._push
        push[0], push[1], push[2], push[3], push[4], push[5] = (
            rows, words_per_row, rows_word, index_word, gx * WORKGROUP, self._per_row)
        lib.vkCmdPushConstants(cmd, self.layout, _STAGE, 0, 24, push)
        lib.vkCmdDispatch(cmd, gx, gy, 1)

    def destroy(self) -> None:
        """Destroy the pipeline objects (the caller waited for the GPU); safe twice."""
        device = self.context.device
        if device is None:
            return
        if self.pipeline is not None:
            lib.vkDestroyPipeline(device, self.pipeline, ffi.NULL)
            self.pipeline = None
        if self.layout is not None:
            lib.vkDestroyPipelineLayout(device, self.layout, ffi.NULL)
            self.layout = None
        if self.set_layout is not None:
            lib.vkDestroyDescriptorSetLayout(device, self.set_layout, ffi.NULL)
            self.set_layout = None
