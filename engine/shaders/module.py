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

__all__ = ["create_shader_module"]


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
