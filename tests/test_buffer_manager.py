"""BufferManager on the real driver: generation, data round trips, staging, frames, statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest

import engine.buffers.manager as bm_module
import engine.memory.vk_buffers as vkb_module
from engine import (
    BufferConfig,
    BufferManager,
    BufferStrategy,
    BufferUsage,
    GraphicsContext,
)

pytestmark = pytest.mark.usefixtures("staged_uploads")  # staging mechanics are tested here

STRATEGIES = list(BufferStrategy)


def make(manager: BufferManager, size: int = 1024, strategy: BufferStrategy =
         BufferStrategy.DEVICE_LOCAL, name: str = "buf") -> object:
    return manager.create_buffer(BufferConfig(name, size, strategy, BufferUsage.STORAGE))


def run_frame(manager: BufferManager) -> None:
    manager.begin_frame()
    manager.submit_uploads()
    manager.end_frame()


def test_new_buffer_has_generation_one_and_updates_never_change_it(buffer_manager):
    for strategy in STRATEGIES:
        buf = make(buffer_manager, 256, strategy)
        assert buf.generation == 1
        for i in range(1000):
            if i % 100 == 0:
                run_frame(buffer_manager) if strategy is BufferStrategy.DEVICE_LOCAL else None
            if strategy is BufferStrategy.DEVICE_LOCAL:
                buffer_manager.update_buffer(buf, np.full(64, i, np.uint32))
            else:
                buffer_manager.update_buffer(buf, np.full(64, i, np.uint32))
        assert buf.generation == 1, "data writes must never change the generation"
        assert np.frombuffer(buffer_manager.read_buffer(buf), np.uint32)[0] == 999


def test_each_resize_bumps_generation_by_exactly_one_and_changes_handle(buffer_manager):
    buf = make(buffer_manager, 64)
    handles = {int(bm_module.ffi.cast("uintptr_t", buf.handle))}
    for i, size in enumerate([128, 32, 4096, 100], start=2):
        buffer_manager.resize_buffer(buf, size)
        assert buf.generation == i
        assert buf.size == size
        handles.add(int(bm_module.ffi.cast("uintptr_t", buf.handle)))
    assert len(handles) == 5
    buffer_manager.resize_buffer(buf, 100)  # same size: no new VkBuffer
    assert buf.generation == 5


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.value)
@pytest.mark.parametrize("discrete_like", [False, True], ids=["native", "discrete_like"])
def test_round_trip_at_offsets_zero_odd_and_near_end(vk_context, strategy, discrete_like):
    manager = BufferManager(vk_context, discrete_like=discrete_like)
    size = 1000
    buf = make(manager, size, strategy)
    expected = bytearray(size)
    rng = np.random.default_rng(1)
    for offset, length in [(0, 100), (7, 33), (size - 13, 13), (size - 1, 1), (501, 64)]:
        data = rng.integers(0, 256, length, dtype=np.uint8)
        manager.update_buffer(buf, data, offset=offset)
        expected[offset:offset + length] = data.tobytes()
    assert manager.read_buffer(buf) == bytes(expected)
    assert manager.read_buffer(buf, 7, 33) == bytes(expected[7:40])
    manager.close()


def test_strategies_record_their_memory_type(vk_context, buffer_manager):
    for strategy in STRATEGIES:
        buf = make(buffer_manager, 64, strategy)
        flags = vk_context.memory_types[buf.memory_type_index].flags
        assert buf.memory_flags == flags
        if strategy is BufferStrategy.DEVICE_LOCAL:
            assert flags & 0x1
        else:
            assert flags & 0x2, "host strategies need HOST_VISIBLE memory"


def test_staged_upload_is_visible_after_the_frame_and_copied_once(buffer_manager):
    buf = make(buffer_manager, 4096)
    buffer_manager.begin_frame()
    data = np.arange(1024, dtype=np.float32)
    buffer_manager.update_buffer(buf, data)
    stats = buffer_manager.statistics()
    assert stats.uploads_this_frame == 1
    assert stats.staging_bytes_this_frame == 4096
    assert buffer_manager.submit_uploads() == 1
    buffer_manager.end_frame()
    np.testing.assert_array_equal(buffer_manager.read_array(buf, np.float32), data)


def test_overlapping_staged_writes_in_one_frame_apply_in_order(buffer_manager):
    buf = make(buffer_manager, 256)
    buffer_manager.begin_frame()
    buffer_manager.update_buffer(buf, b"\x01" * 256)
    buffer_manager.update_buffer(buf, b"\x02" * 100, offset=50)
    buffer_manager.update_buffer(buf, b"\x03" * 10, offset=60)
    buffer_manager.end_frame()
    expected = b"\x01" * 50 + b"\x02" * 10 + b"\x03" * 10 + b"\x02" * 80 + b"\x01" * 106
    assert buffer_manager.read_buffer(buf) == expected


def test_staging_ring_grows_instead_of_stalling_or_corrupting(vk_context):
    manager = BufferManager(vk_context, staging_bytes=4096)
    bufs = [make(manager, 3000, name=f"b{i}") for i in range(8)]
    manager.begin_frame()
    for i, buf in enumerate(bufs):
        manager.update_buffer(buf, bytes([i + 1]) * 3000)
    assert manager.statistics().staging_growths >= 2
    manager.end_frame()
    for i, buf in enumerate(bufs):
        assert manager.read_buffer(buf) == bytes([i + 1]) * 3000
    for _ in range(4):
        run_frame(manager)
    assert manager.statistics().staging_capacity >= 8 * 3000
    manager.close()


@pytest.mark.parametrize("frames_in_flight", [1, 2, 3, 4])
def test_destroyed_buffer_is_freed_exactly_when_its_frame_completed(
        vk_context, monkeypatch, frames_in_flight):
    manager = BufferManager(vk_context, frames_in_flight=frames_in_flight)
    freed_at: list[tuple[int, int]] = []
    real_destroy = vkb_module.destroy_vk_buffer

    def spy(ctx: GraphicsContext, handle: object) -> None:
        freed_at.append((manager.frame_number, manager.frames.completed_frame))
        real_destroy(ctx, handle)

    monkeypatch.setattr(vkb_module, "destroy_vk_buffer", spy)
    buf = make(manager, 256)
    for _ in range(3):
        run_frame(manager)
    manager.begin_frame()
    retire_frame = manager.frame_number
    manager.update_buffer(buf, b"x" * 256)  # the frame uses the buffer on the GPU
    manager.destroy_buffer(buf)
    manager.end_frame()
    assert not buf.alive
    for k in range(1, frames_in_flight):
        manager.begin_frame()
        assert manager.statistics().pending_destroy_count == 1, (
            f"freed {k} frame(s) after retiring, before the slot came round again")
        manager.end_frame()
    manager.begin_frame()
    assert manager.statistics().pending_destroy_count == 0
    assert freed_at == [(retire_frame + frames_in_flight, retire_frame + frames_in_flight - 1)]
    assert freed_at[0][1] >= retire_frame, "freed before its frame was known complete"
    manager.end_frame()
    manager.close()


def test_resize_keeps_contents_for_every_strategy(buffer_manager):
    for strategy in STRATEGIES:
        buf = make(buffer_manager, 256, strategy)
        data = np.arange(256, dtype=np.uint8)
        buffer_manager.update_buffer(buf, data)
        buffer_manager.resize_buffer(buf, 1024)
        assert buffer_manager.read_buffer(buf, 0, 256) == data.tobytes()
        buffer_manager.update_buffer(buf, b"\xaa" * 10, offset=1000)
        buffer_manager.resize_buffer(buf, 100)
        assert buffer_manager.read_buffer(buf) == data[:100].tobytes()


def test_resize_after_staged_write_in_same_frame_keeps_the_write(buffer_manager):
    buf = make(buffer_manager, 64)
    buffer_manager.begin_frame()
    buffer_manager.update_buffer(buf, b"\x07" * 64)
    buffer_manager.resize_buffer(buf, 128)
    buffer_manager.update_buffer(buf, b"\x09" * 64, offset=64)
    buffer_manager.end_frame()
    assert buffer_manager.read_buffer(buf) == b"\x07" * 64 + b"\x09" * 64


def test_statistics_match_what_was_created_updated_and_destroyed(buffer_manager):
    a = make(buffer_manager, 100, BufferStrategy.DEVICE_LOCAL, "a")
    b = make(buffer_manager, 200, BufferStrategy.HOST_VISIBLE, "b")
    c = make(buffer_manager, 300, BufferStrategy.HOST_CACHED, "c")
    buffer_manager.begin_frame()
    buffer_manager.update_buffer(a, b"1" * 100)
    buffer_manager.update_buffer(b, b"2" * 50)
    buffer_manager.destroy_buffer(c)
    stats = buffer_manager.statistics()
    assert stats.live_buffers == 2 and stats.live_bytes == 300
    assert stats.by_strategy["device_local"].bytes == 100
    assert stats.by_strategy["host_visible"].buffers == 1
    assert "host_cached" not in stats.by_strategy
    assert stats.pending_destroy_count == 1 and stats.pending_destroy_bytes == 300
    assert stats.uploads_this_frame == 1 and stats.upload_bytes_this_frame == 100
    assert stats.host_writes_this_frame == 1
    assert stats.buffers_created_total == 3 and stats.buffers_destroyed_total == 1
    assert stats.peak_live_buffers == 3 and stats.peak_live_bytes == 600
    assert stats.allocate_memory_calls >= 1, "memory came from vkAllocateMemory"
    parsed = json.loads(stats.to_json())
    assert parsed["by_memory_type"][str(a.memory_type_index)]["buffers"] >= 1
    buffer_manager.end_frame()
    table = buffer_manager.statistics().format_table()
    assert "live buffers" in table and "pending destroy" in table


def test_print_statistics_prints_a_table(buffer_manager, capsys):
    make(buffer_manager, 64)
    buffer_manager.print_statistics()
    out = capsys.readouterr().out
    assert "Buffer Manager Statistics" in out and "vkAllocateMemory calls" in out


def test_create_and_upload_accepts_any_usage(buffer_manager):
    data = np.arange(12, dtype=np.uint16)
    buf = buffer_manager.create_and_upload("idx", data, usage=BufferUsage.INDEX)
    assert buf.usage & BufferUsage.INDEX and buf.usage & BufferUsage.TRANSFER_DST
    assert buf.size == data.nbytes and buf.dtype == np.uint16
    np.testing.assert_array_equal(buffer_manager.read_array(buf), data)


def test_close_frees_live_and_retired_buffers_and_is_idempotent(vk_context):
    manager = BufferManager(vk_context)
    for i in range(5):
        make(manager, 64 * (i + 1), STRATEGIES[i % 3], f"b{i}")
    manager.destroy_buffer(make(manager, 64))
    manager.close()
    manager.close()
    assert manager.allocator.live_allocations == 0


def test_context_close_closes_open_managers(validation):
    ctx = GraphicsContext.create(validation=True)
    manager = BufferManager(ctx)
    make(manager, 64)
    ctx.close()
    assert manager.closed
    ctx.close()
    validation.assert_clean("after closing the context with a manager open")


def test_non_contiguous_and_multidimensional_arrays_are_uploaded_in_c_order(buffer_manager):
    buf = make(buffer_manager, 64, BufferStrategy.HOST_VISIBLE)
    grid = np.arange(32, dtype=np.uint16).reshape(4, 8)
    buffer_manager.update_buffer(buf, grid[:, ::2])  # non-contiguous view
    got = np.frombuffer(buffer_manager.read_buffer(buf, 0, 32), np.uint16)
    np.testing.assert_array_equal(got, grid[:, ::2].ravel())


def test_frame_uploads_ride_in_the_frames_render_submission(buffer_manager):
    from engine import FrameCommands

    commands = FrameCommands(buffer_manager)
    buf = make(buffer_manager, 256)
    run_frame(buffer_manager)  # set-up uploads (the zero fill) out of the way
    before = buffer_manager.statistics().submissions_total
    buffer_manager.begin_frame()
    buffer_manager.update_buffer(buf, b"\x05" * 256)
    assert buffer_manager.submit_uploads() == 1
    assert buffer_manager.statistics().submissions_total == before, "queued, not yet submitted"
    cmd = commands.begin()  # the frame's "render" work
    commands.submit(cmd)
    assert buffer_manager.statistics().submissions_total == before + 1, "one vkQueueSubmit"
    buffer_manager.end_frame()
    assert buffer_manager.statistics().submissions_total == before + 1
    assert buffer_manager.read_buffer(buf) == b"\x05" * 256
    commands.close()


def test_uploads_without_a_render_submission_go_at_end_frame(buffer_manager):
    buf = make(buffer_manager, 64)
    run_frame(buffer_manager)
    before = buffer_manager.statistics().submissions_total
    buffer_manager.begin_frame()
    buffer_manager.update_buffer(buf, b"\x06" * 64)
    buffer_manager.submit_uploads()
    buffer_manager.end_frame()
    assert buffer_manager.statistics().submissions_total == before + 1
    assert buffer_manager.read_buffer(buf) == b"\x06" * 64
