"""BufferSystem: frame begin/end of the BufferManager, uploads, and component removal.

How a frame works:

- BEGIN phase (:class:`BufferBeginSystem`): ``begin_frame`` waits for the slot's previous frame
  and frees what it retired; then ``ManagedBuffer`` components that went away since the last
  sync are retired with ``destroy_buffer`` (:class:`ComponentTracker`).
- SIMULATE phase: other systems call ``update_buffer``.
- UPLOADS phase (:class:`BufferSystem`): ``submit_uploads`` records the frame's staged copies
  into one command buffer, with barriers, and submits it before anything renders.
- END phase (:class:`BufferEndSystem`): sync the components again, then ``end_frame``.

``BufferSystem.install(manager)`` adds all three to the current esper world at their phases.
One world runs at most one BufferSystem per manager (a second ``install`` raises
:class:`~engine.errors.FrameStateError`); several worlds may each run one for the same manager.

Which buffers are retired (the rule):

    A buffer is retired (``destroy_buffer``, exactly once) when, at a sync, no entity holds it
    any more in any world whose BufferSystem uses the same manager, and an entity held it at an
    earlier sync. A buffer no entity ever held at a sync is never touched.

esper 3.x dispatches no event when entities or components change (its ``set_handler`` /
``dispatch_event`` only carry events that user code dispatches), so nothing is observed as it
happens: the tracker keeps its own record ``entity -> ManagedBuffer`` and reconciles it with
``esper.get_component(ManagedBuffer)`` at each sync (BEGIN and END of every frame), comparing
buffers by identity. That covers:

- ``remove_component``, ``delete_entity`` (deferred: seen at the BEGIN after ``esper.process``
  finalised it; ``immediate=True``: at the next sync), replacing an entity's ManagedBuffer with
  another (the old one is retired), moving a buffer to another entity (kept);
- ``esper.clear_database()`` and entity ids reused afterwards (an id now holding another buffer
  is a removal plus an addition);
- the same ManagedBuffer on several entities: retired when the last one lets go;
- ``esper.switch_world``: a world that is not current keeps its buffers; a sync that runs while
  another world is current (a system switched worlds mid-frame) is skipped;
- ``esper.delete_world``: the deleted world's buffers are retired at the next sync of any
  BufferSystem of the same manager (else by ``BufferManager.close()``); a world deleted and
  created again under the same name is told apart when a BufferSystem is installed in it.

Not observable, so not retired: an entity that gets a ManagedBuffer and loses it between two
syncs (``create_entity(buf)`` then ``delete_entity(e, immediate=True)`` in one system, or both
between two ``esper.process`` calls). That buffer stays with the code that created it:
destroy it yourself, or ``BufferManager.close()`` frees it.

Cost: ``esper.get_component`` returns the same cached list until the world changes, so a sync
of an unchanged world is one identity test; after a change elsewhere in the world (another
component type) it is one list comparison, in C, with the list of the last sync; only when the
``(entity, ManagedBuffer)`` pairs really changed does it compare the whole record, in
Python, O(buffer entities). ``scripts/ecs_sync_cost.py`` measures the three with 10,000 buffer
entities.

Recovery after an interrupted frame: if a system raises during a frame (any exception,
``KeyboardInterrupt`` included), esper's loop stops and the END phase never runs, so the frame
stays open. At the next frame's BEGIN the BufferBeginSystem syncs the components and ends that
frame with ``end_frame`` (which submits what it recorded), logs a warning the first time, and
begins the new frame as usual; ``recovered_frames`` counts these. A frame opened by someone else
(``manager.begin_frame()`` called by hand) is not ended for them: ``begin_frame`` raises
:class:`~engine.errors.FrameStateError` as before.
"""

from __future__ import annotations

import logging
from typing import Any

import esper

from engine.buffers.manager import BufferManager
from engine.buffers.types import ManagedBuffer
from engine.errors import FrameStateError
from engine.schedule import Phase, add_system

log = logging.getLogger(__name__)

_TRACKERS: list[ComponentTracker] = []
"""Every tracker whose manager is open: the holders of a buffer across worlds."""


def _trackers_of(manager: BufferManager) -> list[ComponentTracker]:
    """The registered trackers of ``manager`` (dropping those of closed managers)."""
    if any(t.manager.closed for t in _TRACKERS):
        _TRACKERS[:] = [t for t in _TRACKERS if not t.manager.closed]
    return [t for t in _TRACKERS if t.manager is manager]


class ComponentTracker:
    """Finds ``ManagedBuffer`` components that went away, and retires their buffers.

    The tracker belongs to the esper world that is current when it is created (``world``); see
    the module docstring for the rule and what is observable.

    Attributes:
        retired_total: buffers this tracker retired.
        reconciles: syncs that compared the whole record (the world had changed).
    """

    def __init__(self, manager: BufferManager) -> None:
        self.manager = manager
        self.world: str = esper.current_world
        self._held: dict[int, ManagedBuffer] = {}
        self._count: dict[ManagedBuffer, int] = {}
        self._seen: list[Any] | None = None
        """The ``get_component(ManagedBuffer)`` list of the last sync (same object = no change)."""
        self.retired_total = 0
        self.reconciles = 0
        self.begin_system: BufferBeginSystem | None = None
        for old in _trackers_of(manager):
            if old.world == self.world:  # the world's earlier tracker: no longer running here
                self._adopt(old)
        _TRACKERS.append(self)

    def _adopt(self, old: ComponentTracker) -> None:
        """Take over the record of ``old`` (same world name), so what it held and this world
        no longer holds is retired at the first sync."""
        for ent, buffer in old._held.items():
            if ent not in self._held:
                self._held[ent] = buffer
                self._count[buffer] = self._count.get(buffer, 0) + 1
        old._held, old._count, old._seen = {}, {}, None
        old._detach()

    def _detach(self) -> None:
        if self in _TRACKERS:
            _TRACKERS.remove(self)

    def holds(self, buffer: ManagedBuffer) -> bool:
        """Whether an entity of this tracker's world held ``buffer`` at the last sync."""
        return buffer in self._count

    @property
    def held_count(self) -> int:
        """Entities holding a ManagedBuffer at the last sync."""
        return len(self._held)

    def sync(self, *, check_dead: bool = True) -> int:
        """Retire buffers whose last holder went away; returns how many were retired.

        ``check_dead`` (default) also treats entities deleted with ``esper.delete_entity(e)``
        but not finalised yet as gone (one ``esper.entity_exists`` per entity); the frame
        systems pass False, since ``esper.process`` finalises deletions before BEGIN.
        """
        retired = self._release_deleted_worlds()
        if esper.current_world != self.world or self.manager.closed:
            self.retired_total += retired
            return retired
        current = esper.get_component(ManagedBuffer)
        if not check_dead and (current is self._seen or current == self._seen):
            self._seen = current  # same pairs (another component type changed): nothing to do
            self.retired_total += retired
            return retired
        self._seen = current
        seen: dict[int, ManagedBuffer] = dict(current)
        now = seen
        if check_dead:  # deleted but not finalised: held now, and going away
            now = {ent: buffer for ent, buffer in seen.items() if esper.entity_exists(ent)}
        held = self._held
        if now is seen and seen == held:
            self.retired_total += retired
            return retired
        self.reconciles += 1
        count = self._count
        dropped: list[ManagedBuffer] = []

        def drop(buffer: ManagedBuffer) -> None:
            left = count[buffer] - 1
            if left:
                count[buffer] = left
            else:
                del count[buffer]
                dropped.append(buffer)

        hget, sget = held.get, seen.get
        for ent, buffer in seen.items():  # additions first: a moved buffer is never retired
            if hget(ent) is not buffer:
                count[buffer] = count.get(buffer, 0) + 1
        for ent, buffer in held.items():
            if sget(ent) is not buffer:
                drop(buffer)
        if now is not seen:
            for ent, buffer in seen.items():
                if ent not in now:
                    drop(buffer)
        self._held = now
        retired += self._retire(dropped)
        self.retired_total += retired
        return retired

    def release_all(self) -> int:
        """Let go of every buffer this tracker's world held (its world was deleted); retires
        those no other world holds. Returns how many were retired."""
        dropped = list(self._count)
        self._held, self._count, self._seen = {}, {}, None
        self._detach()
        retired = self._retire(dropped)
        self.retired_total += retired
        return retired

    def _retire(self, dropped: list[ManagedBuffer]) -> int:
        manager = self.manager
        if not dropped or manager.closed:
            return 0
        others = [t for t in _trackers_of(manager) if t is not self]
        retired = 0
        for buffer in dropped:
            if not buffer.alive or buffer.manager is not manager:
                continue  # destroyed by its owner already, or another manager's buffer
            if any(t.holds(buffer) for t in others):
                continue  # still held by an entity of another world
            manager.destroy_buffer(buffer)
            retired += 1
        return retired

    def _release_deleted_worlds(self) -> int:
        """Release the record of every tracker of this manager whose world was deleted."""
        siblings = _trackers_of(self.manager)
        if len(siblings) < 2:
            return 0
        worlds = set(esper.list_worlds())
        return sum(t.release_all() for t in siblings
                   if t is not self and t.world not in worlds)


class BufferBeginSystem(esper.Processor):
    """BEGIN phase: end a frame left open by an interrupted frame, ``begin_frame``, then retire
    removed components.

    Attributes:
        recovered_frames: interrupted frames ended here (a warning is logged for the first).
    """

    def __init__(self, manager: BufferManager, tracker: ComponentTracker) -> None:
        self.manager = manager
        self.tracker = tracker
        self.recovered_frames = 0
        self.began: int | None = None
        """The frame this system began and END has not ended yet (None between frames)."""

    def process(self, *args: Any, **kwargs: Any) -> None:
        manager = self.manager
        if self.began is not None and manager.frame_open \
                and manager.frame_number == self.began:
            self._recover()
        self.began = None
        self.began = manager.begin_frame()
        self.tracker.sync(check_dead=False)

    def _recover(self) -> None:
        number = self.manager.frame_number
        if self.recovered_frames == 0:
            log.warning(
                "BufferSystem: frame %d was still open at the next frame's BEGIN phase (a "
                "system raised during it, so its END phase never ran); ended it with "
                "end_frame(), which submitted what it recorded. Catch the error in the "
                "system that raised to keep frames whole.", number)
        else:
            log.debug("BufferSystem: ended interrupted frame %d", number)
        self.recovered_frames += 1
        self.tracker.sync(check_dead=False)
        self.manager.end_frame()


class BufferSystem(esper.Processor):
    """UPLOADS phase: submit the frame's staged copies (with barriers) before rendering."""

    def __init__(self, manager: BufferManager) -> None:
        self.manager = manager
        self.tracker = ComponentTracker(manager)
        self.copies_last_frame = 0
        self.begin_system: BufferBeginSystem | None = None
        self.end_system: BufferEndSystem | None = None

    def process(self, *args: Any, **kwargs: Any) -> None:
        self.copies_last_frame = self.manager.submit_uploads()

    @property
    def recovered_frames(self) -> int:
        """Interrupted frames ended at a later BEGIN phase (0 when not installed)."""
        return self.begin_system.recovered_frames if self.begin_system is not None else 0

    @classmethod
    def install(cls, manager: BufferManager) -> BufferSystem:
        """Add the begin, upload and end systems to the current world; returns the uploader.

        Raises FrameStateError if this world already runs a BufferSystem for ``manager``.
        """
        for other in _trackers_of(manager):
            begin = other.begin_system
            if other.world == esper.current_world and begin is not None \
                    and esper.get_processor(BufferBeginSystem) is begin:
                raise FrameStateError(
                    f"BufferSystem.install(manager): esper world {esper.current_world!r} "
                    "already runs a BufferSystem for this BufferManager; two would begin and "
                    "end every frame twice. Install it once per world (or remove the first "
                    "with esper.remove_processor for BufferBeginSystem, BufferSystem and "
                    "BufferEndSystem).")
        system = cls(manager)
        begin_system = BufferBeginSystem(manager, system.tracker)
        system.tracker.begin_system = system.begin_system = begin_system
        system.end_system = BufferEndSystem(manager, system.tracker, begin_system)
        add_system(begin_system, Phase.BEGIN)
        add_system(system, Phase.UPLOADS)
        add_system(system.end_system, Phase.END)
        return system


class BufferEndSystem(esper.Processor):
    """END phase: retire removed components, then ``end_frame``."""

    def __init__(self, manager: BufferManager, tracker: ComponentTracker,
                 begin_system: BufferBeginSystem | None = None) -> None:
        self.manager = manager
        self.tracker = tracker
        self.begin_system = begin_system

    def process(self, *args: Any, **kwargs: Any) -> None:
        self.tracker.sync(check_dead=False)
        self.manager.end_frame()
        if self.begin_system is not None:
            self.begin_system.began = None
