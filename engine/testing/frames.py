"""FrameDriver: run whole frames of the current esper world, as a game's main loop does.

``step(n)`` runs ``esper.process`` once per frame (esper's own order: priority, then insertion),
one frame at a time. With the engine systems installed (:meth:`FrameDriver.install`) a frame is the
real schedule of a frame: BEGIN (``begin_frame``), your systems, UPLOADS (the staged
copies), BINDINGS (descriptor writes of the slot), RENDER, END (``end_frame``).

Every system call runs inside ``validation.during("frame N, PHASE phase, System.process")``,
so a validation message names the frame, phase and system that caused it, and the step fails
at the end of that frame. An exception raised by a system gets the same words as a note.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import esper
import pytest

from engine.packages import require_own_package
from engine.schedule import PHASE_SPACING, Phase, phase_of

if TYPE_CHECKING:
    from engine.binding.binder import ResourceBinder
    from engine.buffers.manager import BufferManager
    from engine.testing.validation import ValidationLog
    from systems.binding_system import BindingSystem
    from systems.buffer_system import BufferSystem


class FrameDriver:
    """Steps frames of the current esper world.

    Args:
        validation: the test's log (messages are attributed to frame, phase and system);
            ``None`` runs frames without attribution.

    Attributes:
        frames: frames stepped so far.
        buffer_system: the BufferSystem :meth:`install` added (``None`` before).
        binding_system: the BindingSystem :meth:`install` added (``None`` without a binder).
    """

    def __init__(self, validation: ValidationLog | None = None) -> None:
        self.frames = 0
        self.validation = validation
        self.manager: BufferManager | None = None
        self.buffer_system: BufferSystem | None = None
        self.binding_system: BindingSystem | None = None

    def install(self, manager: BufferManager, binder: ResourceBinder | None = None
                ) -> FrameDriver:
        """Add the BufferSystem (BEGIN, UPLOADS, END) and, with ``binder``, the BindingSystem
        (BINDINGS) to the current world; returns the driver. Your systems go in between::

            frame_driver.install(buffer_manager, resource_binder)
            add_system(MySystem(buffer_manager), Phase.SIMULATE)
            frame_driver.step(3)
        """
        require_own_package("systems", "frame_driver.install")
        from systems.buffer_system import BufferSystem  # not at import: no window stack needed

        self.manager = manager
        self.buffer_system = BufferSystem.install(manager)
        if binder is not None:
            from systems.binding_system import BindingSystem

            self.binding_system = BindingSystem.install(binder, manager)
        return self

    @property
    def frame_index(self) -> int:
        """The slot of the last frame (``frame_number % frames_in_flight``; needs install)."""
        if self.manager is None:
            raise RuntimeError("frame_driver.frame_index: call frame_driver.install(manager) "
                               "first; without the BufferSystem there are no frame slots.")
        return self.manager.frame_index

    def step(self, frames: int = 1, dt: float = 1 / 60, *, check_validation: bool = True
             ) -> None:
        """Run ``frames`` frames of ``dt`` seconds.

        ``check_validation=False`` lets validation messages through (consume them with
        ``validation.expect(...)`` afterwards); by default the first frame with a message
        fails the test, naming the frame, phase and system.
        """
        for _ in range(frames):
            self._frame(dt, check_validation)

    def _frame(self, dt: float, check_validation: bool) -> None:
        number = self.frames
        log = self.validation
        before = log.count() if log is not None else 0
        labelled = _label_processors(number, log)
        try:
            if log is None:
                esper.process(dt)
            else:
                with log.during(f"frame {number}"):
                    esper.process(dt)
        finally:
            for processor in labelled:
                vars(processor).pop("process", None)
        self.frames += 1
        if log is not None and check_validation and log.count() > before:
            left = log.take()
            pytest.fail(f"{len(left)} validation message(s) by frame {number} "
                        f"(frame_driver.step): {log.summary(left)}\n{log.format(left)}",
                        pytrace=False)


def world_processors() -> list[esper.Processor]:
    """The processors of the current esper world, through esper's public API only.

    esper (pinned ``>=3.8,<4``) lists no processors, but ``esper.get_processor(cls)`` finds the
    world's processor of a class, so every ``esper.Processor`` subclass is asked. A world
    holding two processors of one class is found once (esper's own lookup keeps the last).
    """
    found: list[esper.Processor] = []
    seen: set[type] = set()
    pending: list[type] = [esper.Processor]
    while pending:
        subclasses: list[type] = pending.pop().__subclasses__()
        for cls in subclasses:
            if cls in seen:
                continue
            seen.add(cls)
            pending.append(cls)
            processor = esper.get_processor(cls)
            if processor is not None and type(processor) is cls:
                found.append(processor)
    return found


def _label_processors(number: int, log: ValidationLog | None) -> list[esper.Processor]:
    """Give each processor of the world, for one ``esper.process`` call, an instance-level
    ``process`` that labels its validation messages and exceptions ("frame N, PHASE phase,
    System.process"). esper still runs them, in its own order; the caller removes the
    wrappers. A processor without an instance ``__dict__`` runs unlabelled (its messages get
    the frame's label)."""
    labelled = []
    for processor in world_processors():
        if not hasattr(processor, "__dict__") or "process" in vars(processor):
            continue
        label = f"frame {number}, {_phase(processor.priority)}, " \
                f"{type(processor).__name__}.process"
        vars(processor)["process"] = _labelled_call(processor.process, label, log)
        labelled.append(processor)
    return labelled


def _labelled_call(process: Callable[..., Any], label: str, log: ValidationLog | None
                   ) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            if log is None:
                return process(*args, **kwargs)
            with log.during(label):
                return process(*args, **kwargs)
        except BaseException as exc:
            exc.add_note(f"(raised in {label}, by frame_driver.step)")
            raise
    return call


def _phase(priority: int) -> str:
    """``"SIMULATE phase"`` for a priority from :func:`engine.schedule.priority`, else the
    bare number (a processor added with ``esper.add_processor``)."""
    if 0 < priority <= len(Phase) * PHASE_SPACING:
        return f"{phase_of(priority).name} phase"
    return f"priority {priority}"
