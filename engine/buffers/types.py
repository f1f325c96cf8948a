"""The public value types of buffers: strategy, usage, config, and the ManagedBuffer component.

``ManagedBuffer`` is the esper component users hold. It is identity-stable: a resize replaces the
``VkBuffer`` underneath (and bumps :attr:`ManagedBuffer.generation` by exactly 1) but the Python
object stays the same, so components, bindings and systems can keep a reference to it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from engine.device.vk import vk
from engine.memory.type_choice import MemoryOrder


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


class DescriptorInfo(NamedTuple):
    """``VkDescriptorBufferInfo`` fields for a buffer: handle, offset and range in bytes."""

    buffer: Any
    offset: int
    range: int


@dataclass(eq=False, slots=True)
class ManagedBuffer:
    """A GPU buffer owned by a :class:`~engine.buffers.manager.BufferManager`; an esper component.

    Public fields are read-only for users; the manager updates them.

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

    name: str
    size: int
    strategy: BufferStrategy
    usage: BufferUsage
    dtype: np.dtype[Any] | None = None
    generation: int = 1
    memory_type_index: int = -1
    memory_flags: int = 0
    alive: bool = True
    created_frame: int = -1
    last_updated_frame: int = -2
    handle: Any = None
    capacity: int = 0
    buffer_id: int = 0
    # --- owned by the manager -----------------------------------------------------------
    _manager: Any = field(default=None, repr=False)
    _allocation: Any = field(default=None, repr=False)
    _view: Any = field(default=None, repr=False)  # np.uint8 view of the mapping (host only)
    _ptr: Any = field(default=None, repr=False)  # cffi char[] over the same bytes (hot path)
    _host_write_frame: int = field(default=-(1 << 62), repr=False)
    _host_write_serial: int = field(default=0, repr=False)  # queue serial at the last write
    _coherent: bool = field(default=True, repr=False)

    def descriptor_info(self, offset: int = 0, range: int | None = None) -> DescriptorInfo:
        """The (handle, offset, range) a descriptor needs; ``range`` defaults to the rest."""
        return DescriptorInfo(self.handle, offset, self.size - offset if range is None else range)

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
        return self.size

    def __repr__(self) -> str:
        state = "alive" if self.alive else "destroyed"
        return (f"<ManagedBuffer {self.name!r} #{self.buffer_id} {self.size} B "
                f"{self.strategy.value} gen {self.generation} {state}>")
