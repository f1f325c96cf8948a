"""Defragmentation: empty the least-used blocks by moving device-local buffers into free ranges
of the other blocks of their memory type, so that the emptied blocks can be released.

What a move does, for one live ``DEVICE_LOCAL`` buffer (``defragment(manager)``):

1. a new ``VkBuffer`` of the same capacity and usage is bound to a free range of *another*
   block of the same memory type (never a new block: the source block and new blocks are off
   limits while defragmenting, see :class:`~engine.memory.blocks.BlockPool`);
2. a GPU copy old -> new is appended to the frame's uploads (the BufferSystem records it with
   the frame's other copies, with barriers; copies queued earlier for the old handle run
   first, later ``update_buffer`` calls target the new handle and run after);
3. the old ``VkBuffer`` and its range are retired into the current frame (freed once the frame
   completed), ``generation`` goes up by exactly 1 and ``context.notify_buffer(buffer,
   "replaced")`` tells the ResourceBinder to rewrite the descriptors that use it.

Only blocks whose every allocation is such a buffer are emptied: host-visible buffers (written
by the host at any time, so a GPU copy could overwrite a newer host write), staging chunks and
retired buffers pin their block. A block is emptied completely or not touched. When the frame
that holds the copies completes, the source block is empty and is released (one empty block
per memory type is kept, as always).

Call it between frames or inside an open frame, not every frame: each move costs a
``vkCreateBuffer``, a copy of the buffer's bytes and a descriptor rewrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.buffers.staging import CopyOp
from engine.buffers.types import BufferStrategy
from engine.memory.blocks import Block, BlockPool, NoRoomError


@dataclass
class DefragReport:
    """What :func:`defragment` did: moves, bytes copied (capacities) and emptied blocks."""

    moves: int = 0
    bytes_moved: int = 0
    blocks_emptied: list[tuple[int, int]] = field(default_factory=list)  # (type, block id)
    moved: list[Any] = field(default_factory=list)  # the ManagedBuffers that moved


def _movable(manager: Any, block: Block) -> list[Any] | None:
    """The live device-local buffers filling ``block``, or None if anything else is in it."""
    owners = {id(b._allocation): b for b in manager.live_buffers()
              if b._allocation is not None and b._allocation.block is block}
    buffers = []
    for allocation in block.allocations.values():
        buffer = owners.get(id(allocation))
        if buffer is None or buffer.strategy is not BufferStrategy.DEVICE_LOCAL:
            return None
        buffers.append(buffer)
    return buffers


def _candidates(pool: BlockPool) -> list[Block]:
    """Non-empty blocks, least used first; the fullest block is never a source."""
    blocks = sorted((b for b in pool.blocks.values() if not b.empty), key=lambda b: b.used)
    return blocks[:-1]


def defragment(manager: Any, *, max_moves: int = 256, max_bytes: int = 64 << 20
               ) -> DefragReport:
    """Move device-local buffers out of the least-used blocks of every memory type.

    Args:
        manager: the BufferManager (must be open).
        max_moves, max_bytes: stop before exceeding this many moves / bytes copied.

    Returns:
        A :class:`DefragReport`; ``blocks_emptied`` are released after the frame completes.
    """
    manager._require_open("defragment")
    report = DefragReport()
    allocator = manager.allocator
    for type_index, pool in sorted(allocator.pools.items()):
        for block in _candidates(pool):
            buffers = _movable(manager, block)
            free_elsewhere = sum(b.size - b.used for b in pool.blocks.values() if b is not block)
            if not buffers or block.used > free_elsewhere:
                continue
            if any(b._allocation.reserved > pool.dedicated_threshold for b in buffers):
                continue
            if (report.moves + len(buffers) > max_moves
                    or report.bytes_moved + block.used > max_bytes):
                return report
            if _empty_block(manager, pool, block, buffers, report):
                report.blocks_emptied.append((type_index, block.block_id))
    return report


def _empty_block(manager: Any, pool: BlockPool, block: Block, buffers: list[Any],
                 report: DefragReport) -> bool:
    pool.excluded.add(block.block_id)
    pool.allow_new_blocks = False
    try:
        for buffer in sorted(buffers, key=lambda b: -b._allocation.reserved):
            if not _move(manager, buffer):
                return False
            report.moves += 1
            report.bytes_moved += buffer.capacity
            report.moved.append(buffer)
        return True
    finally:
        pool.excluded.discard(block.block_id)
        pool.allow_new_blocks = True


def _move(manager: Any, buffer: Any) -> bool:
    what = f"defragment({buffer.name!r})"
    try:
        handle, allocation = manager._allocate(buffer.name, buffer.size, buffer.strategy,
                                               int(buffer.usage), what)
    except NoRoomError:
        return False
    manager._ops.append(CopyOp(buffer.handle, 0, handle, 0, buffer.capacity))
    manager._retire(buffer.handle, buffer._allocation, buffer.size, buffer.name)
    manager._attach(buffer, handle, allocation)
    buffer._generation += 1
    manager.context.notify_buffer(buffer, "replaced")
    return True
