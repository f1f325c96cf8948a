"""Graphics pipelines from SPIR-V and a pipeline layout (the ResourceBinder's, by reflection).

:class:`GraphicsPipelineDesc` says what differs between the engine's pipelines (topology,
vertex input, culling, depth, stencil, blending, colour writes, colour-attachment count);
viewport and scissor are dynamic so a window resize never rebuilds a pipeline, and so is the
stencil reference of a pipeline with stencil state. Shader modules live only for the
``vkCreateGraphicsPipelines`` call. Every nested struct is bound to a local (cffi frees a struct
nothing references).

Lavapipe compiles a pipeline lazily at its first submit: draw once during warm-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.device.context import GraphicsContext
from engine.device.vk import check_result, ffi, lib, vk
from engine.shaders.module import create_shader_module

BLEND_OPAQUE = "opaque"
BLEND_ADDITIVE = "additive"
"""``src * 1 + dst * 1`` (colour and alpha); order-independent, so no sorting is needed."""
BLEND_ALPHA = "alpha"
"""``src * src.a + dst * (1 - src.a)`` (colour); alpha ``src + dst * (1 - src.a)``: draw back
to front."""
BLEND_MODES = (BLEND_OPAQUE, BLEND_ADDITIVE, BLEND_ALPHA)
"""The blend modes a pipeline takes (opaque, additive, alpha)."""

_STAGE_BITS = {"vert": vk.VK_SHADER_STAGE_VERTEX_BIT, "frag": vk.VK_SHADER_STAGE_FRAGMENT_BIT}


@dataclass(frozen=True)
class VertexAttribute:
    """``location`` reads ``format`` at byte ``offset`` of vertex binding ``binding``."""

    location: int
    binding: int
    format: int
    offset: int


@dataclass(frozen=True)
class GraphicsPipelineDesc:
    """Fixed-function state of one graphics pipeline.

    ``vertex_bindings`` are ``(binding, stride_bytes)`` pairs (per vertex) or
    ``(binding, stride_bytes, input_rate)`` triples (``VK_VERTEX_INPUT_RATE_INSTANCE`` steps
    once per instance). ``blend`` (one of :data:`~engine.render.graphics_pipeline.BLEND_MODES`)
    applies to each of ``color_attachments`` attachments, or is a tuple with one mode per
    attachment.
    """

    name: str
    topology: int = vk.VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST
    vertex_bindings: tuple[tuple[int, ...], ...] = ()
    vertex_attributes: tuple[VertexAttribute, ...] = ()
    cull_mode: int = vk.VK_CULL_MODE_NONE
    front_face: int = vk.VK_FRONT_FACE_COUNTER_CLOCKWISE
    depth_test: bool = True
    depth_write: bool = True
    depth_compare: int = vk.VK_COMPARE_OP_LESS
    blend: str | tuple[str, ...] = BLEND_OPAQUE
    color_attachments: int = 1
    subpass: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    stencil: tuple[StencilOpState, StencilOpState] | None = None
    """Front and back stencil state (test enabled), or None (stencil test off). The reference
    is dynamic state (``VK_DYNAMIC_STATE_STENCIL_REFERENCE``): the recorder sets it."""
    color_write: bool | tuple[bool, ...] = True
    """Write the colour channels of every attachment, or one flag per attachment (False:
    ``colorWriteMask = 0``, e.g. a draw that only writes stencil)."""


@dataclass(frozen=True, slots=True)
class StencilOpState:
    """One face of ``VkStencilOpState`` as Vulkan enums and 8-bit masks (the draw API's
    :class:`~engine.render.draw.StencilFace` is the readable form)."""

    fail_op: int
    pass_op: int
    depth_fail_op: int
    compare_op: int
    compare_mask: int
    write_mask: int
    reference: int


def create_graphics_pipeline(ctx: GraphicsContext, desc: GraphicsPipelineDesc,
                             stages: dict[str, bytes], layout: Any, render_pass: Any) -> Any:
    """Create a pipeline of ``desc`` with SPIR-V ``stages`` (``{"vert": ..., "frag": ...}``).

    Returns the ``VkPipeline``; destroy it with ``vkDestroyPipeline``
    (:meth:`GraphicsPipeline.destroy` does).
    """
    what = f"create_graphics_pipeline({desc.name!r})"
    L = vk
    modules: list[Any] = []
    keep: list[Any] = []
    try:
        stage_infos = ffi.new("VkPipelineShaderStageCreateInfo[]", len(stages))
        entry = ffi.new("char[]", b"main")
        for i, (stage, spirv) in enumerate(stages.items()):
            module = create_shader_module(ctx, spirv, what=f"{what} {stage}")
            modules.append(module)
            s = stage_infos[i]
            s.sType = L.VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
            s.stage = _STAGE_BITS[stage]
            s.module = module
            s.pName = entry

        bindings = ffi.new("VkVertexInputBindingDescription[]", max(1, len(desc.vertex_bindings)))
        for i, spec in enumerate(desc.vertex_bindings):
            bindings[i].binding = spec[0]
            bindings[i].stride = spec[1]
            bindings[i].inputRate = spec[2] if len(spec) > 2 else L.VK_VERTEX_INPUT_RATE_VERTEX
        attrs = ffi.new("VkVertexInputAttributeDescription[]",
                        max(1, len(desc.vertex_attributes)))
        for i, a in enumerate(desc.vertex_attributes):
            attrs[i].location, attrs[i].binding = a.location, a.binding
            attrs[i].format, attrs[i].offset = a.format, a.offset
        vertex_input = ffi.new("VkPipelineVertexInputStateCreateInfo*", {
            "sType": L.VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO,
            "vertexBindingDescriptionCount": len(desc.vertex_bindings),
            "pVertexBindingDescriptions": bindings,
            "vertexAttributeDescriptionCount": len(desc.vertex_attributes),
            "pVertexAttributeDescriptions": attrs})
        assembly = ffi.new("VkPipelineInputAssemblyStateCreateInfo*", {
            "sType": L.VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO,
            "topology": desc.topology})
        viewport = ffi.new("VkPipelineViewportStateCreateInfo*", {
            "sType": L.VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO,
            "viewportCount": 1, "scissorCount": 1})
        raster = ffi.new("VkPipelineRasterizationStateCreateInfo*", {
            "sType": L.VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO,
            "polygonMode": L.VK_POLYGON_MODE_FILL, "cullMode": desc.cull_mode,
            "frontFace": desc.front_face, "lineWidth": 1.0})
        multisample = ffi.new("VkPipelineMultisampleStateCreateInfo*", {
            "sType": L.VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO,
            "rasterizationSamples": L.VK_SAMPLE_COUNT_1_BIT})
        depth = ffi.new("VkPipelineDepthStencilStateCreateInfo*", {
            "sType": L.VK_STRUCTURE_TYPE_PIPELINE_DEPTH_STENCIL_STATE_CREATE_INFO,
            "depthTestEnable": int(desc.depth_test), "depthWriteEnable": int(desc.depth_write),
            "depthCompareOp": desc.depth_compare})
        if desc.stencil is not None:
            depth.stencilTestEnable = 1
            for face, state in zip((depth.front, depth.back), desc.stencil, strict=True):
                face.failOp, face.passOp = state.fail_op, state.pass_op
                face.depthFailOp, face.compareOp = state.depth_fail_op, state.compare_op
                face.compareMask, face.writeMask = state.compare_mask, state.write_mask
                face.reference = state.reference
        attachments = ffi.new("VkPipelineColorBlendAttachmentState[]", desc.color_attachments)
        all_channels = (L.VK_COLOR_COMPONENT_R_BIT | L.VK_COLOR_COMPONENT_G_BIT
                        | L.VK_COLOR_COMPONENT_B_BIT | L.VK_COLOR_COMPONENT_A_BIT)
        modes = (desc.blend,) * desc.color_attachments if isinstance(desc.blend, str) \
            else desc.blend
        writes = (desc.color_write,) * desc.color_attachments \
            if isinstance(desc.color_write, bool) else desc.color_write
        for i in range(desc.color_attachments):
            a = attachments[i]
            a.colorWriteMask = all_channels if writes[i] else 0
            if modes[i] == BLEND_ADDITIVE:
                a.blendEnable = 1
                a.srcColorBlendFactor = a.dstColorBlendFactor = L.VK_BLEND_FACTOR_ONE
                a.srcAlphaBlendFactor = a.dstAlphaBlendFactor = L.VK_BLEND_FACTOR_ONE
                a.colorBlendOp = a.alphaBlendOp = L.VK_BLEND_OP_ADD
            elif modes[i] == BLEND_ALPHA:
                a.blendEnable = 1
                a.srcColorBlendFactor = L.VK_BLEND_FACTOR_SRC_ALPHA
                a.dstColorBlendFactor = L.VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA
                a.srcAlphaBlendFactor = L.VK_BLEND_FACTOR_ONE
                a.dstAlphaBlendFactor = L.VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA
                a.colorBlendOp = a.alphaBlendOp = L.VK_BLEND_OP_ADD
        blend = ffi.new("VkPipelineColorBlendStateCreateInfo*", {
            "sType": L.VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO,
            "attachmentCount": desc.color_attachments, "pAttachments": attachments})
        dyn = [L.VK_DYNAMIC_STATE_VIEWPORT, L.VK_DYNAMIC_STATE_SCISSOR]
        if desc.stencil is not None:
            dyn.append(L.VK_DYNAMIC_STATE_STENCIL_REFERENCE)
        dyn_states = ffi.new("VkDynamicState[]", dyn)
        dynamic = ffi.new("VkPipelineDynamicStateCreateInfo*", {
            "sType": L.VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO,
            "dynamicStateCount": len(dyn), "pDynamicStates": dyn_states})
        keep += [entry, bindings, attrs]
        info = ffi.new("VkGraphicsPipelineCreateInfo*", {
            "sType": L.VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO,
            "stageCount": len(stages), "pStages": stage_infos,
            "pVertexInputState": vertex_input, "pInputAssemblyState": assembly,
            "pViewportState": viewport, "pRasterizationState": raster,
            "pMultisampleState": multisample, "pDepthStencilState": depth,
            "pColorBlendState": blend, "pDynamicState": dynamic, "layout": layout,
            "renderPass": render_pass, "subpass": desc.subpass, "basePipelineIndex": -1})
        out = ffi.new("VkPipeline*")
        check_result(lib.vkCreateGraphicsPipelines(ctx.device, ffi.NULL, 1, info, ffi.NULL, out),
                     "vkCreateGraphicsPipelines", what=what)
        ctx.set_object_name(vk.VK_OBJECT_TYPE_PIPELINE, out[0], desc.name)
        return out[0]
    finally:
        for module in modules:
            lib.vkDestroyShaderModule(ctx.device, module, ffi.NULL)


class GraphicsPipeline:
    """A ``VkPipeline`` owned by a ResourceBinder pipeline id (``binder.adopt``): destroyed
    when the id is released or the binder closes, before the layout it was made with."""

    def __init__(self, ctx: GraphicsContext, desc: GraphicsPipelineDesc, stages: dict[str, bytes],
                 layout: Any, render_pass: Any) -> None:
        self.ctx = ctx
        self.desc = desc
        self.layout = layout
        self.handle: Any = create_graphics_pipeline(ctx, desc, stages, layout, render_pass)

    def destroy(self) -> None:
        if self.handle is not None and self.ctx.device is not None:
            lib.vkDestroyPipeline(self.ctx.device, self.handle, ffi.NULL)
        self.handle = None
