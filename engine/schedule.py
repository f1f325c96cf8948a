"""The frame schedule: named phases in order, and the esper priority of each.

esper runs processors by descending ``priority``; this table is the only place that maps the
phases of a frame (docs/ARCHITECTURE.md, "One frame") to numbers. Systems register by phase name::

    add_system(SpinSystem(manager, spin), Phase.SIMULATE)   # a system of yours
    BufferSystem.install(manager)    # the engine's: BEGIN, UPLOADS and END at once

=========  ==================================================================================
phase      what runs
=========  ==================================================================================
BEGIN      wait for the slot's previous GPU work; BufferSystem: begin_frame cleanup
INPUT      window events, player input
SIMULATE   game logic, ParticleSystem, LightingSystem, camera -> update_buffer calls
UPLOADS    BufferSystem: record and submit the frame's staged copies (with barriers)
BINDINGS   BindingSystem: ResourceBinder.update_frame for every pipeline of this slot
RENDER     compute (particles), graphics (lit scene, particles), submit, present
END        BufferSystem: end_frame
=========  ==================================================================================
"""

from __future__ import annotations

import enum
from typing import Any

import esper

from engine.errors import InvalidPriorityError
from engine.numbers import as_int


class Phase(enum.IntEnum):
    """Frame phases in execution order (the value is the position, not the priority)."""

    BEGIN = 0
    INPUT = 1
    SIMULATE = 2
    UPLOADS = 3
    BINDINGS = 4
    RENDER = 5
    END = 6


PHASE_SPACING = 100
"""Room between phases so several systems of one phase keep their registration order."""


def priority(phase: Phase, order: int = 0) -> int:
    """The esper priority of ``phase``; ``order`` (0-99) orders systems inside a phase.

    Raises :class:`~engine.errors.InvalidPriorityError` (also a ValueError) for an order that
    is not an integer from 0 to 99 or a phase that is not a :class:`Phase`.
    """
    value = as_int(order)
    if value is None or not 0 <= value < PHASE_SPACING:
        raise InvalidPriorityError(
            f"priority(order={order!r}): must be an integer from 0 to {PHASE_SPACING - 1}.")
    if not isinstance(phase, Phase):
        number = as_int(phase)
        if number is None or not 0 <= number < len(Phase):
            raise InvalidPriorityError(
                f"priority(phase={phase!r}): not a Phase; use e.g. Phase.SIMULATE.")
        phase = Phase(number)
    return (len(Phase) - int(phase)) * PHASE_SPACING - value


def add_system(processor: Any, phase: Phase, order: int = 0) -> None:
    """``esper.add_processor`` at the priority of ``phase`` in the current world."""
    esper.add_processor(processor, priority=priority(phase, order))


def phase_of(priority_value: int) -> Phase:
    """The phase a priority belongs to (for logs and tests)."""
    index = len(Phase) - 1 - (priority_value - 1) // PHASE_SPACING
    return Phase(max(0, min(len(Phase) - 1, index)))
