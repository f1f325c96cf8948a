"""Misuse raises its own EngineError subclass, names the buffer and the fix, and changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from engine import (
    BufferConfig,
    BufferManager,
    BufferStrategy,
    BufferUsage,
    errors,
)

pytestmark = pytest.mark.usefixtures("staged_uploads")  # staging mechanics are tested here

S = BufferStrategy


def snapshot(manager: BufferManager, buf) -> tuple:
    stats = manager.statistics()
    return (stats.live_buffers, stats.live_bytes, stats.pending_destroy_count,
            stats.uploads_total, stats.host_writes_this_frame, buf.generation, buf.size,
            manager.read_buffer(buf))


@pytest.fixture
def typed(buffer_manager):
    buf = buffer_manager.create_buffer(
        BufferConfig("lights", 64, S.HOST_VISIBLE, BufferUsage.STORAGE, np.dtype(np.float32)))
    buffer_manager.update_buffer(buf, np.arange(16, dtype=np.float32))
    return buf


@pytest.fixture(params=list(S), ids=lambda s: s.value)
def buf(request, buffer_manager):
    b = buffer_manager.create_buffer(BufferConfig("target", 64, request.param,
                                                  BufferUsage.UNIFORM))
    buffer_manager.update_buffer(b, bytes(range(64)))
    return b


UPDATE_CASES = [
    ("too many bytes", dict(data=b"x" * 65), errors.OutOfBoundsError, "resize_buffer"),
    ("past the end", dict(data=b"x" * 8, offset=60), errors.OutOfBoundsError, "64 bytes"),
    ("negative offset", dict(data=b"x", offset=-1), errors.InvalidOffsetError, "negative"),
    ("overflowing offset", dict(data=b"x", offset=1 << 64), errors.InvalidOffsetError,
     "64-bit"),
    ("float offset", dict(data=b"x", offset=1.5), errors.InvalidOffsetError, "integer"),
    ("bool offset", dict(data=b"x", offset=True), errors.InvalidOffsetError, "integer"),
    ("object array", dict(data=np.array([object()])), errors.InvalidDataError, "objects"),
    ("a list", dict(data=[1, 2, 3]), errors.InvalidDataError, "bytes-like"),
    ("a string", dict(data="abc"), errors.InvalidDataError, "bytes-like"),
    ("None", dict(data=None), errors.InvalidDataError, "bytes-like"),
    ("frame slot out of range", dict(data=b"x", frame_index=7), errors.InvalidFrameIndexError,
     "0 to 2"),
    ("negative frame slot", dict(data=b"x", frame_index=-1), errors.InvalidFrameIndexError,
     "slot"),
]


@pytest.mark.parametrize("case", UPDATE_CASES, ids=[c[0] for c in UPDATE_CASES])
def test_bad_update_raises_its_error_and_changes_nothing(buffer_manager, buf, case):
    _, kwargs, error, fragment = case
    before = snapshot(buffer_manager, buf)
    with pytest.raises(error) as info:
        buffer_manager.update_buffer(buf, **kwargs)
    assert isinstance(info.value, errors.EngineError)
    assert "'target'" in str(info.value), "the message names the buffer"
    assert fragment in str(info.value)
    assert snapshot(buffer_manager, buf) == before


def test_wrong_dtype_and_misaligned_offset_on_a_typed_buffer(buffer_manager, typed):
    before = snapshot(buffer_manager, typed)
    with pytest.raises(errors.InvalidDataError, match=r"astype"):
        buffer_manager.update_buffer(typed, np.zeros(4, np.float64))
    with pytest.raises(errors.InvalidDataError, match="raw bytes"):
        buffer_manager.update_buffer(typed, b"\0" * 4)
    with pytest.raises(errors.InvalidOffsetError, match="multiple of the element size 4"):
        buffer_manager.update_buffer(typed, np.zeros(1, np.float32), offset=2)
    assert snapshot(buffer_manager, typed) == before


def test_destroyed_buffer_cannot_be_used_or_destroyed_again(buffer_manager, buf):
    buffer_manager.destroy_buffer(buf)
    for call in (lambda: buffer_manager.update_buffer(buf, b"x"),
                 lambda: buffer_manager.destroy_buffer(buf),
                 lambda: buffer_manager.resize_buffer(buf, 128),
                 lambda: buffer_manager.read_buffer(buf)):
        with pytest.raises(errors.BufferDestroyedError, match=r"'target'.*create a new buffer"):
            call()
    assert buffer_manager.statistics().pending_destroy_count == 1


CREATE_CASES = [
    ("zero size", BufferConfig("z", 0), errors.InvalidSizeError, "positive"),
    ("negative size", BufferConfig("z", -5), errors.InvalidSizeError, "positive"),
    ("float size", BufferConfig("z", 1.5), errors.InvalidSizeError, "integer"),
    ("huge size", BufferConfig("z", 1 << 70), errors.InvalidSizeError, "64-bit"),
    ("bigger than the heap", BufferConfig("z", 1 << 50), errors.OutOfDeviceMemoryError,
     "heap"),
    ("unknown strategy", BufferConfig("z", 64, "fastest"), errors.InvalidStrategyError,
     "BufferStrategy.DEVICE_LOCAL"),
    ("empty usage", BufferConfig("z", 64, S.HOST_VISIBLE, 0), errors.InvalidUsageError,
     "empty"),
    ("unknown usage bits", BufferConfig("z", 64, S.HOST_VISIBLE, 1 << 30),
     errors.InvalidUsageError, "unknown bits"),
    ("empty name", BufferConfig("", 64), errors.InvalidNameError, "non-empty"),
    ("object dtype", BufferConfig("z", 64, dtype=np.dtype(object)), errors.InvalidDataError,
     "numeric"),
]


@pytest.mark.parametrize("case", CREATE_CASES, ids=[c[0] for c in CREATE_CASES])
def test_bad_create_raises_and_creates_nothing(buffer_manager, case):
    _, config, error, fragment = case
    before = buffer_manager.statistics()
    with pytest.raises(error, match=fragment):
        buffer_manager.create_buffer(config)
    after = buffer_manager.statistics()
    assert (after.live_buffers, after.allocate_memory_calls, after.live_allocations) == (
        before.live_buffers, before.allocate_memory_calls, before.live_allocations)


def test_not_a_config_and_bad_frame_index_on_create(buffer_manager):
    with pytest.raises(errors.InvalidDataError, match="BufferConfig"):
        buffer_manager.create_buffer({"name": "x", "size": 4})
    with pytest.raises(errors.InvalidFrameIndexError):
        buffer_manager.create_buffer(BufferConfig("x", 4), frame_index=3)


def test_bad_resize_sizes_keep_the_buffer(buffer_manager, buf):
    before = snapshot(buffer_manager, buf)
    for size, error in [(0, errors.InvalidSizeError), (-1, errors.InvalidSizeError),
                        ("8", errors.InvalidSizeError), (1 << 50, errors.OutOfDeviceMemoryError)]:
        with pytest.raises(error):
            buffer_manager.resize_buffer(buf, size)
    assert snapshot(buffer_manager, buf) == before


def test_foreign_buffer_is_refused(vk_context, buffer_manager):
    other = BufferManager(vk_context)
    foreign = other.create_buffer(BufferConfig("foreign", 16, S.HOST_VISIBLE))
    for call in (lambda: buffer_manager.update_buffer(foreign, b"x"),
                 lambda: buffer_manager.destroy_buffer(foreign),
                 lambda: buffer_manager.read_buffer(foreign)):
        with pytest.raises(errors.ForeignBufferError, match="another BufferManager"):
            call()
    with pytest.raises(errors.InvalidDataError, match="ManagedBuffer"):
        buffer_manager.update_buffer("not a buffer", b"x")
    other.close()


def test_frame_misordering_raises(buffer_manager):
    with pytest.raises(errors.FrameStateError, match="begin_frame"):
        buffer_manager.end_frame()
    with pytest.raises(errors.InvalidFrameIndexError, match="slot 0"):
        buffer_manager.begin_frame(1)
    buffer_manager.begin_frame(0)
    with pytest.raises(errors.FrameStateError, match="end_frame"):
        buffer_manager.begin_frame()
    buffer_manager.end_frame()
    with pytest.raises(errors.InvalidFrameIndexError, match="0 to 2"):
        buffer_manager.begin_frame(3)
    assert buffer_manager.begin_frame(1) == 1
    buffer_manager.end_frame()


@pytest.mark.parametrize("n", [0, 5, -1, 2.0, None])
def test_frames_in_flight_must_be_1_to_4(vk_context, n):
    with pytest.raises(errors.InvalidFrameIndexError, match="1 to 4"):
        BufferManager(vk_context, frames_in_flight=n)


def test_closed_manager_refuses_every_call(vk_context):
    manager = BufferManager(vk_context)
    buf = manager.create_buffer(BufferConfig("x", 16, S.HOST_VISIBLE))
    manager.close()
    for call in (lambda: manager.create_buffer(BufferConfig("y", 16)),
                 lambda: manager.update_buffer(buf, b"x"),
                 lambda: manager.begin_frame(),
                 lambda: manager.read_buffer(buf)):
        with pytest.raises((errors.ManagerClosedError, errors.BufferDestroyedError)):
            call()


def test_host_write_while_a_frame_may_read_it_raises_hazard(buffer_manager):
    ubo = buffer_manager.create_buffer(BufferConfig("ubo", 64, S.HOST_VISIBLE,
                                                    BufferUsage.UNIFORM))
    gpu_work = buffer_manager.create_buffer(BufferConfig("work", 64))
    buffer_manager.begin_frame()
    buffer_manager.update_buffer(ubo, b"a" * 64)
    buffer_manager.update_buffer(ubo, b"b" * 64)  # same frame: fine
    buffer_manager.update_buffer(gpu_work, b"w" * 64)  # the frame submits GPU work
    buffer_manager.end_frame()
    buffer_manager.begin_frame()
    with pytest.raises(errors.HostWriteHazardError, match="BufferSet"):
        buffer_manager.update_buffer(ubo, b"c" * 64)
    buffer_manager.end_frame()
    assert buffer_manager.read_buffer(ubo) == b"b" * 64


def test_one_frame_in_flight_never_hazards(vk_context):
    manager = BufferManager(vk_context, frames_in_flight=1)
    ubo = manager.create_buffer(BufferConfig("ubo", 64, S.HOST_VISIBLE, BufferUsage.UNIFORM))
    work = manager.create_buffer(BufferConfig("work", 64))
    for i in range(5):
        manager.begin_frame()
        manager.update_buffer(ubo, bytes([i]) * 64)
        manager.update_buffer(work, bytes([i]) * 64)
        manager.end_frame()
    manager.close()


def test_device_local_writes_every_frame_never_hazard(buffer_manager):
    buf = buffer_manager.create_buffer(BufferConfig("dl", 64, S.DEVICE_LOCAL))
    for i in range(6):
        buffer_manager.begin_frame()
        buffer_manager.update_buffer(buf, bytes([i]) * 64)
        buffer_manager.end_frame()
    assert buffer_manager.read_buffer(buf) == bytes([5]) * 64
