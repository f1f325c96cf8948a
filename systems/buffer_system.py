"""BufferSystem: frame begin/end of the BufferManager, uploads, and component removal.

How uploads work:

- BEGIN phase (:class:`BufferBeginSystem`): ``begin_frame`` waits for the slot's previous frame
  and frees what it retired; then ``ManagedBuffer`` components that were removed (or whose
  entity was deleted) since the last frame are retired with ``destroy_buffer``.
- SIMULATE phase: other systems call ``update_buffer``.
- UPLOADS phase (:class:`BufferSystem`): ``submit_uploads`` records the frame's staged copies
  into one command buffer, with barriers, and submits it before anything renders.
- END phase (:class:`BufferEndSystem`): ``end_frame``.

``BufferSystem.install(manager)`` adds all three to the current esper world at their phases.
"""

from __future__ import annotations

from typing import Any

import esper

from engine.buffers.manager import BufferManager
from engine.buffers.types import ManagedBuffer
from engine.schedule import Phase, add_system


class ComponentTracker:
    """Finds ``ManagedBuffer`` components that disappeared, and retires their buffers.

    esper has no removal hook, so we keep ``entity -> buffer`` and diff it with the entities that
    hold a ManagedBuffer now (a set difference, so the per-frame cost is small). Replacing the
    component of an entity with another ManagedBuffer is not a removal: destroy the old buffer
    yourself in that case. Deferred deletions (``esper.delete_entity(e)``, the default) are
    always caught, even within the frame that created the entity; an immediate removal
    (``remove_component`` or ``immediate=True``) is caught when the entity existed at the
    previous sync (each BEGIN and END phase).
    """

    def __init__(self, manager: BufferManager) -> None:
        self.manager = manager
        self._known: dict[int, ManagedBuffer] = {}
        self.retired_total = 0

    def _entities_now(self) -> set[int]:
        components = getattr(esper, "_components", None)
        if isinstance(components, dict):
            return set(components.get(ManagedBuffer, ()))
        return {ent for ent, _ in esper.get_component(ManagedBuffer)}

    def sync(self) -> int:
        """Retire buffers whose component went away; returns how many were retired."""
        now = self._entities_now()
        known = self._known
        retired = 0
        # Entities deleted (deferred, esper's default) since the last process(): their
        # components are still readable now, even if we never saw them at a frame boundary.
        for ent in list(getattr(esper, "_dead_entities", ())):
            component = esper.try_component(ent, ManagedBuffer)
            known.pop(ent, None)
            now.discard(ent)
            if component is not None and component.alive and component._manager is self.manager:
                self.manager.destroy_buffer(component)
                retired += 1
        for ent in known.keys() - now:
            buffer = known.pop(ent)
            if buffer.alive and buffer._manager is self.manager:
                self.manager.destroy_buffer(buffer)
                retired += 1
        for ent in now - known.keys():
            component = esper.try_component(ent, ManagedBuffer)
            if component is not None:
                known[ent] = component
        self.retired_total += retired
        return retired


class BufferBeginSystem(esper.Processor):
    """BEGIN phase: ``begin_frame`` then retire removed components."""

    def __init__(self, manager: BufferManager, tracker: ComponentTracker) -> None:
        self.manager = manager
        self.tracker = tracker

    def process(self, *args: Any, **kwargs: Any) -> None:
        self.manager.begin_frame()
        self.tracker.sync()


class BufferSystem(esper.Processor):
    """UPLOADS phase: submit the frame's staged copies (with barriers) before rendering."""

    def __init__(self, manager: BufferManager) -> None:
        self.manager = manager
        self.tracker = ComponentTracker(manager)
        self.copies_last_frame = 0

    def process(self, *args: Any, **kwargs: Any) -> None:
        self.copies_last_frame = self.manager.submit_uploads()

    @classmethod
    def install(cls, manager: BufferManager) -> BufferSystem:
        """Add the begin, upload and end systems to the current world; returns the uploader."""
        system = cls(manager)
        add_system(BufferBeginSystem(manager, system.tracker), Phase.BEGIN)
        add_system(system, Phase.UPLOADS)
        add_system(BufferEndSystem(manager, system.tracker), Phase.END)
        return system


class BufferEndSystem(esper.Processor):
    """END phase: retire removed components, then ``end_frame``."""

    def __init__(self, manager: BufferManager, tracker: ComponentTracker) -> None:
        self.manager = manager
        self.tracker = tracker

    def process(self, *args: Any, **kwargs: Any) -> None:
        self.tracker.sync()
        self.manager.end_frame()
