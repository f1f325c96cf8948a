"""Per-heap budget: the tracker alone, the allocator's fallback, and buffers on the device."""

from __future__ import annotations

import pytest
from memory_fakes import MIB, FakeAllocator

from engine import BufferConfig, BufferStrategy
from engine.errors import BudgetExceededError, OutOfDeviceMemoryError
from engine.memory.budget import BudgetTracker

S = BufferStrategy


def test_tracker_without_extension_uses_the_heap_size():
    t = BudgetTracker([1000, 500])
    t.note_allocated(0, 300)
    h = t.heaps()[0]
    assert (h.budget, h.usage, h.allocated, h.source) == (1000, 300, 300, "heap size")
    t.check(0, 700, what="fits", type_index=0)
    with pytest.raises(BudgetExceededError, match=r"heap 0: usage 300 \+ 701 > budget 1000"):
        t.check(0, 701, what="too much", type_index=0)
    t.set_override(0, 400)
    assert t.heap(0).source == "override"
    with pytest.raises(BudgetExceededError, match="set_budget_override"):
        t.check(0, 101, what="over the override", type_index=0)
    t.set_override(0, None)
    t.check(0, 700, what="fits again", type_index=0)
    with pytest.raises(IndexError):
        t.set_override(5, 1)


def test_tracker_with_extension_adds_our_changes_to_the_driver_usage():
    driver = [(900, 600), (100, 0)]
    t = BudgetTracker([1000, 200], lambda: list(driver))
    t.refresh()
    t.note_allocated(0, 50)  # not yet seen by the driver
    h = t.heap(0)
    assert (h.budget, h.usage, h.source) == (900, 650, "VK_EXT_memory_budget")
    driver[0] = (900, 650)
    assert t.heaps()[0].usage == 650
    with pytest.raises(BudgetExceededError):
        t.check(0, 251, what="x", type_index=0)


def test_allocator_falls_back_to_another_type_only_when_asked():
    alloc = FakeAllocator()
    device, host = alloc.ctx.memory_types[0], alloc.ctx.memory_types[1]
    alloc.allocate(64, device, what="first", map_memory=False)
    used = alloc.budget.heaps()[0].usage
    alloc.set_budget_override(0, used)
    with pytest.raises(BudgetExceededError, match="heap 0"):
        alloc.allocate(40 * MIB, device, what="no fallback", map_memory=False)
    a = alloc.allocate(40 * MIB, device, what="fallback", map_memory=False,
                       fallback_types=(host,))
    assert a.type_index == 1 and alloc.live_allocations == 2
    alloc.set_budget_override(1, 0)
    with pytest.raises(BudgetExceededError, match="heap 0"):  # the first type's error
        alloc.allocate(40 * MIB, device, what="both full", map_memory=False,
                       fallback_types=(host,))
    alloc.close()


def test_empty_blocks_are_released_when_over_budget():
    alloc = FakeAllocator()
    t = alloc.ctx.memory_types[0]
    a = alloc.allocate(64, t, what="a", map_memory=False)
    alloc.set_budget_override(0, 0)
    alloc.free(a)  # normally kept as the one empty block
    assert alloc.device_memory_count == 0


def test_device_budget_is_reported_per_heap(buffer_manager):
    m = buffer_manager
    m.create_buffer(BufferConfig("a", 256, S.HOST_VISIBLE))
    heaps = m.statistics().memory["heaps"]
    assert len(heaps) == len(m.context.memory_heaps)
    h = heaps["0"]
    if "VK_EXT_memory_budget" in m.context.device_extensions:
        assert h["budget_source"] == "VK_EXT_memory_budget"
        assert h["budget"] > 0 and h["usage"] >= 0
    else:  # lavapipe
        assert h["budget_source"] == "heap size" and h["budget"] == h["size"]
        assert h["usage"] == h["allocated"] == sum(
            t["block_bytes"] for t in m.statistics().memory["types"].values()
            if t["heap"] == 0)


def _heap_of(manager, strategy):
    buf = manager.create_buffer(BufferConfig("probe", 256, strategy))
    heap = manager.context.memory_types[buf.memory_type_index].heap_index
    return buf, heap


def _pin_other_heaps(manager, keep: int) -> None:
    """Budget every other heap at its usage, so no fallback type can take the request."""
    for index, report in enumerate(manager.allocator.budget.heaps()):
        if index != keep:
            manager.allocator.set_budget_override(index, report.usage)


def test_buffer_over_budget_raises_and_changes_nothing(buffer_manager):
    m = buffer_manager
    _, heap = _heap_of(m, S.HOST_VISIBLE)
    usage = m.allocator.budget.heaps()[heap].usage
    m.allocator.set_budget_override(heap, usage)
    _pin_other_heaps(m, heap)
    before = m.statistics()
    with pytest.raises(OutOfDeviceMemoryError, match=f"budget of heap {heap}") as info:
        m.create_buffer(BufferConfig("too big", 9 * MIB, S.HOST_VISIBLE))
    assert "create_buffer('too big')" in str(info.value)
    after = m.statistics()
    assert (after.live_buffers, after.allocate_memory_calls, after.live_allocations) == (
        before.live_buffers, before.allocate_memory_calls, before.live_allocations)
    small = m.create_buffer(BufferConfig("fits in the block", 4096, S.HOST_VISIBLE))
    assert m.allocator.allocate_calls == before.allocate_memory_calls
    m.allocator.set_budget_override(heap, None)
    big = m.create_buffer(BufferConfig("now it fits", 9 * MIB, S.HOST_VISIBLE))
    assert big.alive and small.alive


def test_tight_budget_gets_a_smaller_block(buffer_manager):
    m = buffer_manager
    first, heap = _heap_of(m, S.HOST_VISIBLE)
    assert first.allocation.block.size == 8 * MIB
    usage = m.allocator.budget.heaps()[heap].usage
    m.allocator.set_budget_override(heap, usage + 12 * MIB)
    _pin_other_heaps(m, heap)
    buf = m.create_buffer(BufferConfig("5 MiB", 5 * MIB, S.HOST_VISIBLE))
    assert buf.allocation.block.size == 8 * MIB  # 16 MiB would exceed the budget
    with pytest.raises(OutOfDeviceMemoryError, match="budget"):
        m.create_buffer(BufferConfig("dedicated", 40 * MIB, S.HOST_VISIBLE))


def test_over_budget_falls_back_to_the_strategys_next_memory_type(buffer_manager):
    from engine.memory.type_choice import candidate_types

    m = buffer_manager
    types = candidate_types(m.context.memory_types, S.HOST_VISIBLE.memory_order, -1)
    if len({t.heap_index for t in types}) < 2:
        pytest.skip("host-visible memory lives in one heap here (lavapipe); runs on GPUs")
    first = types[0]
    m.allocator.set_budget_override(first.heap_index,
                                    m.allocator.budget.heaps()[first.heap_index].usage)
    buf = m.create_buffer(BufferConfig("fallback", 9 * MIB, S.HOST_VISIBLE))
    assert buf.memory_type_index != first.index
    assert buf.memory_flags & 0x6 == 0x6, "still host-visible and coherent"
    m.update_buffer(buf, b"\x01" * 64)
    assert m.read_buffer(buf, 0, 64) == b"\x01" * 64
