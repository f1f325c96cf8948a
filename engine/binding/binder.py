"""ResourceBinder: bind ManagedBuffers to shader bindings by name; write descriptors lazily.

How it works:

- ``register_pipeline(name, spirv_modules)`` reflects every stage, merges them
  (:func:`~engine.binding.descriptors.merge_reflections`), and creates a set layout for every set
  index
  (empty ones for gaps), the pipeline layout with its push-constant ranges, one descriptor pool
  and one set per set index per frame slot.
- ``bind_*_named(pid, name, buffers)`` checks name, descriptor type, usage, offset alignment,
  size and (optionally) a numpy dtype against reflection, records the binding and marks the
  binding dirty in **every** slot. No Vulkan call happens there.
- ``update_frame(pid, f)`` runs after ``begin_frame`` of slot ``f`` (the slot's fence has
  signalled, so its sets are not in use). It visits only the slot's dirty bindings and writes
  those whose ``(handle, generation, offset, range)`` differs from what the slot's set last
  received, in ONE raw ``vkUpdateDescriptorSets`` call from prebuilt cffi arrays. A frame with
  nothing dirty costs O(1) per pipeline.
- Resizes reach the binder through ``context.buffer_listeners``: a ``"replaced"`` buffer marks
  only the bindings that reference it (identity map buffer -> binding keys) dirty. Data writes
  never notify, so they never cause descriptor writes. :meth:`ResourceBinder.update_all` visits only
  the pipelines with dirty bindings in the slot (O(1) for a frame without changes).

Dynamic bindings: ``register_pipeline(..., dynamic={names})`` makes those uniform/storage
buffer bindings ``*_BUFFER_DYNAMIC`` in the set layout (SPIR-V cannot say so), and only a
:class:`~engine.buffers.uniform_ring.UniformRing` binds there
(:meth:`ResourceBinder.bind_ring_named`: one block's range over each slot's ring buffer,
written once per slot). Each bind of the sets then takes one offset per dynamic binding, by
set and binding number; :meth:`ResourceBinder.dynamic_offset_array` checks them against the
ring (a block pushed in the current frame for that slot) and fills a
prebuilt ``uint32_t[]`` for ``vkCmdBindDescriptorSets``.

A bound buffer that is destroyed: the ``"destroyed"`` event marks its bindings dead, and every
later ``update_frame`` of that pipeline raises :class:`~engine.errors.BufferDestroyedError`
naming the binding and the buffer, before writing anything (the old descriptor stays; it is
valid only until the frame that destroyed the buffer completes, so the pipeline must not be used
again before a live buffer is bound, or the binding is dropped with :meth:`ResourceBinder.unbind`).

Lifetimes: layouts, pools, sets and adopted pipelines live until
:meth:`ResourceBinder.release_pipeline` or :meth:`ResourceBinder.close` (both wait for the device to
go idle: call them at load/shutdown time, never per frame). The context closes the binder before the
device goes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

import engine.binding.checks as bc
from engine.binding.descriptors import (
    MergedLayout,
    create_layout_objects,
    destroy_set_layouts,
    mark_dynamic,
    merge_reflections,
)
from engine.binding.state import (
    BoundBuffer,
    Change,
    Destroyable,
    Key,
    PipelineId,
    PipelineState,
    ShaderStage,
    WriteBatch,
    collect_changes,
    reflect_cached,
)
from engine.buffers.checks import check_frames_in_flight, check_slot
from engine.buffers.types import ManagedBuffer
from engine.buffers.uniform_ring import UniformRing
from engine.device.context import GraphicsContext
from engine.device.interrupts import defers_interrupts
from engine.device.vk import ffi, lib, vk
from engine.errors import (
    DescriptorsNotWrittenError,
    FrameStateError,
    InvalidDataError,
    InvalidOptionError,
    ManagerClosedError,
    MissingBindingError,
    ReflectionError,
    UnknownPipelineError,
)
from engine.frames.command_pool import is_recording
from engine.identity import Unshareable
from engine.numbers import as_int
from engine.shaders.reflect import DescriptorKind

__all__ = ["PipelineId", "ResourceBinder", "ShaderStage"]

_get_ident = threading.get_ident
_COMMAND_BUFFER = ffi.typeof("VkCommandBuffer")
_GRAPHICS = vk.VK_PIPELINE_BIND_POINT_GRAPHICS
_COMPUTE = vk.VK_PIPELINE_BIND_POINT_COMPUTE


class ResourceBinder(Unshareable):
    """Descriptor layouts, sets and buffer bindings of pipelines, by reflected name.

    Not copyable or picklable (:class:`~engine.errors.NotCopyableError`): it owns the layouts.

    Args:
        context: the device (the binder subscribes to its buffer events and close hooks).
        frames_in_flight: 1-4, the BufferManager's value: one descriptor set per set index
            per frame slot.
    """

    def __init__(self, context: GraphicsContext, *, frames_in_flight: int = 3) -> None:
        if not isinstance(context, GraphicsContext):
            raise InvalidOptionError(
                f"ResourceBinder(context={type(context).__name__}): expected a GraphicsContext; "
                "create one with GraphicsContext.create().")
        frames_in_flight = check_frames_in_flight(frames_in_flight, "ResourceBinder")
        context.require_open("ResourceBinder()")
        self.context = context
        self._owner = context.owner_thread
        self.frames_in_flight = int(frames_in_flight)
        props = vk.vkGetPhysicalDeviceProperties(context.physical_device)
        self.max_sets = int(props.limits.maxBoundDescriptorSets)
        self._pipelines: dict[PipelineId, PipelineState] = {}
        self._by_buffer: dict[ManagedBuffer, dict[tuple[PipelineId, Key], None]] = {}
        self._all_slots = tuple(range(self.frames_in_flight))
        self._pending: list[set[PipelineId]] = [set() for _ in range(self.frames_in_flight)]
        """Per slot, the pipelines with dirty keys there."""
        self._dead: set[PipelineId] = set()
        """Pipelines with a binding whose buffer was destroyed."""
        self._next_index = 1
        self._closed = False
        self._batch = WriteBatch()
        context.buffer_listeners.append(self._on_buffer_event)
        context.add_close_hook(self.close)

    # --- pipelines -------------------------------------------------------------------------

    @defers_interrupts
    def register_pipeline(self, name: str, spirv_modules: Sequence[bytes] | bytes, *,
                          dynamic: Iterable[str] | None = None) -> PipelineId:
        """Reflect and merge the stages; create layouts, a pool and per-frame sets.

        ``spirv_modules``: the SPIR-V of every stage (one module per stage), or one module.
        ``dynamic``: names (block type or variable) of uniform/storage buffer bindings whose
        set layout says ``*_BUFFER_DYNAMIC``: SPIR-V cannot tell, and the layout is built
        here, so they are declared now. Bind a :class:`~engine.buffers.uniform_ring.UniformRing`
        to each with :meth:`bind_ring_named`; every dispatch/draw then passes one dynamic
        offset per dynamic binding (:meth:`dynamic_binding_names` gives the order).

        Raises ReflectionError, ConflictingBindingError, UnknownBindingError,
        DynamicBindingError, InvalidOptionError (nothing is created); OutOfDeviceMemoryError,
        VulkanError (everything created so far is destroyed).
        """
        what = f"register_pipeline({name!r})"
        self._require_open(what)
        if isinstance(spirv_modules, bytes | bytearray | memoryview):
            spirv_modules = [bytes(spirv_modules)]
        elif not isinstance(spirv_modules, Iterable) or isinstance(spirv_modules, str):
            raise ReflectionError(f"{what}: expected SPIR-V bytes or a list of them, got "
                                  f"{type(spirv_modules).__name__}; pass compile_glsl(...) "
                                  "results.")
        stages = []
        for code in spirv_modules:
            if not isinstance(code, bytes | bytearray | memoryview):
                raise ReflectionError(f"{what}: expected SPIR-V bytes, got {type(code).__name__}"
                                      "; pass compile_glsl(...) results.")
            data = bytes(code)
            refl = reflect_cached(data)
            stages.append(ShaderStage(refl.stage, refl.entry_point, data, refl))
        if not stages:
            raise ReflectionError(f"{what}: no SPIR-V module given; pass one per stage.")
        merged = merge_reflections([s.reflection for s in stages], what=what,
                                   max_sets=self.max_sets)
        merged = mark_dynamic(merged, dynamic, self.context.limits, what=what)
        pid = PipelineId(str(name), self._next_index)
        set_layouts, layout, pool = create_layout_objects(
            self.context, merged, self.frames_in_flight, label=str(pid), what=what)
        self._next_index += 1
        self._pipelines[pid] = PipelineState(pid, merged, tuple(stages), set_layouts, layout,
                                             pool, self.frames_in_flight)
        return pid

    def _get(self, pid: PipelineId, what: str) -> PipelineState:
        pipe = self._pipelines.get(pid)
        if pipe is None:
            self._require_open(what)
            raise UnknownPipelineError(
                f"{what}: {pid!r} is not a pipeline of this ResourceBinder (never registered, "
                "or released); use the id register_pipeline() returned.")
        return pipe

    def pipeline_ids(self) -> list[PipelineId]:
        """Every registered pipeline, in registration order."""
        return list(self._pipelines)

    def pipeline_layout(self, pipeline_id: PipelineId) -> Any:
        """The ``VkPipelineLayout`` (set layouts in set order, push-constant ranges)."""
        return self._get(pipeline_id, "pipeline_layout").layout

    def set_layouts(self, pipeline_id: PipelineId) -> tuple[Any, ...]:
        """The ``VkDescriptorSetLayout`` of every set index, in set order."""
        return tuple(self._get(pipeline_id, "set_layouts").set_layouts)

    def layout_info(self, pipeline_id: PipelineId) -> MergedLayout:
        """The merged reflection: bindings, names, push-constant ranges, stages."""
        return self._get(pipeline_id, "layout_info").merged

    def shader_stages(self, pipeline_id: PipelineId) -> tuple[ShaderStage, ...]:
        """The pipeline's modules, to create the VkPipeline (compute or graphics) from."""
        return self._get(pipeline_id, "shader_stages").stages

    def binding_names(self, pipeline_id: PipelineId) -> list[str]:
        """Every name accepted by ``bind_*_named`` (block type and variable names), sorted."""
        return sorted(self._get(pipeline_id, "binding_names").merged.names)

    def check_recordable(self, pipeline_id: PipelineId, what: str) -> None:
        """Raise unless ``pipeline_id``'s descriptor sets may go into a command buffer now:
        the binder and context are open, the pipeline exists, and no bound buffer was
        destroyed (its handle may be freed already)."""
        self._require_open(what)
        pipe = self._get(pipeline_id, what)
        if pipe.dead:
            raise pipe.dead_error()

    def descriptor_sets(self, pipeline_id: PipelineId, frame_index: int) -> tuple[Any, ...]:
        """The ``VkDescriptorSet`` of every set index for slot ``frame_index``, in set order."""
        pipe = self._get(pipeline_id, "descriptor_sets")
        frame_index = check_slot(frame_index, self.frames_in_flight, "descriptor_sets")
        return pipe.pool.sets[frame_index]

    def descriptor_set_array(self, pipeline_id: PipelineId, frame_index: int) -> Any:
        """The same sets as a prebuilt ``VkDescriptorSet[]`` for ``vkCmdBindDescriptorSets``
        (owned by the binder; valid until the pipeline is released)."""
        pipe = self._get(pipeline_id, "descriptor_set_array")
        frame_index = check_slot(frame_index, self.frames_in_flight, "descriptor_set_array")
        return pipe.pool.set_arrays[frame_index]

    def adopt(self, pipeline_id: PipelineId, obj: Destroyable) -> None:
        """Destroy ``obj`` (e.g. a VkPipeline wrapper) when the pipeline is released or the
        binder closes, before the layouts it was created with."""
        self._get(pipeline_id, "adopt").owned.append(obj)

    def missing_bindings(self, pipeline_id: PipelineId) -> list[str]:
        """Labels of buffer bindings nothing is bound to (a dispatch would be invalid)."""
        return self._get(pipeline_id, "missing_bindings").missing()

    def require_complete(self, pipeline_id: PipelineId, frame_index: int, what: str = ""
                         ) -> None:
        """Raise unless every uniform/storage buffer binding the pipeline's shaders declare is
        bound and its descriptor in slot ``frame_index``'s set was written at least once, so a
        dispatch or draw recorded with those sets reads no unwritten descriptor.

        Call it before recording anything (``ComputePipeline.record`` and :meth:`bind_sets`
        do). ``what`` starts the message (the caller's name; default
        ``require_complete('name#n')``). Cost while nothing changes: one dict and one set
        lookup (the pipeline keeps the slots it found complete; binding, rebinding or
        unbinding anything forgets them, and the next call checks again, O(bindings)).

        Raises (nothing changes): MissingBindingError (a binding has nothing bound: the
        message names it, its set/binding and the ``bind_*_named`` call that fixes it),
        DescriptorsNotWrittenError (bound after this slot's descriptors were written: run
        :meth:`update_all` for the slot after ``begin_frame``, as the BindingSystem does),
        InvalidFrameIndexError, UnknownPipelineError, ManagerClosedError.
        """
        pipe = self._pipelines.get(pipeline_id)
        if pipe is not None and frame_index.__class__ is int and frame_index in pipe.ready:
            return
        what = what or f"require_complete({str(pipeline_id)!r})"
        self._require_open(what)
        pipe = self._get(pipeline_id, what)
        slot = check_slot(frame_index, self.frames_in_flight, what)
        unbound = pipe.unbound()
        if unbound:
            raise MissingBindingError(bc.missing_binding_message(what, pipe.pid, unbound))
        unwritten = pipe.unwritten(slot)
        if unwritten:
            names = ", ".join(f"{entry.label!r} (set {key[0]}, binding {key[1]})"
                              for key, entry in unwritten)
            raise DescriptorsNotWrittenError(
                f"{what}: pipeline {str(pipe.pid)!r}: {names} is bound, but frame slot {slot}'s "
                "descriptor set never received it (descriptors are written by "
                "update_frame/update_all after begin_frame; the BindingSystem does this in the "
                "BINDINGS phase). Bind before that phase of the frame, or call "
                f"binder.update_all({slot}) after begin_frame and before recording. Nothing "
                "was recorded.")
        pipe.ready.add(slot)

    # --- binding ---------------------------------------------------------------------------

    def bind_uniform_buffer_named(self, pipeline_id: PipelineId, name: str, buffers: Any, *,
                                  offset: int = 0, range: int | None = None,
                                  dtype: Any = None, array_element: int = 0) -> None:
        """Bind to the uniform-buffer binding ``name``; see :meth:`bind_buffer_named`."""
        self.bind_buffer_named(pipeline_id, name, buffers, kind=DescriptorKind.UNIFORM_BUFFER,
                               offset=offset, range=range, dtype=dtype,
                               array_element=array_element,
                               _call="bind_uniform_buffer_named")

    def bind_storage_buffer_named(self, pipeline_id: PipelineId, name: str, buffers: Any, *,
                                  offset: int = 0, range: int | None = None, dtype: Any = None,
                                  element_dtype: Any = None, array_element: int = 0) -> None:
        """Bind to the storage-buffer binding ``name``; see :meth:`bind_buffer_named`."""
        self.bind_buffer_named(pipeline_id, name, buffers, kind=DescriptorKind.STORAGE_BUFFER,
                               offset=offset, range=range, dtype=dtype,
                               element_dtype=element_dtype, array_element=array_element,
                               _call="bind_storage_buffer_named")

    @defers_interrupts
    def bind_buffer_named(self, pipeline_id: PipelineId, name: str, buffers: Any, *,
                          kind: DescriptorKind | None = None, offset: int = 0,
                          range: int | None = None, dtype: Any = None,
                          element_dtype: Any = None, array_element: int = 0,
                          _call: str = "bind_buffer_named") -> None:
        """Bind one buffer (every slot), a BufferSet, or ``frames_in_flight`` buffers (slot k
        uses buffer k) to the binding called ``name`` (block type or variable name).

        ``offset``/``range`` are bytes (``range=None``: the rest of the buffer, re-resolved
        after resizes). ``dtype`` (the block's fixed part) and ``element_dtype`` (one element of
        its runtime array) are checked against reflection. ``kind=None`` takes the reflected
        kind. Every slot is marked dirty; descriptors are written by :meth:`update_frame`.

        Raises (nothing changes): UnknownPipelineError, UnknownBindingError,
        BindingTypeMismatchError, BindingCountError, InvalidDataError, ForeignBufferError,
        BufferDestroyedError, InvalidUsageError, InvalidOffsetError, BindingSizeError,
        LayoutMismatchError.
        """
        what = f"{_call}({str(pipeline_id)!r}, {name!r})"
        self._require_open(what)
        pipe = self._get(pipeline_id, what)
        key, binding = bc.locate(what, pipe.merged, name, array_element)
        real_kind = bc.check_kind(what, binding, kind)
        bc.refuse_plain_on_dynamic(what, binding)
        items = bc.normalize_buffers(what, buffers, self.frames_in_flight, self.context)
        off, rng = bc.check_range(what, binding, real_kind, items, offset, range, self.context)
        bc.check_layout(what, binding, real_kind, dtype, element_dtype)
        self._drop(pipe, key)
        pipe.bound[key] = BoundBuffer(binding, real_kind, str(name), items, off, rng,
                                      pipe.written_for(key), bc.max_range(real_kind, self.context))
        for buf in items:
            self._by_buffer.setdefault(buf, {})[(pipe.pid, key)] = None
        self._mark(pipe, key, self._all_slots)

    @defers_interrupts
    def bind_ring_named(self, pipeline_id: PipelineId, name: str, ring: UniformRing, *,
                        dtype: Any = None) -> None:
        """Bind a :class:`~engine.buffers.uniform_ring.UniformRing` to the dynamic binding
        ``name``: slot k's descriptor points at the ring's slot-k buffer, offset 0, range one
        block (``ring.block_size`` bytes); each dispatch/draw picks the block by its dynamic
        offset. Written once per slot by :meth:`update_frame` (the ring's buffers are never
        replaced, so steady frames write nothing).

        The block layout is checked against reflection: ``dtype`` (default: the ring's dtype)
        by the std140 (uniform) or std430 (storage) rule, and the block covers the shader's.

        Raises (nothing changes): UnknownPipelineError, UnknownBindingError,
        DynamicBindingError (the binding is not declared dynamic), BindingTypeMismatchError
        (a storage ring on a uniform binding, or the reverse), BindingCountError,
        RingClosedError, ForeignBufferError, BindingSizeError, LayoutMismatchError.
        """
        what = f"bind_ring_named({str(pipeline_id)!r}, {name!r})"
        self._require_open(what)
        pipe = self._get(pipeline_id, what)
        key, binding = bc.locate(what, pipe.merged, name, 0)
        if not binding.kind.is_buffer:
            bc.check_kind(what, binding, None)
        kind, items = bc.check_ring(what, binding, ring, self.frames_in_flight, self.context)
        bc.check_layout(what, binding, kind, ring.dtype if dtype is None else dtype, None)
        self._drop(pipe, key)
        pipe.bound[key] = BoundBuffer(binding, kind, str(name), items, 0, ring.block_size,
                                      pipe.written_for(key), bc.max_range(kind, self.context),
                                      ring)
        for buf in items:
            self._by_buffer.setdefault(buf, {})[(pipe.pid, key)] = None
        self._mark(pipe, key, self._all_slots)

    def pool_sizes(self, pipeline_id: PipelineId) -> dict[int, int]:
        """Descriptors the pipeline's pool holds, per ``VkDescriptorType`` value (every frame
        slot together); dynamic buffers are counted under their own types."""
        return dict(self._get(pipeline_id, "pool_sizes").pool.sizes)

    def dynamic_binding_count(self, pipeline_id: PipelineId) -> int:
        """How many dynamic offsets each bind of the pipeline's sets takes."""
        return len(self._get(pipeline_id, "dynamic_binding_count").dynamic)

    def dynamic_binding_names(self, pipeline_id: PipelineId) -> list[str]:
        """The dynamic bindings' labels, in the order their offsets are passed (by set, then
        binding number, as ``vkCmdBindDescriptorSets`` consumes them)."""
        pipe = self._get(pipeline_id, "dynamic_binding_names")
        return [pipe.merged.bindings[(k[0], k[1])].label for k in pipe.dynamic]

    def dynamic_offset_array(self, pipeline_id: PipelineId, frame_index: int,
                             offsets: Any, *, what: str = "") -> tuple[int, Any]:
        """Check ``offsets`` (one per dynamic binding, in :meth:`dynamic_binding_names` order)
        and store them in the pipeline's prebuilt ``uint32_t[]``; returns ``(count, array)``
        for ``vkCmdBindDescriptorSets`` (``array`` is owned by the binder and reused by the
        next call: pass it on at once).

        Each offset must be the start of a block pushed into the bound ring in the current
        frame, for slot ``frame_index``: a multiple of the ring's stride (hence of the device's
        alignment), and below ``ring.used_in(frame_index) * ring.stride``, so the GPU reads
        only blocks written before this bind was recorded, and never past the buffer.

        Raises DynamicOffsetError (wrong count, not an integer, misaligned, not pushed this
        frame, nothing bound), InvalidFrameIndexError, UnknownPipelineError.
        """
        pipe = self._pipelines.get(pipeline_id) or self._get(
            pipeline_id, what or "dynamic_offset_array")
        if not what:  # the caller's name for messages (ComputePipeline.record passes its own)
            what = f"dynamic_offset_array({str(pipeline_id)!r})"
        if _get_ident() != self._owner:  # the offsets go into one shared prebuilt array
            self.context.raise_wrong_thread(what)
        if frame_index.__class__ is not int or not 0 <= frame_index < self.frames_in_flight:
            frame_index = check_slot(frame_index, self.frames_in_flight, what)
        keys = pipe.dynamic
        cls = offsets.__class__
        if cls is not list and cls is not tuple:
            offsets = self._offset_sequence(pipe, offsets, what)
        n = len(keys)
        if len(offsets) != n:
            bc.raise_offset_count(what, self.dynamic_binding_names(pipeline_id), offsets)
        array = pipe.offset_array
        bound = pipe.bound
        for i in range(n):
            entry = bound.get(keys[i])
            ring = entry.ring if entry is not None else None
            offset = offsets[i]
            if ring is None or offset.__class__ is not int:
                value = None if ring is None else as_int(offset)
                if value is None:
                    key = keys[i]
                    label = pipe.merged.bindings[(key[0], key[1])].label
                    bc.raise_offset(what, label, ring, offset, frame_index)
                offset = value
            assert ring is not None and entry is not None
            stride = ring.stride
            if offset < 0 or offset % stride or offset >= ring.pushed_bytes(frame_index):
                bc.raise_offset(what, entry.label, ring, offset, frame_index)
            buffers = entry.buffers
            if offset + (entry.range or entry.min_range) > buffers[frame_index % len(buffers)].size:
                bc.raise_offset_past_end(what, entry.label, ring, offset,
                                         buffers[frame_index % len(buffers)])
            array[i] = offset
        return n, array

    def bind_sets(self, cmd: Any, pipeline_id: PipelineId, frame_index: int, *,
                  graphics: bool = True, dynamic_offsets: Any = None) -> None:
        """Record ``vkCmdBindDescriptorSets`` of every set of slot ``frame_index`` (set 0
        first) at the graphics bind point (``graphics=False``: compute), with the checked
        dynamic offsets (:meth:`ResourceBinder.dynamic_offset_array`; none for a pipeline
        without dynamic bindings). For recording objects other than
        ``ComputePipeline.record``, which does this itself.

        Raises (recording nothing): InvalidDataError (not a command buffer of an engine
        pool), FrameStateError (not recording), BufferDestroyedError, MissingBindingError,
        DescriptorsNotWrittenError (see :meth:`require_complete`), DynamicOffsetError,
        InvalidFrameIndexError, UnknownPipelineError, InvalidOptionError.
        """
        what = f"bind_sets({str(pipeline_id)!r})"
        if not isinstance(cmd, ffi.CData) or ffi.typeof(cmd) is not _COMMAND_BUFFER \
                or cmd == ffi.NULL:
            raise InvalidDataError(f"{what}: cmd {cmd!r} is not a VkCommandBuffer; pass one "
                                   "begun by FrameCommands.begin() (or the renderer).")
        if not is_recording(cmd):
            raise FrameStateError(f"{what}: cmd is not in the recording state (submitted, or "
                                  "its manager was closed); record into a command buffer of "
                                  "this frame.")
        if graphics.__class__ is not bool:
            raise InvalidOptionError(f"{what}: graphics={graphics!r} is not a flag; pass True "
                                     "or False.")
        self.check_recordable(pipeline_id, what)
        pipe = self._pipelines[pipeline_id]
        if frame_index.__class__ is not int or not 0 <= frame_index < self.frames_in_flight:
            frame_index = check_slot(frame_index, self.frames_in_flight, what)
        if pipe.dynamic or dynamic_offsets is not None:
            count, offsets = self.dynamic_offset_array(pipeline_id, frame_index,
                                                       dynamic_offsets, what=what)
        else:
            count, offsets = 0, ffi.NULL
        self.require_complete(pipeline_id, frame_index, what)
        sets = pipe.pool.sets[frame_index]
        if sets:
            lib.vkCmdBindDescriptorSets(
                cmd, _GRAPHICS if graphics else _COMPUTE, pipe.layout, 0, len(sets),
                pipe.pool.set_arrays[frame_index], count, offsets if count else ffi.NULL)

    def _offset_sequence(self, pipe: PipelineState, offsets: Any, what: str) -> Sequence[Any]:
        """``offsets`` as a list or tuple (None: none; a numpy array: its values)."""
        if offsets is None:
            return ()
        if isinstance(offsets, np.ndarray):
            return offsets.reshape(-1).tolist() if offsets.dtype.kind in "iu" else \
                list(offsets.reshape(-1))
        if not isinstance(offsets, Sequence) or isinstance(offsets, str | bytes):
            bc.raise_offset_count(what, self.dynamic_binding_names(pipe.pid), offsets)
        return offsets

    def _mark(self, pipe: PipelineState, key: Key, slots: Iterable[int]) -> None:
        """Mark ``key`` dirty in ``slots``, and the pipeline pending there (for update_all);
        the pipeline's sets are checked for completeness again at the next record."""
        pipe.ready.clear()
        pid = pipe.pid
        for slot in slots:
            pipe.dirty[slot].add(key)
            self._pending[slot].add(pid)

    @defers_interrupts
    def unbind(self, pipeline_id: PipelineId, name: str, *, array_element: int = 0) -> bool:
        """Forget what ``name`` is bound to (its descriptor keeps its last value; bind again
        before the pipeline is used). Returns False if nothing was bound."""
        what = f"unbind({str(pipeline_id)!r}, {name!r})"
        pipe = self._get(pipeline_id, what)
        return self._drop(pipe, bc.locate(what, pipe.merged, name, array_element)[0])

    def _drop(self, pipe: PipelineState, key: Key) -> bool:
        pipe.ready.clear()
        old = pipe.bound.pop(key, None)
        if pipe.dead.pop(key, None) is not None and not pipe.dead:
            self._dead.discard(pipe.pid)
        if old is None:
            return False
        for buf in old.buffers:
            refs = self._by_buffer.get(buf)
            if refs is not None:
                refs.pop((pipe.pid, key), None)
                if not refs:
                    del self._by_buffer[buf]
        return True

    def _on_buffer_event(self, buffer: Any, event: str) -> None:
        """Context listener: a resize dirties the referencing bindings; destruction kills them."""
        refs = self._by_buffer.get(buffer)
        if not refs:
            return
        for pid, key in list(refs):
            pipe = self._pipelines.get(pid)
            entry = pipe.bound.get(key) if pipe is not None else None
            if pipe is None or entry is None:
                continue
            if event == "destroyed":
                pipe.dead[key] = buffer.name
                self._dead.add(pid)
            else:
                self._mark(pipe, key, [slot for slot, buf in enumerate(entry.buffers)
                                       if buf is buffer] if len(entry.buffers) > 1
                           else self._all_slots)

    # --- per frame -------------------------------------------------------------------------

    @defers_interrupts
    def update_frame(self, pipeline_id: PipelineId, frame_index: int) -> int:
        """Write slot ``frame_index``'s changed descriptors; returns how many were written.

        Call after ``begin_frame`` of that slot (its previous GPU work is complete). Cost:
        O(1) when nothing changed, else O(dirty bindings) plus one vkUpdateDescriptorSets.

        Raises (writing nothing): BufferDestroyedError (a bound buffer was destroyed),
        BindingSizeError (a bound buffer shrank below the block), InvalidFrameIndexError,
        UnknownPipelineError.
        """
        pipe = self._pipelines.get(pipeline_id) or self._get(pipeline_id, "update_frame")
        if frame_index.__class__ is not int or not 0 <= frame_index < self.frames_in_flight:
            frame_index = check_slot(frame_index, self.frames_in_flight, "update_frame")
        if pipe.dead:
            raise pipe.dead_error()
        if not pipe.dirty[frame_index]:
            return 0
        return self._commit([pipe], frame_index)

    @defers_interrupts
    def update_all(self, frame_index: int) -> int:
        """:meth:`update_frame` for every pipeline with changes in slot ``frame_index``, in
        one vkUpdateDescriptorSets call.

        O(1) when nothing changed, however many pipelines and bindings exist (the
        BindingSystem calls this). Raises as ``update_frame`` does (writing nothing).
        """
        if self._closed:
            self._require_open("update_all")
        if frame_index.__class__ is not int or not 0 <= frame_index < self.frames_in_flight:
            frame_index = check_slot(frame_index, self.frames_in_flight, "update_all")
        if self._dead:
            raise self._pipelines[next(iter(self._dead))].dead_error()
        pending = self._pending[frame_index]
        if not pending:
            return 0
        return self._commit([self._pipelines[pid] for pid in pending], frame_index)

    def _commit(self, pipes: list[PipelineState], frame_index: int) -> int:
        """Collect the changed descriptors of ``pipes`` in the slot, check them, write once."""
        self.context.check_thread("update_frame")
        todo: list[Change] = []
        for pipe in pipes:
            collect_changes(pipe, frame_index, todo)
        n = len(todo)
        if n:
            self._batch.write(self.context.device, todo)
            for entry, _dst, _key, state in todo:
                entry.written[frame_index] = state
            self.context.counters.add_descriptor_writes(n)
        pending = self._pending[frame_index]
        for pipe in pipes:
            pipe.dirty[frame_index].clear()
            pending.discard(pipe.pid)
        return n

    # --- shutdown --------------------------------------------------------------------------

    @defers_interrupts
    def release_pipeline(self, pipeline_id: PipelineId) -> None:
        """Destroy the pipeline's adopted objects, pool, layouts. Waits for the device to go
        idle (load-time call, not per frame)."""
        pipe = self._get(pipeline_id, "release_pipeline")
        self.context.wait_idle()
        self._destroy(pipe)

    def _destroy(self, pipe: PipelineState) -> None:
        for key in list(pipe.bound):
            self._drop(pipe, key)
        self._pipelines.pop(pipe.pid, None)
        for pending in self._pending:
            pending.discard(pipe.pid)
        for obj in reversed(pipe.owned):
            obj.destroy()
        pipe.owned.clear()
        pipe.pool.destroy()
        lib.vkDestroyPipelineLayout(self.context.device, pipe.layout, ffi.NULL)
        destroy_set_layouts(self.context, pipe.set_layouts)
        pipe.set_layouts = []

    @property
    def closed(self) -> bool:
        return self._closed

    @defers_interrupts
    def close(self) -> None:
        """Wait for the device, destroy everything; safe to call twice (the context calls it)."""
        if self._closed:
            return
        self._closed = True
        ctx = self.context
        if self._on_buffer_event in ctx.buffer_listeners:
            ctx.buffer_listeners.remove(self._on_buffer_event)
        ctx.remove_close_hook(self.close)
        if ctx.device is not None:
            ctx.wait_idle()
            for pipe in list(self._pipelines.values()):
                self._destroy(pipe)
        self._pipelines.clear()
        self._by_buffer.clear()
        self._dead.clear()
        for pending in self._pending:
            pending.clear()

    def _require_open(self, what: str) -> None:
        if self._closed:
            raise ManagerClosedError(f"{what}: the ResourceBinder is closed; create a new one.")
        self.context.require_open(what)

    def __contains__(self, pipeline_id: object) -> bool:
        return pipeline_id in self._pipelines

    def __iter__(self) -> Iterator[PipelineId]:
        return iter(list(self._pipelines))

    def __enter__(self) -> ResourceBinder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
