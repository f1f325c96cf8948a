"""Memory statistics per heap and memory type, and a JSON dump in VMA's format.

:func:`memory_statistics` is what ``BufferManager.statistics().memory`` holds: cheap enough for
every frame (it walks blocks and free ranges, not allocations). All sizes are bytes.

:func:`build_stats_string` writes the JSON of VMA's ``vmaBuildStatsString(allocator, &s,
detailedMap=VK_TRUE)`` (checked against ``vk_mem_alloc.h`` and ``tools/GpuMemDumpVis``), so
``python GpuMemDumpVis.py -o out.png dump.json`` draws our blocks. Keys: ``General`` (API,
apiVersion, GPU, deviceType, maxMemoryAllocationCount, bufferImageGranularity,
nonCoherentAtomSize, memoryHeapCount, memoryTypeCount), ``Total``, ``MemoryInfo`` ("Heap N":
Flags, Size, Budget {BudgetBytes, UsageBytes}, Stats, MemoryPools {"Type N": Flags, Stats}),
``DefaultPools`` ("Type N": PreferredBlockSize, Blocks {"id": MapRefCount, TotalBytes,
UnusedBytes, Allocations, UnusedRanges, Suballocations [Offset, Type, Size, Usage, Name]},
DedicatedAllocations [Type, Size, Usage, Name]) and ``CustomPools`` (always empty).

Deviations from VMA, all ignored by GpuMemDumpVis:

- a suballocation's ``Size`` is its reserved span (the request rounded up to the pool granule,
  see :mod:`engine.memory.type_choice`), so the ranges of a block tile it exactly;
  ``AllocationBytes``
  sums those spans;
- ``Usage`` is the buffer's ``VkBufferUsageFlags`` when a BufferManager is given (else 0), and
  an extra ``Strategy`` key names the strategy (``device_local``, ``staging``,
  ``pending_destroy``...); ``Name`` is the buffer name (or the allocating call);
- no ``CustomData`` pointers, and ``Type`` is always ``BUFFER`` (the pools hold buffers only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.device.vk import vk

if TYPE_CHECKING:
    from engine.memory.allocator import MemoryAllocator
    from engine.memory.blocks import Allocation

_TYPE_FLAG_NAMES = (
    (vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, "DEVICE_LOCAL"),
    (vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, "HOST_VISIBLE"),
    (vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, "HOST_COHERENT"),
    (vk.VK_MEMORY_PROPERTY_HOST_CACHED_BIT, "HOST_CACHED"),
    (vk.VK_MEMORY_PROPERTY_LAZILY_ALLOCATED_BIT, "LAZILY_ALLOCATED"),
    (0x20, "PROTECTED"),  # VK_MEMORY_PROPERTY_PROTECTED_BIT (absent from the bindings)
    (vk.VK_MEMORY_PROPERTY_DEVICE_COHERENT_BIT_AMD, "DEVICE_COHERENT_AMD"),
    (vk.VK_MEMORY_PROPERTY_DEVICE_UNCACHED_BIT_AMD, "DEVICE_UNCACHED_AMD"),
)
_HEAP_FLAG_NAMES = (
    (vk.VK_MEMORY_HEAP_DEVICE_LOCAL_BIT, "DEVICE_LOCAL"),
    (0x2, "MULTI_INSTANCE"),  # VK_MEMORY_HEAP_MULTI_INSTANCE_BIT (None in the bindings)
)
STAGING_USAGE = int(vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT | vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT)


@dataclass(frozen=True, slots=True)
class AllocationInfo:
    """What an allocation holds: name, ``VkBufferUsageFlags`` and strategy (or kind)."""

    name: str
    usage: int
    strategy: str


def resolve(source: Any) -> MemoryAllocator:
    """The allocator of a BufferManager (``.allocator``), or ``source`` itself."""
    allocator: MemoryAllocator = getattr(source, "allocator", source)
    return allocator


def describe_allocations(source: Any) -> dict[int, AllocationInfo]:
    """``id(allocation) -> AllocationInfo`` for what a BufferManager knows (empty otherwise).

    A BufferManager describes its own (``allocation_descriptions()``: live buffers by name,
    usage and strategy, retired ones as ``pending_destroy``, staging-ring chunks as
    ``staging``). Other allocations are described by :func:`info_of` from their own ``name``
    and ``site``.
    """
    if source is resolve(source):
        return {}
    descriptions: dict[int, AllocationInfo] = source.allocation_descriptions()
    return descriptions


def info_of(allocation: Allocation, described: dict[int, AllocationInfo]) -> AllocationInfo:
    """The description of one allocation; without a manager, by site and mapping."""
    info = described.get(id(allocation))
    if info is not None:
        return info
    if allocation.site == "staging":
        return AllocationInfo(allocation.name, STAGING_USAGE, "staging")
    kind = "host_visible" if allocation.view is not None else "device_local"
    return AllocationInfo(allocation.name, 0, kind)


# --- statistics ------------------------------------------------------------------------------


def _usage() -> dict[str, Any]:
    return {"blocks": 0, "block_bytes": 0, "dedicated": 0, "allocations": 0, "used_bytes": 0,
            "free_bytes": 0, "unused_ranges": 0, "largest_free": 0, "fragmentation": 0.0}


def _add(into: dict[str, Any], part: dict[str, Any]) -> None:
    for key in ("blocks", "block_bytes", "dedicated", "allocations", "used_bytes",
                "free_bytes", "unused_ranges"):
        into[key] += part[key]
    into["largest_free"] = max(into["largest_free"], part["largest_free"])
    _set_fragmentation(into)


def _set_fragmentation(usage: dict[str, Any]) -> None:
    free = usage["free_bytes"]
    usage["fragmentation"] = round(1.0 - usage["largest_free"] / free, 6) if free else 0.0


def type_usage(allocator: MemoryAllocator, type_index: int) -> dict[str, Any]:
    """Blocks, allocations, used/free bytes, largest free range and fragmentation of a type.

    Dedicated allocations count as a block with one allocation and no free range (as VMA).
    ``fragmentation`` is ``1 - largest_free / free_bytes`` (0 when nothing is free).
    """
    usage = _usage()
    pool = allocator.pools.get(type_index)
    if pool is not None:
        for block in pool.blocks.values():
            usage["blocks"] += 1
            usage["block_bytes"] += block.size
            usage["allocations"] += len(block.allocations)
            usage["used_bytes"] += block.used
            usage["unused_ranges"] += len(block.free_by_start)
        usage["largest_free"] = pool.largest_free
    for allocation in allocator.dedicated_allocations(type_index):
        usage["blocks"] += 1
        usage["dedicated"] += 1
        usage["block_bytes"] += allocation.reserved
        usage["allocations"] += 1
        usage["used_bytes"] += allocation.reserved
    usage["free_bytes"] = usage["block_bytes"] - usage["used_bytes"]
    _set_fragmentation(usage)
    return usage


def memory_statistics(allocator: MemoryAllocator) -> dict[str, Any]:
    """JSON-ready figures: ``total``, ``heaps`` and ``types`` (keys are indices as strings).

    Each heap adds ``size``, ``budget``, ``usage``, ``allocated`` (bytes) and
    ``budget_source``; each type adds ``flags``, ``heap``, ``preferred_block_size`` and
    ``dedicated_threshold``. ``allocate_calls`` and ``device_memory_objects`` count
    ``vkAllocateMemory`` calls so far and ``VkDeviceMemory`` objects alive.
    """
    ctx = allocator.ctx
    total = _usage()
    heaps: dict[str, dict[str, Any]] = {}
    for b in allocator.budget.heaps():
        heaps[str(b.heap_index)] = {"size": b.size, "budget": b.budget, "usage": b.usage,
                                    "allocated": b.allocated, "budget_source": b.source,
                                    **_usage()}
    types: dict[str, dict[str, Any]] = {}
    for mtype in ctx.memory_types:
        usage = type_usage(allocator, mtype.index)
        types[str(mtype.index)] = {
            "flags": hex(mtype.flags), "heap": mtype.heap_index,
            "preferred_block_size": allocator.block_size(mtype.index),
            "dedicated_threshold": allocator.dedicated_threshold(mtype.index), **usage}
        _add(heaps[str(mtype.heap_index)], usage)
        _add(total, usage)
    return {"allocate_calls": allocator.allocate_calls,
            "device_memory_objects": allocator.device_memory_count,
            "live_allocations": allocator.live_allocations,
            "total": total, "heaps": heaps, "types": types}


# --- VMA JSON --------------------------------------------------------------------------------


def _flag_names(flags: int, names: tuple[tuple[int, str], ...]) -> list[Any]:
    out: list[Any] = [name for bit, name in names if flags & bit]
    rest = flags & ~sum(bit for bit, _ in names)
    if rest:
        out.append(rest)
    return out


class _Detailed:
    """VMA's ``VmaDetailedStatistics``, printed as ``VmaPrintDetailedStatistics`` does."""

    def __init__(self) -> None:
        self.blocks = self.block_bytes = self.allocations = self.allocation_bytes = 0
        self.unused = 0
        self.alloc_sizes: list[int] = []
        self.unused_sizes: list[int] = []

    def add(self, other: _Detailed) -> None:
        self.blocks += other.blocks
        self.block_bytes += other.block_bytes
        self.allocations += other.allocations
        self.allocation_bytes += other.allocation_bytes
        self.unused += other.unused
        self.alloc_sizes += other.alloc_sizes
        self.unused_sizes += other.unused_sizes

    def to_json(self) -> dict[str, int]:
        out = {"BlockCount": self.blocks, "BlockBytes": self.block_bytes,
               "AllocationCount": self.allocations, "AllocationBytes": self.allocation_bytes,
               "UnusedRangeCount": self.unused}
        if self.allocations > 1:
            out["AllocationSizeMin"] = min(self.alloc_sizes)
            out["AllocationSizeMax"] = max(self.alloc_sizes)
        if self.unused > 1:
            out["UnusedRangeSizeMin"] = min(self.unused_sizes)
            out["UnusedRangeSizeMax"] = max(self.unused_sizes)
        return out


def _pool_json(allocator: MemoryAllocator, type_index: int,
               described: dict[int, AllocationInfo]) -> tuple[dict[str, Any], _Detailed]:
    stats = _Detailed()
    blocks: dict[str, Any] = {}
    pool = allocator.pools.get(type_index)
    for block in (pool.blocks.values() if pool is not None else ()):
        subs: list[dict[str, Any]] = []
        for offset, size, allocation in block.ranges():
            if allocation is None:
                subs.append({"Offset": offset, "Type": "FREE", "Size": size})
                stats.unused += 1
                stats.unused_sizes.append(size)
                continue
            info = info_of(allocation, described)
            subs.append({"Offset": offset, "Type": "BUFFER", "Size": size,
                         "Usage": info.usage, "Name": info.name, "Strategy": info.strategy})
            stats.alloc_sizes.append(size)
        stats.blocks += 1
        stats.block_bytes += block.size
        stats.allocations += len(block.allocations)
        stats.allocation_bytes += block.used
        blocks[str(block.block_id)] = {
            "MapRefCount": int(block.view is not None), "TotalBytes": block.size,
            "UnusedBytes": block.size - block.used, "Allocations": len(block.allocations),
            "UnusedRanges": len(block.free_by_start), "Suballocations": subs}
    dedicated = []
    for allocation in allocator.dedicated_allocations(type_index):
        info = info_of(allocation, described)
        dedicated.append({"Type": "BUFFER", "Size": allocation.reserved, "Usage": info.usage,
                          "Name": info.name, "Strategy": info.strategy})
        stats.blocks += 1
        stats.block_bytes += allocation.reserved
        stats.allocations += 1
        stats.allocation_bytes += allocation.reserved
        stats.alloc_sizes.append(allocation.reserved)
    return {"PreferredBlockSize": allocator.block_size(type_index), "Blocks": blocks,
            "DedicatedAllocations": dedicated}, stats


def build_stats_dict(source: Any, *, detailed_map: bool = True) -> dict[str, Any]:
    """The ``vmaBuildStatsString`` document as a dict (``source``: manager or allocator)."""
    allocator = resolve(source)
    described = describe_allocations(source)
    ctx = allocator.ctx
    api = int(ctx.api_version)
    lim = ctx.limits
    doc: dict[str, Any] = {"General": {
        "API": "Vulkan", "apiVersion": f"{api >> 22}.{(api >> 12) & 0x3FF}.{api & 0xFFF}",
        "GPU": ctx.device_name, "deviceType": int(ctx.device_type),
        "maxMemoryAllocationCount": lim.max_memory_allocation_count,
        "bufferImageGranularity": lim.buffer_image_granularity,
        "nonCoherentAtomSize": lim.non_coherent_atom_size,
        "memoryHeapCount": len(ctx.memory_heaps), "memoryTypeCount": len(ctx.memory_types)}}
    total = _Detailed()
    pools: dict[str, Any] = {}
    memory_info: dict[str, Any] = {}
    budgets = allocator.budget.heaps()
    for heap_index, (heap_size, heap_flags) in enumerate(ctx.memory_heaps):
        heap_stats = _Detailed()
        type_entries: dict[str, Any] = {}
        for mtype in ctx.memory_types:
            if mtype.heap_index != heap_index:
                continue
            pool_doc, type_stats = _pool_json(allocator, mtype.index, described)
            pools[f"Type {mtype.index}"] = pool_doc
            type_entries[f"Type {mtype.index}"] = {
                "Flags": _flag_names(mtype.flags, _TYPE_FLAG_NAMES),
                "Stats": type_stats.to_json()}
            heap_stats.add(type_stats)
        memory_info[f"Heap {heap_index}"] = {
            "Flags": _flag_names(heap_flags, _HEAP_FLAG_NAMES), "Size": heap_size,
            "Budget": {"BudgetBytes": budgets[heap_index].budget,
                       "UsageBytes": budgets[heap_index].usage},
            "Stats": heap_stats.to_json(), "MemoryPools": type_entries}
        total.add(heap_stats)
    doc["Total"] = total.to_json()
    doc["MemoryInfo"] = memory_info
    if detailed_map:
        doc["DefaultPools"] = dict(sorted(pools.items(), key=lambda kv: int(kv[0][5:])))
        doc["CustomPools"] = {}
    return doc


def build_stats_string(source: Any, *, detailed_map: bool = True, indent: int | None = 2
                       ) -> str:
    """:func:`build_stats_dict` as JSON text (write it to a file for GpuMemDumpVis)."""
    return json.dumps(build_stats_dict(source, detailed_map=detailed_map), indent=indent)
