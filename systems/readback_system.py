"""ReadbackSystem: fills :class:`~components.readback.ReadbackRequest` components, never waiting.

Runs last in the RENDER phase (order 99), after the frame's render and compute were recorded
and submitted and before the BufferSystem's ``end_frame``, so a read started here copies what
this frame's GPU work wrote. Each frame, for every request: reads that
completed (a fence poll) are taken, the newest one becomes ``latest``; then, every ``every``
frames and while fewer than ``max_in_flight`` are pending, a new ``read_async`` starts. A
request whose buffer was destroyed is skipped (its pending reads still arrive).
"""

from __future__ import annotations

import esper

from components.readback import ReadbackRequest
from engine.buffers.manager import BufferManager
from engine.numbers import as_int
from engine.schedule import Phase, add_system


class ReadbackSystem(esper.Processor):
    """Polls and starts the reads of every ReadbackRequest of the world."""

    ORDER = 99
    """Order inside RENDER: after the other render systems (the END phase follows)."""

    def __init__(self, manager: BufferManager) -> None:
        self.manager = manager
        self.started = 0

    @classmethod
    def install(cls, manager: BufferManager) -> ReadbackSystem:
        """Add a ReadbackSystem to the current world, last in the RENDER phase; returns it."""
        system = cls(manager)
        add_system(system, Phase.RENDER, cls.ORDER)
        return system

    def process(self, *args: object) -> None:
        frame = self.manager.frame_number
        for _entity, request in esper.get_component(ReadbackRequest):
            pending = request.in_flight
            while pending and pending[0].ready:
                done = pending.pop(0)
                request.latest = done.result()
                request.latest_frame = done.frame
                request.arrived += 1
            every = as_int(request.every)
            limit = as_int(request.max_in_flight)
            every = every if every is not None and every > 0 else 1
            limit = limit if limit is not None and limit > 0 else 1
            if not request.buffer.alive or frame % every or len(pending) >= limit:
                continue
            pending.append(self.manager.read_async(
                request.buffer, offset=request.offset, size=request.size,
                dtype=request.dtype))
            self.started += 1
