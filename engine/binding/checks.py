"""Argument checks of ``ResourceBinder.bind_*_named``: all run before any state changes.

Each check raises the one :class:`~engine.errors.EngineError` subclass of the rule it guards,
with the call, the binding, the buffer, the rule and the fix in the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

import engine.shaders.std_layout as std_layout
from engine.binding.descriptors import LayoutBinding, MergedLayout
from engine.buffers.sets import BufferSet
from engine.buffers.types import BufferUsage, ManagedBuffer
from engine.buffers.uniform_ring import UniformRing
from engine.device.context import GraphicsContext
from engine.errors import (
    BindingCountError,
    BindingSizeError,
    BindingTypeMismatchError,
    BufferDestroyedError,
    DynamicBindingError,
    DynamicOffsetError,
    ForeignBufferError,
    InvalidDataError,
    InvalidOffsetError,
    InvalidUsageError,
    LayoutMismatchError,
    RingClosedError,
    UnknownBindingError,
)
from engine.numbers import as_int
from engine.shaders.reflect import DescriptorKind

KIND_WORDS = {DescriptorKind.UNIFORM_BUFFER: "uniform buffer",
              DescriptorKind.STORAGE_BUFFER: "storage buffer"}
_BIND_CALL = {DescriptorKind.UNIFORM_BUFFER: "bind_uniform_buffer_named",
              DescriptorKind.STORAGE_BUFFER: "bind_storage_buffer_named"}
_USAGE = {DescriptorKind.UNIFORM_BUFFER: BufferUsage.UNIFORM,
          DescriptorKind.STORAGE_BUFFER: BufferUsage.STORAGE}


def unknown_name(what: str, name: Any, names: Sequence[str]) -> NoReturn:
    raise UnknownBindingError(
        f"{what}: the pipeline's shaders have no binding named {name!r}; names that exist: "
        f"{', '.join(sorted(names)) or '(none)'}. Use a block type name or a variable name.")


def locate(what: str, merged: MergedLayout, name: Any, array_element: Any
           ) -> tuple[tuple[int, int, int], LayoutBinding]:
    """``((set, binding, element), binding)`` of ``name``; UnknownBindingError lists names."""
    loc = merged.names.get(name) if isinstance(name, str) else None
    if loc is None:
        unknown_name(what, name, list(merged.names))
    binding = merged.bindings[loc]
    element = as_int(array_element)
    if element is None or not 0 <= element < binding.count:
        raise BindingCountError(
            f"{what}: array element {array_element!r} is outside the binding's "
            f"{binding.count} descriptors.")
    return (loc[0], loc[1], element), binding


def check_kind(what: str, binding: LayoutBinding, wanted: DescriptorKind | None
               ) -> DescriptorKind:
    """The descriptor kind to write; raise if the binding is not that kind of buffer."""
    kind = binding.kind
    if wanted is None and kind.is_buffer:
        return kind
    if wanted is not kind:
        fix = (f"call {_BIND_CALL[kind]}() instead" if kind.is_buffer else
               "only uniform and storage buffers can be bound through the ResourceBinder")
        asked = KIND_WORDS[wanted] if wanted is not None else "a buffer"
        raise BindingTypeMismatchError(
            f"{what}: {binding.label!r} (set {binding.set}, binding {binding.binding}) is a "
            f"{KIND_WORDS.get(kind, kind.name.lower())} in the shader, not {asked}; {fix}.")
    return kind


def normalize_buffers(what: str, buffers: Any, frames: int, context: GraphicsContext
                      ) -> tuple[ManagedBuffer, ...]:
    """One buffer, a BufferSet or a sequence of 1 or ``frames`` buffers, as a tuple.

    Raises InvalidDataError (not a ManagedBuffer, e.g. a raw handle), BindingCountError,
    ForeignBufferError (another device) and BufferDestroyedError.
    """
    if isinstance(buffers, ManagedBuffer):
        items: tuple[Any, ...] = (buffers,)
    elif isinstance(buffers, BufferSet):
        items = tuple(buffers.buffers)
    elif isinstance(buffers, Sequence) and not isinstance(buffers, str | bytes):
        items = tuple(buffers)
    else:
        raise InvalidDataError(
            f"{what}: expected a ManagedBuffer, a BufferSet or a sequence of ManagedBuffers, got "
            f"{type(buffers).__name__}; raw Vulkan handles are not accepted.")
    if len(items) not in (1, frames):
        raise BindingCountError(
            f"{what}: got {len(items)} buffers; pass one buffer (shared by every frame slot) or "
            f"exactly frames_in_flight = {frames} (buffer k is used by frame slot k).")
    for item in items:
        if not isinstance(item, ManagedBuffer):
            raise InvalidDataError(
                f"{what}: expected ManagedBuffers, got {type(item).__name__}; raw Vulkan handles "
                "are not accepted.")
        manager = item.manager
        if manager is None or manager.context is not context:
            raise ForeignBufferError(
                f"{what}: buffer {item.name!r} belongs to a BufferManager of another "
                "GraphicsContext; create it with a manager of the binder's context.")
        if not item.alive:
            raise BufferDestroyedError(
                f"{what}: buffer {item.name!r} (#{item.buffer_id}) was destroyed; bind a live "
                "buffer.")
    return items


def is_int(value: Any) -> bool:
    """An integer (int or numpy integer), not a bool, float or numpy bool."""
    return as_int(value) is not None


def max_range(kind: DescriptorKind, context: GraphicsContext) -> int:
    """The device's ``maxUniformBufferRange`` or ``maxStorageBufferRange``, in bytes."""
    limits = context.limits
    return (limits.max_uniform_buffer_range if kind is DescriptorKind.UNIFORM_BUFFER
            else limits.max_storage_buffer_range)


def check_range(what: str, binding: LayoutBinding, kind: DescriptorKind,
                buffers: tuple[ManagedBuffer, ...], offset: Any, range_: Any,
                context: GraphicsContext) -> tuple[int, int | None]:
    """Check usage, offset alignment and size of every buffer; returns ``(offset, range)``.

    ``range`` None means "the rest of the buffer", re-resolved after each resize.
    """
    limits = context.limits
    uniform = kind is DescriptorKind.UNIFORM_BUFFER
    align = (limits.min_uniform_buffer_offset_alignment if uniform
             else limits.min_storage_buffer_offset_alignment)
    off = as_int(offset)
    if off is None or off < 0 or off % align:
        raise InvalidOffsetError(
            f"{what}: offset {offset!r} must be a non-negative multiple of {align} bytes (the "
            f"device's min {KIND_WORDS[kind]} offset alignment).")
    rng = None if range_ is None else as_int(range_)
    if range_ is not None and (rng is None or rng <= 0):
        raise BindingSizeError(
            f"{what}: range {range_!r} must be a positive number of bytes, or None for the rest "
            "of the buffer.")
    offset, range_ = off, rng
    for buf in buffers:
        if not int(buf.usage) & int(_USAGE[kind]):
            raise InvalidUsageError(
                f"{what}: buffer {buf.name!r} was created without BufferUsage."
                f"{_USAGE[kind].name}; create it with that usage to bind it as a "
                f"{KIND_WORDS[kind]}.")
        check_size(what, binding, buf, offset, range_, max_range(kind, context))
    return offset, range_


def check_size(what: str, binding: LayoutBinding, buf: ManagedBuffer, offset: int,
               range_: int | None, max_range: int) -> int:
    """Raise BindingSizeError unless ``buf`` covers the block; returns the range in bytes."""
    rng = buf.size - offset if range_ is None else range_
    need = binding.block.size if binding.block is not None else 1
    if offset + rng > buf.size or rng <= 0:
        raise BindingSizeError(
            f"{what}: offset {offset} + range {rng} bytes exceed buffer {buf.name!r} of "
            f"{buf.size} bytes; bind a smaller range or resize the buffer.")
    if rng < max(need, 1):
        raise BindingSizeError(
            f"{what}: buffer {buf.name!r} gives {rng} bytes at offset {offset}, but the shader's "
            f"block {binding.label!r} needs at least {need} bytes; resize the buffer or bind "
            "another one.")
    if rng > max_range:
        raise BindingSizeError(
            f"{what}: range {rng} bytes of buffer {buf.name!r} exceeds the device's limit of "
            f"{max_range} bytes for this descriptor type; bind a smaller range.")
    return rng


def check_layout(what: str, binding: LayoutBinding, kind: DescriptorKind, dtype: Any,
                 element_dtype: Any) -> None:
    """Check numpy dtypes against the reflected block (LayoutMismatchError), before GPU work.

    ``dtype`` describes the block's fixed part; ``element_dtype`` one element of its trailing
    runtime array.
    """
    if dtype is None and element_dtype is None:
        return
    block = binding.block
    assert block is not None  # buffers always carry a block
    rule = "std140" if kind is DescriptorKind.UNIFORM_BUFFER else "std430"
    try:
        dt = None if dtype is None else np.dtype(dtype)
        et = None if element_dtype is None else np.dtype(element_dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{what}: not a numpy dtype: {exc}") from None
    try:
        if dt is not None:
            std_layout.check_dtype(dt, block, rule=rule)
        if et is not None:
            std_layout.check_element_dtype(et, block, rule=rule)
    except LayoutMismatchError as exc:
        raise LayoutMismatchError(f"{what}: {exc}") from None


# --- dynamic bindings (UniformRing) ---------------------------------------------------------


def refuse_plain_on_dynamic(what: str, binding: LayoutBinding) -> None:
    """A dynamic binding takes a UniformRing, whose offsets the binder can check."""
    if binding.dynamic:
        raise DynamicBindingError(
            f"{what}: {binding.label!r} (set {binding.set}, binding {binding.binding}) was "
            "registered dynamic, so every bind takes a dynamic offset; bind a UniformRing "
            "with bind_ring_named(), or register the pipeline without it in dynamic=.")


def check_ring(what: str, binding: LayoutBinding, ring: Any, frames: int,
               context: GraphicsContext) -> tuple[DescriptorKind, tuple[ManagedBuffer, ...]]:
    """Check a ring against a dynamic binding; returns the kind and the per-slot buffers.

    Raises InvalidDataError, RingClosedError, DynamicBindingError, BindingTypeMismatchError,
    BindingCountError, ForeignBufferError, BufferDestroyedError, BindingSizeError.
    """
    if not isinstance(ring, UniformRing):
        raise InvalidDataError(
            f"{what}: expected a UniformRing, got {type(ring).__name__}; bind buffers with "
            "bind_uniform_buffer_named() / bind_storage_buffer_named().")
    if ring.closed:
        raise RingClosedError(f"{what}: ring {ring.name!r} is closed; bind a live ring.")
    kind = DescriptorKind.STORAGE_BUFFER if ring.storage else DescriptorKind.UNIFORM_BUFFER
    if binding.kind is not kind:
        other = "storage=False" if ring.storage else "storage=True"
        raise BindingTypeMismatchError(
            f"{what}: {binding.label!r} (set {binding.set}, binding {binding.binding}) is a "
            f"{KIND_WORDS.get(binding.kind, binding.kind.name.lower())} in the shader, but ring "
            f"{ring.name!r} holds {KIND_WORDS[kind]} blocks; create the ring with {other}.")
    if not binding.dynamic:
        raise DynamicBindingError(
            f"{what}: {binding.label!r} (set {binding.set}, binding {binding.binding}) is not "
            "declared dynamic, so its descriptor cannot take a per-draw offset; register the "
            f"pipeline with dynamic={{{binding.label!r}}}.")
    if ring.frames_in_flight != frames:
        raise BindingCountError(
            f"{what}: ring {ring.name!r} has {ring.frames_in_flight} frame slots, the binder "
            f"{frames}; use one frames_in_flight for the manager and the binder.")
    items = normalize_buffers(what, ring.buffers, frames, context)
    for buf in items:
        check_size(what, binding, buf, 0, ring.block_size, max_range(kind, context))
    return kind, items


def raise_offset_count(what: str, labels: Sequence[str], offsets: Any) -> NoReturn:
    n = len(labels)
    where = f" (for {', '.join(repr(x) for x in labels)}, in set/binding order)" if n else ""
    try:
        got = f"{len(offsets)} dynamic offset(s)"
    except TypeError:
        got = f"dynamic_offsets={offsets!r}"
    raise DynamicOffsetError(
        f"{what}: {got}; the pipeline has {n} dynamic binding(s){where}, so pass exactly {n} "
        "offsets (a list, tuple or uint32 array), e.g. the values ring.push() returned.")


def raise_offset(what: str, label: str, ring: UniformRing | None, offset: Any,
                 frame_index: int) -> NoReturn:
    """The rule a dynamic offset broke (not an integer, misaligned, not pushed this frame)."""
    if ring is None:
        raise DynamicOffsetError(
            f"{what}: nothing is bound to the dynamic binding {label!r}; bind a UniformRing "
            "with bind_ring_named() first.")
    value = as_int(offset)
    if value is None:
        raise DynamicOffsetError(
            f"{what}: dynamic offset {offset!r} for {label!r} is not an integer number of "
            "bytes; pass the value ring.push() returned.")
    if value < 0 or value % ring.stride:
        raise DynamicOffsetError(
            f"{what}: dynamic offset {value} for {label!r} is not the start of a block of ring "
            f"{ring.name!r} (a non-negative multiple of its stride {ring.stride} bytes; the "
            f"device's alignment is {ring.alignment}); pass a value ring.push() returned.")
    used = ring.used_in(frame_index)
    raise DynamicOffsetError(
        f"{what}: dynamic offset {value} for {label!r} is not a block pushed into ring "
        f"{ring.name!r} in the current frame for slot {frame_index} ({used} block(s) pushed, "
        f"offsets 0..{max(used - 1, 0) * ring.stride}); push the block this frame and bind "
        "the offset push() returned.")


def raise_offset_past_end(what: str, label: str, ring: UniformRing, offset: int,
                          buffer: ManagedBuffer) -> NoReturn:
    """A block pushed this frame that the slot's buffer no longer holds (it was shrunk by
    ``resize_buffer`` behind the ring's back)."""
    raise DynamicOffsetError(
        f"{what}: dynamic offset {offset} for {label!r} plus the block's bytes exceeds buffer "
        f"{buffer.name!r} of {buffer.size} bytes (it was resized after the block was pushed "
        f"into ring {ring.name!r}); do not resize a ring's buffers, push the block again.")


def missing_binding_message(what: str, pid: Any, unbound: Sequence[tuple[Any, LayoutBinding]]
                            ) -> str:
    """The MissingBindingError text: each unbound buffer binding by its block name (and
    variable names), set and binding, and the ``bind_*_named`` call that binds it."""
    parts, fixes = [], []
    for key, binding in unbound:
        element = key[2]
        name = binding.label
        aliases = [n for n in binding.names[1:] if n != name]
        where = f"set {binding.set}, binding {binding.binding}" + (
            f", element {element}" if binding.count > 1 else "")
        kind = "uniform buffer" if binding.kind is DescriptorKind.UNIFORM_BUFFER \
            else "storage buffer"
        also = f", variable {', '.join(repr(a) for a in aliases)}" if aliases else ""
        parts.append(f"{kind} {name!r} ({where}{also})")
        extra = f", array_element={element}" if binding.count > 1 else ""
        if binding.dynamic:
            fixes.append(f"binder.bind_ring_named(pid, {name!r}, ring)")
        elif binding.kind is DescriptorKind.UNIFORM_BUFFER:
            fixes.append(f"binder.bind_uniform_buffer_named(pid, {name!r}, buffer{extra})")
        else:
            fixes.append(f"binder.bind_storage_buffer_named(pid, {name!r}, buffer{extra})")
    return (f"{what}: pipeline {str(pid)!r} has nothing bound to {'; '.join(parts)}: the GPU "
            "would read a descriptor that was never written. Bind it before recording: "
            f"{'; '.join(fixes)} (binder.missing_bindings(pid) lists what is unbound). "
            "Nothing was recorded.")
