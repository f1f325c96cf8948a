"""Non-blocking read-back: ``read_async`` and ``Readback``."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from engine.binding.pipelines import FrameCommands
from engine.buffers.manager import BufferManager
from engine.buffers.types import BufferConfig, BufferStrategy, BufferUsage
from engine.errors import (
    BufferDestroyedError,
    InvalidOffsetError,
    ReadbackCancelledError,
    ReadbackNotReadyError,
    WrongThreadError,
)

STRATEGIES = list(BufferStrategy)


def _buffer(manager, strategy, n=256):
    buf = manager.create_buffer(BufferConfig("data", n * 4, strategy, BufferUsage.STORAGE,
                                             np.dtype(np.uint32)))
    manager.update_buffer(buf, np.arange(n, dtype=np.uint32))
    return buf


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.value)
def test_a_readback_arrives_frames_later_without_waiting(buffer_manager, strategy):
    m = buffer_manager
    buf = _buffer(m, strategy)
    m.begin_frame()
    rb = m.read_async(buf, offset=16, size=64)
    if strategy is BufferStrategy.DEVICE_LOCAL:  # later staged writes are not in the snapshot
        m.update_buffer(buf, np.zeros(256, np.uint32))
    m.end_frame()
    frames = 0
    while not rb.ready:  # polls; the frames themselves never wait for it
        m.begin_frame()
        m.end_frame()
        frames += 1
        assert frames < 100
    got = rb.result()
    assert got.dtype == np.uint32 and list(got) == list(range(4, 20))
    assert not got.flags.writeable
    assert rb.result() is got
    stats = m.statistics()
    assert stats.readbacks_started_total == 1 and stats.readbacks_completed_total == 1
    assert stats.readback_fence_waits == 0 and stats.readbacks_pending == 0


def test_result_before_the_copy_completed_raises(buffer_manager):
    m = buffer_manager
    buf = _buffer(m, BufferStrategy.DEVICE_LOCAL)
    m.begin_frame()
    rb = m.read_async(buf)
    assert not rb.ready  # recorded, not even submitted yet
    with pytest.raises(ReadbackNotReadyError, match=r"poll \.ready"):
        rb.result()
    assert list(rb.wait()[:3]) == [0, 1, 2]  # still queued: wait submits it, then blocks
    assert m.statistics().readback_fence_waits == 1
    m.end_frame()


def test_the_copy_sees_gpu_writes_of_the_same_frame(buffer_manager):
    """A read recorded after the frame's GPU work reads what that work wrote (here a
    vkCmdFillBuffer through FrameCommands stands in for a compute shader)."""
    from engine.device.vk import lib

    m = buffer_manager
    buf = _buffer(m, BufferStrategy.DEVICE_LOCAL, 64)
    commands = FrameCommands(m)
    m.begin_frame()
    cmd = commands.begin()
    lib.vkCmdFillBuffer(cmd, buf.handle, 0, 64 * 4, 7)
    commands.submit(cmd)
    rb = m.read_async(buf, dtype=np.uint32)
    m.end_frame()
    assert np.all(rb.wait() == 7)
    commands.close()


def test_the_result_outlives_the_buffer_and_its_memory_is_not_reused(buffer_manager):
    m = buffer_manager
    buf = _buffer(m, BufferStrategy.HOST_VISIBLE)
    got = m.read_async(buf).wait()
    m.destroy_buffer(buf)
    for i in range(10):
        m.begin_frame()
        other = _buffer(m, BufferStrategy.HOST_CACHED)
        m.update_buffer(other, np.full(256, 1000 + i, np.uint32))
        m.end_frame()
        m.destroy_buffer(other)
    assert list(got[:4]) == [0, 1, 2, 3]
    assert m.statistics().pinned_views == 1
    del got
    gc.collect()
    m.begin_frame()
    m.end_frame()
    assert m.statistics().pinned_views == 0


def test_dropped_readbacks_give_their_memory_back(buffer_manager):
    m = buffer_manager
    buf = _buffer(m, BufferStrategy.DEVICE_LOCAL)
    live = m.allocator.live_allocations
    for _ in range(20):
        m.begin_frame()
        m.read_async(buf)  # dropped unread
        m.end_frame()
    for _ in range(4):
        m.begin_frame()
        m.end_frame()
    assert m.allocator.live_allocations <= live + 4  # only the last frames' reads remain
    assert m.statistics().readbacks_pending <= 4


def test_bad_arguments_and_states(buffer_manager):
    m = buffer_manager
    buf = _buffer(m, BufferStrategy.DEVICE_LOCAL)
    with pytest.raises(InvalidOffsetError):
        m.read_async(buf, offset=-4)
    with pytest.raises(InvalidOffsetError):
        m.read_async(buf, offset=2.5)
    before = m.statistics().readbacks_started_total
    rb = m.read_async(buf, dtype=np.float32)
    m.destroy_buffer(buf)
    with pytest.raises(BufferDestroyedError):
        m.read_async(buf)
    assert m.statistics().readbacks_started_total == before + 1
    assert rb.wait().dtype == np.float32  # the copy was recorded before the destroy

    import threading

    other = m.read_async(_buffer(m, BufferStrategy.HOST_CACHED))  # not taken: ready polls
    errors = []
    thread = threading.Thread(target=lambda: errors.append(_catch(lambda: other.ready)))
    thread.start()
    thread.join()
    assert isinstance(errors[0], WrongThreadError)
    assert list(other.wait()[:2]) == [0, 1]


def _catch(call):
    try:
        call()
    except Exception as exc:
        return exc
    return None


def test_unread_readbacks_are_cancelled_at_close(vk_context):
    m = BufferManager(vk_context)
    buf = _buffer(m, BufferStrategy.DEVICE_LOCAL)
    rb = m.read_async(buf)
    m.close()
    assert not rb.ready
    with pytest.raises(ReadbackCancelledError):
        rb.result()
    with pytest.raises(ReadbackCancelledError):
        rb.wait()


def test_the_readback_system_fills_the_component_frames_later(buffer_manager, frame_driver):
    import esper

    from components.readback import ReadbackRequest
    from engine.schedule import Phase, add_system
    from systems.readback_system import ReadbackSystem

    m = buffer_manager
    buf = _buffer(m, BufferStrategy.DEVICE_LOCAL, 8)

    class Counter(esper.Processor):  # writes the frame number into the buffer every frame
        def process(self, *args):
            m.update_buffer(buf, np.full(8, m.frame_number, np.uint32))

    frame_driver.install(m)
    add_system(Counter(), Phase.SIMULATE)
    ReadbackSystem.install(m)
    request = ReadbackRequest(buf, every=2)
    esper.create_entity(request)
    frame_driver.step(12)
    assert request.arrived >= 3 and request.latest is not None
    assert np.all(request.latest == request.latest_frame)  # the snapshot of its own frame
    assert request.latest_frame % 2 == 0 and request.latest_frame <= 11
    assert m.statistics().readback_fence_waits == 0
    assert len(request.in_flight) <= request.max_in_flight
