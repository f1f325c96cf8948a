"""The one wrapper of ``vkCreateShaderModule``: validate first, then create.

Compute pipelines (:class:`engine.binding.pipelines.ComputePipeline`) and graphics pipelines
(:func:`engine.render.graphics_pipeline.create_graphics_pipeline`) both create their modules
here, so no SPIR-V reaches the driver without :func:`engine.shaders.validate.validate_spirv`.

Lifetime: the returned ``VkShaderModule`` belongs to the caller, who destroys it with
``vkDestroyShaderModule`` once the pipeline exists (pipelines keep no reference to it); it
must not outlive the context's device.
"""

from __future__ import annotations

from typing import Any

from engine.device.context import GraphicsContext
from engine.device.vk import check_result, ffi, lib, vk
from engine.shaders.validate import validate_spirv

__all__ = ["create_compute_pipeline", "create_shader_module"]


def create_shader_module(context: GraphicsContext, code: bytes | bytearray | memoryview, *,
                         what: str) -> Any:
    """A ``VkShaderModule`` of the SPIR-V ``code`` on ``context``'s device.

    Raises :class:`~engine.errors.SpirvValidationError` / :class:`~engine.errors.ReflectionError`
    (nothing was created) when validation refuses ``code``, and
    :class:`~engine.errors.VulkanError` when the driver does. ``what`` names the caller.
    """
    validate_spirv(code, what=what)
    data = bytes(code)
    words = ffi.new("char[]", data)  # kept alive until the call returns
    info = ffi.new("VkShaderModuleCreateInfo*", {
        "sType": vk.VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, "codeSize": len(data),
        "pCode": ffi.cast("uint32_t*", words)})
    out = ffi.new("VkShaderModule*")
    check_result(lib.vkCreateShaderModule(context.device, info, ffi.NULL, out),
                 "vkCreateShaderModule", what=what)
    return out[0]


def create_compute_pipeline(context: GraphicsContext, layout: Any,
                            code: bytes | bytearray | memoryview, *, what: str,
                            entry_point: str = "main") -> Any:
    """A compute ``VkPipeline`` of the SPIR-V ``code`` (its ``entry_point``) with the
    ``VkPipelineLayout`` ``layout``; the shader module lives only for the call. The caller
    destroys the pipeline (``vkDestroyPipeline``) before the device. Raises as
    :func:`create_shader_module`, and :class:`~engine.errors.VulkanError` when the driver
    refuses the pipeline (nothing is left behind)."""
    module = create_shader_module(context, code, what=what)
    try:
        entry = ffi.new("char[]", entry_point.encode())  # must outlive the call
        info = ffi.new("VkComputePipelineCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO, "layout": layout})
        info.stage.sType = vk.VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
        info.stage.stage = vk.VK_SHADER_STAGE_COMPUTE_BIT
        info.stage.module = module
        info.stage.pName = entry
        out = ffi.new("VkPipeline*")
        check_result(lib.vkCreateComputePipelines(context.device, ffi.NULL, 1, info, ffi.NULL,
                                                  out), "vkCreateComputePipelines", what=what)
    finally:
        lib.vkDestroyShaderModule(context.device, module, ffi.NULL)
    return out[0]
