"""Defragmentation moves device-local buffers out of a sparse block, keeping their data."""

from __future__ import annotations

import pytest
from memory_fakes import MIB

from engine import BufferConfig, BufferStrategy, BufferUsage
from engine.buffers.defrag import defragment

pytestmark = pytest.mark.usefixtures("staged_uploads")  # staging mechanics are tested here

S = BufferStrategy


def _frames(m, n: int = 4) -> None:
    for _ in range(n):
        m.begin_frame()
        m.end_frame()


def test_defragment_empties_the_sparse_block(buffer_manager):
    m = buffer_manager
    events = []
    m.context.buffer_listeners.append(lambda buffer, event: events.append((buffer.name, event)))
    bufs = [m.create_buffer(BufferConfig(f"d{i}", MIB, S.DEVICE_LOCAL, BufferUsage.STORAGE))
            for i in range(24)]
    pool = m.allocator.pools[bufs[0].memory_type_index]
    first, second = (bufs[0].allocation.block, bufs[8].allocation.block)
    assert (first.size, second.size) == (8 * MIB, 16 * MIB) and len(pool.blocks) == 2
    for i, b in enumerate(bufs):  # lavapipe: the 4 MiB staging chunk gets a third block
        m.update_buffer(b, bytes([i + 1]) * 4096, offset=MIB - 4096)
    for b in bufs[:6] + bufs[8:12]:
        m.destroy_buffer(b)
    _frames(m)
    live = [b for b in bufs if b.alive]
    m.begin_frame()
    m.update_buffer(live[0], b"\xaa" * 16)  # a write queued before the move
    blocks = len(pool.blocks)
    report = defragment(m)
    m.update_buffer(live[1], b"\xbb" * 16)  # and one after it
    assert report.blocks_emptied == [(bufs[0].memory_type_index, first.block_id)]
    assert {b.name for b in report.moved} == {"d6", "d7"} and report.moves == 2
    assert all(b.generation == 2 for b in report.moved)
    assert all(b.allocation.block is not first for b in live)
    assert len(pool.blocks) == blocks  # no block was made for the moves
    replaced = sorted(e for e in events if e[1] == "replaced")
    assert replaced == [("d6", "replaced"), ("d7", "replaced")]
    m.end_frame()
    for b in live:
        i = bufs.index(b)
        assert m.read_buffer(b, MIB - 4096) == bytes([i + 1]) * 4096, b.name
    assert m.read_buffer(live[0], 0, 16) == b"\xaa" * 16
    assert m.read_buffer(live[1], 0, 16) == b"\xbb" * 16
    _frames(m)
    assert first.empty and pool.check() is None
    assert defragment(m).moves == 0  # nothing left to gain


def test_host_buffers_pin_their_block(buffer_manager):
    m = buffer_manager
    host = m.create_buffer(BufferConfig("host", 1024, S.HOST_VISIBLE))
    bufs = [m.create_buffer(BufferConfig(f"d{i}", MIB, S.DEVICE_LOCAL)) for i in range(24)]
    shared = [b for b in bufs if b.allocation.block is host.allocation.block]
    for b in shared[1:] + bufs[-4:]:
        m.destroy_buffer(b)
    _frames(m)
    report = defragment(m)
    if shared:  # lavapipe: one memory type, the host buffer pins the block
        assert shared[0].generation == 1 and shared[0] not in report.moved
    else:  # a discrete GPU: the host buffer lives in another memory type
        assert report.moves <= 1
