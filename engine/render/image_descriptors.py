"""SlotImageDescriptor: one image descriptor a pass writes itself into every frame slot's set.

The binder writes buffer descriptors; an image the render target owns (the G-buffer surface,
read as an input attachment by the light volumes or sampled by the compute lighting) is
written by the pass that reads it: once at its first frame, and again after the target
recreated its images (the device was idle then, so no slot's set is in use). The structs are
prebuilt; :meth:`SlotImageDescriptor.write` mutates them.
"""

from __future__ import annotations

from typing import Any

from engine.binding.binder import ResourceBinder
from engine.device.vk import ffi, lib, vk


class SlotImageDescriptor:
    """Binding ``binding`` of set ``set_index`` of a pipeline's sets, in every frame slot.

    Args:
        binder: owns the pipeline's descriptor sets.
        pipeline_id: the pipeline whose sets are written.
        descriptor_type: e.g. ``VK_DESCRIPTOR_TYPE_INPUT_ATTACHMENT`` or ``..._SAMPLED_IMAGE``.
        set_index, binding: where the image goes (default: set 1, binding 0).
    """

    def __init__(self, binder: ResourceBinder, pipeline_id: Any, descriptor_type: int, *,
                 set_index: int = 1, binding: int = 0) -> None:
        self.binder = binder
        self.pipeline_id = pipeline_id
        self.set_index = set_index
        self.generation = -1
        """The ``generation`` given to the last :meth:`write` (-1: never written): a pass
        rewrites the descriptor when its target's ``generation`` differs."""
        self._info = ffi.new("VkDescriptorImageInfo*")
        self._write = ffi.new("VkWriteDescriptorSet*", {
            "sType": vk.VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, "dstBinding": binding,
            "descriptorCount": 1, "descriptorType": descriptor_type,
            "pImageInfo": self._info})

    def write(self, view: Any, layout: int = vk.VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL, *,
              generation: int = -1) -> int:
        """Point every slot's descriptor at ``view`` (in ``layout``) and remember
        ``generation`` (the target's, whose image ``view`` is); no slot's set may be in use
        by the GPU. Returns the descriptor writes made (one per slot)."""
        self.generation = generation
        self._info.imageView = view
        self._info.imageLayout = layout
        w = self._write
        binder = self.binder
        for slot in range(binder.frames_in_flight):
            w.dstSet = binder.descriptor_sets(self.pipeline_id, slot)[self.set_index]
            lib.vkUpdateDescriptorSets(binder.context.device, 1, w, 0, ffi.NULL)
        return binder.frames_in_flight
