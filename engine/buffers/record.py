"""BufferRecord: the BufferManager's state for one buffer, behind the ManagedBuffer component.

The component a user holds (:class:`~engine.buffers.types.ManagedBuffer`) shows this state
through read-only properties; the manager that created the buffer finds the record in its own
table (``buffer -> record``, live buffers only) and is the only writer. So a buffer that is not
in a manager's table (destroyed, another manager's, a forged object) has no way into that
manager's memory: the lookup is also the ownership check of every call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NEVER_WRITTEN = -(1 << 62)
"""``host_write_frame`` of memory no host write has touched (older than any frame)."""


class BufferRecord:
    """One buffer's fields (sizes in bytes, frames as frame numbers).

    Configuration: ``name``, ``size`` (bytes the user may write), ``strategy``, ``usage``,
    ``dtype``, ``buffer_id``, ``created_frame``. Current VkBuffer: ``handle``, ``allocation``
    (an ``engine.memory.blocks.Allocation``), ``capacity`` (its bytes, >= size),
    ``memory_type_index``, ``memory_flags``, ``generation`` (+1 per replace). Mapping (host
    strategies, None otherwise): ``view`` (np.uint8 over ``capacity`` bytes) and ``ptr`` (a
    cffi ``char[]`` over the same bytes, for the one-memmove hot path); ``coherent`` (False:
    flush after writes, invalidate before reads). Host-write history for the hazard check:
    ``host_write_frame`` and ``host_write_serial`` (the queue serial at that write).
    ``last_updated_frame`` is -2 until the first write; ``alive`` is False once destroyed.
    ``append_frame``/``append_end``: the frame of the last ``append_blocks`` and the end of
    what it wrote (bytes), ``append_view`` its cached strided view of the mapping.
    ``direct_ptr``: for a DEVICE_LOCAL buffer in DEVICE_LOCAL|HOST_VISIBLE memory, a cffi
    pointer to its mapping, written in place when no GPU work is in flight (``view`` and
    ``ptr`` stay None: it is not a host buffer).
    """

    __slots__ = ("alive", "allocation", "append_end", "append_frame", "append_view",
                 "buffer_id", "capacity", "coherent", "created_frame", "direct_ptr", "dtype",
                 "generation", "handle", "host_write_frame", "host_write_serial",
                 "last_updated_frame", "manager", "memory_flags", "memory_type_index", "name",
                 "ptr", "size", "strategy", "usage", "view")

    def __init__(self, manager: Any, name: str, size: int, strategy: Any, usage: Any,
                 dtype: np.dtype[Any] | None, buffer_id: int, created_frame: int) -> None:
        self.manager = manager
        self.name = name
        self.size = size
        self.strategy = strategy
        self.usage = usage
        self.dtype = dtype
        self.buffer_id = buffer_id
        self.created_frame = created_frame
        self.generation = 1
        self.alive = True
        self.last_updated_frame = -2
        self.handle: Any = None
        self.allocation: Any = None
        self.capacity = 0
        self.memory_type_index = -1
        self.memory_flags = 0
        self.view: Any = None
        self.ptr: Any = None
        self.coherent = True
        self.host_write_frame = NEVER_WRITTEN
        self.host_write_serial = 0
        self.direct_ptr: Any = None
        self.append_view: Any = None
        self.append_frame = NEVER_WRITTEN
        self.append_end = 0
