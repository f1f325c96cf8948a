"""Compute pipelines on a ResourceBinder's layout, dispatch helpers and per-frame command buffers.

- :class:`ComputePipeline` builds a ``VkPipeline`` from the compute module registered with
  :meth:`~engine.binding.binder.ResourceBinder.register_pipeline` and the binder's pipeline
  layout. The binder adopts it: it is destroyed with the pipeline id (``release_pipeline``) or
  the binder (``close``). :meth:`ComputePipeline.record` binds the pipeline and the slot's
  descriptor sets, pushes constants and dispatches, after a barrier that orders it behind every
  earlier GPU write (uploads, resize copies, earlier dispatches and read-backs), which is what
  synchronisation validation asks for.
- :class:`FrameCommands` hands out primary command buffers of the manager's current frame
  slot and submits them through its frames, so every submission is numbered on the queue
  timeline; a slot's buffers are reused only after ``begin_frame`` waited for that slot.

Graphics pipelines are built elsewhere (the renderer) from ``binder.shader_stages(pid)`` and
``binder.pipeline_layout(pid)``, and bound with ``binder.descriptor_set_array(pid, frame)``.
Per-dispatch work uses prebuilt raw cffi structs only (``ffi.new`` once, fields mutated
per call), never the bindings' struct constructors, which cost microseconds each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.binding.binder import PipelineId, ResourceBinder
from engine.buffers.manager import BufferManager
from engine.device.barriers import memory_barrier, new_memory_barrier
from engine.device.vk import check_result, ffi, lib, vk
from engine.errors import (
    FrameStateError,
    InvalidDataError,
    ManagerClosedError,
    UnknownPipelineError,
)
from engine.frames.tracker import FrameTracker
from engine.shaders.module import create_shader_module

STAGE_COMPUTE = vk.VK_SHADER_STAGE_COMPUTE_BIT
_ALL_COMMANDS = vk.VK_PIPELINE_STAGE_ALL_COMMANDS_BIT
_COMPUTE_STAGE = vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT


class ComputePipeline:
    """The compute ``VkPipeline`` of a registered pipeline id (owned by the binder).

    Attributes:
        local_size: the shader's workgroup size ``(x, y, z)`` in invocations.
        push_size: bytes of the push-constant range (0 without one).
    """

    def __init__(self, binder: ResourceBinder, pipeline_id: PipelineId) -> None:
        what = f"ComputePipeline({str(pipeline_id)!r})"
        stages = [s for s in binder.shader_stages(pipeline_id) if s.stage == STAGE_COMPUTE]
        if not stages:
            raise UnknownPipelineError(
                f"{what}: the pipeline has no compute stage; register it with a compute shader "
                "(graphics pipelines are created by the renderer).")
        stage = stages[0]
        self.binder = binder
        self.pipeline_id = pipeline_id
        self.name = str(pipeline_id)
        self.layout = binder.pipeline_layout(pipeline_id)
        self.local_size = stage.reflection.local_size or (1, 1, 1)
        ranges = binder.layout_info(pipeline_id).push_ranges
        self.push_offset = min((r.offset for r in ranges), default=0)
        self.push_size = max((r.offset + r.size for r in ranges), default=0) - self.push_offset
        self._device = binder.context.device
        module = create_shader_module(binder.context, stage.code, what=what)
        try:
            entry = ffi.new("char[]", stage.entry_point.encode())
            info = ffi.new("VkComputePipelineCreateInfo*", {
                "sType": vk.VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
                "layout": self.layout})
            info.stage.sType = vk.VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
            info.stage.stage = STAGE_COMPUTE
            info.stage.module = module
            info.stage.pName = entry  # ``entry`` must outlive the call (cffi frees it)
            out = ffi.new("VkPipeline*")
            check_result(lib.vkCreateComputePipelines(self._device, ffi.NULL, 1, info, ffi.NULL,
                                                      out), "vkCreateComputePipelines",
                         what=what)
        finally:
            lib.vkDestroyShaderModule(self._device, module, ffi.NULL)
        self.handle: Any = out[0]
        binder.context.set_object_name(vk.VK_OBJECT_TYPE_PIPELINE, self.handle, self.name)
        self._barrier = new_memory_barrier()
        binder.adopt(pipeline_id, self)

    def groups_for(self, x: int, y: int = 1, z: int = 1) -> tuple[int, int, int]:
        """Workgroups covering ``x * y * z`` invocations (rounded up per axis)."""
        lx, ly, lz = self.local_size
        return (-(-x // lx), -(-y // ly), -(-z // lz))

    def record(self, cmd: Any, frame_index: int, groups: tuple[int, int, int] | int, *,
               push_constants: Any = None, barrier: bool = True) -> None:
        """Record a dispatch of ``groups`` workgroups with slot ``frame_index``'s sets.

        ``push_constants``: bytes or a numpy array of at most ``push_size`` bytes.
        ``barrier``: first order this dispatch after every earlier GPU write and read (all
        commands, memory writes -> compute shader reads and writes).
        """
        if self.handle is None:
            raise UnknownPipelineError(f"ComputePipeline({self.name!r}).record: destroyed.")
        gx, gy, gz = (groups, 1, 1) if isinstance(groups, int) else groups
        if barrier:
            memory_barrier(cmd, _ALL_COMMANDS, vk.VK_ACCESS_MEMORY_WRITE_BIT, _COMPUTE_STAGE,
                           vk.VK_ACCESS_SHADER_READ_BIT | vk.VK_ACCESS_SHADER_WRITE_BIT,
                           barrier=self._barrier)
        lib.vkCmdBindPipeline(cmd, vk.VK_PIPELINE_BIND_POINT_COMPUTE, self.handle)
        sets = self.binder.descriptor_sets(self.pipeline_id, frame_index)
        if sets:
            lib.vkCmdBindDescriptorSets(
                cmd, vk.VK_PIPELINE_BIND_POINT_COMPUTE, self.layout, 0, len(sets),
                self.binder.descriptor_set_array(self.pipeline_id, frame_index), 0, ffi.NULL)
        if push_constants is not None:
            data = (np.ascontiguousarray(push_constants).view(np.uint8).reshape(-1)
                    if isinstance(push_constants, np.ndarray) else memoryview(push_constants))
            if not 0 < data.nbytes <= self.push_size or data.nbytes % 4:
                raise InvalidDataError(
                    f"ComputePipeline({self.name!r}).record: {data.nbytes} bytes of push "
                    f"constants; the shader's range holds {self.push_size} bytes (a multiple of "
                    "4 is required).")
            lib.vkCmdPushConstants(cmd, self.layout, STAGE_COMPUTE, self.push_offset,
                                   data.nbytes, ffi.from_buffer(data))
        lib.vkCmdDispatch(cmd, gx, gy, gz)

    def destroy(self) -> None:
        """Destroy the VkPipeline (the binder calls this; the GPU must be done with it)."""
        if self.handle is not None:
            lib.vkDestroyPipeline(self._device, self.handle, ffi.NULL)
            self.handle = None


class FrameCommands:
    """Primary command buffers for the current frame, submitted fence-tracked.

    ``begin()`` returns a recording command buffer kept by the manager's current frame slot;
    ``submit(cmd)`` ends it and submits it through the manager's frames (the queue timeline
    numbers it). The slot takes the buffer back when it is recycled, after the GPU finished
    that frame; one begun and never submitted is reset then. :meth:`close` (or closing the
    manager or the context) ends its use.
    """

    def __init__(self, manager: BufferManager) -> None:
        manager.context.require_open("FrameCommands()")
        if manager.closed:
            raise ManagerClosedError("FrameCommands(): the BufferManager is closed; create a "
                                     "new one.")
        self.manager = manager
        self.context = manager.context
        self._frames: FrameTracker | None = manager.frames
        self.context.add_close_hook(self.close)

    def _open_frames(self, what: str) -> FrameTracker:
        frames = self._frames
        if frames is None or self.manager.closed:
            raise ManagerClosedError(f"{what}: FrameCommands (or its BufferManager) is closed; "
                                     "create a new one.")
        self.context.require_open(what)
        return frames

    def begin(self) -> Any:
        """A command buffer of the current frame, in the recording state."""
        frames = self._open_frames("FrameCommands.begin")
        if not frames.frame_open or frames.frame_number < 0:
            raise FrameStateError("FrameCommands.begin: no frame is open; call begin_frame() "
                                  "first.")
        return frames.command_buffer(what="FrameCommands.begin")

    def submit(self, cmd: Any, *, what: str = "FrameCommands.submit") -> None:
        """End ``cmd`` and submit it for the current frame (tracked by the queue timeline)."""
        frames = self._open_frames(what)
        check_result(lib.vkEndCommandBuffer(cmd), "vkEndCommandBuffer", what=what)
        frames.submit(cmd, what=what)

    def close(self) -> None:
        """Stop using the manager's frames; safe to call twice."""
        if self._frames is None:
            return
        self._frames = None
        self.context.remove_close_hook(self.close)
