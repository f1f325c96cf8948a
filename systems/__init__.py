"""esper processors, one verb each, registered by schedule phase (see engine.schedule)."""

from __future__ import annotations

from .binding_system import BindingSystem
from .buffer_system import BufferSystem

__all__ = ["BufferSystem"]
__all__ += ["BindingSystem"]
