"""esper processors, one verb each, registered by schedule phase (see engine.schedule)."""

from __future__ import annotations

from .buffer_system import BufferSystem

__all__ = ["BufferSystem"]
