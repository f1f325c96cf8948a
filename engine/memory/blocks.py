"""Block suballocation: pure bookkeeping over ``VkDeviceMemory`` blocks, testable without Vulkan.

A :class:`BlockPool` serves one memory type. It owns blocks (one ``VkDeviceMemory`` each, made
and destroyed through a :class:`BlockBackend`) and hands out :class:`Allocation` ranges in them.

Fit policy: **best fit over one pool-wide index of free ranges**, sorted by (size, block id,
offset) and searched with ``bisect``. A request of ``n`` bytes aligned to ``a`` first looks at
the few smallest ranges of at least ``n`` bytes (their aligned start may not leave room), then at
the first range of at least ``n + a - granule`` bytes, which always fits. Freeing coalesces with
both neighbours in O(1) (dicts keyed by start and by end). Cost: O(log F) searches plus an
O(F) list insert/delete (a C ``memmove``) where F is the number of free ranges in the pool.

Units and alignment: all sizes and offsets are bytes. Every reserved span starts and ends on a
multiple of the pool's ``granule`` (16 bytes, or ``nonCoherentAtomSize`` for host-visible types,
see :mod:`engine.memory.type_choice`), so free ranges are granule multiples too and the alignment
padding of
power-of-two alignments up to the granule is always zero.

Block sizes: a pool's first blocks are smaller than its preferred size (1/8, then 1/4, 1/2:
each new block is the largest of those that still is bigger than every existing block and at
least twice the request), as VMA does, so a program with a few buffers does not map 64 MiB.
If the backend refuses a block (out of memory or over budget) the pool retries with halved
sizes down to the request itself.

Empty blocks are released with hysteresis: a pool keeps at most ``keep_empty`` (1) empty block,
so a buffer that is created and destroyed every frame does not call vkAllocateMemory each time.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from engine.errors import NoRoomError, OutOfDeviceMemoryError

ByteView = np.ndarray[Any, np.dtype[np.uint8]]


@dataclass(eq=False, slots=True)
class Allocation:
    """A range of device memory: ``memory`` handle, ``offset`` and ``size`` in bytes.

    Attributes:
        memory: the ``VkDeviceMemory`` (of the block, or the dedicated allocation).
        offset: start of the range in ``memory`` (a multiple of the requested alignment).
        size: the bytes asked for.
        type_index, flags: the memory type and its ``VkMemoryPropertyFlags``.
        view: writable ``np.uint8`` array over exactly ``size`` mapped bytes (host types, when
            mapping was asked for), a slice of the block's persistent mapping. Dropped (set to
            None) when the allocation is freed; the block is unmapped only when it is released.
        dedicated: True for a ``VkDeviceMemory`` of its own.
        block: the :class:`Block` it lives in (None when dedicated).
        reserved: bytes reserved from ``offset`` (>= size, a multiple of the pool granule);
            nothing else lives in ``[offset, offset + reserved)``, so flush and invalidate may
            round to ``nonCoherentAtomSize`` within it.
        name: label for statistics and the JSON dump (e.g. ``"create_buffer('ubo')"``).
        site: allocation site (``"buffer"``, ``"staging"``...), used for map colours.
        pins: zero-copy views over this range still alive (:mod:`engine.memory.pins`); a
            pinned range is not reused, and its memory is not freed, until they are gone.
    """

    memory: Any
    offset: int
    size: int
    type_index: int
    flags: int
    view: ByteView | None = None
    dedicated: bool = True
    block: Block | None = field(default=None, repr=False)
    reserved: int = 0
    name: str = ""
    site: str = "buffer"
    freed: bool = False
    pins: int = 0


class BlockBackend(Protocol):
    """Makes and destroys the ``VkDeviceMemory`` of blocks (the real one is the allocator)."""

    def create_block_memory(self, type_index: int, size: int, *, what: str
                            ) -> tuple[Any, ByteView | None]:
        """Allocate ``size`` bytes (mapped persistently when host-visible): (memory, view).

        Raises OutOfDeviceMemoryError when the device (or the budget) refuses.
        """
        ...

    def destroy_block_memory(self, type_index: int, memory: Any, size: int, mapped: bool
                             ) -> None:
        """Unmap (if ``mapped``) and free a block made by :meth:`create_block_memory`."""
        ...


@dataclass(eq=False, slots=True)
class Block:
    """One ``VkDeviceMemory`` of ``size`` bytes and its free ranges."""

    block_id: int
    memory: Any
    size: int
    view: ByteView | None
    free_by_start: dict[int, int] = field(default_factory=dict)  # start -> size
    free_by_end: dict[int, int] = field(default_factory=dict)  # end -> start
    allocations: dict[int, Allocation] = field(default_factory=dict)  # offset -> allocation
    used: int = 0  # reserved bytes

    @property
    def empty(self) -> bool:
        return not self.allocations

    def free_ranges(self) -> list[tuple[int, int]]:
        """(offset, size) of every free range, by offset."""
        return sorted(self.free_by_start.items())

    def ranges(self) -> Iterator[tuple[int, int, Allocation | None]]:
        """(offset, size, allocation or None for free) covering the block, by offset.

        Allocation ranges are their reserved spans.
        """
        items: list[tuple[int, int, Allocation | None]] = [
            (o, a.reserved, a) for o, a in self.allocations.items()]
        items += [(o, s, None) for o, s in self.free_by_start.items()]
        items.sort(key=lambda t: t[0])
        yield from items


def align_up(value: int, alignment: int) -> int:
    """``value`` rounded up to a multiple of ``alignment`` (any positive integer)."""
    return -(-value // alignment) * alignment


def align_down(value: int, alignment: int) -> int:
    """``value`` rounded down to a multiple of ``alignment`` (any positive integer)."""
    return value // alignment * alignment


class BlockPool:
    """The blocks of one memory type and a best-fit free-range index over all of them.

    Args:
        backend: makes and destroys block memory.
        type_index, flags: the memory type served (flags are copied into allocations).
        preferred_block_size: the largest block made for ordinary requests (bytes).
        granule: every reserved span starts and ends on a multiple of it (bytes).
        keep_empty: empty blocks kept for reuse (hysteresis); more are released.
    """

    SCAN = 8
    """Smallest fitting-size candidates tried before the always-fitting bigger bucket."""

    def __init__(self, backend: BlockBackend, type_index: int, flags: int, *,
                 preferred_block_size: int, granule: int, keep_empty: int = 1) -> None:
        if preferred_block_size % granule:
            raise ValueError("preferred_block_size must be a multiple of granule")
        self.backend = backend
        self.type_index = type_index
        self.flags = flags
        self.preferred_block_size = preferred_block_size
        self.granule = granule
        self.keep_empty = keep_empty
        self.blocks: dict[int, Block] = {}
        self._index: list[tuple[int, int, int]] = []  # (size, block_id, start), sorted
        self._next_id = 0
        self.live_allocations = 0
        self.dedicated_threshold = preferred_block_size // 2
        """Set by the allocator: bigger requests bypass the pool (bytes)."""
        self.excluded: set[int] = set()
        """Block ids that get no new allocations (set while defragmenting)."""
        self.allow_new_blocks = True
        """False while defragmenting: a request that fits no free range raises NoRoomError."""

    # --- allocation ------------------------------------------------------------------------

    def allocate(self, size: int, alignment: int, *, what: str, map_memory: bool,
                 site: str = "buffer") -> Allocation:
        """Reserve ``size`` bytes at a multiple of ``alignment`` in some block (bytes).

        A new block is made when no free range fits. Raises OutOfDeviceMemoryError when the
        backend refuses every block size that could hold the request.
        """
        g = self.granule
        need = align_up(max(size, 1), g)
        alignment = math.lcm(max(alignment, 1), g)
        found = self._find(need, alignment) if not self.excluded else self._find_slow(
            need, alignment)
        if found is None:
            if not self.allow_new_blocks:
                raise NoRoomError(f"{what}: no free range of {need} bytes in the blocks of "
                                  f"memory type {self.type_index} (new blocks are off).")
            self._new_block(need, what)
            found = self._find(need, alignment)
            assert found is not None
        entry, start = found
        block = self.blocks[entry[1]]
        self._take(block, entry, start, need)
        view = None
        if map_memory:
            if block.view is None:
                raise OutOfDeviceMemoryError(
                    f"{what}: memory type {self.type_index} (flags {self.flags:#x}) is not "
                    "host-visible, so it cannot be mapped; pick a host strategy.")
            view = block.view[start:start + size]
        allocation = Allocation(block.memory, start, size, self.type_index, self.flags, view,
                                False, block, need, what, site)
        block.allocations[start] = allocation
        block.used += need
        self.live_allocations += 1
        return allocation

    def _find(self, need: int, alignment: int) -> tuple[tuple[int, int, int], int] | None:
        index = self._index
        i = bisect.bisect_left(index, (need, -1, -1))
        for entry in index[i:i + self.SCAN]:
            size, _bid, start = entry
            aligned = align_up(start, alignment)
            if aligned + need <= start + size:
                return entry, aligned
        j = bisect.bisect_left(index, (need + alignment - self.granule, -1, -1), lo=i)
        if j < len(index):
            entry = index[j]
            return entry, align_up(entry[2], alignment)
        return None

    def _find_slow(self, need: int, alignment: int
                   ) -> tuple[tuple[int, int, int], int] | None:
        """Best fit skipping :attr:`excluded` blocks (defragmentation only; O(F))."""
        index = self._index
        for k in range(bisect.bisect_left(index, (need, -1, -1)), len(index)):
            size, bid, start = entry = index[k]
            aligned = align_up(start, alignment)
            if bid not in self.excluded and aligned + need <= start + size:
                return entry, aligned
        return None

    def _take(self, block: Block, entry: tuple[int, int, int], start: int, need: int) -> None:
        size, _bid, free_start = entry
        self._unindex(entry)
        del block.free_by_start[free_start]
        del block.free_by_end[free_start + size]
        if start > free_start:
            self._add_free(block, free_start, start - free_start)
        end = start + need
        if end < free_start + size:
            self._add_free(block, end, free_start + size - end)

    def _add_free(self, block: Block, start: int, size: int) -> None:
        block.free_by_start[start] = size
        block.free_by_end[start + size] = start
        bisect.insort(self._index, (size, block.block_id, start))

    def _unindex(self, entry: tuple[int, int, int]) -> None:
        index = self._index
        i = bisect.bisect_left(index, entry)
        assert index[i] == entry
        del index[i]

    def _new_block(self, need: int, what: str) -> Block:
        size = self.preferred_block_size
        largest = max((b.size for b in self.blocks.values()), default=0)
        for _ in range(3):
            smaller = size // 2
            if smaller % self.granule == 0 and smaller > largest and smaller >= need * 2:
                size = smaller
            else:
                break
        size = max(size, align_up(need, self.granule))
        while True:
            try:
                memory, view = self.backend.create_block_memory(self.type_index, size, what=what)
                break
            except OutOfDeviceMemoryError:
                smaller = align_up(size // 2, self.granule)
                if smaller < need or smaller == size:
                    raise
                size = smaller
        block = Block(self._next_id, memory, size, view)
        self._next_id += 1
        self.blocks[block.block_id] = block
        self._add_free(block, 0, size)
        return block

    # --- free ------------------------------------------------------------------------------

    def free(self, allocation: Allocation) -> None:
        """Return ``allocation``'s span; coalesce; release a surplus empty block."""
        block = allocation.block
        if block is None or block.allocations.get(allocation.offset) is not allocation:
            raise ValueError(f"free({allocation.name!r}): not a live allocation of memory "
                             f"type {self.type_index}'s pool (freed twice?)")
        allocation.view = None
        allocation.freed = True
        del block.allocations[allocation.offset]
        block.used -= allocation.reserved
        self.live_allocations -= 1
        start, size = allocation.offset, allocation.reserved
        before = block.free_by_end.get(start)
        if before is not None:
            before_size = start - before
            self._unindex((before_size, block.block_id, before))
            del block.free_by_start[before]
            del block.free_by_end[start]
            start, size = before, size + before_size
        after_size = block.free_by_start.get(start + size)
        if after_size is not None:
            self._unindex((after_size, block.block_id, start + size))
            del block.free_by_start[start + size]
            del block.free_by_end[start + size + after_size]
            size += after_size
        self._add_free(block, start, size)
        if block.empty:
            self._release_surplus_empty()

    def _release_surplus_empty(self) -> None:
        empty = sorted((b for b in self.blocks.values() if b.empty), key=lambda b: b.size)
        for block in empty[:max(0, len(empty) - self.keep_empty)]:
            self._release(block)

    def release_empty(self) -> int:
        """Release every empty block (e.g. when over budget); returns how many."""
        empty = [b for b in self.blocks.values() if b.empty]
        for block in empty:
            self._release(block)
        return len(empty)

    def _release(self, block: Block) -> None:
        for start, size in list(block.free_by_start.items()):
            self._unindex((size, block.block_id, start))
        del self.blocks[block.block_id]
        mapped = block.view is not None
        block.view = None
        self.backend.destroy_block_memory(self.type_index, block.memory, block.size, mapped)

    def close(self) -> None:
        """Release every block, live allocations included (their views are dropped first)."""
        for block in list(self.blocks.values()):
            for allocation in block.allocations.values():
                allocation.view = None
                allocation.freed = True
            self.live_allocations -= len(block.allocations)
            block.allocations.clear()
            self._release(block)

    # --- queries ---------------------------------------------------------------------------

    @property
    def largest_free(self) -> int:
        """The largest free range over all blocks (bytes; alignment padding not deducted)."""
        return self._index[-1][0] if self._index else 0

    def check(self) -> None:
        """Assert the internal invariants (tests): ranges tile each block, index is exact."""
        expected = []
        for block in self.blocks.values():
            cursor = 0
            previous_free = False
            for start, size, allocation in block.ranges():
                assert start == cursor, f"gap or overlap at {start} (expected {cursor})"
                assert size > 0 and start % self.granule == 0 and size % self.granule == 0
                is_free = allocation is None
                assert not (is_free and previous_free), "adjacent free ranges not coalesced"
                previous_free = is_free
                if is_free:
                    expected.append((size, block.block_id, start))
                cursor = start + size
            assert cursor == block.size
            assert block.used == sum(a.reserved for a in block.allocations.values())
        assert sorted(expected) == self._index
