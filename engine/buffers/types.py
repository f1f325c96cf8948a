"""The public value types of buffers: strategy, usage, config, and the ManagedBuffer component.

``ManagedBuffer`` is the esper component users hold. It is identity-stable: a resize replaces the
``VkBuffer`` underneath (and bumps :attr:`ManagedBuffer.generation` by exactly 1) but the Python
object stays the same, so components, bindings and systems can keep a reference to it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from engine.device.vk import vk
from engine.errors import (
    BufferDestroyedError,
    InvalidOffsetError,
    InvalidSizeError,
    ReadOnlyFieldError,
)
from engine.identity import SharedIdentity
from engine.memory.type_choice import MemoryOrder
from engine.numbers import as_int


class BufferStrategy(enum.Enum):
    """Where a buffer lives and how the host writes it.

    - ``DEVICE_LOCAL``: fastest for the GPU; written through the frame's staging ring and a
      GPU copy recorded into the frame (never mapped).
    - ``HOST_VISIBLE``: host-visible + coherent, persistently mapped, written directly.
    - ``HOST_CACHED``: host-visible + cached, persistently mapped; flushed after writes and
      invalidated before reads on ``nonCoherentAtomSize``-aligned ranges when not coherent.
    """

    DEVICE_LOCAL = "device_local"
    HOST_VISIBLE = "host_visible"
    HOST_CACHED = "host_cached"

    @property
    def is_host(self) -> bool:
        return self is not BufferStrategy.DEVICE_LOCAL

    @property
    def memory_order(self) -> MemoryOrder:
        """The memory-type order of this strategy (:data:`MEMORY_ORDER`)."""
        return MEMORY_ORDER[self]


_DL = vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT
_HV = vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
_HC = vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
_CACHED = vk.VK_MEMORY_PROPERTY_HOST_CACHED_BIT

MEMORY_ORDER: dict[BufferStrategy, MemoryOrder] = {
    BufferStrategy.DEVICE_LOCAL: ((_DL, _HV), (_DL, 0), (0, 0)),
    BufferStrategy.HOST_VISIBLE: ((_HV | _HC, _DL), (_HV | _HC, 0)),
    BufferStrategy.HOST_CACHED: ((_HV | _CACHED, _DL), (_HV | _CACHED, 0), (_HV | _HC, 0)),
}
"""Memory-type fallback order per strategy, as ``(required, unwanted)`` flag pairs:

====================  =========================================================================
strategy              fallback order ("not X" = preferred without X)
====================  =========================================================================
DEVICE_LOCAL          DEVICE_LOCAL not HOST_VISIBLE -> DEVICE_LOCAL -> any type
HOST_VISIBLE          HOST_VISIBLE|HOST_COHERENT not DEVICE_LOCAL -> HOST_VISIBLE|HOST_COHERENT
HOST_CACHED           HOST_VISIBLE|HOST_CACHED not DEVICE_LOCAL -> HOST_VISIBLE|HOST_CACHED
                      -> HOST_VISIBLE|HOST_COHERENT (then it is simply coherent)
====================  =========================================================================
"""


class BufferUsage(enum.IntFlag):
    """What the GPU does with a buffer (``VkBufferUsageFlags``). Combine with ``|``.

    ``TRANSFER_SRC``/``TRANSFER_DST`` are added automatically (staging, resize and read-back
    copies need them); you never have to pass them.
    """

    TRANSFER_SRC = vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT
    TRANSFER_DST = vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT
    UNIFORM = vk.VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT
    STORAGE = vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT
    INDEX = vk.VK_BUFFER_USAGE_INDEX_BUFFER_BIT
    VERTEX = vk.VK_BUFFER_USAGE_VERTEX_BUFFER_BIT
    INDIRECT = vk.VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT


AUTO_USAGE = int(BufferUsage.TRANSFER_SRC | BufferUsage.TRANSFER_DST)
"""Added to every buffer's usage: staging, resize and read-back copies need them."""

ALL_USAGE = int(
    BufferUsage.TRANSFER_SRC | BufferUsage.TRANSFER_DST | BufferUsage.UNIFORM
    | BufferUsage.STORAGE | BufferUsage.INDEX | BufferUsage.VERTEX | BufferUsage.INDIRECT
)


@dataclass(frozen=True, slots=True)
class BufferConfig:
    """What to create.

    Args:
        name: a label for statistics, validation messages and debuggers (need not be unique).
        size: bytes the user may write (> 0). The VkBuffer is rounded up to the device's
            ``lcm(minUniformBufferOffsetAlignment, nonCoherentAtomSize)``.
        strategy: a :class:`BufferStrategy`.
        usage: :class:`BufferUsage` flags (at least one GPU use).
        dtype: optional numpy dtype of the elements; when set, ``update_buffer`` only accepts
            arrays of exactly this dtype, at offsets that are multiples of its itemsize.
    """

    name: str
    size: int
    strategy: BufferStrategy = BufferStrategy.DEVICE_LOCAL
    usage: BufferUsage = BufferUsage.STORAGE
    dtype: np.dtype[Any] | None = None

    def __post_init__(self) -> None:
        # A numpy integer size becomes a Python int here, so no arithmetic downstream wraps
        # (np.uint8(200) rounded up to an alignment) or overflows; anything that is not an
        # integer stays as given and create_buffer() refuses it with InvalidSizeError.
        size = as_int(self.size)
        if size is not None and self.size.__class__ is not int:
            object.__setattr__(self, "size", size)


class DescriptorInfo(NamedTuple):
    """``VkDescriptorBufferInfo`` fields for a buffer: handle, offset and range in bytes."""

    buffer: Any
    offset: int
    range: int


_PUBLIC_FIELDS = ("name", "size", "strategy", "usage", "dtype", "generation",
                  "memory_type_index", "memory_flags", "alive", "created_frame",
                  "last_updated_frame", "handle", "capacity", "buffer_id")


def _read_only(field_name: str, doc: str) -> property:
    slot = "_" + field_name

    def get(self: ManagedBuffer) -> Any:
        return getattr(self, slot)

    def refuse(self: ManagedBuffer, value: Any) -> None:
        fix = ("call resize_buffer() to change the size" if field_name == "size" else
               "call destroy_buffer() to retire it" if field_name == "alive" else
               "create a new buffer with the BufferConfig you want")
        raise ReadOnlyFieldError(
            f"ManagedBuffer({self._name!r}).{field_name} = {value!r}: {field_name} is kept by "
            f"the BufferManager and read-only (changing it would make writes land in other "
            f"buffers' memory); {fix}.")

    def refuse_delete(self: ManagedBuffer) -> None:
        refuse(self, "<deleted>")

    return property(get, refuse, refuse_delete, doc)


class ManagedBuffer(SharedIdentity):
    """A GPU buffer owned by a :class:`~engine.buffers.manager.BufferManager`; an esper component.

    Public fields are read-only (assigning one raises
    :class:`~engine.errors.ReadOnlyFieldError`); the manager updates them. The underscore
    slots behind them are the BufferManager's own state for this buffer (the mapping pointer,
    the allocation, the host-write marks): only ``engine/buffers/manager.py`` reads or writes
    them, directly, because ``update_buffer`` is the hot path and a property costs as much as
    a check there. Every other module uses the public properties (``manager``, ``allocation``,
    ``handle``...). One buffer is one
    object: ``copy.copy`` and ``copy.deepcopy`` return the buffer itself and pickling raises
    :class:`~engine.errors.NotCopyableError`.

    Attributes:
        name, size, strategy, usage, dtype: as configured (``size`` in bytes, as requested).
        generation: 1 at creation; +1 each time the underlying VkBuffer is replaced (resize).
            Data writes never change it. Bindings compare it to know when to rewrite descriptors.
        memory_type_index, memory_flags: the ``VkMemoryType`` chosen for the strategy.
        alive: False once ``destroy_buffer`` retired it.
        created_frame, last_updated_frame: frame numbers (-1 is the set-up time before the
            first ``begin_frame``; ``last_updated_frame`` is -2 until the first write).
        handle: the current ``VkBuffer`` (changes on resize).
        capacity: bytes actually allocated for the VkBuffer (>= size).
    """

    __slots__ = (
        "__weakref__",
        "_alive",
        "_allocation",
        "_append_end",
        "_append_frame",
        "_append_view",
        "_buffer_id",
        "_capacity",
        "_coherent",
        "_created_frame",
        "_dtype",
        "_generation",
        "_handle",
        "_host_write_frame",
        "_host_write_serial",
        "_last_updated_frame",
        "_manager",
        "_memory_flags",
        "_memory_type_index",
        "_name",
        "_ptr",
        "_size",
        "_strategy",
        "_usage",
        "_view",
    )

    name = _read_only("name", "The label of the BufferConfig.")
    size = _read_only("size", "Bytes the user may write (as requested; see capacity).")
    strategy = _read_only("strategy", "The BufferStrategy.")
    usage = _read_only("usage", "BufferUsage flags, TRANSFER_SRC/DST included.")
    dtype = _read_only("dtype", "The numpy dtype of the elements, or None.")
    generation = _read_only("generation", "1 at creation; +1 each time the VkBuffer is replaced.")
    memory_type_index = _read_only("memory_type_index", "The VkMemoryType index.")
    memory_flags = _read_only("memory_flags", "The VkMemoryPropertyFlags of the memory type.")
    alive = _read_only("alive", "False once destroy_buffer retired it.")
    created_frame = _read_only("created_frame", "The frame number at creation.")
    last_updated_frame = _read_only("last_updated_frame", "The frame of the last write.")
    handle = _read_only("handle", "The current VkBuffer (changes on resize).")
    capacity = _read_only("capacity", "Bytes allocated for the VkBuffer (>= size).")
    buffer_id = _read_only("buffer_id", "A number unique within the manager.")

    def __init__(self, name: str, size: int, strategy: BufferStrategy, usage: BufferUsage,
                 dtype: np.dtype[Any] | None = None, generation: int = 1,
                 memory_type_index: int = -1, memory_flags: int = 0, alive: bool = True,
                 created_frame: int = -1, last_updated_frame: int = -2, handle: Any = None,
                 capacity: int = 0, buffer_id: int = 0) -> None:
        self._name = name
        self._size = size
        self._strategy = strategy
        self._usage = usage
        self._dtype = dtype
        self._generation = generation
        self._memory_type_index = memory_type_index
        self._memory_flags = memory_flags
        self._alive = alive
        self._created_frame = created_frame
        self._last_updated_frame = last_updated_frame
        self._handle = handle
        self._capacity = capacity
        self._buffer_id = buffer_id
        # --- owned by the manager -------------------------------------------------------
        self._manager: Any = None
        self._allocation: Any = None
        self._view: Any = None  # np.uint8 view of the mapping (host only)
        self._ptr: Any = None  # cffi char[] over the same bytes (hot path)
        self._host_write_frame = -(1 << 62)
        self._host_write_serial = 0  # queue serial at the last host write
        self._append_frame = -(1 << 62)  # the frame of the last append_blocks write
        self._append_end = 0  # bytes [0, end) of that frame were appended (append_blocks)
        self._append_view: Any = None  # (mapping view, stride, row bytes, strided uint8 view)
        self._coherent = True

    def descriptor_info(self, offset: int = 0, range: int | None = None) -> DescriptorInfo:
        """The (handle, offset, range) a descriptor needs; ``range`` defaults to the rest."""
        what = f"ManagedBuffer({self._name!r}).descriptor_info"
        if not self._alive:
            raise BufferDestroyedError(
                f"{what}: buffer #{self._buffer_id} was destroyed (its VkBuffer is freed or "
                "about to be); create a new buffer.")
        start = as_int(offset)
        if start is None or not 0 <= start <= self._size:
            raise InvalidOffsetError(
                f"{what}: offset {offset!r} must be an integer from 0 to the buffer's "
                f"{self._size} bytes.")
        length = self._size - start if range is None else as_int(range)
        if length is None or length < 0 or start + length > self._size:
            raise InvalidSizeError(
                f"{what}: range {range!r} at offset {start} must be a non-negative integer "
                f"that fits in the buffer's {self._size} bytes; pass None for the rest.")
        return DescriptorInfo(self._handle, start, length)

    @property
    def allocation(self) -> Any:
        """The memory range (an ``engine.memory.blocks.Allocation``), None once destroyed."""
        return self._allocation

    @property
    def manager(self) -> Any:
        """The BufferManager that owns this buffer."""
        return self._manager

    @property
    def nbytes(self) -> int:
        """Alias of :attr:`size`, in bytes."""
        return self._size

    def __repr__(self) -> str:
        state = "alive" if self._alive else "destroyed"
        return (f"<ManagedBuffer {self._name!r} #{self._buffer_id} {self._size} B "
                f"{self._strategy.value} gen {self._generation} {state}>")
