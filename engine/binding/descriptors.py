"""Descriptor set layouts, pipeline layouts and per-frame descriptor sets, from reflection.

:func:`merge_reflections` merges the reflections of every stage of one pipeline into a
:class:`MergedLayout` (stage flags ORed; a set/binding declared differently by two stages, or one
name at two locations, raises :class:`~engine.errors.ConflictingBindingError`).
:func:`create_set_layouts` makes one ``VkDescriptorSetLayout`` for **every** set index
``0..max`` (gaps get an empty layout, so set numbers in the pipeline layout always match the
shader's; the original engine skipped them). :class:`DescriptorPool` owns one pool per pipeline
with one set per set index per frame slot.

Lifetimes: every handle here is owned by the :class:`~engine.binding.binder.ResourceBinder`
that created it and destroyed by it (destroying the pool frees its sets). Creation is
init-time work, not per frame; it uses raw ``ffi.new`` structs held in locals until each call
returns (cffi frees a nested struct as soon as nothing references it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from engine.device.context import GraphicsContext
from engine.device.vk import FAULTS, check_result, ffi, lib, vk
from engine.errors import (
    ConflictingBindingError,
    DynamicBindingError,
    InvalidOptionError,
    ReflectionError,
    UnknownBindingError,
)
from engine.shaders.reflect import Block, DescriptorKind, ShaderReflection

_STAGE_NAMES = {0x1: "vertex", 0x2: "tess-control", 0x4: "tess-eval", 0x8: "geometry",
                0x10: "fragment", 0x20: "compute"}

BindingKey = tuple[int, int]
"""``(set, binding)`` of a descriptor binding."""


def stage_name(stages: int) -> str:
    """Readable names of a ``VkShaderStageFlags`` mask, e.g. ``"vertex|fragment"``."""
    names = [n for bit, n in _STAGE_NAMES.items() if stages & bit]
    return "|".join(names) or hex(stages)


@dataclass(frozen=True, slots=True)
class LayoutBinding:
    """One descriptor binding of a pipeline, merged over its stages.

    ``count`` is the descriptor count (array length; never 0 here). ``names`` holds the block
    type name (buffers only) and every variable name the stages used, without empty ones.
    ``block`` is the reflected layout of a buffer block (``block.size`` in bytes excludes a
    trailing runtime array). ``stages`` is a ``VkShaderStageFlags`` mask. ``dynamic``: the
    set layout declares it ``UNIFORM_BUFFER_DYNAMIC``/``STORAGE_BUFFER_DYNAMIC`` (SPIR-V cannot
    say so; ``register_pipeline(..., dynamic=...)`` does), so every bind of its set takes one
    dynamic offset for it.
    """

    set: int
    binding: int
    kind: DescriptorKind
    count: int
    stages: int
    type_name: str
    names: tuple[str, ...]
    block: Block | None
    dynamic: bool = False

    @property
    def vk_type(self) -> int:
        """The ``VkDescriptorType`` of the set layout: the reflected kind, or its dynamic
        variant."""
        if self.dynamic:
            return (vk.VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER_DYNAMIC
                    if self.kind is DescriptorKind.UNIFORM_BUFFER
                    else vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER_DYNAMIC)
        return self.kind.vk_type

    @property
    def label(self) -> str:
        """The preferred name for messages (block type name, else the variable name)."""
        return self.names[0] if self.names else f"set {self.set} binding {self.binding}"


@dataclass(frozen=True, slots=True)
class PushRange:
    """A ``VkPushConstantRange``: ``offset``/``size`` in bytes, ``stages`` a flags mask."""

    stages: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class MergedLayout:
    """The descriptor interface of a whole pipeline (all stages).

    ``bindings`` maps ``(set, binding)`` to its :class:`LayoutBinding`; ``names`` maps every
    accepted name to its ``(set, binding)``; ``set_count`` is ``max set + 1`` (0 without
    descriptors); ``stages`` ORs the stages of all modules.
    """

    bindings: dict[BindingKey, LayoutBinding]
    names: dict[str, BindingKey]
    set_count: int
    push_ranges: tuple[PushRange, ...]
    stages: int


def _describe(binding: Any, stage: int) -> str:
    count = f"[{binding.count}]" if binding.count != 1 else ""
    size = f", {binding.block.size} B" if binding.block is not None else ""
    return (f"{binding.kind.name.lower()} {binding.type_name or binding.variable_name}{count}"
            f"{size} in the {stage_name(stage)} stage")


def merge_reflections(reflections: Sequence[ShaderReflection], *, what: str,
                      max_sets: int = 8) -> MergedLayout:
    """Merge the reflections of a pipeline's stages; raise on any conflict.

    Raises:
        ConflictingBindingError: two modules for one stage; one set/binding with another kind,
            count, type name or block layout in another stage; one name at two locations.
        ReflectionError: a runtime-sized descriptor array (needs descriptor indexing, which the
            binder does not enable) or a set index beyond the device's ``max_sets``.
    """
    merged: dict[BindingKey, LayoutBinding] = {}
    first_stage: dict[BindingKey, int] = {}
    names: dict[str, BindingKey] = {}
    all_stages = 0
    push: dict[tuple[int, int], int] = {}
    for refl in reflections:
        stage = refl.stage
        if all_stages & stage:
            raise ConflictingBindingError(
                f"{what}: two SPIR-V modules are {stage_name(stage)} shaders; give one module "
                "per stage.")
        all_stages |= stage
        for b in refl.bindings:
            key = (b.set, b.binding)
            if b.count == 0:
                raise ReflectionError(
                    f"{what}: {b.variable_name or b.type_name} (set {b.set}, binding "
                    f"{b.binding}) is a runtime-sized descriptor array, which the ResourceBinder "
                    "does not support; give the array a fixed size.")
            if b.set >= max_sets:
                raise ReflectionError(
                    f"{what}: {b.variable_name or b.type_name} uses descriptor set {b.set}, but "
                    f"the device binds at most {max_sets} sets; use set 0..{max_sets - 1}.")
            stages = b.stages or stage
            own_names = tuple(n for n in ((b.type_name if b.kind.is_buffer else ""),
                                          b.variable_name) if n)
            old = merged.get(key)
            if old is None:
                merged[key] = LayoutBinding(b.set, b.binding, b.kind, b.count, stages,
                                            b.type_name, own_names, b.block)
                first_stage[key] = stage
            else:
                if (old.kind, old.count, old.type_name, old.block) != (
                        b.kind, b.count, b.type_name, b.block):
                    raise ConflictingBindingError(
                        f"{what}: set {b.set}, binding {b.binding} is "
                        f"{_describe(old, first_stage[key])} but {_describe(b, stage)}; declare "
                        "it identically in every stage, or use another binding.")
                extra = tuple(n for n in own_names if n not in old.names)
                merged[key] = LayoutBinding(old.set, old.binding, old.kind, old.count,
                                            old.stages | stages, old.type_name,
                                            old.names + extra, old.block)
            for n in own_names:
                where = names.setdefault(n, key)
                if where != key:
                    raise ConflictingBindingError(
                        f"{what}: the name {n!r} is at set {where[0]}, binding {where[1]} and at "
                        f"set {key[0]}, binding {key[1]} ({stage_name(stage)} stage); names must "
                        "be unique per pipeline: rename one block or variable.")
        for pc in refl.push_constants:
            if pc.size:
                push[(pc.offset, pc.size)] = push.get((pc.offset, pc.size), 0) | (
                    pc.stages or stage)
    set_count = 1 + max((k[0] for k in merged), default=-1)
    ranges = tuple(PushRange(s, off, size) for (off, size), s in sorted(push.items()))
    return MergedLayout(dict(sorted(merged.items())), names, set_count, ranges, all_stages)


def mark_dynamic(merged: MergedLayout, names: Any, limits: Any, *, what: str) -> MergedLayout:
    """``merged`` with the bindings called ``names`` declared dynamic.

    ``names``: block type or variable names (any iterable of str, not one str). Each must be a
    single uniform or storage buffer (not an array). ``limits``: the device's
    :class:`~engine.device.context.DeviceLimits` (the number of dynamic descriptors of each
    type is capped per pipeline layout).

    Raises InvalidOptionError (not a list of names), UnknownBindingError, DynamicBindingError.
    """
    if names is None:
        return merged
    if isinstance(names, str | bytes) or not isinstance(names, Iterable):
        raise InvalidOptionError(
            f"{what}: dynamic={names!r} must be a collection of binding names, e.g. "
            "dynamic={'Objects'} (a single string would be read letter by letter).")
    wanted = list(names)
    if not wanted:
        return merged
    bindings = dict(merged.bindings)
    for name in wanted:
        key = merged.names.get(name) if isinstance(name, str) else None
        if key is None:
            raise UnknownBindingError(
                f"{what}: dynamic= names {name!r}, which no binding of the shaders is called; "
                f"names that exist: {', '.join(sorted(merged.names)) or '(none)'}.")
        b = bindings[key]
        if not b.kind.is_buffer:
            raise DynamicBindingError(
                f"{what}: {name!r} (set {b.set}, binding {b.binding}) is a "
                f"{b.kind.name.lower()}; only uniform and storage buffers can be dynamic.")
        if b.count != 1:
            raise DynamicBindingError(
                f"{what}: {name!r} (set {b.set}, binding {b.binding}) is an array of {b.count} "
                "descriptors; declare dynamic blocks one per binding.")
        bindings[key] = replace(b, dynamic=True)
    for kind, cap, word in (
            (DescriptorKind.UNIFORM_BUFFER, limits.max_descriptor_set_uniform_buffers_dynamic,
             "maxDescriptorSetUniformBuffersDynamic"),
            (DescriptorKind.STORAGE_BUFFER, limits.max_descriptor_set_storage_buffers_dynamic,
             "maxDescriptorSetStorageBuffersDynamic")):
        n = sum(1 for b in bindings.values() if b.dynamic and b.kind is kind)
        if n > cap:
            raise DynamicBindingError(
                f"{what}: {n} dynamic {kind.name.lower()} bindings exceed the device's {word} "
                f"of {cap}; make fewer bindings dynamic.")
    return replace(merged, bindings=bindings)


# --- Vulkan objects ---------------------------------------------------------------------------


def create_set_layouts(ctx: GraphicsContext, merged: MergedLayout, *, label: str, what: str
                       ) -> list[Any]:
    """One ``VkDescriptorSetLayout`` per set index ``0..set_count-1`` (empty ones for gaps).

    On failure every layout created so far is destroyed before the error propagates.
    """
    layouts: list[Any] = []
    try:
        for set_index in range(merged.set_count):
            entries = [b for (s, _), b in merged.bindings.items() if s == set_index]
            arr = ffi.new("VkDescriptorSetLayoutBinding[]", max(len(entries), 1))
            for i, b in enumerate(entries):
                arr[i].binding = b.binding
                arr[i].descriptorType = b.vk_type
                arr[i].descriptorCount = b.count
                arr[i].stageFlags = b.stages
            info = ffi.new("VkDescriptorSetLayoutCreateInfo*", {
                "sType": vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                "bindingCount": len(entries), "pBindings": arr if entries else ffi.NULL})
            out = ffi.new("VkDescriptorSetLayout*")
            check_result(lib.vkCreateDescriptorSetLayout(ctx.device, info, ffi.NULL, out),
                         "vkCreateDescriptorSetLayout", what=what)
            layouts.append(out[0])
            ctx.set_object_name(vk.VK_OBJECT_TYPE_DESCRIPTOR_SET_LAYOUT, out[0],
                                f"{label}.set{set_index}")
    except BaseException:
        destroy_set_layouts(ctx, layouts)
        raise
    return layouts


def destroy_set_layouts(ctx: GraphicsContext, layouts: Sequence[Any]) -> None:
    for layout in layouts:
        lib.vkDestroyDescriptorSetLayout(ctx.device, layout, ffi.NULL)


def create_pipeline_layout(ctx: GraphicsContext, set_layouts: Sequence[Any],
                           push_ranges: Sequence[PushRange], *, label: str, what: str) -> Any:
    """A ``VkPipelineLayout`` over ``set_layouts`` (in set order) and the push-constant ranges."""
    layouts = ffi.new("VkDescriptorSetLayout[]", list(set_layouts) or 1)
    ranges = ffi.new("VkPushConstantRange[]", max(len(push_ranges), 1))
    for i, r in enumerate(push_ranges):
        ranges[i].stageFlags = r.stages
        ranges[i].offset = r.offset
        ranges[i].size = r.size
    info = ffi.new("VkPipelineLayoutCreateInfo*", {
        "sType": vk.VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        "setLayoutCount": len(set_layouts),
        "pSetLayouts": layouts if set_layouts else ffi.NULL,
        "pushConstantRangeCount": len(push_ranges),
        "pPushConstantRanges": ranges if push_ranges else ffi.NULL})
    out = ffi.new("VkPipelineLayout*")
    check_result(lib.vkCreatePipelineLayout(ctx.device, info, ffi.NULL, out),
                 "vkCreatePipelineLayout", what=what)
    ctx.set_object_name(vk.VK_OBJECT_TYPE_PIPELINE_LAYOUT, out[0], label)
    return out[0]


class DescriptorPool:
    """One descriptor pool of a pipeline and its sets: ``sets[frame][set_index]``.

    Sized exactly: ``frames * set_count`` sets and, per descriptor type, ``frames *`` the sum of
    the counts (dynamic uniform/storage buffers are their own types, counted apart from the
    plain ones). Creation goes through ``FAULTS.check("descriptor_pool", ...)`` so tests can inject
    out-of-memory. :meth:`destroy` frees the pool and with it every set (after the GPU is done
    with them: the binder waits for the device first).
    """

    def __init__(self, ctx: GraphicsContext, merged: MergedLayout, set_layouts: Sequence[Any],
                 frames: int, *, label: str, what: str) -> None:
        self.ctx = ctx
        self.handle: Any = None
        self.sets: list[tuple[Any, ...]] = []
        self.set_arrays: list[Any] = []
        """Per frame slot, a prebuilt ``VkDescriptorSet[]`` for vkCmdBindDescriptorSets."""
        self.sizes: dict[int, int] = {}
        """Descriptors the pool holds per ``VkDescriptorType`` (all frames together)."""
        n_sets = len(set_layouts)
        if n_sets == 0:
            self.sets = [() for _ in range(frames)]
            self.set_arrays = [ffi.new("VkDescriptorSet[]", 1) for _ in range(frames)]
            return
        per_type: dict[int, int] = {}
        for b in merged.bindings.values():
            per_type[b.vk_type] = per_type.get(b.vk_type, 0) + b.count  # dynamic: own type
        self.sizes = {t: count * frames for t, count in sorted(per_type.items())}
        sizes = ffi.new("VkDescriptorPoolSize[]", max(len(per_type), 1))
        for i, (dtype, count) in enumerate(sorted(per_type.items())):
            sizes[i].type = dtype
            sizes[i].descriptorCount = count * frames
        if not per_type:  # only empty sets: poolSizeCount must still be > 0 on Vulkan 1.0
            sizes[0].type = vk.VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER
            sizes[0].descriptorCount = 1
        FAULTS.check("descriptor_pool", what)
        info = ffi.new("VkDescriptorPoolCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
            "maxSets": frames * n_sets, "poolSizeCount": max(len(per_type), 1),
            "pPoolSizes": sizes})
        out = ffi.new("VkDescriptorPool*")
        check_result(lib.vkCreateDescriptorPool(ctx.device, info, ffi.NULL, out),
                     "vkCreateDescriptorPool", what=what)
        self.handle = out[0]
        try:
            ctx.set_object_name(vk.VK_OBJECT_TYPE_DESCRIPTOR_POOL, self.handle, label)
            layouts = ffi.new("VkDescriptorSetLayout[]", list(set_layouts) * frames)
            alloc = ffi.new("VkDescriptorSetAllocateInfo*", {
                "sType": vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                "descriptorPool": self.handle, "descriptorSetCount": frames * n_sets,
                "pSetLayouts": layouts})
            sets = ffi.new("VkDescriptorSet[]", frames * n_sets)
            check_result(lib.vkAllocateDescriptorSets(ctx.device, alloc, sets),
                         "vkAllocateDescriptorSets", what=what)
        except BaseException:
            self.destroy()
            raise
        for f in range(frames):
            row = tuple(sets[f * n_sets + s] for s in range(n_sets))
            self.sets.append(row)
            self.set_arrays.append(ffi.new("VkDescriptorSet[]", list(row)))

    def destroy(self) -> None:
        """Destroy the pool (frees its sets); safe to call twice."""
        if self.handle is not None:
            lib.vkDestroyDescriptorPool(self.ctx.device, self.handle, ffi.NULL)
            self.handle = None
        self.sets = []
        self.set_arrays = []


def create_layout_objects(ctx: GraphicsContext, merged: MergedLayout, frames: int, *,
                          label: str, what: str) -> tuple[list[Any], Any, DescriptorPool]:
    """Set layouts, pipeline layout and pool with ``frames`` sets per set index.

    All or nothing: on failure (e.g. injected pool OOM) everything made so far is destroyed.
    """
    set_layouts = create_set_layouts(ctx, merged, label=label, what=what)
    layout = None
    try:
        layout = create_pipeline_layout(ctx, set_layouts, merged.push_ranges, label=label,
                                        what=what)
        pool = DescriptorPool(ctx, merged, set_layouts, frames, label=label, what=what)
    except BaseException:
        if layout is not None:
            lib.vkDestroyPipelineLayout(ctx.device, layout, ffi.NULL)
        destroy_set_layouts(ctx, set_layouts)
        raise
    return set_layouts, layout, pool
