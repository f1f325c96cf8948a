"""The public value types of buffers: strategy, usage, config, and the ManagedBuffer component.

``ManagedBuffer`` is the esper component users hold. It is identity-stable: a resize replaces the
``VkBuffer`` underneath (and bumps :attr:`ManagedBuffer.generation` by exactly 1) but the Python
object stays the same, so components, bindings and systems can keep a reference to it.
"""

from __future__ import annotations

import enum
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from engine.buffers.record import BufferRecord
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
        strategy: a :class:`~engine.buffers.types.BufferStrategy`.
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


def _read_only(field_name: str, doc: str, kind: Any) -> property:
    """A read-only property over the buffer's record field ``field_name``; ``kind`` is its
    type, for the documentation (type checkers read the typed declarations in
    ``ManagedBuffer``)."""
    getter = operator.attrgetter("_record." + field_name)

    def get(self: ManagedBuffer) -> Any:
        return getter(self)

    get.__annotations__ = {"return": kind}

    def refuse(self: ManagedBuffer, value: Any) -> None:
        fix = ("call resize_buffer() to change the size" if field_name == "size" else
               "call destroy_buffer() to retire it" if field_name == "alive" else
               "create a new buffer with the BufferConfig you want")
        raise ReadOnlyFieldError(
            f"ManagedBuffer({self._record.name!r}).{field_name} = {value!r}: {field_name} is "
            f"kept by the BufferManager and read-only (changing it would make writes land in "
            f"other buffers' memory); {fix}.")

    def refuse_delete(self: ManagedBuffer) -> None:
        refuse(self, "<deleted>")

    return property(get, refuse, refuse_delete, doc)


class ManagedBuffer(SharedIdentity):
    """A GPU buffer owned by a :class:`~engine.buffers.manager.BufferManager`; an esper component.

    Public fields are read-only (assigning one raises
    :class:`~engine.errors.ReadOnlyFieldError`, assigning any other attribute raises
    ``AttributeError``); the manager updates them. Behind them is the manager's
    :class:`~engine.buffers.record.BufferRecord`, which the manager finds in its own table of
    live buffers, so a buffer that is destroyed, of another manager, or forged cannot reach any
    manager's memory. One buffer is one object: ``copy.copy`` and ``copy.deepcopy`` return the
    buffer itself and pickling raises :class:`~engine.errors.NotCopyableError`.

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

    __slots__ = ("__weakref__", "_record")

    if TYPE_CHECKING:  # what type checkers see; at run time, the read-only properties below
        @property
        def name(self) -> str: ...
        @property
        def size(self) -> int: ...
        @property
        def strategy(self) -> BufferStrategy: ...
        @property
        def usage(self) -> BufferUsage: ...
        @property
        def dtype(self) -> np.dtype[Any] | None: ...
        @property
        def generation(self) -> int: ...
        @property
        def memory_type_index(self) -> int: ...
        @property
        def memory_flags(self) -> int: ...
        @property
        def alive(self) -> bool: ...
        @property
        def created_frame(self) -> int: ...
        @property
        def last_updated_frame(self) -> int: ...
        @property
        def handle(self) -> Any: ...
        @property
        def capacity(self) -> int: ...
        @property
        def buffer_id(self) -> int: ...
        @property
        def allocation(self) -> Any: ...
        @property
        def manager(self) -> Any: ...
    else:
        name = _read_only("name", "The label of the BufferConfig.", "str")
        size = _read_only("size", "Bytes the user may write (as requested; see capacity).", "int")
        strategy = _read_only("strategy", "The BufferStrategy.", "BufferStrategy")
        usage = _read_only("usage", "BufferUsage flags, TRANSFER_SRC/DST included.", "BufferUsage")
        dtype = _read_only(
            "dtype", "The numpy dtype of the elements, or None.", "np.dtype[Any] | None")
        generation = _read_only(
            "generation", "1 at creation; +1 each time the VkBuffer is replaced.", "int")
        memory_type_index = _read_only("memory_type_index", "The VkMemoryType index.", "int")
        memory_flags = _read_only(
            "memory_flags", "The VkMemoryPropertyFlags of the memory type.", "int")
        alive = _read_only("alive", "False once destroy_buffer retired it.", "bool")
        created_frame = _read_only("created_frame", "The frame number at creation.", "int")
        last_updated_frame = _read_only("last_updated_frame", "The frame of the last write.", "int")
        handle = _read_only("handle", "The current VkBuffer (changes on resize).", "Any")
        capacity = _read_only("capacity", "Bytes allocated for the VkBuffer (>= size).", "int")
        buffer_id = _read_only("buffer_id", "A number unique within the manager.", "int")
        allocation = _read_only("allocation", "The memory range (an "
                                "``engine.memory.blocks.Allocation``), None once destroyed.",
                                "Any")
        manager = _read_only("manager", "The BufferManager that owns this buffer.", "Any")

    def __init__(self, record: BufferRecord) -> None:
        """Made by :meth:`BufferManager.create_buffer` over its record for the buffer."""
        if record.__class__ is not BufferRecord:
            raise TypeError(f"ManagedBuffer({record!r}): buffers are made by "
                            "BufferManager.create_buffer(); call that instead.")
        self._record = record

    def descriptor_info(self, offset: int = 0, range: int | None = None) -> DescriptorInfo:
        """The (handle, offset, range) a descriptor needs; ``range`` defaults to the rest."""
        r = self._record
        what = f"ManagedBuffer({r.name!r}).descriptor_info"
        if not r.alive:
            raise BufferDestroyedError(
                f"{what}: buffer #{r.buffer_id} was destroyed (its VkBuffer is freed or "
                "about to be); create a new buffer.")
        start = as_int(offset)
        if start is None or not 0 <= start <= r.size:
            raise InvalidOffsetError(
                f"{what}: offset {offset!r} must be an integer from 0 to the buffer's "
                f"{r.size} bytes.")
        length = r.size - start if range is None else as_int(range)
        if length is None or length < 0 or start + length > r.size:
            raise InvalidSizeError(
                f"{what}: range {range!r} at offset {start} must be a non-negative integer "
                f"that fits in the buffer's {r.size} bytes; pass None for the rest.")
        return DescriptorInfo(r.handle, start, length)

    @property
    def nbytes(self) -> int:
        """Alias of :attr:`size`, in bytes."""
        return self._record.size

    def __repr__(self) -> str:
        r = self._record
        state = "alive" if r.alive else "destroyed"
        return (f"<ManagedBuffer {r.name!r} #{r.buffer_id} {r.size} B "
                f"{r.strategy.value} gen {r.generation} {state}>")
