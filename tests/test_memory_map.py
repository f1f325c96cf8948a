"""Memory statistics, the VMA-format JSON dump and the PNG memory map."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
from memory_fakes import MIB

from engine import BufferConfig, BufferStrategy, BufferUsage
from engine.memory.map_picture import COLOURS, LEGEND_HEIGHT, ROW_GAP, image_size, save_memory_map
from engine.memory.stats import build_stats_dict, build_stats_string

pytestmark = pytest.mark.usefixtures("staged_uploads")  # staging mechanics are tested here

S = BufferStrategy


def populate(m) -> list:
    strategies = list(S)
    bufs = [m.create_buffer(BufferConfig(f"buf{i}", 100 + 300 * i, strategies[i % 3],
                                         BufferUsage.VERTEX if i % 2 else BufferUsage.UNIFORM))
            for i in range(30)]
    m.create_buffer(BufferConfig("big", 40 * MIB, S.HOST_VISIBLE))  # dedicated
    m.begin_frame()
    for b in bufs[::4]:
        m.destroy_buffer(b)  # pending destroy until frame 0 completes: still in the blocks
    m.update_buffer(bufs[3], b"\x01" * 64)  # a staging chunk
    return bufs


def test_statistics_per_heap_and_type(buffer_manager):
    populate(buffer_manager)
    memory = buffer_manager.statistics().memory
    total = memory["total"]
    assert total["allocations"] == buffer_manager.allocator.live_allocations == 30 + 1 + 1
    assert total["dedicated"] == 1 and total["blocks"] >= 2
    assert total["block_bytes"] == total["used_bytes"] + total["free_bytes"]
    assert 0 < total["largest_free"] <= total["free_bytes"]
    assert 0.0 <= total["fragmentation"] < 1.0
    assert total["fragmentation"] == round(1 - total["largest_free"] / total["free_bytes"], 6)
    for index, t in memory["types"].items():
        heap = memory["heaps"][str(t["heap"])]
        assert heap["block_bytes"] >= t["block_bytes"], index
    json.dumps(buffer_manager.statistics().to_dict())  # serialisable
    table = buffer_manager.statistics().format_table()
    assert "heap 0" in table and "fragmentation" in table and "dedicated" in table


def test_json_dump_has_vma_shape_and_matches_statistics(buffer_manager):
    m = buffer_manager
    populate(m)
    doc = json.loads(build_stats_string(m))
    memory = m.statistics().memory
    total = memory["total"]
    assert doc["General"]["API"] == "Vulkan" and doc["General"]["GPU"] == m.context.device_name
    assert doc["General"]["memoryTypeCount"] == len(m.context.memory_types)
    assert doc["Total"]["BlockCount"] == total["blocks"]
    assert doc["Total"]["BlockBytes"] == total["block_bytes"]
    assert doc["Total"]["AllocationCount"] == total["allocations"]
    assert doc["Total"]["AllocationBytes"] == total["used_bytes"]
    assert doc["Total"]["UnusedRangeCount"] == total["unused_ranges"]
    for name, heap in doc["MemoryInfo"].items():
        ours = memory["heaps"][name.split()[1]]
        assert heap["Budget"] == {"BudgetBytes": ours["budget"], "UsageBytes": ours["usage"]}
        assert heap["Size"] == ours["size"]
        for type_name, pool in heap["MemoryPools"].items():
            assert pool["Stats"]["BlockBytes"] == memory["types"][type_name.split()[1]][
                "block_bytes"]
    assert doc["CustomPools"] == {}
    # What GpuMemDumpVis reads: DefaultPools / "Type N" / Blocks {id: {...}} and dedicated.
    names = set()
    for pool in doc["DefaultPools"].values():
        for block in pool["Blocks"].values():
            offset = 0
            for sub in block["Suballocations"]:
                assert sub["Offset"] == offset and sub["Size"] > 0
                assert sub["Type"] in ("FREE", "BUFFER")
                offset += sub["Size"]
                names.add(sub.get("Name"))
            assert offset == int(block["TotalBytes"])
            assert block["UnusedBytes"] == sum(
                s["Size"] for s in block["Suballocations"] if s["Type"] == "FREE")
        for dedicated in pool["DedicatedAllocations"]:
            assert {"Type", "Size", "Usage"} <= dedicated.keys()
            names.add(dedicated["Name"])
    assert {"buf1", "big", "staging[0]#0", "buf0"} <= names  # buf0 is pending destroy
    strategies = {s.get("Strategy") for p in doc["DefaultPools"].values()
                  for b in p["Blocks"].values() for s in b["Suballocations"]}
    assert {"device_local", "host_visible", "host_cached", "staging",
            "pending_destroy"} <= strategies
    uniform = [s for p in doc["DefaultPools"].values() for b in p["Blocks"].values()
               for s in b["Suballocations"] if s.get("Name") == "buf2"]
    assert uniform[0]["Usage"] & 0x10  # VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT
    assert "DefaultPools" not in build_stats_dict(m, detailed_map=False)


def read_png(path) -> tuple[int, int, np.ndarray]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        chunks[tag] = chunks.get(tag, b"") + body
        pos += 12 + length
    w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour, interlace) == (8, 2, 0) and b"IEND" in chunks
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + 3 * w)
    assert (raw[:, 0] == 0).all()
    return w, h, raw[:, 1:].reshape(h, w, 3)


def test_memory_map_png(buffer_manager, tmp_path):
    m = buffer_manager
    path = tmp_path / "memory.png"
    host = m.create_buffer(BufferConfig("host", 512 * 1024, S.HOST_VISIBLE))
    assert host.allocation.offset == 0
    populate(m)
    rows = sum(len(p.blocks) for p in m.allocator.pools.values()) + sum(
        len(m.allocator.dedicated_allocations(t.index)) for t in m.context.memory_types)
    size = save_memory_map(m, path, width=800, row_height=10)
    assert size == image_size(rows, width=800, row_height=10)
    w, h, pixels = read_png(path)
    assert (w, h) == size == (800, LEGEND_HEIGHT + ROW_GAP + rows * (10 + ROW_GAP))
    for i, colour in enumerate(COLOURS.values()):  # the legend strip
        assert tuple(pixels[5, 2 + i * 28 + 10]) == colour
    block = host.allocation.block
    row = 0  # rows: memory types in order, each type's blocks by id, then its dedicated
    for t in m.context.memory_types[:host.memory_type_index]:
        pool = m.allocator.pools.get(t.index)
        row += (len(pool.blocks) if pool else 0) + len(m.allocator.dedicated_allocations(t.index))
    row += sorted(m.allocator.pools[host.memory_type_index].blocks).index(block.block_id)
    first_row = LEGEND_HEIGHT + ROW_GAP + row * (10 + ROW_GAP) + 5
    x = int(0.5 * host.allocation.reserved / block.size * w)
    assert tuple(pixels[first_row, x]) == COLOURS["host_visible"]
    assert tuple(pixels[first_row, w - 1]) == COLOURS["free"]


def test_memory_map_of_a_bare_allocator(buffer_manager, tmp_path):
    path = tmp_path / "empty.png"
    assert save_memory_map(buffer_manager.allocator, path) == image_size(0)
    buffer_manager.create_buffer(BufferConfig("d", 4096, S.DEVICE_LOCAL))
    w, h, _ = read_png(path) if save_memory_map(buffer_manager.allocator, path) else (0, 0, 0)
    assert (w, h) == image_size(1)
