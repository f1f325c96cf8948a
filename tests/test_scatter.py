"""Scatter updates: ``update_rows`` and ``update_ranges`` on every strategy."""

from __future__ import annotations

import numpy as np
import pytest

from engine.buffers.types import BufferConfig, BufferStrategy, BufferUsage
from engine.errors import InvalidDataError, InvalidOffsetError, InvalidRowsError

ROW = np.dtype([("pos", "<f4", 3), ("id", "<u4")])
STRATEGIES = list(BufferStrategy)


def _rows(n, start=0):
    rows = np.zeros(n, ROW)
    rows["pos"] = np.arange(start, start + n, dtype=np.float32)[:, None]
    rows["id"] = np.arange(start, start + n)
    return rows


def _typed(manager, strategy, n=1000):
    buf = manager.create_buffer(BufferConfig("rows", n * ROW.itemsize, strategy,
                                             BufferUsage.STORAGE, ROW))
    manager.update_buffer(buf, np.zeros(n, ROW))
    return buf


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.value)
def test_update_rows_matches_a_numpy_scatter(buffer_manager, strategy):
    buf = _typed(buffer_manager, strategy)
    rng = np.random.default_rng(3)
    indices = rng.choice(1000, size=300, replace=False)
    indices[:50] = np.arange(500, 550)  # a run of consecutive rows: one region
    indices = np.unique(indices)
    rng.shuffle(indices)
    rows = _rows(len(indices), 7)
    expected = np.zeros(1000, ROW)
    expected[indices] = rows
    buffer_manager.begin_frame()
    buffer_manager.update_rows(buf, indices, rows)
    buffer_manager.end_frame()
    got = buffer_manager.read_array(buf)
    assert np.array_equal(got, expected)
    stats = buffer_manager.statistics()
    assert stats.scatter_writes_total == 1
    if strategy is BufferStrategy.DEVICE_LOCAL:
        assert stats.scatter_regions_total < len(indices) - 40  # the run was merged


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.value)
def test_repeated_indices_take_the_last_row(buffer_manager, strategy):
    buf = _typed(buffer_manager, strategy, 16)
    rows = _rows(4, 1)
    buffer_manager.update_rows(buf, [3, 5, 3, 3], rows)
    got = buffer_manager.read_array(buf)
    assert got["id"][3] == rows["id"][3] and got["id"][5] == rows["id"][1]


def test_device_local_scatter_is_one_copy_with_merged_regions(buffer_manager):
    buf = _typed(buffer_manager, BufferStrategy.DEVICE_LOCAL, 100)
    before = buffer_manager.statistics()
    buffer_manager.update_rows(buf, np.arange(10, 60), _rows(50))
    buffer_manager.update_rows(buf, np.array([1, 3, 5], np.uint16), _rows(3, 100))
    stats = buffer_manager.statistics()
    assert stats.uploads_total - before.uploads_total == 2
    assert stats.scatter_regions_total - before.scatter_regions_total == 1 + 3
    got = buffer_manager.read_array(buf)
    assert np.array_equal(got["id"][10:60], np.arange(50))
    assert list(got["id"][[1, 3, 5]]) == [100, 101, 102]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.value)
def test_update_ranges_writes_sorted_and_merged(buffer_manager, strategy):
    buf = buffer_manager.create_buffer(BufferConfig("raw", 256, strategy))
    buffer_manager.update_buffer(buf, b"\x00" * 256)
    buffer_manager.update_ranges(buf, [(100, b"\x02" * 8), (0, b"\x01" * 4),
                                       (4, bytearray(b"\x03" * 4)), (250, np.uint16(0x0505))])
    got = buffer_manager.read_buffer(buf)
    assert got[:4] == b"\x01" * 4 and got[4:8] == b"\x03" * 4 and got[8:100] == b"\x00" * 92
    assert got[100:108] == b"\x02" * 8 and got[250:252] == b"\x05\x05"


def test_bad_scatter_arguments_change_nothing(buffer_manager):
    buf = _typed(buffer_manager, BufferStrategy.DEVICE_LOCAL, 8)
    raw = buffer_manager.create_buffer(BufferConfig("raw", 64, BufferStrategy.HOST_VISIBLE))
    before = buffer_manager.statistics()
    cases = [
        (InvalidRowsError, lambda: buffer_manager.update_rows(buf, [0, 8], _rows(2))),
        (InvalidRowsError, lambda: buffer_manager.update_rows(buf, [-1], _rows(1))),
        (InvalidRowsError, lambda: buffer_manager.update_rows(buf, [0.5], _rows(1))),
        (InvalidRowsError, lambda: buffer_manager.update_rows(buf, [True], _rows(1))),
        (InvalidRowsError, lambda: buffer_manager.update_rows(buf, [[0]], _rows(1))),
        (InvalidRowsError, lambda: buffer_manager.update_rows(buf, [0, 1], _rows(1))),
        (InvalidRowsError, lambda: buffer_manager.update_rows(buf, [0], np.zeros(1, "f4"))),
        (InvalidRowsError, lambda: buffer_manager.update_rows(raw, [0], _rows(1))),
        (InvalidRowsError, lambda: buffer_manager.update_ranges(raw, [(0, b"ab"), (1, b"c")])),
        (InvalidRowsError, lambda: buffer_manager.update_ranges(raw, [(60, b"12345")])),
        (InvalidRowsError, lambda: buffer_manager.update_ranges(raw, [(True, b"1")])),
        (InvalidRowsError, lambda: buffer_manager.update_ranges(raw, 5)),
        (InvalidRowsError, lambda: buffer_manager.update_ranges(raw, [(0, b"1", 2)])),
        (InvalidDataError, lambda: buffer_manager.update_ranges(raw, [(0, "text")])),
        (InvalidDataError, lambda: buffer_manager.update_ranges(buf, [(0, b"\x00" * 16)])),
        (InvalidOffsetError, lambda: buffer_manager.update_ranges(
            buf, [(4, np.zeros(1, ROW))])),
    ]
    for error, call in cases:
        with pytest.raises(error):
            call()
    after = buffer_manager.statistics()
    assert after.uploads_total == before.uploads_total
    assert after.scatter_writes_total == before.scatter_writes_total
    assert after.host_writes_this_frame == before.host_writes_this_frame
    assert np.all(buffer_manager.read_array(buf)["id"] == 0)


def test_many_device_local_rows_go_through_the_scatter_dispatch(buffer_manager):
    buf = _typed(buffer_manager, BufferStrategy.DEVICE_LOCAL, 100_000)
    rng = np.random.default_rng(5)
    indices = rng.choice(100_000, size=5_000, replace=False)
    rows = _rows(5_000, 3)
    before = buffer_manager.statistics().scatter_regions_total
    buffer_manager.begin_frame()
    buffer_manager.update_rows(buf, indices, rows)
    buffer_manager.end_frame()
    assert buffer_manager.statistics().scatter_regions_total - before == 1  # one dispatch
    expected = np.zeros(100_000, ROW)
    expected[indices] = rows
    assert np.array_equal(buffer_manager.read_array(buf), expected)


def test_many_rows_with_repeats_through_the_dispatch_take_the_last_row(buffer_manager):
    """Unique rows go to the dispatch in the caller's order; with a repeat the rows are
    sorted first and each repeated index keeps its last row, as for the small path."""
    buf = _typed(buffer_manager, BufferStrategy.DEVICE_LOCAL, 10_000)
    rng = np.random.default_rng(8)
    indices = rng.integers(0, 10_000, size=3_000)  # many repeats
    rows = _rows(3_000, 4)
    expected = np.zeros(10_000, ROW)
    for i, r in zip(indices.tolist(), rows, strict=True):
        expected[i] = r
    before = buffer_manager.statistics().scatter_regions_total
    buffer_manager.begin_frame()
    buffer_manager.update_rows(buf, indices, rows)
    buffer_manager.end_frame()
    assert buffer_manager.statistics().scatter_regions_total - before == 1  # one dispatch
    assert np.array_equal(buffer_manager.read_array(buf), expected)


def test_a_later_write_in_the_same_batch_keeps_call_order(buffer_manager):
    """update_rows, then update_buffer over some of the same rows, in one frame: the scatter
    falls back to region copies in call order, so the later write wins."""
    buf = _typed(buffer_manager, BufferStrategy.DEVICE_LOCAL, 1000)
    indices = np.arange(0, 1000, 7)
    buffer_manager.begin_frame()
    buffer_manager.update_rows(buf, indices, _rows(len(indices), 1))
    later = _rows(10, 500)
    buffer_manager.update_buffer(buf, later, offset=0)
    buffer_manager.end_frame()
    got = buffer_manager.read_array(buf)
    expected = np.zeros(1000, ROW)
    expected[indices] = _rows(len(indices), 1)
    expected[:10] = later
    assert np.array_equal(got, expected)


def test_scatter_without_storage_usage_uses_regions(buffer_manager):
    buf = buffer_manager.create_buffer(BufferConfig("vtx", 1000 * ROW.itemsize,
                                                    BufferStrategy.DEVICE_LOCAL,
                                                    BufferUsage.VERTEX, ROW))
    indices = np.arange(0, 1000, 3)
    buffer_manager.update_rows(buf, indices, _rows(len(indices)))
    got = buffer_manager.read_array(buf)
    assert np.array_equal(got[indices], _rows(len(indices)))
    assert buffer_manager.statistics().scatter_regions_total == len(indices)


def test_scatter_dispatches_recycle_their_descriptor_sets(buffer_manager):
    """More dispatches than one descriptor pool holds, over many frames: pools reset with
    their slot, memory and pools stay bounded, no validation message."""
    buf = _typed(buffer_manager, BufferStrategy.DEVICE_LOCAL, 10_000)
    rng = np.random.default_rng(9)
    for frame in range(12):
        buffer_manager.begin_frame()
        for _ in range(30):
            indices = rng.choice(10_000, size=100, replace=False)
            buffer_manager.update_rows(buf, indices, _rows(100, frame))
        buffer_manager.end_frame()
    indices = np.arange(100)
    buffer_manager.update_rows(buf, indices, _rows(100, 7))
    assert np.array_equal(buffer_manager.read_array(buf)[:100], _rows(100, 7))
