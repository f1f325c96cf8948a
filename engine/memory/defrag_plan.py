"""Defragmentation planning: which blocks to empty, and which allocations must move for it.

This is the memory layer's half of defragmentation (as VMA hands back a list of moves): it
knows blocks and allocations, not buffers. :func:`plan_evacuations` walks every memory type's
pool, least-used blocks first (the fullest block is never a source), and yields a
:class:`Evacuation` for a block only when

- every allocation in it is movable (the caller's ``movable`` predicate: in practice, live
  device-local buffers; host-visible buffers, staging chunks and retired buffers pin their
  block),
- none of them is above the pool's dedicated threshold,
- the other blocks of the pool have room for all of them, and
- the moves stay within ``max_moves`` and ``max_bytes``.

The caller moves the allocations while :func:`evacuating` holds the block: the source block
and new blocks are off limits, so every new range comes from another existing block. A block
is emptied completely or not at all; it is released once the frame that holds the copies
completed (one empty block per memory type is kept, as always).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from engine.memory.allocator import MemoryAllocator
from engine.memory.blocks import Allocation, Block, BlockPool


@dataclass(frozen=True)
class Evacuation:
    """Empty ``block`` of memory type ``type_index`` by moving ``allocations``, largest first."""

    type_index: int
    pool: BlockPool
    block: Block
    allocations: tuple[Allocation, ...]

    @property
    def nbytes(self) -> int:
        return self.block.used


def plan_evacuations(allocator: MemoryAllocator, movable: Callable[[Allocation], bool], *,
                     max_moves: int, max_bytes: int) -> Iterator[Evacuation]:
    """Blocks worth emptying, one at a time (lazily: each is planned after the previous one
    was carried out, against the pool as it is then)."""
    moves = moved_bytes = 0
    for type_index, pool in sorted(allocator.pools.items()):
        blocks = sorted((b for b in pool.blocks.values() if not b.empty), key=lambda b: b.used)
        for block in blocks[:-1]:
            allocations = tuple(sorted(block.allocations.values(), key=lambda a: -a.reserved))
            if not allocations or not all(movable(a) for a in allocations):
                continue
            if any(a.reserved > pool.dedicated_threshold for a in allocations):
                continue
            free_elsewhere = sum(b.size - b.used for b in pool.blocks.values() if b is not block)
            if block.used > free_elsewhere:
                continue
            if moves + len(allocations) > max_moves or moved_bytes + block.used > max_bytes:
                return
            moves += len(allocations)
            moved_bytes += block.used
            yield Evacuation(type_index, pool, block, allocations)


@contextlib.contextmanager
def evacuating(evacuation: Evacuation) -> Iterator[None]:
    """While moving out of ``evacuation.block``: new ranges come from the pool's other
    existing blocks only (the source block and new blocks are off limits)."""
    pool = evacuation.pool
    pool.excluded.add(evacuation.block.block_id)
    pool.allow_new_blocks = False
    try:
        yield
    finally:
        pool.excluded.discard(evacuation.block.block_id)
        pool.allow_new_blocks = True
