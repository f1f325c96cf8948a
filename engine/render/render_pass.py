"""The deferred render pass shared by the offscreen target and the swapchain.

Attachments (index: what, format, load/store):

0. colour: the target image (offscreen or swapchain), cleared, stored.
1. surface: R32G32_UINT packed G-buffer (albedo, emissive, normal, linear depth; see
   :data:`~engine.render.images.GBUFFER_FORMAT`), cleared to 0 (= sky), stored and left
   SHADER_READ_ONLY (the compute lighting path reads it after the pass). With the target's
   ``surface_clear`` in compute (the default on GPUs: engine/render/surface_clear.py) a
   dispatch before the pass writes the zeros and the pass loads them from GENERAL layout.
2. depth: D32_SFLOAT, cleared to 1.0, stored (the compute particle path copies it after the
   pass; on desktop GPUs and lavapipe storing costs nothing measurable).

Subpasses:

- ``SCENE_SUBPASS`` (0): geometry writes colour (ambient + emissive), surface and depth.
- ``LIGHT_SUBPASS`` (1): reads surface as an input attachment; light volumes and particles
  blend additively into colour; depth is bound read-only for their depth tests.

Dependencies order frame N+1's attachment writes after frame N's reads (one G-buffer serves all
frames in flight), subpass 0's writes before subpass 1's reads, and the colour writes before a
transfer (screenshot) after the pass. Two targets whose colour formats match have compatible
render passes, so pipelines built for one work with the other.
"""

from __future__ import annotations

from typing import Any

from engine.device.context import GraphicsContext
from engine.device.vk import check_result, ffi, lib, vk
from engine.errors import StencilUnavailableError
from engine.render.images import DEPTH_FORMAT, GBUFFER_FORMAT, has_stencil
from engine.render.phases import DEFERRED, FORWARD, TargetLayout

SCENE_SUBPASS = 0
LIGHT_SUBPASS = 1
SCENE_COLOR_ATTACHMENTS = 2
LIGHT_COLOR_ATTACHMENTS = 1
CLEAR_COLOR = (0.0, 0.0, 0.0, 1.0)


def create_render_pass(ctx: GraphicsContext, color_format: int, final_layout: int,
                       layout: TargetLayout = DEFERRED, depth_format: int = DEPTH_FORMAT, *,
                       surface_cleared_in_compute: bool = False) -> Any:
    """Create the render pass of ``layout`` (the deferred one: see the module docstring;
    :data:`~engine.render.phases.FORWARD`: :func:`create_forward_render_pass`, which also
    takes a depth/stencil ``depth_format``); the caller destroys it.
    ``surface_cleared_in_compute`` (deferred only): the surface is loaded from GENERAL layout
    instead of cleared, after the :class:`~engine.render.surface_clear.SurfaceClear` dispatch
    that starts each frame (the incoming dependency covers its shader writes)."""
    if layout.name == FORWARD.name:
        return create_forward_render_pass(ctx, color_format, final_layout, depth_format)
    if depth_format != DEPTH_FORMAT:
        raise StencilUnavailableError(
            "create_render_pass: the deferred layout's depth is D32_SFLOAT only (the compute "
            "particle path copies it as one float per pixel); use the forward layout for a "
            "stencil target.")
    L = vk
    att = ffi.new("VkAttachmentDescription[3]")
    specs = [
        (color_format, L.VK_ATTACHMENT_STORE_OP_STORE, final_layout),
        (GBUFFER_FORMAT, L.VK_ATTACHMENT_STORE_OP_STORE,
         L.VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL),
        (DEPTH_FORMAT, L.VK_ATTACHMENT_STORE_OP_STORE,
         L.VK_IMAGE_LAYOUT_DEPTH_STENCIL_READ_ONLY_OPTIMAL),
    ]
    for i, (fmt, store, final) in enumerate(specs):
        a = att[i]
        a.format = fmt
        a.samples = L.VK_SAMPLE_COUNT_1_BIT
        a.loadOp = L.VK_ATTACHMENT_LOAD_OP_CLEAR
        a.storeOp = store
        a.stencilLoadOp = L.VK_ATTACHMENT_LOAD_OP_DONT_CARE
        a.stencilStoreOp = L.VK_ATTACHMENT_STORE_OP_DONT_CARE
        a.initialLayout = L.VK_IMAGE_LAYOUT_UNDEFINED
        a.finalLayout = final
    if surface_cleared_in_compute:
        att[1].loadOp = L.VK_ATTACHMENT_LOAD_OP_LOAD
        att[1].initialLayout = L.VK_IMAGE_LAYOUT_GENERAL

    color_opt = L.VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL
    read_only = L.VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL
    depth_ro = L.VK_IMAGE_LAYOUT_DEPTH_STENCIL_READ_ONLY_OPTIMAL
    scene_colors = ffi.new("VkAttachmentReference[2]",
                           [{"attachment": i, "layout": color_opt} for i in range(2)])
    scene_depth = ffi.new("VkAttachmentReference*", {
        "attachment": 2, "layout": L.VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL})
    light_inputs = ffi.new("VkAttachmentReference[1]", [
        {"attachment": 1, "layout": read_only}])
    light_color = ffi.new("VkAttachmentReference*", {"attachment": 0, "layout": color_opt})
    light_depth = ffi.new("VkAttachmentReference*", {"attachment": 2, "layout": depth_ro})
    subpasses = ffi.new("VkSubpassDescription[2]")
    s0, s1 = subpasses[0], subpasses[1]
    s0.pipelineBindPoint = s1.pipelineBindPoint = L.VK_PIPELINE_BIND_POINT_GRAPHICS
    s0.colorAttachmentCount, s0.pColorAttachments = 2, scene_colors
    s0.pDepthStencilAttachment = scene_depth
    s1.inputAttachmentCount, s1.pInputAttachments = 1, light_inputs
    s1.colorAttachmentCount, s1.pColorAttachments = 1, light_color
    s1.pDepthStencilAttachment = light_depth

    color_out = L.VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT
    frag_tests = (L.VK_PIPELINE_STAGE_EARLY_FRAGMENT_TESTS_BIT
                  | L.VK_PIPELINE_STAGE_LATE_FRAGMENT_TESTS_BIT)
    frag = L.VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT
    color_rw = L.VK_ACCESS_COLOR_ATTACHMENT_READ_BIT | L.VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT
    depth_rw = (L.VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_READ_BIT
                | L.VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT)
    deps = ffi.new("VkSubpassDependency[3]", [
        {   # earlier frames (their G-buffer reads, also by the compute lighting after the
            # pass, colour writes, screenshot copy) -> scene
            "srcSubpass": L.VK_SUBPASS_EXTERNAL, "dstSubpass": SCENE_SUBPASS,
            "srcStageMask": color_out | frag_tests | frag | L.VK_PIPELINE_STAGE_TRANSFER_BIT
            | L.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            "dstStageMask": color_out | frag_tests,
            "srcAccessMask": L.VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT
            | L.VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT
            | L.VK_ACCESS_SHADER_WRITE_BIT,   # the surface's compute clear, where used
            "dstAccessMask": color_rw | depth_rw},
        {   # scene writes -> light-volume input-attachment reads and blending
            "srcSubpass": SCENE_SUBPASS, "dstSubpass": LIGHT_SUBPASS,
            "srcStageMask": color_out | frag_tests,
            "dstStageMask": frag | frag_tests | color_out,
            "srcAccessMask": L.VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT
            | L.VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT,
            "dstAccessMask": L.VK_ACCESS_INPUT_ATTACHMENT_READ_BIT | color_rw
            | L.VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_READ_BIT,
            "dependencyFlags": L.VK_DEPENDENCY_BY_REGION_BIT},
        {   # colour writes -> a transfer (screenshot) or presentation after the pass
            "srcSubpass": LIGHT_SUBPASS, "dstSubpass": L.VK_SUBPASS_EXTERNAL,
            "srcStageMask": color_out,
            "dstStageMask": L.VK_PIPELINE_STAGE_TRANSFER_BIT
            | L.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
            "srcAccessMask": L.VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
            "dstAccessMask": L.VK_ACCESS_TRANSFER_READ_BIT},
    ])
    return build_render_pass(ctx, (att, 3), (subpasses, 2), (deps, 3), "create_render_pass")


def create_forward_render_pass(ctx: GraphicsContext, color_format: int, final_layout: int,
                               depth_format: int = DEPTH_FORMAT) -> Any:
    """The forward render pass: colour (cleared, stored, ``final_layout``) and depth (D32, or
    a depth/stencil ``depth_format`` whose stencil is cleared to 0; cleared to 1.0, neither
    stored) in one subpass; dependencies as in the deferred pass (earlier frames' writes and
    the screenshot copy before this frame's writes; colour writes before a transfer or
    presentation after the pass). The depth/stencil dependency stages (early and late fragment
    tests) and accesses cover the stencil aspect too."""
    L = vk
    att = ffi.new("VkAttachmentDescription[2]")
    specs = [(color_format, L.VK_ATTACHMENT_STORE_OP_STORE, final_layout),
             (depth_format, L.VK_ATTACHMENT_STORE_OP_DONT_CARE,
              L.VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL)]
    for i, (fmt, store, final) in enumerate(specs):
        a = att[i]
        a.format, a.samples = fmt, L.VK_SAMPLE_COUNT_1_BIT
        a.loadOp, a.storeOp = L.VK_ATTACHMENT_LOAD_OP_CLEAR, store
        a.stencilLoadOp = L.VK_ATTACHMENT_LOAD_OP_CLEAR if i == 1 and has_stencil(fmt) \
            else L.VK_ATTACHMENT_LOAD_OP_DONT_CARE  # cleared to the renderer's stencil 0
        a.stencilStoreOp = L.VK_ATTACHMENT_STORE_OP_DONT_CARE
        a.initialLayout, a.finalLayout = L.VK_IMAGE_LAYOUT_UNDEFINED, final
    color = ffi.new("VkAttachmentReference*", {
        "attachment": 0, "layout": L.VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL})
    depth = ffi.new("VkAttachmentReference*", {
        "attachment": 1, "layout": L.VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL})
    subpass = ffi.new("VkSubpassDescription*", {
        "pipelineBindPoint": L.VK_PIPELINE_BIND_POINT_GRAPHICS, "colorAttachmentCount": 1,
        "pColorAttachments": color, "pDepthStencilAttachment": depth})
    color_out = L.VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT
    frag_tests = (L.VK_PIPELINE_STAGE_EARLY_FRAGMENT_TESTS_BIT
                  | L.VK_PIPELINE_STAGE_LATE_FRAGMENT_TESTS_BIT)
    deps = ffi.new("VkSubpassDependency[2]", [
        {"srcSubpass": L.VK_SUBPASS_EXTERNAL, "dstSubpass": 0,
         "srcStageMask": color_out | frag_tests | L.VK_PIPELINE_STAGE_TRANSFER_BIT,
         "dstStageMask": color_out | frag_tests,
         "srcAccessMask": L.VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT
         | L.VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT,
         "dstAccessMask": L.VK_ACCESS_COLOR_ATTACHMENT_READ_BIT
         | L.VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT
         | L.VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_READ_BIT
         | L.VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT},
        {"srcSubpass": 0, "dstSubpass": L.VK_SUBPASS_EXTERNAL, "srcStageMask": color_out,
         "dstStageMask": L.VK_PIPELINE_STAGE_TRANSFER_BIT
         | L.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
         "srcAccessMask": L.VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
         "dstAccessMask": L.VK_ACCESS_TRANSFER_READ_BIT},
    ])
    return build_render_pass(ctx, (att, 2), (subpass, 1), (deps, 2),
                             "create_forward_render_pass")


def build_render_pass(ctx: GraphicsContext, attachments: tuple[Any, int],
                      subpasses: tuple[Any, int], dependencies: tuple[Any, int],
                      what: str) -> Any:
    """``vkCreateRenderPass`` of prebuilt cffi arrays, each given as ``(array, count)``; a
    failure raises the engine's VulkanError naming ``what``."""
    info = ffi.new("VkRenderPassCreateInfo*", {
        "sType": vk.VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO,
        "attachmentCount": attachments[1], "pAttachments": attachments[0],
        "subpassCount": subpasses[1], "pSubpasses": subpasses[0],
        "dependencyCount": dependencies[1], "pDependencies": dependencies[0]})
    out = ffi.new("VkRenderPass*")
    check_result(lib.vkCreateRenderPass(ctx.device, info, ffi.NULL, out), "vkCreateRenderPass",
                 what=what)
    return out[0]


def create_framebuffer(ctx: GraphicsContext, render_pass: Any, views: list[Any], width: int,
                       height: int) -> Any:
    """A framebuffer of ``views`` (colour, surface, depth) of ``width`` x ``height``."""
    arr = ffi.new("VkImageView[]", views)
    info = ffi.new("VkFramebufferCreateInfo*", {
        "sType": vk.VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO, "renderPass": render_pass,
        "attachmentCount": len(views), "pAttachments": arr,
        "width": width, "height": height, "layers": 1})
    out = ffi.new("VkFramebuffer*")
    check_result(lib.vkCreateFramebuffer(ctx.device, info, ffi.NULL, out),
                 "vkCreateFramebuffer", what="create_framebuffer")
    return out[0]
