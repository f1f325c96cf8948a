"""Defragmentation applied: move device-local buffers out of the least-used blocks.

The planning is the memory layer's (:mod:`engine.memory.defrag_plan`: which blocks can be
emptied, and the allocations in them). Here each planned allocation is mapped to its live
``DEVICE_LOCAL`` buffer and moved with
:meth:`~engine.buffers.manager.BufferManager.relocate_buffer`, the manager's one replace path
(the same as resize):

1. a new ``VkBuffer`` of the same size is bound to a free range of *another* block of the same
   memory type;
2. a GPU copy old -> new joins the frame's uploads (copies queued earlier for the old handle
   run first; later ``update_buffer`` calls target the new handle and run after);
3. the old ``VkBuffer`` is retired into the current frame, ``generation`` goes up by exactly 1
   and the ResourceBinder rewrites the descriptors that use it.

Call it between frames or inside an open frame, not every frame: each move costs a
``vkCreateBuffer``, a copy of the buffer's bytes and a descriptor rewrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.buffers.types import BufferStrategy, ManagedBuffer
from engine.errors import NoRoomError
from engine.memory.blocks import Allocation
from engine.memory.defrag_plan import evacuating, plan_evacuations

if TYPE_CHECKING:
    from engine.buffers.manager import BufferManager


@dataclass
class DefragReport:
    """What :func:`defragment` did: moves, bytes copied (capacities) and emptied blocks."""

    moves: int = 0
    bytes_moved: int = 0
    blocks_emptied: list[tuple[int, int]] = field(default_factory=list)  # (type, block id)
    moved: list[ManagedBuffer] = field(default_factory=list)


def defragment(manager: BufferManager, *, max_moves: int = 256, max_bytes: int = 64 << 20
               ) -> DefragReport:
    """Move device-local buffers out of the least-used blocks of every memory type.

    Args:
        manager: the BufferManager (must be open).
        max_moves, max_bytes: stop before exceeding this many moves / bytes copied.

    Returns:
        A :class:`DefragReport`; ``blocks_emptied`` are released after the frame completes.
    """
    manager.require_open("defragment")
    owners = _device_local_owners(manager)

    def movable(allocation: Allocation) -> bool:
        return id(allocation) in owners

    report = DefragReport()
    for plan in plan_evacuations(manager.allocator, movable, max_moves=max_moves,
                                 max_bytes=max_bytes):
        buffers = [owners[id(a)] for a in plan.allocations]
        with evacuating(plan):
            try:
                for buffer in buffers:
                    manager.relocate_buffer(buffer)
                    report.moves += 1
                    report.bytes_moved += buffer.capacity
                    report.moved.append(buffer)
            except NoRoomError:
                continue
        report.blocks_emptied.append((plan.type_index, plan.block.block_id))
        owners = _device_local_owners(manager)  # the moves gave them new allocations
    return report


def _device_local_owners(manager: BufferManager) -> dict[int, ManagedBuffer]:
    """``id(allocation) -> buffer`` for the live device-local buffers (the movable ones)."""
    return {id(b.allocation): b for b in manager.live_buffers()
            if b.strategy is BufferStrategy.DEVICE_LOCAL and b.allocation is not None}
