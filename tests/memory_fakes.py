"""Device-free stand-ins for the memory tests: a block backend and a MemoryAllocator whose
``vkAllocateMemory`` is a numpy array, over a made-up discrete-like device (two heaps)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from engine.device.context import MemoryType
from engine.errors import OutOfDeviceMemoryError
from engine.memory.allocator import MemoryAllocator
from engine.memory.type_choice import DEVICE_LOCAL, HOST_CACHED, HOST_COHERENT, HOST_VISIBLE

MIB = 1024 * 1024


class FakeBackend:
    """Blocks are numpy arrays; ``limit`` (bytes) makes bigger totals fail as out of memory."""

    def __init__(self, *, host: bool = True, limit: int | None = None) -> None:
        self.host = host
        self.limit = limit
        self.live: dict[int, int] = {}
        self.calls = 0
        self.refused: list[int] = []
        self._next = 1

    def create_block_memory(self, type_index: int, size: int, *, what: str
                            ) -> tuple[Any, Any]:
        if self.limit is not None and sum(self.live.values()) + size > self.limit:
            self.refused.append(size)
            raise OutOfDeviceMemoryError(f"{what}: fake device out of memory")
        handle = self._next
        self._next += 1
        self.live[handle] = size
        self.calls += 1
        return handle, (np.zeros(size, np.uint8) if self.host else None)

    def destroy_block_memory(self, type_index: int, memory: Any, size: int, mapped: bool
                             ) -> None:
        assert self.live.pop(memory) == size
        assert mapped == self.host


def fake_context(*, heap_size: int = 2048 * MIB, max_allocations: int = 4096,
                 atom: int = 64) -> Any:
    """Types: 0 device-local (heap 0), 1 host-visible coherent, 2 host cached (heap 1)."""
    types = (
        MemoryType(0, DEVICE_LOCAL, 0, heap_size, True),
        MemoryType(1, HOST_VISIBLE | HOST_COHERENT, 1, heap_size, False),
        MemoryType(2, HOST_VISIBLE | HOST_COHERENT | HOST_CACHED, 1, heap_size, False),
    )
    limits = SimpleNamespace(non_coherent_atom_size=atom, buffer_image_granularity=1024,
                             max_memory_allocation_count=max_allocations)
    return SimpleNamespace(memory_types=types, memory_heaps=((heap_size, 1), (heap_size, 0)),
                           limits=limits, device_extensions=set(), device=None,
                           api_version=(1 << 22) | (3 << 12), device_name="fake discrete GPU",
                           device_type=2)


class FakeAllocator(MemoryAllocator):
    """The real allocator policy (pools, dedicated, budget, counts) over fake device memory."""

    def __init__(self, ctx: Any | None = None, **kwargs: Any) -> None:
        super().__init__(ctx if ctx is not None else fake_context(), **kwargs)
        self.device_live: dict[int, int] = {}
        self._handle = 1000

    def _device_allocate(self, type_index: int, size: int, what: str, map_memory: bool
                         ) -> tuple[Any, Any]:
        self._handle += 1
        self.device_live[self._handle] = size
        return self._handle, (np.zeros(size, np.uint8) if map_memory else None)

    def _device_free(self, memory: Any, mapped: bool) -> None:
        del self.device_live[memory]
