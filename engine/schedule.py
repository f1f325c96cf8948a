"""The frame schedule: named phases in order, and the esper priority of each.

esper runs processors by descending ``priority``; this table is the only place that maps the
phases of a frame (docs/ARCHITECTURE.md, "One frame") to numbers. Systems register by phase name::

    add_system(BufferSystem(manager), Phase.UPLOADS)

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
    """The esper priority of ``phase``; ``order`` (0-99) orders systems inside a phase."""
    if not 0 <= order < PHASE_SPACING:
        raise ValueError(f"priority(order={order}): must be 0..{PHASE_SPACING - 1}")
    return (len(Phase) - int(phase)) * PHASE_SPACING - order


def add_system(processor: Any, phase: Phase, order: int = 0) -> None:
    """``esper.add_processor`` at the priority of ``phase`` in the current world."""
    esper.add_processor(processor, priority=priority(phase, order))


def phase_of(priority_value: int) -> Phase:
    """The phase a priority belongs to (for logs and tests)."""
    index = len(Phase) - 1 - (priority_value - 1) // PHASE_SPACING
    return Phase(max(0, min(len(Phase) - 1, index)))
