"""Out of device memory: real refusals and injected failures at every allocation site."""

from __future__ import annotations

import pytest

from engine import BufferConfig, BufferManager, BufferStrategy, errors
from engine.device.vk import FAULTS

pytestmark = pytest.mark.usefixtures("staged_uploads")  # staging mechanics are tested here


@pytest.fixture(autouse=True)
def _disarm():
    yield
    FAULTS.disarm()


def alive_allocations(manager: BufferManager) -> int:
    return manager.statistics().live_allocations


@pytest.mark.parametrize("strategy", list(BufferStrategy), ids=lambda s: s.value)
def test_more_than_the_heap_raises_out_of_device_memory_and_manager_still_works(
        vk_context, buffer_manager, strategy):
    heap = max(size for size, _ in vk_context.memory_heaps)
    before = alive_allocations(buffer_manager)
    with pytest.raises(errors.OutOfDeviceMemoryError, match="heap"):
        buffer_manager.create_buffer(BufferConfig("huge", heap + 4096, strategy))
    assert alive_allocations(buffer_manager) == before
    small = buffer_manager.create_buffer(BufferConfig("small", 64, strategy))
    buffer_manager.update_buffer(small, b"\x05" * 64)
    assert buffer_manager.read_buffer(small) == b"\x05" * 64


def test_driver_refusal_of_an_absurd_buffer_is_translated(buffer_manager, monkeypatch):
    """Skip our heap pre-check so the driver itself refuses (vkCreateBuffer/vkAllocateMemory)."""
    import engine.memory.vk_buffers as bm

    monkeypatch.setattr(bm, "choose_memory_type", _no_precheck(bm.choose_memory_type))
    with pytest.raises(errors.OutOfDeviceMemoryError) as info:
        buffer_manager.create_buffer(BufferConfig("absurd", 1 << 50, BufferStrategy.DEVICE_LOCAL))
    assert "VK_ERROR_OUT_OF" in str(info.value) or "heap" in str(info.value)
    assert buffer_manager.create_buffer(BufferConfig("after", 16)).alive


def _no_precheck(choose):  # type: ignore[no-untyped-def]
    def wrapped(types, strategy, bits, **kw):  # type: ignore[no-untyped-def]
        chosen = choose(types, strategy, bits, **kw)
        if bits == -1:  # the pre-check call: pretend the heap is endless
            return type(chosen)(chosen.index, chosen.flags, chosen.heap_index, 1 << 62,
                                chosen.heap_device_local)
        return chosen
    return wrapped


@pytest.mark.parametrize("strategy", list(BufferStrategy), ids=lambda s: s.value)
def test_injected_failure_at_buffer_allocation(buffer_manager, strategy):
    keep = buffer_manager.create_buffer(BufferConfig("keep", 64, strategy))
    before = buffer_manager.statistics()
    FAULTS.arm("buffer")
    with pytest.raises(errors.OutOfDeviceMemoryError, match="injected"):
        buffer_manager.create_buffer(BufferConfig("victim", 256, strategy))
    after = buffer_manager.statistics()
    assert (after.live_buffers, after.live_allocations) == (before.live_buffers,
                                                            before.live_allocations)
    FAULTS.arm("buffer")
    with pytest.raises(errors.OutOfDeviceMemoryError):
        buffer_manager.resize_buffer(keep, 4096)
    assert keep.size == 64 and keep.generation == 1
    buffer_manager.update_buffer(keep, b"k" * 64)
    assert buffer_manager.read_buffer(keep) == b"k" * 64


def test_injected_failure_at_staging_ring_growth(vk_context):
    manager = BufferManager(vk_context, staging_bytes=4096)
    buf = manager.create_buffer(BufferConfig("big", 64 * 1024, BufferStrategy.DEVICE_LOCAL))
    manager.begin_frame()
    manager.update_buffer(buf, b"a" * 1024)
    FAULTS.arm("staging")
    with pytest.raises(errors.OutOfDeviceMemoryError, match="staging"):
        manager.update_buffer(buf, b"b" * 64 * 1024)  # needs a bigger chunk
    manager.update_buffer(buf, b"c" * 1024, offset=1024)
    manager.end_frame()
    assert manager.read_buffer(buf, 0, 2048) == b"a" * 1024 + b"c" * 1024
    assert FAULTS.injected >= 1
    manager.close()

