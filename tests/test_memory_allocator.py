"""Block suballocation: pure bookkeeping (hypothesis, fake blocks) and on the real device."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from memory_fakes import MIB, FakeAllocator, FakeBackend, fake_context

from engine import BufferConfig, BufferManager, BufferStrategy, BufferUsage
from engine.errors import NoSuitableMemoryTypeError, OutOfDeviceMemoryError
from engine.memory.allocator import preferred_block_size
from engine.memory.blocks import BlockPool

pytestmark = pytest.mark.usefixtures("staged_uploads")  # staging mechanics are tested here

S = BufferStrategy


def _address(view: np.ndarray) -> int:
    return int(view.__array_interface__["data"][0])


def make_pool(backend: FakeBackend, *, block: int = MIB, granule: int = 64) -> BlockPool:
    return BlockPool(backend, 0, 0xF, preferred_block_size=block, granule=granule)


# --- pure allocator logic ------------------------------------------------------------------

OPS = st.lists(st.one_of(
    st.tuples(st.just("alloc"), st.integers(1, 300_000),
              st.sampled_from([1, 4, 16, 64, 256, 4096, 65536])),
    st.tuples(st.just("free"), st.integers(0, 1 << 20), st.just(0)),
), max_size=120)


@settings(max_examples=150, deadline=None)
@given(ops=OPS)
def test_random_allocate_free_matches_the_model(ops):
    backend = FakeBackend()
    pool = make_pool(backend)
    live: list[tuple[object, int, int]] = []  # (allocation, alignment, fill byte)
    for n, (op, value, alignment) in enumerate(ops):
        if op == "alloc":
            a = pool.allocate(value, alignment, what=f"a{n}", map_memory=True)
            assert a.offset % alignment == 0 and a.offset % 64 == 0
            assert a.size == value and a.reserved >= value and a.reserved % 64 == 0
            assert a.offset + a.reserved <= a.block.size
            assert _address(a.view) - _address(a.block.view) == a.offset
            fill = n % 251 + 1
            a.view[:] = fill
            live.append((a, alignment, fill))
        elif live:
            a, _, _ = live.pop(value % len(live))
            pool.free(a)
            assert a.view is None
        pool.check()
        spans = sorted((id(a.block), a.offset, a.offset + a.reserved) for a, _, _ in live)
        for (b1, _, end), (b2, start, _) in itertools.pairwise(spans):
            assert b1 != b2 or end <= start, "overlapping allocations"
    for a, _, fill in live:  # nobody wrote over anybody
        assert (a.view == fill).all()
    for a, _, _ in live:
        pool.free(a)
    pool.check()
    assert pool.live_allocations == 0
    assert len(pool.blocks) <= 1 and len(backend.live) <= 1  # one empty block kept
    pool.close()
    assert backend.live == {} and pool.blocks == {}


def test_free_coalesces_with_both_neighbours():
    pool = make_pool(FakeBackend())
    a, b, c = (pool.allocate(1000, 16, what=n, map_memory=False) for n in "abc")
    assert (a.offset, b.offset, c.offset) == (0, 1024, 2048)
    pool.free(b)
    block = a.block
    assert block.free_ranges() == [(1024, 1024), (3072, block.size - 3072)]
    pool.free(a)
    assert block.free_ranges() == [(0, 2048), (3072, block.size - 3072)]
    pool.free(c)
    assert block.free_ranges() == [(0, block.size)]
    pool.check()


def test_best_fit_prefers_the_smallest_hole():
    pool = make_pool(FakeBackend())
    parts = [pool.allocate(size, 64, what=str(size), map_memory=False)
             for size in (4096, 64, 1024, 64)]
    pool.free(parts[0])
    pool.free(parts[2])
    again = pool.allocate(1000, 64, what="fit", map_memory=False)
    assert again.offset == parts[2].offset  # the 1 KiB hole, not the 4 KiB one


def test_large_alignment_is_honoured_and_padding_stays_free():
    pool = make_pool(FakeBackend())
    pool.allocate(64, 64, what="small", map_memory=False)
    big = pool.allocate(100, 65536, what="aligned", map_memory=False)
    assert big.offset == 65536
    assert (64, 65536 - 64) in big.block.free_ranges()
    pool.check()


def test_blocks_grow_from_an_eighth_of_the_preferred_size():
    backend = FakeBackend(host=False)
    pool = BlockPool(backend, 0, 1, preferred_block_size=64 * MIB, granule=16)
    for _ in range(24):
        pool.allocate(3 * MIB, 256, what="particles", map_memory=False)
    sizes = [b.size for b in pool.blocks.values()]
    assert sizes[:4] == [8 * MIB, 16 * MIB, 32 * MIB, 64 * MIB]
    assert backend.calls == len(sizes) <= 6


def test_a_refused_block_is_retried_smaller():
    backend = FakeBackend(limit=3 * MIB // 2)
    pool = make_pool(backend, block=8 * MIB)
    a = pool.allocate(MIB, 64, what="a", map_memory=True)
    assert backend.refused == [2 * MIB]  # the first block: 8 MiB / 4 (>= 2x the request)
    assert a.block.size == MIB
    with pytest.raises(OutOfDeviceMemoryError):
        pool.allocate(2 * MIB, 64, what="too big", map_memory=True)
    assert backend.refused[1:] == [4 * MIB, 2 * MIB]
    pool.check()


def test_one_empty_block_is_kept_per_pool():
    backend = FakeBackend()
    pool = make_pool(backend)
    first = [pool.allocate(400_000, 64, what="x", map_memory=False) for _ in range(6)]
    assert len(pool.blocks) >= 3
    for a in first:
        pool.free(a)
    assert len(pool.blocks) == 1 and len(backend.live) == 1
    pool.allocate(1000, 64, what="reuse", map_memory=False)
    assert backend.calls == 3 or len(backend.live) == 1  # reused, no new block made
    assert pool.release_empty() == 0


def test_double_free_and_mapping_device_memory_raise():
    pool = make_pool(FakeBackend(host=False))
    a = pool.allocate(64, 16, what="a", map_memory=False)
    pool.free(a)
    with pytest.raises(ValueError, match="freed twice"):
        pool.free(a)
    with pytest.raises(OutOfDeviceMemoryError, match="not host-visible"):
        pool.allocate(64, 16, what="mapped", map_memory=True)


def test_allocator_policy_on_a_discrete_like_device():
    alloc = FakeAllocator()
    device_type, host_type = alloc.ctx.memory_types[0], alloc.ctx.memory_types[1]
    assert alloc.granule(0) == 16 and alloc.granule(1) == 64  # atom in host-visible types
    small = alloc.allocate(100, device_type, what="ubo", map_memory=False, alignment=256)
    host = alloc.allocate(100, host_type, what="host", map_memory=True, alignment=16)
    assert not small.dedicated and small.reserved == 112 and host.reserved == 128
    big = alloc.allocate(33 * MIB, device_type, what="big", map_memory=False)
    assert big.dedicated and alloc.device_memory_count == 3 and alloc.allocate_calls == 3
    with pytest.raises(NoSuitableMemoryTypeError):
        alloc.allocate(64, device_type, what="map device", map_memory=True)
    for a in (small, host, big):
        alloc.free(a)
    assert alloc.live_allocations == 0 and alloc.device_memory_count == 2  # 1 empty per type
    alloc.close()
    assert alloc.device_live == {} and alloc.device_memory_count == 0


def test_allocation_count_limit_prefers_blocks_then_refuses():
    alloc = FakeAllocator(fake_context(max_allocations=4))
    t = alloc.ctx.memory_types[0]
    parts = [alloc.allocate(64, t, what="a", map_memory=False)]  # block 1
    parts += [alloc.allocate(size * MIB, t, what=str(size), map_memory=False)
              for size in (40, 40, 40, 20)]  # dedicated above 32 MiB
    assert [p.dedicated for p in parts] == [False, True, True, False, False]
    assert parts[3].block is parts[4].block  # 3/4 of the limit used: blocks from then on
    assert alloc.device_memory_count == 4
    with pytest.raises(OutOfDeviceMemoryError, match="maxMemoryAllocationCount"):
        alloc.allocate(30 * MIB, t, what="f", map_memory=False)
    for p in parts:
        alloc.free(p)
    alloc.close()
    assert alloc.device_live == {}


# --- on the device -------------------------------------------------------------------------


def test_ten_thousand_small_buffers_use_a_few_allocations(buffer_manager):
    m = buffer_manager
    strategies = list(S)
    buffers = [m.create_buffer(BufferConfig(f"u{i}", 16 + (i * 37) % 1000, strategies[i % 3],
                                            BufferUsage.UNIFORM)) for i in range(10_000)]
    assert m.allocator.allocate_calls <= 24, m.allocator.allocate_calls
    atom = m.context.limits.non_coherent_atom_size
    for b in buffers:
        a = b.allocation
        assert not a.dedicated and a.offset % 16 == 0
        if a.flags & 0x2:  # host-visible: atom-aligned span
            assert a.offset % atom == 0 and a.reserved % atom == 0
    memory = m.statistics().memory
    assert memory["total"]["allocations"] == 10_000
    assert memory["allocate_calls"] == m.allocator.allocate_calls
    for b in buffers:
        m.destroy_buffer(b)
    for _ in range(4):
        m.begin_frame()
        m.end_frame()
    memory = m.statistics().memory
    assert memory["total"]["allocations"] == 0
    assert all(t["blocks"] <= 1 for t in memory["types"].values())  # one empty block kept


def test_neighbouring_buffers_keep_their_data(buffer_manager):
    m = buffer_manager
    rng = np.random.default_rng(7)
    strategies = list(S)
    buffers: dict[int, tuple[object, bytes]] = {}

    def create(i: int) -> None:
        size = int(rng.integers(1, 3000))
        buf = m.create_buffer(BufferConfig(f"b{i}", size, strategies[i % 3], BufferUsage.STORAGE))
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        m.update_buffer(buf, data)
        buffers[i] = (buf, data)

    m.begin_frame()
    for i in range(60):
        create(i)
    m.end_frame()
    m.begin_frame()
    for i in list(buffers)[::2]:
        m.destroy_buffer(buffers.pop(i)[0])
    for i in range(60, 90):
        create(i)
    for i in list(buffers)[:8]:
        buf, data = buffers[i]
        if buf.strategy is S.DEVICE_LOCAL:
            m.resize_buffer(buf, buf.size + 500)
            buffers[i] = (buf, data + bytes(500))
    m.end_frame()
    for buf, data in buffers.values():
        assert m.read_buffer(buf) == data, buf.name
    assert m.allocator.allocate_calls <= 4


def test_large_buffer_gets_dedicated_memory(buffer_manager):
    m = buffer_manager
    threshold = m.allocator.dedicated_threshold(0)
    big = m.create_buffer(BufferConfig("big", threshold + 4096, S.HOST_VISIBLE))
    small = m.create_buffer(BufferConfig("small", 256, S.HOST_VISIBLE))
    assert big.allocation.dedicated and big.allocation.offset == 0
    assert not small.allocation.dedicated
    types = m.statistics().memory["types"]
    assert sum(t["dedicated"] for t in types.values()) == 1
    m.update_buffer(big, b"\x01\x02\x03", offset=threshold)
    assert m.read_buffer(big, threshold, 3) == b"\x01\x02\x03"
    calls = m.allocator.device_memory_count
    m.destroy_buffer(big)
    for _ in range(4):
        m.begin_frame()
        m.end_frame()
    assert m.allocator.device_memory_count == calls - 1


def test_host_blocks_are_mapped_once_and_views_slice_them(buffer_manager):
    m = buffer_manager
    a = m.create_buffer(BufferConfig("a", 100, S.HOST_CACHED))
    b = m.create_buffer(BufferConfig("b", 100, S.HOST_CACHED))
    assert a.allocation.memory == b.allocation.memory
    block = a.allocation.block
    assert block.view is not None and m.allocator.allocate_calls == 1
    for buf in (a, b):
        assert _address(buf.allocation.view) - _address(block.view) == buf.allocation.offset
    m.update_buffer(b, b"xyz")
    assert bytes(block.view[b.allocation.offset:b.allocation.offset + 3]) == b"xyz"


def test_non_coherent_flush_and_invalidate_stay_in_range(vk_context):
    m = BufferManager(vk_context, discrete_like=True)
    try:
        bufs = [m.create_buffer(BufferConfig(f"c{i}", 100 + i, S.HOST_CACHED)) for i in range(8)]
        for i, buf in enumerate(bufs):
            m.update_buffer(buf, bytes([i + 1]) * 50, offset=buf.size - 50)
        for i, buf in enumerate(bufs):
            assert m.read_buffer(buf, buf.size - 50) == bytes([i + 1]) * 50
    finally:
        m.close()


def test_staging_chunks_are_suballocated(buffer_manager):
    m = buffer_manager
    buf = m.create_buffer(BufferConfig("d", 1024, S.DEVICE_LOCAL))
    m.begin_frame()
    m.update_buffer(buf, b"\x05" * 1024)
    m.end_frame()
    chunk = m.staging_rings()[0].chunks[0]
    assert not chunk.allocation.dedicated and chunk.allocation.site == "staging"
    assert m.read_buffer(buf) == b"\x05" * 1024


def test_preferred_block_size_rule():
    assert preferred_block_size(8 * 1024 * MIB) == 64 * MIB
    assert preferred_block_size(2048 * MIB) == 64 * MIB
    assert preferred_block_size(256 * MIB) == 32 * MIB  # heap / 8 on small heaps
    assert preferred_block_size(4 * MIB) == MIB
    small = FakeAllocator(fake_context(heap_size=256 * MIB))
    assert small.block_size(0) == 32 * MIB and small.dedicated_threshold(0) == 16 * MIB
