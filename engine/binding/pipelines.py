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
from engine.device.interrupts import defers_interrupts
from engine.device.vk import check_result, ffi, lib, vk
from engine.errors import (
    FrameStateError,
    InvalidDataError,
    InvalidGroupCountError,
    InvalidOptionError,
    ManagerClosedError,
    UnknownPipelineError,
)
from engine.frames.command_pool import is_recording
from engine.frames.tracker import FrameTracker
from engine.identity import Unshareable
from engine.numbers import as_int
from engine.shaders.module import create_compute_pipeline

PushConstants = np.ndarray[Any, Any] | np.generic | bytes | bytearray | memoryview
"""What a dispatch pushes: the raw bytes of the push-constant block (a numpy value laid out
like the block, or a bytes-like object); see :meth:`ComputePipeline.record`."""

STAGE_COMPUTE = vk.VK_SHADER_STAGE_COMPUTE_BIT
_ALL_COMMANDS = vk.VK_PIPELINE_STAGE_ALL_COMMANDS_BIT
_COMPUTE_STAGE = vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT


_COMMAND_BUFFER = ffi.typeof("VkCommandBuffer")


def _is_command_buffer(cmd: Any) -> bool:
    return isinstance(cmd, ffi.CData) and ffi.typeof(cmd) is _COMMAND_BUFFER \
        and cmd != ffi.NULL


def _group_counts(groups: Any, limits: tuple[int, int, int], what: str) -> tuple[int, int, int]:
    """``groups`` (an int or 3 ints) as Python ints from 0 to the device's limits per axis."""
    single = as_int(groups)
    if single is not None:
        items: tuple[Any, ...] = (single, 1, 1)
    elif isinstance(groups, tuple | list) and len(groups) == 3:
        items = tuple(groups)
    else:
        raise InvalidGroupCountError(
            f"{what}: groups {groups!r} must be an integer or a tuple of 3 integers (x, y, z); "
            "groups_for(n) computes them from an invocation count.")
    counts = []
    for axis, value, limit in zip("xyz", items, limits, strict=True):
        n = as_int(value)
        if n is None or not 0 <= n <= limit:
            raise InvalidGroupCountError(
                f"{what}: {axis} group count {value!r} must be an integer from 0 to the "
                f"device's maxComputeWorkGroupCount {limit}; split the dispatch or use "
                "larger workgroups.")
        counts.append(n)
    return counts[0], counts[1], counts[2]


def _push_bytes(push_constants: Any, push_size: int, what: str) -> Any:
    """Push-constant data as a flat uint8 array (any C-contiguous buffer-protocol object)."""
    data = push_constants
    if isinstance(data, np.generic):
        data = np.asarray(data)
    if isinstance(data, np.ndarray):
        if data.dtype.hasobject:
            raise InvalidDataError(f"{what}: push constants of Python objects; use a numeric "
                                   "dtype.")
        flat = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    elif isinstance(data, str):
        raise InvalidDataError(f"{what}: push constants given as a str; pass bytes or a numpy "
                               "array (e.g. np.array([0.5], np.float32)).")
    else:
        try:
            view = memoryview(data)
        except TypeError:
            raise InvalidDataError(
                f"{what}: push constants of type {type(data).__name__} are not bytes-like or a "
                "numpy array; pass the block's bytes, e.g. a 0-d array of a structured dtype "
                "laid out like the block (np.zeros((), std430([...])) with its fields set)."
            ) from None
        except (ValueError, BufferError) as exc:
            raise InvalidDataError(f"{what}: push constants cannot be read ({exc}).") from None
        if not view.c_contiguous:
            raise InvalidDataError(f"{what}: push constants are not C-contiguous; pass "
                                   "bytes(...) or a contiguous array.")
        flat = np.frombuffer(view.tobytes(), dtype=np.uint8)
    if not 0 < flat.nbytes <= push_size or flat.nbytes % 4:
        raise InvalidDataError(
            f"{what}: {flat.nbytes} bytes of push constants; the shader's range holds "
            f"{push_size} bytes (a multiple of 4 is required).")
    return flat


class ComputePipeline(Unshareable):
    """The compute ``VkPipeline`` of a registered pipeline id (owned by the binder; not
    copyable or picklable).

    Attributes:
        local_size: the shader's workgroup size ``(x, y, z)`` in invocations.
        push_size: bytes of the push-constant range (0 without one).
    """

    @defers_interrupts
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
        counts = vk.vkGetPhysicalDeviceProperties(
            binder.context.physical_device).limits.maxComputeWorkGroupCount
        self.max_group_count: tuple[int, int, int] = (int(counts[0]), int(counts[1]),
                                                      int(counts[2]))
        handle = create_compute_pipeline(binder.context, self.layout, stage.code, what=what,
                                         entry_point=stage.entry_point)
        self.handle: Any = handle
        binder.context.set_object_name(vk.VK_OBJECT_TYPE_PIPELINE, self.handle, self.name)
        self.dynamic_count = binder.dynamic_binding_count(pipeline_id)
        """Dynamic offsets each :meth:`record` takes."""
        self._barrier = new_memory_barrier()
        binder.adopt(pipeline_id, self)

    def groups_for(self, x: int, y: int = 1, z: int = 1) -> tuple[int, int, int]:
        """Workgroups covering ``x * y * z`` invocations (rounded up per axis)."""
        lx, ly, lz = self.local_size
        sizes = []
        for axis, value in zip("xyz", (x, y, z), strict=True):
            n = as_int(value)
            if n is None or n < 0:
                raise InvalidGroupCountError(
                    f"ComputePipeline({self.name!r}).groups_for: {axis} = {value!r} must be a "
                    "non-negative integer number of invocations.")
            sizes.append(n)
        return (-(-sizes[0] // lx), -(-sizes[1] // ly), -(-sizes[2] // lz))

    @defers_interrupts
    def record(self, cmd: Any, frame_index: int, groups: tuple[int, int, int] | int, *,
               push_constants: PushConstants | None = None, barrier: bool = True,
               dynamic_offsets: Any = None) -> None:
        """Record a dispatch of ``groups`` workgroups with slot ``frame_index``'s sets.

        ``groups``: an int (x; y = z = 1) or 3 ints, each from 0 to the device's
        ``maxComputeWorkGroupCount`` (:meth:`groups_for` computes them from invocations).
        ``push_constants``: the raw bytes of the shader's push-constant block, written from
        its first byte (``push_offset``): a numpy value (a structured scalar or 0-d array of
        a dtype laid out like the block, e.g. from :func:`~engine.shaders.std_layout.std430`,
        or any numeric array) or a C-contiguous bytes-like object; 4 to ``push_size`` bytes,
        a multiple of 4. Only the size is checked, not the field layout (a dict is refused:
        ``DrawContext.push_constants`` takes members by name for draw pipelines). ``None``
        pushes nothing.
        ``barrier``: first order this dispatch after every earlier GPU write and read (all
        commands, memory writes -> compute shader reads and writes).
        ``dynamic_offsets``: one byte offset per dynamic binding (``dynamic=`` at
        registration), in ``binder.dynamic_binding_names(pid)`` order; each must be a block
        pushed into the bound UniformRing in this frame (checked: count, alignment, range).

        Raises before recording anything: UnknownPipelineError (destroyed), InvalidDataError
        (not a recording command buffer, bad push constants), FrameStateError,
        BufferDestroyedError, MissingBindingError (a buffer binding of the shader has nothing
        bound; the message names it and the ``bind_*_named`` call),
        DescriptorsNotWrittenError (bound after the slot's descriptors were written),
        InvalidGroupCountError, InvalidFrameIndexError, InvalidOptionError,
        DynamicOffsetError.
        """
        what = f"ComputePipeline({self.name!r}).record"
        if self.handle is None:
            raise UnknownPipelineError(f"{what}: destroyed (its pipeline id was released or "
                                       "the binder closed); create a new ComputePipeline.")
        if not _is_command_buffer(cmd):
            raise InvalidDataError(f"{what}: cmd {cmd!r} is not a VkCommandBuffer; pass the "
                                   "one FrameCommands.begin() returned.")
        if not is_recording(cmd):
            raise FrameStateError(
                f"{what}: cmd is not a command buffer in the recording state (already "
                "submitted, or its manager or FrameCommands was closed); record into the one "
                "FrameCommands.begin() returned in this frame.")
        self.binder.check_recordable(self.pipeline_id, what)
        if groups.__class__ is tuple and len(groups) == 3 and groups[0].__class__ is int \
                and groups[1].__class__ is int and groups[2].__class__ is int \
                and 0 <= groups[0] <= self.max_group_count[0] \
                and 0 <= groups[1] <= self.max_group_count[1] \
                and 0 <= groups[2] <= self.max_group_count[2]:
            gx, gy, gz = groups
        else:
            gx, gy, gz = _group_counts(groups, self.max_group_count, what)
        if barrier.__class__ is not bool:
            raise InvalidOptionError(f"{what}: barrier={barrier!r} is not a flag; pass True "
                                     "or False.")
        sets = self.binder.descriptor_sets(self.pipeline_id, frame_index)
        data = None if push_constants is None else _push_bytes(push_constants, self.push_size,
                                                               what)
        if self.dynamic_count or dynamic_offsets is not None:
            n_offsets, offsets = self.binder.dynamic_offset_array(
                self.pipeline_id, frame_index, dynamic_offsets, what=what)
        else:
            n_offsets, offsets = 0, ffi.NULL
        self.binder.require_complete(self.pipeline_id, frame_index, what)
        if barrier:
            memory_barrier(cmd, _ALL_COMMANDS, vk.VK_ACCESS_MEMORY_WRITE_BIT, _COMPUTE_STAGE,
                           vk.VK_ACCESS_SHADER_READ_BIT | vk.VK_ACCESS_SHADER_WRITE_BIT,
                           barrier=self._barrier)
        lib.vkCmdBindPipeline(cmd, vk.VK_PIPELINE_BIND_POINT_COMPUTE, self.handle)
        if sets:
            lib.vkCmdBindDescriptorSets(
                cmd, vk.VK_PIPELINE_BIND_POINT_COMPUTE, self.layout, 0, len(sets),
                self.binder.descriptor_set_array(self.pipeline_id, frame_index), n_offsets,
                offsets if n_offsets else ffi.NULL)
        if data is not None:
            lib.vkCmdPushConstants(cmd, self.layout, STAGE_COMPUTE, self.push_offset,
                                   data.nbytes, ffi.from_buffer(data))
        lib.vkCmdDispatch(cmd, gx, gy, gz)

    def destroy(self) -> None:
        """Destroy the VkPipeline (the binder calls this; the GPU must be done with it)."""
        if self.handle is not None:
            lib.vkDestroyPipeline(self._device, self.handle, ffi.NULL)
            self.handle = None


class FrameCommands(Unshareable):
    """Primary command buffers for the current frame, submitted fence-tracked (not copyable).

    ``begin()`` returns a recording command buffer kept by the manager's current frame slot;
    ``submit(cmd)`` ends it and submits it through the manager's frames (the queue timeline
    numbers it). The slot takes the buffer back when it is recycled, after the GPU finished
    that frame; one begun and never submitted is reset then. :meth:`close` (or closing the
    manager or the context) ends its use.
    """

    def __init__(self, manager: BufferManager) -> None:
        if not isinstance(manager, BufferManager):
            raise InvalidOptionError(
                f"FrameCommands(manager={type(manager).__name__}): expected a BufferManager.")
        manager.require_open("FrameCommands()")
        self.manager = manager
        self._recording: list[Any] = []
        """Command buffers begun and not yet submitted (reset each frame)."""
        self._recording_frame = -1
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

    @defers_interrupts
    def begin(self) -> Any:
        """A command buffer of the current frame, in the recording state."""
        frames = self._open_frames("FrameCommands.begin")
        if not frames.frame_open or frames.frame_number < 0:
            raise FrameStateError("FrameCommands.begin: no frame is open; call begin_frame() "
                                  "first.")
        cmd = frames.command_buffer(what="FrameCommands.begin")
        if self._recording_frame != frames.frame_number:
            self._recording, self._recording_frame = [], frames.frame_number
        self._recording.append(cmd)
        return cmd

    @defers_interrupts
    def submit(self, cmd: Any, *, what: str = "FrameCommands.submit") -> None:
        """End ``cmd`` and submit it for the current frame (tracked by the queue timeline).

        Only a command buffer this object began in the current frame, once."""
        frames = self._open_frames(what)
        if not frames.frame_open or frames.frame_number < 0 \
                or self._recording_frame != frames.frame_number:
            raise FrameStateError(f"{what}: no command buffer of this frame is recording; "
                                  "call begin() in the open frame first.")
        index = next((i for i, c in enumerate(self._recording) if c is cmd or (
            _is_command_buffer(cmd) and c == cmd)), None)
        if index is None:
            raise FrameStateError(
                f"{what}: {cmd!r} is not a command buffer this FrameCommands began in the "
                "current frame (or it was submitted already); submit what begin() returned, "
                "once.")
        del self._recording[index]
        check_result(lib.vkEndCommandBuffer(cmd), "vkEndCommandBuffer", what=what)
        frames.submit(cmd, what=what)

    @defers_interrupts
    def close(self) -> None:
        """Stop using the manager's frames; safe to call twice."""
        if self._frames is None:
            return
        self._frames = None
        self.context.remove_close_hook(self.close)
