"""SurfaceClear: the G-buffer surface cleared by a compute dispatch instead of the render pass.

Why: on an H200 every raster-side write (a render pass's ``loadOp`` CLEAR, and
``vkCmdClearColorImage`` too) runs at about 53 GB/s, a few graphics units' rate, so clearing
the 8-byte-a-pixel surface at 1920x1080 costs 0.32 ms a frame; the three attachments together
0.6 ms (measured with timestamps around an empty render pass). A compute shader writes the
same zeros on every SM. On lavapipe the render pass's clear is a fast fill and a compute
store a loop over the SIMD lanes, so CPU devices keep the clear in the render pass (the rule
of :func:`surface_clear_in_compute`).

With the compute clear the deferred render pass loads the surface (``loadOp`` LOAD,
``initialLayout`` GENERAL: engine/render/render_pass.py) and the Renderer records
:meth:`SurfaceClear.record` at the start of each frame's command buffer, before any pass:

1. a layout transition UNDEFINED -> GENERAL (the old contents are dropped) behind every
   earlier command's writes and reads (the last frame's light volumes, compute lighting or
   user passes reading the surface);
2. ``gbuffer_clear.comp`` stores 0 in every pixel (8 x 8 pixels a workgroup);
3. the render pass's incoming dependency (compute shader writes -> colour attachment reads
   and writes) orders the scene's LOAD after the dispatch.

What it owns (one per :class:`~engine.render.images.GBuffer`, so it follows the target's size):
the descriptor set layout, the pipeline layout, the pipeline, a descriptor pool with one set
that points at the surface view (a storage image in GENERAL layout), and prebuilt barrier and
push-constant structs. :meth:`SurfaceClear.destroy` frees them (the device must be idle for
the surface's last use: the GBuffer's owner waits).
"""

from __future__ import annotations

from typing import Any

from engine.device.context import GraphicsContext
from engine.device.vk import check_result, ffi, lib, vk
from engine.errors import InvalidOptionError
from engine.shaders.compiler import compile_engine_shader
from engine.shaders.module import create_compute_pipeline

GROUP = 8
"""Workgroup edge in pixels (gbuffer_clear.comp)."""
SURFACE_CLEARS = ("auto", "render_pass", "compute")
"""Values of the targets' ``surface_clear=``."""

_COMPUTE = vk.VK_PIPELINE_BIND_POINT_COMPUTE
_STAGE = vk.VK_SHADER_STAGE_COMPUTE_BIT


def surface_clear_in_compute(ctx: GraphicsContext, surface_clear: Any, what: str) -> bool:
    """Whether a target clears its G-buffer surface in compute: ``"compute"`` yes,
    ``"render_pass"`` no, ``"auto"`` on hardware GPUs (not ``ctx.is_software``).
    InvalidOptionError for anything else."""
    if surface_clear.__class__ is not str or surface_clear not in SURFACE_CLEARS:
        raise InvalidOptionError(
            f"{what}: surface_clear={surface_clear!r} is not one of "
            f"{', '.join(map(repr, SURFACE_CLEARS))}; pass 'auto' (compute on GPUs), "
            "'render_pass' or 'compute'.")
    if surface_clear == "auto":
        return not ctx.is_software
    return surface_clear == "compute"


class SurfaceClear:
    """Clears one surface image (R32G32_UINT, ``STORAGE`` usage) to 0 in compute.

    Args:
        ctx: the device.
        image, view: the surface image and its view.
        width, height: its size in pixels.
    """

    def __init__(self, ctx: GraphicsContext, image: Any, view: Any, width: int,
                 height: int) -> None:
        self.ctx = ctx
        self.image = image
        self.width, self.height = width, height
        self.set_layout: Any = None
        self.layout: Any = None
        self.pipeline: Any = None
        self.pool: Any = None
        what = "SurfaceClear (gbuffer_clear.comp)"
        device = ctx.device
        try:
            binding = ffi.new("VkDescriptorSetLayoutBinding*", {
                "binding": 0, "descriptorType": vk.VK_DESCRIPTOR_TYPE_STORAGE_IMAGE,
                "descriptorCount": 1, "stageFlags": _STAGE})
            out_layout = ffi.new("VkDescriptorSetLayout*")
            check_result(lib.vkCreateDescriptorSetLayout(device, ffi.new(
                "VkDescriptorSetLayoutCreateInfo*", {
                    "sType": vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                    "bindingCount": 1, "pBindings": binding}), ffi.NULL, out_layout),
                "vkCreateDescriptorSetLayout", what=what)
            self.set_layout = out_layout[0]
            layouts = ffi.new("VkDescriptorSetLayout[1]", [self.set_layout])
            push = ffi.new("VkPushConstantRange*", {"stageFlags": _STAGE, "size": 8})
            out_pl = ffi.new("VkPipelineLayout*")
            check_result(lib.vkCreatePipelineLayout(device, ffi.new(
                "VkPipelineLayoutCreateInfo*", {
                    "sType": vk.VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                    "setLayoutCount": 1, "pSetLayouts": layouts,
                    "pushConstantRangeCount": 1, "pPushConstantRanges": push}), ffi.NULL,
                out_pl), "vkCreatePipelineLayout", what=what)
            self.layout = out_pl[0]
            self.pipeline = create_compute_pipeline(
                ctx, self.layout, compile_engine_shader("gbuffer_clear.comp"), what=what)
            size = ffi.new("VkDescriptorPoolSize*", {
                "type": vk.VK_DESCRIPTOR_TYPE_STORAGE_IMAGE, "descriptorCount": 1})
            out_pool = ffi.new("VkDescriptorPool*")
            check_result(lib.vkCreateDescriptorPool(device, ffi.new(
                "VkDescriptorPoolCreateInfo*", {
                    "sType": vk.VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                    "maxSets": 1, "poolSizeCount": 1, "pPoolSizes": size}), ffi.NULL,
                out_pool), "vkCreateDescriptorPool", what=what)
            self.pool = out_pool[0]
            self._set = ffi.new("VkDescriptorSet[1]")
            check_result(lib.vkAllocateDescriptorSets(device, ffi.new(
                "VkDescriptorSetAllocateInfo*", {
                    "sType": vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                    "descriptorPool": self.pool, "descriptorSetCount": 1,
                    "pSetLayouts": layouts}), self._set),
                "vkAllocateDescriptorSets", what=what)
            info = ffi.new("VkDescriptorImageInfo*", {
                "imageView": view, "imageLayout": vk.VK_IMAGE_LAYOUT_GENERAL})
            lib.vkUpdateDescriptorSets(device, 1, ffi.new("VkWriteDescriptorSet*", {
                "sType": vk.VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, "dstSet": self._set[0],
                "dstBinding": 0, "descriptorCount": 1,
                "descriptorType": vk.VK_DESCRIPTOR_TYPE_STORAGE_IMAGE, "pImageInfo": info}),
                0, ffi.NULL)
        except BaseException:
            self.destroy()
            raise
        # Prebuilt per-frame structs (mutated by nothing: the size is fixed for this object).
        self._push = ffi.new("uint32_t[2]", [width, height])
        self._groups = (-(-width // GROUP), -(-height // GROUP))
        self._barrier = ffi.new("VkImageMemoryBarrier*", {
            "sType": vk.VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER,
            "srcAccessMask": vk.VK_ACCESS_MEMORY_WRITE_BIT,
            "dstAccessMask": vk.VK_ACCESS_SHADER_WRITE_BIT,
            "oldLayout": vk.VK_IMAGE_LAYOUT_UNDEFINED, "newLayout": vk.VK_IMAGE_LAYOUT_GENERAL,
            "srcQueueFamilyIndex": vk.VK_QUEUE_FAMILY_IGNORED,
            "dstQueueFamilyIndex": vk.VK_QUEUE_FAMILY_IGNORED, "image": image,
            "subresourceRange": {"aspectMask": vk.VK_IMAGE_ASPECT_COLOR_BIT,
                                 "levelCount": 1, "layerCount": 1}})

    def record(self, cmd: Any) -> None:
        """The transition and the dispatch (see the module docstring); outside a render
        pass, before the deferred render pass of the same command buffer."""
        lib.vkCmdPipelineBarrier(cmd, vk.VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                                 vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 0, ffi.NULL, 0,
                                 ffi.NULL, 1, self._barrier)
        lib.vkCmdBindPipeline(cmd, _COMPUTE, self.pipeline)
        lib.vkCmdBindDescriptorSets(cmd, _COMPUTE, self.layout, 0, 1, self._set, 0, ffi.NULL)
        lib.vkCmdPushConstants(cmd, self.layout, _STAGE, 0, 8, self._push)
        lib.vkCmdDispatch(cmd, self._groups[0], self._groups[1], 1)

    def destroy(self) -> None:
        """Free the pipeline, layouts and pool (the set goes with its pool); idempotent. The
        GPU must be done with the last frame that recorded :meth:`record`."""
        device = self.ctx.device
        if device is None:
            return
        if self.pipeline is not None:
            lib.vkDestroyPipeline(device, self.pipeline, ffi.NULL)
            self.pipeline = None
        if self.pool is not None:
            lib.vkDestroyDescriptorPool(device, self.pool, ffi.NULL)
            self.pool = None
        if self.layout is not None:
            lib.vkDestroyPipelineLayout(device, self.layout, ffi.NULL)
            self.layout = None
        if self.set_layout is not None:
            lib.vkDestroyDescriptorSetLayout(device, self.set_layout, ffi.NULL)
            self.set_layout = None
