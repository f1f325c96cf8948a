"""Per-heap memory budget: ``VK_EXT_memory_budget`` where enabled, else the heap size.

What is measured, per memory heap (bytes):

- ``allocated``: ``VkDeviceMemory`` bytes this allocator holds in the heap (blocks + dedicated).
- ``usage``: with ``VK_EXT_memory_budget``, the driver's ``heapUsage`` for this process at the
  last query plus what this allocator allocated or freed since (as VMA does); without it, just
  ``allocated`` (other allocators on the device are not seen).
- ``budget``: the driver's ``heapBudget`` (with the extension); else the heap size (VMA uses
  80 % of it; this project keeps the full heap, as its buffers are few and lavapipe's heap is
  plain RAM); or the test override from :meth:`BudgetTracker.set_override`.

Behaviour: every new ``VkDeviceMemory`` (a block or a dedicated allocation) is checked first;
one that would take ``usage`` past ``budget`` is not made and
:class:`~engine.errors.BudgetExceededError` (an :class:`~engine.errors.OutOfDeviceMemoryError`) is
raised with the heap, the numbers and the fix. Sub-allocations inside existing blocks do not change
heap usage and are never refused. The allocator first retries smaller blocks, then the memory types
of ``fallback_types`` (if the caller passed any); :class:`~engine.buffers.manager.BufferManager`
passes none, so a buffer over budget raises.

The query runs before each new block (a few dozen times in a program's life) and for each
statistics snapshot, so its cost (a few microseconds) is irrelevant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.device.vk import ffi, lib, vk
from engine.errors import BudgetExceededError

BudgetQuery = Callable[[], list[tuple[int, int]]]
"""Returns (budget, usage) bytes per heap, as ``VkPhysicalDeviceMemoryBudgetPropertiesEXT``."""


@dataclass(frozen=True, slots=True)
class HeapBudget:
    """Budget figures of one heap, in bytes; ``source`` says where ``budget`` comes from."""

    heap_index: int
    size: int
    budget: int
    usage: int
    allocated: int
    source: str


class BudgetTracker:
    """Tracks this allocator's bytes per heap and compares them with the heaps' budgets.

    Args:
        heap_sizes: ``VkMemoryHeap.size`` of each heap.
        query: the driver's (budget, usage) per heap, or None without ``VK_EXT_memory_budget``.
    """

    def __init__(self, heap_sizes: Sequence[int], query: BudgetQuery | None = None) -> None:
        self.heap_sizes = list(heap_sizes)
        self.query = query
        self.allocated = [0] * len(self.heap_sizes)
        self.overrides: dict[int, int] = {}
        self._driver: list[tuple[int, int]] | None = None
        self._allocated_at_query = list(self.allocated)

    @property
    def source(self) -> str:
        return "VK_EXT_memory_budget" if self.query is not None else "heap size"

    def set_override(self, heap_index: int, budget: int | None) -> None:
        """Test switch: pretend heap ``heap_index`` has ``budget`` bytes (None: the real one)."""
        if not 0 <= heap_index < len(self.heap_sizes):
            raise IndexError(f"set_budget_override: no heap {heap_index}; the device has "
                             f"{len(self.heap_sizes)} heap(s).")
        if budget is None:
            self.overrides.pop(heap_index, None)
        else:
            if budget < 0:
                raise ValueError("set_budget_override: the budget must be >= 0 bytes.")
            self.overrides[heap_index] = int(budget)

    def refresh(self) -> None:
        """Re-read the driver's figures (no-op without the extension)."""
        if self.query is not None:
            self._driver = self.query()
            self._allocated_at_query = list(self.allocated)

    def heap(self, heap_index: int) -> HeapBudget:
        """The current figures of one heap (uses the last :meth:`refresh`)."""
        allocated = self.allocated[heap_index]
        size = self.heap_sizes[heap_index]
        if self._driver is not None:
            budget, usage = self._driver[heap_index]
            usage = max(0, usage + allocated - self._allocated_at_query[heap_index])
            source = "VK_EXT_memory_budget"
        else:
            budget, usage, source = size, allocated, "heap size"
        if heap_index in self.overrides:
            budget, source = self.overrides[heap_index], "override"
        return HeapBudget(heap_index, size, budget, usage, allocated, source)

    def heaps(self) -> list[HeapBudget]:
        """Fresh figures of every heap."""
        self.refresh()
        return [self.heap(i) for i in range(len(self.heap_sizes))]

    def check(self, heap_index: int, size: int, *, what: str, type_index: int) -> None:
        """Raise :class:`~engine.errors.BudgetExceededError` if ``size`` more bytes exceed the
        heap's budget."""
        self.refresh()
        b = self.heap(heap_index)
        if b.usage + size > b.budget:
            raise BudgetExceededError(
                f"{what}: a new {size}-byte VkDeviceMemory of memory type {type_index} would "
                f"exceed the budget of heap {heap_index}: usage {b.usage} + {size} > budget "
                f"{b.budget} bytes ({b.source}; heap size {b.size}); destroy or shrink buffers, "
                "pick a strategy whose memory comes from another heap, or raise the budget "
                "(set_budget_override in tests).")

    def note_allocated(self, heap_index: int, size: int) -> None:
        self.allocated[heap_index] += size

    def note_freed(self, heap_index: int, size: int) -> None:
        self.allocated[heap_index] -= size


def vulkan_budget_query(ctx: Any) -> BudgetQuery | None:
    """A query through ``vkGetPhysicalDeviceMemoryProperties2`` + the budget struct, or None.

    None when the device did not enable ``VK_EXT_memory_budget`` (lavapipe lacks it).
    """
    if "VK_EXT_memory_budget" not in ctx.device_extensions:
        return None
    budget = ffi.new("VkPhysicalDeviceMemoryBudgetPropertiesEXT*", {
        "sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT})
    props = ffi.new("VkPhysicalDeviceMemoryProperties2*", {
        "sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2, "pNext": budget})
    count = len(ctx.memory_heaps)
    physical_device = ctx.physical_device

    def query() -> list[tuple[int, int]]:
        lib.vkGetPhysicalDeviceMemoryProperties2(physical_device, props)
        return [(int(budget.heapBudget[i]), int(budget.heapUsage[i])) for i in range(count)]

    return query
