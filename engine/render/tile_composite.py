"""TileComposite: the additive pass that adds a compute path's result to the picture.

The compute particle path (:mod:`engine.render.particle_splat`) and the tiled lighting path
(:mod:`engine.render.tiled_lighting`) both accumulate into a buffer and flag the screen tiles
they touched; this pass adds the flagged tiles to the target's colour image, in one of two
ways, chosen when it is made:

- **compute** (the target offers ``color_storage_view``: an
  :class:`~engine.render.targets.OffscreenTarget` with ``color_storage``, the default on
  hardware GPUs): the picture goes from the target's final layout to GENERAL, one workgroup a
  tile (engine/glsl/tile_composite.glsl) loads, adds, clamps and stores each pixel with
  something to add (unflagged tiles return at once), and the picture goes back to the final
  layout before the screenshot copy or presentation. On an H200 at 1080p the tiled
  lighting's composite takes 0.012 ms this way and 0.196 ms as a raster pass: its raster and
  fragment work runs on a few graphics units.
- **raster** (swapchains, CPU devices, targets without the view): one quad per tile over the
  colour image, its vertex shader collapsing the quads of unflagged tiles, blended
  additively. On lavapipe this is the faster one (llvmpipe's blend is vectorised, a compute
  image store is a loop over the SIMD lanes).

The two give the same sum; rounding may differ in the last bit (the same bytes on lavapipe,
within one level on the H200: ``tests/test_compute_composite.py``). What it owns:

- raster: a one-subpass render pass over the colour image (LOAD/STORE, staying in the
  target's final layout: :func:`create_composite_render_pass`) and one framebuffer per target
  image, made on first use and made again after the target recreated its images
  (``target.generation`` changed: the device was idle then);
- compute: the picture's storage-image descriptor (set 1 of every frame slot's sets, written
  at the first frame and after the target recreated its images) and two prebuilt barriers;
- either way the composite pipeline, registered with the binder (which destroys it), its
  storage buffers bound by name, and prebuilt per-frame structs (a 12-byte push-constant
  array: width, height, tiles per row): nothing is built per frame.

Lifetime: :meth:`TileComposite.destroy` frees the framebuffers and the render pass (the caller
waited for the device); the pipeline goes with its binder id.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from engine.binding.binder import ResourceBinder
from engine.binding.pipelines import ComputePipeline
from engine.buffers.types import ManagedBuffer
from engine.device.barriers import image_barrier
from engine.device.context import GraphicsContext
from engine.device.vk import ffi, lib, vk
from engine.render.graphics_pipeline import BLEND_ADDITIVE, GraphicsPipeline, GraphicsPipelineDesc
from engine.render.image_descriptors import SlotImageDescriptor
from engine.render.render_pass import build_render_pass, create_framebuffer

_STAGES = vk.VK_SHADER_STAGE_VERTEX_BIT | vk.VK_SHADER_STAGE_FRAGMENT_BIT


class _Target(Protocol):
    width: int
    height: int
    generation: int
    final_layout: int
    color_format: int

    def color_view(self, index: int) -> Any: ...

    def color_image(self, index: int) -> Any: ...

    def color_storage_view(self, index: int) -> Any: ...


def _image_barrier() -> Any:
    """A prebuilt colour-image barrier (image, layouts and masks set per use)."""
    return ffi.new("VkImageMemoryBarrier*", {
        "sType": vk.VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER,
        "srcQueueFamilyIndex": vk.VK_QUEUE_FAMILY_IGNORED,
        "dstQueueFamilyIndex": vk.VK_QUEUE_FAMILY_IGNORED,
        "subresourceRange": {"aspectMask": vk.VK_IMAGE_ASPECT_COLOR_BIT,
                             "levelCount": 1, "layerCount": 1}})


def create_composite_render_pass(ctx: GraphicsContext, color_format: int,
                                 layout: int) -> Any:
    """One subpass over the colour image, loaded and stored, that stays in ``layout`` (the
    target's final layout: TRANSFER_SRC offscreen, PRESENT_SRC for a swapchain). Its external
    dependencies: compute shader writes and the deferred pass's colour writes before the
    composite's vertex and fragment reads and blending; its colour writes before a transfer
    (screenshot) or presentation, and its shader reads before a later transfer (the next
    frame's fill)."""
    L = vk
    att = ffi.new("VkAttachmentDescription*", {
        "format": color_format, "samples": L.VK_SAMPLE_COUNT_1_BIT,
        "loadOp": L.VK_ATTACHMENT_LOAD_OP_LOAD, "storeOp": L.VK_ATTACHMENT_STORE_OP_STORE,
        "stencilLoadOp": L.VK_ATTACHMENT_LOAD_OP_DONT_CARE,
        "stencilStoreOp": L.VK_ATTACHMENT_STORE_OP_DONT_CARE,
        "initialLayout": layout, "finalLayout": layout})
    color_ref = ffi.new("VkAttachmentReference*", {
        "attachment": 0, "layout": L.VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL})
    subpass = ffi.new("VkSubpassDescription*", {
        "pipelineBindPoint": L.VK_PIPELINE_BIND_POINT_GRAPHICS,
        "colorAttachmentCount": 1, "pColorAttachments": color_ref})
    color_out = L.VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT
    frag = L.VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT
    color_rw = L.VK_ACCESS_COLOR_ATTACHMENT_READ_BIT | L.VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT
    deps = ffi.new("VkSubpassDependency[2]", [
        {"srcSubpass": L.VK_SUBPASS_EXTERNAL, "dstSubpass": 0,
         "srcStageMask": color_out | L.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
         "dstStageMask": color_out | frag | L.VK_PIPELINE_STAGE_VERTEX_SHADER_BIT,
         "srcAccessMask": L.VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT | L.VK_ACCESS_SHADER_WRITE_BIT,
         "dstAccessMask": color_rw | L.VK_ACCESS_SHADER_READ_BIT},
        {"srcSubpass": 0, "dstSubpass": L.VK_SUBPASS_EXTERNAL,
         "srcStageMask": color_out | frag | L.VK_PIPELINE_STAGE_VERTEX_SHADER_BIT,
         "dstStageMask": L.VK_PIPELINE_STAGE_TRANSFER_BIT
         | L.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
         "srcAccessMask": L.VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
         "dstAccessMask": L.VK_ACCESS_TRANSFER_READ_BIT},
    ])
    return build_render_pass(ctx, (att, 1), (subpass, 1), (deps, 2),
                             "create_composite_render_pass")


class TileComposite:
    """The per-tile additive composite of one compute path (see the module docstring).

    Args:
        binder: registers the pipeline ``name`` (and destroys it with its id).
        target: the render target whose colour image is composited onto.
        name: the pipeline's name (GPU timings, messages).
        codes: ``{"vert": spirv, "frag": spirv}`` of the raster composite's shaders, whose
            push-constant block is (width, height, tiles per row) as three uints.
        buffers: storage buffers to bind by block name (the accumulation and the tile flags).
        compute_code: SPIR-V of the compute composite (engine/glsl/tile_composite.glsl: one
            workgroup per tile, same push constants). Used instead of the raster pass when the
            target offers a storage view of its colour image (``color_storage_view``).
        tile: the tile edge in pixels (the compute composite's workgroup edge).

    Attributes: ``pipeline_id`` (the binder's id), ``compute`` (True: the compute composite).
    """

    def __init__(self, binder: ResourceBinder, target: _Target, name: str,
                 codes: dict[str, bytes], buffers: dict[str, ManagedBuffer], *,
                 compute_code: bytes | None = None, tile: int = 16) -> None:
        self.ctx = binder.context
        self.binder = binder
        self.target = target
        self._framebuffers: dict[int, Any] = {}
        self._fb_generation = -1
        self.render_pass: Any = None
        self.pipeline_id: Any = None
        storage_view = getattr(target, "color_storage_view", None)
        self.compute = compute_code is not None and storage_view is not None \
            and storage_view(0) is not None
        """True: a compute shader adds the result (the target's picture has a storage view)."""
        self.tile = tile
        try:
            if self.compute:
                assert compute_code is not None
                self.pipeline_id = binder.register_pipeline(name, [compute_code])
                for block, buffer in buffers.items():
                    binder.bind_storage_buffer_named(self.pipeline_id, block, buffer)
                self._compute = ComputePipeline(binder, self.pipeline_id)
            else:
                self.render_pass = create_composite_render_pass(
                    self.ctx, target.color_format, target.final_layout)
                self.pipeline_id = binder.register_pipeline(name, list(codes.values()))
                for block, buffer in buffers.items():
                    binder.bind_storage_buffer_named(self.pipeline_id, block, buffer)
                self._layout = binder.pipeline_layout(self.pipeline_id)
                desc = GraphicsPipelineDesc(name, depth_test=False, depth_write=False,
                                            blend=BLEND_ADDITIVE)
                pipeline = GraphicsPipeline(self.ctx, desc, codes, self._layout,
                                            self.render_pass)
                binder.adopt(self.pipeline_id, pipeline)
        except BaseException:
            if self.pipeline_id is not None and self.pipeline_id in binder:
                binder.release_pipeline(self.pipeline_id)
            self.destroy()
            raise
        if self.compute:
            self._picture = SlotImageDescriptor(binder, self.pipeline_id,
                                                vk.VK_DESCRIPTOR_TYPE_STORAGE_IMAGE)
            self._compute_push = np.zeros(3, np.uint32)
            self._to_general = _image_barrier()
            self._to_final = _image_barrier()
            return
        self._pipeline = pipeline.handle
        self._set_count = len(binder.descriptor_sets(self.pipeline_id, 0))
        self._sets = [binder.descriptor_set_array(self.pipeline_id, f)
                      for f in range(binder.frames_in_flight)]
        self._push = ffi.new("uint32_t[3]")
        self._rp_begin = ffi.new("VkRenderPassBeginInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO,
            "renderPass": self.render_pass})
        self._viewport = ffi.new("VkViewport*", {"minDepth": 0.0, "maxDepth": 1.0})
        self._scissor = ffi.new("VkRect2D*")

    def _record_compute(self, cmd: Any, slot: int, index: int, width: int, height: int,
                        tiles_x: int, tiles: int) -> None:
        """The compute composite: the picture goes from the target's final layout to GENERAL
        (after the colour writes and any earlier composite), one workgroup per tile adds the
        result (behind the dispatch's barrier from every earlier write: the accumulation's),
        then the picture returns to the final layout before a transfer (screenshot) or
        presentation."""
        target = self.target
        if target.generation != self._picture.generation:
            # First frame, or the target recreated its images (the device was idle then).
            self._picture.write(target.color_storage_view(index), vk.VK_IMAGE_LAYOUT_GENERAL,
                                generation=target.generation)
        image = target.color_image(index)
        compute = vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT
        shader_rw = vk.VK_ACCESS_SHADER_READ_BIT | vk.VK_ACCESS_SHADER_WRITE_BIT
        image_barrier(cmd, self._to_general, image, target.final_layout,
                      vk.VK_IMAGE_LAYOUT_GENERAL,
                      vk.VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT | vk.VK_ACCESS_SHADER_WRITE_BIT,
                      shader_rw, vk.VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT | compute,
                      compute)
        push = self._compute_push
        push[0], push[1], push[2] = width, height, tiles_x
        self._compute.record(cmd, slot, (tiles_x, tiles // tiles_x, 1), push_constants=push)
        image_barrier(cmd, self._to_final, image, vk.VK_IMAGE_LAYOUT_GENERAL,
                      target.final_layout, vk.VK_ACCESS_SHADER_WRITE_BIT,
                      vk.VK_ACCESS_TRANSFER_READ_BIT, compute,
                      vk.VK_PIPELINE_STAGE_TRANSFER_BIT | vk.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT)

    def _framebuffer(self, index: int) -> Any:
        target = self.target
        if target.generation != self._fb_generation:
            self._destroy_framebuffers()  # the target recreated its images: the GPU is idle
            self._fb_generation = target.generation
        fb = self._framebuffers.get(index)
        if fb is None:
            fb = create_framebuffer(self.ctx, self.render_pass, [target.color_view(index)],
                                    target.width, target.height)
            self._framebuffers[index] = fb
        return fb

    def record(self, cmd: Any, slot: int, index: int, width: int, height: int, tiles_x: int,
               tiles: int) -> None:
        """The composite over target image ``index`` for a ``width`` x ``height``
        accumulation of ``tiles`` tiles, ``tiles_x`` a row: the compute composite, or the
        raster pass drawing ``tiles`` quads (6 vertices each)."""
        if self.compute:
            self._record_compute(cmd, slot, index, width, height, tiles_x, tiles)
            return
        rp = self._rp_begin
        rp.framebuffer = self._framebuffer(index)
        rp.renderArea.extent.width, rp.renderArea.extent.height = width, height
        lib.vkCmdBeginRenderPass(cmd, rp, vk.VK_SUBPASS_CONTENTS_INLINE)
        vp = self._viewport
        vp.width, vp.height = float(width), float(height)
        self._scissor.extent.width, self._scissor.extent.height = width, height
        lib.vkCmdSetViewport(cmd, 0, 1, vp)
        lib.vkCmdSetScissor(cmd, 0, 1, self._scissor)
        graphics = vk.VK_PIPELINE_BIND_POINT_GRAPHICS
        lib.vkCmdBindPipeline(cmd, graphics, self._pipeline)
        lib.vkCmdBindDescriptorSets(cmd, graphics, self._layout, 0, self._set_count,
                                    self._sets[slot], 0, ffi.NULL)
        push = self._push
        push[0], push[1], push[2] = width, height, tiles_x
        lib.vkCmdPushConstants(cmd, self._layout, _STAGES, 0, 12, push)
        lib.vkCmdDraw(cmd, 6, tiles, 0, 0)
        lib.vkCmdEndRenderPass(cmd)

    @property
    def holds_objects(self) -> bool:
        """True while framebuffers or the render pass exist (the owner waits for the device
        before :meth:`destroy` then)."""
        return bool(self._framebuffers) or self.render_pass is not None

    def _destroy_framebuffers(self) -> None:
        device = self.ctx.device
        for fb in self._framebuffers.values():
            if device is not None:
                lib.vkDestroyFramebuffer(device, fb, ffi.NULL)
        self._framebuffers = {}

    def destroy(self) -> None:
        """Free the framebuffers and the render pass (the GPU must be done with them; the
        pipeline goes with its binder id). Idempotent."""
        self._destroy_framebuffers()
        if self.render_pass is not None and self.ctx.device is not None:
            lib.vkDestroyRenderPass(self.ctx.device, self.render_pass, ffi.NULL)
        self.render_pass = None
