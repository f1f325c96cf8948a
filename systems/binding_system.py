"""BindingSystem: the BINDINGS phase, after the frame's uploads and before rendering.

Each frame it (1) applies :class:`~components.binding.BufferBinding` components that were added,
replaced or removed since the last frame, then (2) runs ``ResourceBinder.update_frame`` for the
current slot on every registered pipeline (``update_all``: only pipelines with changes are
visited), which writes only descriptors whose buffer changed.

Change detection without per-frame scans: esper caches the list that ``get_component`` returns
and rebuilds it only after a component was added or removed somewhere in the world. Holding on to
the last list and comparing identities makes a frame without structural changes O(1); a frame
with some diffs the component list once (O(BufferBinding components)).
"""

from __future__ import annotations

from typing import Any

import esper

from components.binding import BufferBinding
from engine.binding.binder import ResourceBinder
from engine.buffers.manager import BufferManager
from engine.buffers.types import ManagedBuffer
from engine.errors import EngineError, InvalidDataError, InvalidFrameIndexError
from engine.schedule import Phase, add_system


class BindingSystem(esper.Processor):
    """Keeps the descriptor sets of every pipeline of ``binder`` current, slot by slot.

    Attributes:
        writes_last_frame: descriptor writes made by the last ``process`` call.
        writes_total: descriptor writes made by this system so far.
        applied_total: BufferBinding components applied (added or replaced) so far.
    """

    def __init__(self, binder: ResourceBinder, manager: BufferManager) -> None:
        if binder.frames_in_flight != manager.frames_in_flight:
            raise InvalidFrameIndexError(
                f"BindingSystem: the ResourceBinder has {binder.frames_in_flight} frame slots but "
                f"the BufferManager {manager.frames_in_flight}; create both with the same "
                "frames_in_flight.")
        self.binder = binder
        self.manager = manager
        self.writes_last_frame = 0
        self.writes_total = 0
        self.applied_total = 0
        self._seen: list[Any] | None = None
        self._known: dict[int, BufferBinding] = {}

    @classmethod
    def install(cls, binder: ResourceBinder, manager: BufferManager) -> BindingSystem:
        """Add a BindingSystem to the current esper world at the BINDINGS phase."""
        system = cls(binder, manager)
        add_system(system, Phase.BINDINGS)
        return system

    def process(self, *args: Any, **kwargs: Any) -> None:
        current = esper.get_component(BufferBinding)
        if current is not self._seen:
            self._sync_components(current)
        writes = self.binder.update_all(self.manager.frame_index)
        self.writes_last_frame = writes
        self.writes_total += writes

    def _sync_components(self, current: list[Any]) -> None:
        """Apply added/replaced components and unbind removed ones (a frame with changes)."""
        binder = self.binder
        now: dict[int, BufferBinding] = dict(current)
        targets = {(c.pipeline, c.name, c.array_element) for c in now.values()}
        known = self._known
        for ent, old in list(known.items()):
            comp = now.get(ent)
            if comp is old:
                continue
            target = (old.pipeline, old.name, old.array_element)
            if target not in targets and old.pipeline in binder:
                binder.unbind(old.pipeline, old.name, array_element=old.array_element)
            del known[ent]
        for ent, comp in now.items():
            if known.get(ent) is not comp:
                self._apply(ent, comp)
                known[ent] = comp
        self._seen = current

    def _apply(self, ent: int, comp: BufferBinding) -> None:
        try:
            buffers = _resolve(comp.buffers)
            self.binder.bind_buffer_named(
                comp.pipeline, comp.name, buffers, kind=comp.kind, offset=comp.offset,
                range=comp.range, array_element=comp.array_element)
        except EngineError as exc:
            raise type(exc)(f"BindingSystem: BufferBinding of entity {ent}: {exc}") from None
        self.applied_total += 1


def _resolve(buffers: Any) -> Any:
    """Entity ids (one or a tuple) become their ManagedBuffer components."""
    if isinstance(buffers, int) and not isinstance(buffers, bool):
        return _buffer_of(buffers)
    if isinstance(buffers, tuple) and buffers and all(isinstance(b, int) for b in buffers):
        return tuple(_buffer_of(b) for b in buffers)
    return buffers


def _buffer_of(entity: int) -> ManagedBuffer:
    buffer = esper.try_component(entity, ManagedBuffer) if esper.entity_exists(entity) else None
    if buffer is None:
        raise InvalidDataError(
            f"entity {entity} has no ManagedBuffer component; point the binding at an entity "
            "that holds the buffer, or pass the ManagedBuffer itself.")
    return buffer
