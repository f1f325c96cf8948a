"""The ResourceBinder's records: pipeline ids, stages, bound buffers, and the write batch.

:class:`WriteBatch` owns prebuilt raw cffi arrays (``VkWriteDescriptorSet[]`` pointing into a
``VkDescriptorBufferInfo[]``, sType/count/pointers set once) that every ``update_frame`` call
fills and hands to ONE raw ``vkUpdateDescriptorSets``; the arrays outlive each call (cffi would
free them otherwise) and grow
by doubling, so a frame's writes cost a few field stores each (no binding struct constructors,
which cost microseconds each).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Protocol

from engine.binding.checks import check_size
from engine.binding.descriptors import DescriptorPool, LayoutBinding, MergedLayout
from engine.buffers.types import ManagedBuffer
from engine.buffers.uniform_ring import UniformRing
from engine.device.vk import ffi, lib, vk
from engine.errors import BufferDestroyedError
from engine.shaders.reflect import DescriptorKind, ShaderReflection, reflect_spirv

Key = tuple[int, int, int]
"""``(set, binding, array_element)`` of one descriptor."""

State = tuple[Any, int, int, int]
"""What a descriptor holds: ``(VkBuffer, generation, offset, range)``, bytes."""


@dataclass(frozen=True, slots=True)
class PipelineId:
    """Handle of a registered pipeline: its name (for messages) and a unique index."""

    name: str
    index: int

    def __str__(self) -> str:
        return f"{self.name}#{self.index}"


@dataclass(frozen=True, slots=True)
class ShaderStage:
    """One module of a pipeline: ``stage`` (VkShaderStageFlagBits), entry point, SPIR-V."""

    stage: int
    entry_point: str
    code: bytes
    reflection: ShaderReflection


@functools.lru_cache(maxsize=128)
def reflect_cached(code: bytes) -> ShaderReflection:
    """Reflection is immutable, so one result serves every pipeline made from ``code``."""
    return reflect_spirv(code)


class Destroyable(Protocol):
    """Anything the binder destroys with a pipeline (``ResourceBinder.adopt``)."""

    def destroy(self) -> None: ...


class BoundBuffer:
    """What one descriptor is bound to, and what each slot's set last received."""

    __slots__ = ("binding", "buffers", "kind", "label", "max_range", "min_range", "offset",
                 "range", "ring", "vk_type", "written")

    def __init__(self, binding: LayoutBinding, kind: DescriptorKind, label: str,
                 buffers: tuple[ManagedBuffer, ...], offset: int, range_: int | None,
                 written: list[State | None], max_range: int, ring: UniformRing | None = None
                 ) -> None:
        self.binding, self.kind, self.label = binding, kind, label
        self.buffers, self.offset, self.range = buffers, offset, range_
        self.max_range = max_range
        """The device's largest range for this descriptor type, in bytes."""
        self.min_range = max(binding.block.size if binding.block is not None else 1, 1)
        """The smallest range that covers the block's fixed part, in bytes."""
        self.vk_type = binding.vk_type
        self.ring = ring
        """The UniformRing behind a dynamic binding (its per-slot buffers are ``buffers``)."""
        self.written = written
        """Per slot, the state that slot's set holds (shared with PipelineState.written, so a
        rebind to the same buffer writes nothing)."""


class PipelineState:
    """A registered pipeline: layouts, pool, bindings, per-slot dirty keys, dead keys."""

    __slots__ = ("bound", "dead", "dirty", "dynamic", "layout", "merged", "offset_array",
                 "owned", "pid", "pool", "ready", "set_layouts", "stages", "written")

    def __init__(self, pid: PipelineId, merged: MergedLayout, stages: tuple[ShaderStage, ...],
                 set_layouts: list[Any], layout: Any, pool: DescriptorPool, frames: int) -> None:
        self.pid, self.merged, self.stages = pid, merged, stages
        self.set_layouts, self.layout, self.pool = set_layouts, layout, pool
        self.bound: dict[Key, BoundBuffer] = {}
        self.dirty: list[set[Key]] = [set() for _ in range(frames)]
        self.dead: dict[Key, str] = {}
        self.owned: list[Destroyable] = []
        self.written: dict[Key, list[State | None]] = {}
        self.dynamic: tuple[Key, ...] = tuple(
            (k[0], k[1], 0) for k, b in merged.bindings.items() if b.dynamic)
        """The dynamic descriptors in the order vkCmdBindDescriptorSets consumes their
        offsets: by set, then binding (``merged.bindings`` is sorted)."""
        self.offset_array: Any = ffi.new("uint32_t[]", max(len(self.dynamic), 1))
        """Prebuilt ``uint32_t[]`` the checked dynamic offsets are stored into per bind."""
        self.ready: set[int] = set()
        """Frame slots whose sets were found complete (every buffer binding bound, and its
        descriptor written in that slot at least once). ``ResourceBinder.require_complete``
        adds a slot after one full check; every change to :attr:`bound` clears the set, so a
        recording call costs one set lookup while nothing changes. A written descriptor
        never becomes unwritten again, so nothing else can make a ready slot incomplete
        (destroyed buffers are the separate ``dead`` rule)."""

    def written_for(self, key: Key) -> list[State | None]:
        """The per-slot record of what ``key``'s descriptors hold (kept across rebinds)."""
        record = self.written.get(key)
        if record is None:
            record = self.written[key] = [None] * len(self.dirty)
        return record

    def missing(self) -> list[str]:
        """Labels of buffer descriptors nothing is bound to."""
        return [f"{b.label}[{e}]" if b.count > 1 else b.label
                for (s, n), b in self.merged.bindings.items() if b.kind.is_buffer
                for e in range(b.count) if (s, n, e) not in self.bound]

    def unbound(self) -> list[tuple[Key, LayoutBinding]]:
        """Every buffer descriptor nothing is bound to, as ``(key, binding)``, in set and
        binding order."""
        return [((s, n, e), b) for (s, n), b in self.merged.bindings.items() if b.kind.is_buffer
                for e in range(b.count) if (s, n, e) not in self.bound]

    def unwritten(self, frame_index: int) -> list[tuple[Key, BoundBuffer]]:
        """Bound descriptors whose slot-``frame_index`` set never received a write."""
        return [(key, entry) for key, entry in self.bound.items()
                if entry.written[frame_index] is None]

    def dead_error(self) -> BufferDestroyedError:
        """The error ``update_frame`` raises while a bound buffer is destroyed."""
        key, buffer_name = next(iter(self.dead.items()))
        return BufferDestroyedError(
            f"update_frame({str(self.pid)!r}): binding {self.bound[key].label!r} (set {key[0]}, "
            f"binding {key[1]}) still references buffer {buffer_name!r}, which was destroyed; "
            f"bind a live buffer to it (or unbind() it) before the next frame. "
            f"{len(self.dead)} binding(s) affected; no descriptor was written.")


class WriteBatch:
    """Prebuilt arrays for batched buffer-descriptor writes (one per binder)."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = 0
        self.writes: Any = None
        self.infos: Any = None
        self._grow(capacity)

    def _grow(self, n: int) -> None:
        cap = max(n, self.capacity * 2, 64)
        writes = ffi.new("VkWriteDescriptorSet[]", cap)
        infos = ffi.new("VkDescriptorBufferInfo[]", cap)
        for i in range(cap):
            writes[i].sType = vk.VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
            writes[i].descriptorCount = 1
            writes[i].pBufferInfo = infos + i
        self.writes, self.infos, self.capacity = writes, infos, cap

    def write(self, device: Any, todo: list[Change]) -> None:
        """Write every ``(entry, VkDescriptorSet, key, state)`` in one Vulkan call."""
        n = len(todo)
        if n > self.capacity:
            self._grow(n)
        writes, infos = self.writes, self.infos
        for i, (entry, dst, key, state) in enumerate(todo):
            info = infos[i]
            info.buffer = state[0]
            info.offset = state[2]
            info.range = state[3]
            w = writes[i]
            w.dstSet = dst
            w.dstBinding = key[1]
            w.dstArrayElement = key[2]
            w.descriptorType = entry.vk_type
        lib.vkUpdateDescriptorSets(device, n, writes, 0, ffi.NULL)


Change = tuple[BoundBuffer, Any, Key, State]
"""A descriptor to write: ``(entry, VkDescriptorSet, key, new state)``."""


def collect_changes(pipe: PipelineState, frame_index: int, todo: list[Change]) -> None:
    """Append the slot's dirty descriptors whose state differs from what the set holds.

    Raises BindingSizeError (before anything is written) for a buffer a resize made too small.
    """
    dst = pipe.pool.sets[frame_index]
    bound = pipe.bound
    for key in pipe.dirty[frame_index]:
        entry = bound.get(key)
        if entry is None:
            continue
        buffers = entry.buffers
        buf = buffers[frame_index] if len(buffers) > 1 else buffers[0]
        rng = entry.range
        if rng is None:
            rng = buf.size - entry.offset
        state = (buf.handle, buf.generation, entry.offset, rng)
        if entry.written[frame_index] != state:
            if not entry.min_range <= rng <= entry.max_range or entry.offset + rng > buf.size:
                check_size(f"update_frame({str(pipe.pid)!r}, {entry.label!r})", entry.binding,
                           buf, entry.offset, entry.range, entry.max_range)
            todo.append((entry, dst[key[0]], key, state))
