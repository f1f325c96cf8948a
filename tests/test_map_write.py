"""Zero-copy writes: ``BufferManager.map_write`` on every strategy, and the lifetime of views."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from engine.buffers.manager import BufferManager
from engine.buffers.types import BufferConfig, BufferStrategy, BufferUsage
from engine.errors import (
    HostWriteHazardError,
    InvalidDataError,
    ManagerClosedError,
    MappedBufferChangedError,
    MappedWriteStateError,
    OutOfBoundsError,
)

VEC = np.dtype([("pos", "<f4", 3), ("w", "<f4")])
STRATEGIES = list(BufferStrategy)


def _make(manager: BufferManager, strategy: BufferStrategy, count: int = 64,
          dtype: np.dtype = VEC):
    return manager.create_buffer(BufferConfig("mapped", count * dtype.itemsize, strategy,
                                              BufferUsage.STORAGE, dtype))


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.value)
def test_map_write_reaches_the_buffer(buffer_manager, strategy):
    buf = _make(buffer_manager, strategy)
    buffer_manager.begin_frame()
    with buffer_manager.map_write(buf) as view:
        assert view.dtype == VEC and view.shape == (64,)
        view["pos"] = np.arange(64 * 3, dtype=np.float32).reshape(64, 3)
        view["w"] = 1.5
    buffer_manager.end_frame()
    got = buffer_manager.read_array(buf)
    assert np.array_equal(got["pos"].ravel(), np.arange(64 * 3, dtype=np.float32))
    assert np.all(got["w"] == 1.5)
    assert buf.generation == 1
    assert buffer_manager.statistics().mapped_writes_total == 1


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.value)
def test_map_write_offset_and_count_touch_only_their_range(buffer_manager, strategy):
    buf = _make(buffer_manager, strategy)
    buffer_manager.update_buffer(buf, np.ones(64, VEC))
    with buffer_manager.map_write(buf, offset=10 * VEC.itemsize, count=5) as view:
        assert view.shape == (5,)
        view["w"] = 7.0
        view["pos"] = 2.0
    got = buffer_manager.read_array(buf)
    assert np.all(got["w"][10:15] == 7.0) and np.all(got["w"][:10] == 1.0)
    assert np.all(got["w"][15:] == 1.0)


def test_host_views_show_the_contents_device_views_start_zeroed(buffer_manager):
    host = _make(buffer_manager, BufferStrategy.HOST_CACHED, 4, np.dtype(np.float32))
    dev = _make(buffer_manager, BufferStrategy.DEVICE_LOCAL, 4, np.dtype(np.float32))
    for buf in (host, dev):
        buffer_manager.update_buffer(buf, np.full(4, 3.0, np.float32))
    with buffer_manager.map_write(host) as view:
        assert np.all(view == 3.0)
        view += 1.0  # read-modify-write in place
    with buffer_manager.map_write(dev) as view:
        assert np.all(view == 0.0)
        view[:] = 9.0
    assert np.all(buffer_manager.read_array(host) == 4.0)
    assert np.all(buffer_manager.read_array(dev) == 9.0)


def test_a_raw_byte_view_of_a_typed_buffer(buffer_manager):
    buf = _make(buffer_manager, BufferStrategy.HOST_VISIBLE, 2)
    with buffer_manager.map_write(buf, np.uint8) as view:
        assert view.shape == (2 * VEC.itemsize,)
        view[:] = 0xFF
    assert buffer_manager.read_buffer(buf) == b"\xff" * (2 * VEC.itemsize)


def test_bad_arguments_change_nothing(buffer_manager):
    buf = _make(buffer_manager, BufferStrategy.DEVICE_LOCAL, 8)
    before = buffer_manager.statistics()
    with pytest.raises(OutOfBoundsError):
        buffer_manager.map_write(buf, count=9)
    with pytest.raises(InvalidDataError):
        buffer_manager.map_write(buf, dtype="not a dtype")
    with pytest.raises(InvalidDataError):
        buffer_manager.map_write(buf, dtype=object)
    after = buffer_manager.statistics()
    assert after.uploads_total == before.uploads_total
    assert after.staging_bytes_this_frame == before.staging_bytes_this_frame


def test_a_block_is_entered_once(buffer_manager):
    buf = _make(buffer_manager, BufferStrategy.HOST_VISIBLE, 8)
    block = buffer_manager.map_write(buf)
    with block:
        pass
    with pytest.raises(MappedWriteStateError), block:
        pass


def test_an_exception_in_a_device_local_block_delivers_nothing(buffer_manager):
    buf = _make(buffer_manager, BufferStrategy.DEVICE_LOCAL, 4, np.dtype(np.float32))
    buffer_manager.update_buffer(buf, np.full(4, 2.0, np.float32))
    with pytest.raises(RuntimeError), buffer_manager.map_write(buf) as view:
        view[:] = 5.0
        raise RuntimeError("user code failed")
    assert np.all(buffer_manager.read_array(buf) == 2.0)


def test_resize_inside_the_block_is_reported(buffer_manager):
    buf = _make(buffer_manager, BufferStrategy.DEVICE_LOCAL, 4, np.dtype(np.float32))
    with pytest.raises(MappedBufferChangedError), buffer_manager.map_write(buf) as view:
        view[:] = 1.0
        buffer_manager.resize_buffer(buf, 32)
    assert buf.generation == 2


def test_a_host_view_after_a_same_frame_submission_is_a_hazard(buffer_manager):
    from engine.binding.pipelines import FrameCommands

    m = buffer_manager
    buf = _make(m, BufferStrategy.HOST_VISIBLE, 4, np.dtype(np.float32))
    m.begin_frame()
    with m.map_write(buf) as view:
        view[:] = 1.0
    commands = FrameCommands(m)
    commands.submit(commands.begin())  # GPU work that may read it
    block = m.map_write(buf)
    with pytest.raises(HostWriteHazardError, match="same frame"):
        block.__enter__()
    assert np.all(m.read_array(buf) == 1.0)  # waits: the work is complete now
    with m.map_write(buf) as view:  # known complete: no hazard
        view[:] = 2.0
    m.end_frame()
    commands.close()
    assert np.all(m.read_array(buf) == 2.0)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.value)
def test_a_view_kept_past_destroy_resize_and_reuse_never_writes_into_another_buffer(
        buffer_manager, strategy):
    """The promise: a view held after its block (even after destroy, a resize and many
    frames of buffer churn) writes only into memory nobody else owns."""
    victim = _make(buffer_manager, strategy, 256, np.dtype(np.uint32))
    with buffer_manager.map_write(victim) as kept:
        kept[:] = 1
    resized = _make(buffer_manager, strategy, 256, np.dtype(np.uint32))
    with buffer_manager.map_write(resized) as kept_resized:
        kept_resized[:] = 2
    buffer_manager.resize_buffer(resized, 2048)
    # The copies of those writes (and the resize's) finish before the stale views are written
    # again below: writing a view whose copy is still pending would race with the GPU.
    assert np.all(buffer_manager.read_array(resized)[:256] == 2)
    buffer_manager.destroy_buffer(victim)
    kept_slice = kept[10:20]  # a slice keeps the memory too
    others = []
    for frame in range(12):  # churn: the freed space is up for reuse every frame
        buffer_manager.begin_frame()
        for _ in range(3):
            other = _make(buffer_manager, strategy, 256, np.dtype(np.uint32))
            buffer_manager.update_buffer(other, np.full(256, frame + 100, np.uint32))
            others.append(other)
        kept[:] = 0xDEAD  # the user writes through the stale views
        kept_slice[:] = 0xBEEF
        kept_resized[:] = 0xF00D
        buffer_manager.end_frame()
        if len(others) > 6:
            buffer_manager.destroy_buffer(others.pop(0))
    stats = buffer_manager.statistics()
    assert stats.pinned_views >= 1
    for i, other in enumerate(others):
        values = buffer_manager.read_array(other)
        assert np.all(values == values[0]) and values[0] >= 100, (i, values[:4])
    got = buffer_manager.read_array(resized)
    assert np.all(got[:256] == 2) and np.all(got[256:] == 0)
    del kept, kept_slice, kept_resized
    gc.collect()
    buffer_manager.begin_frame()
    buffer_manager.end_frame()
    assert buffer_manager.statistics().pinned_views == 0
    assert buffer_manager.statistics().pinned_waiting == 0


def test_staging_views_kept_across_frames_keep_their_chunk(buffer_manager):
    buf = _make(buffer_manager, BufferStrategy.DEVICE_LOCAL, 64, np.dtype(np.uint32))
    buffer_manager.begin_frame()
    with buffer_manager.map_write(buf) as stale:
        stale[:] = 5
    buffer_manager.end_frame()
    # Wait for that frame's copy first: a write into the view before the GPU has copied it
    # is the caller's hazard and would race with the copy (the result would depend on how
    # fast the device runs).
    assert np.all(buffer_manager.read_array(buf) == 5)
    other = _make(buffer_manager, BufferStrategy.DEVICE_LOCAL, 64, np.dtype(np.uint32))
    for frame in range(8):  # every slot recycles its ring several times
        buffer_manager.begin_frame()
        buffer_manager.update_buffer(other, np.full(64, frame, np.uint32))
        stale[:] = 0xBAD  # into the old staging chunk, which no upload uses any more
        buffer_manager.end_frame()
    assert np.all(buffer_manager.read_array(other) == 7)
    assert np.all(buffer_manager.read_array(buf) == 5)  # the stale chunk is never copied again


def test_close_with_a_live_view_keeps_the_memory_until_the_view_is_gone(vk_context):
    manager = BufferManager(vk_context)
    buf = _make(manager, BufferStrategy.HOST_VISIBLE, 16, np.dtype(np.float32))
    with manager.map_write(buf) as view:
        view[:] = 1.0
    manager.close()
    view[:] = 2.0  # still this process's memory: no crash, no corruption
    with pytest.raises(ManagerClosedError):
        manager.map_write(buf)
    assert manager.allocator.live_allocations > 0  # the view's block is still there
    del view
    gc.collect()
    assert manager.allocator.live_allocations == 0


def test_views_outliving_the_context_are_freed_when_they_go(validation):
    from engine.device.context import GraphicsContext

    ctx = GraphicsContext.create(validation=True)
    manager = BufferManager(ctx)
    buf = _make(manager, BufferStrategy.HOST_CACHED, 16, np.dtype(np.float32))
    with manager.map_write(buf) as view:
        view[:] = 1.0
    ctx.close()
    assert ctx.device is not None  # kept for the view
    view[3] = 4.0
    del view
    gc.collect()
    assert ctx.device is None
    validation.assert_clean("after the last view closed the device")
