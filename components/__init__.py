"""Plain dataclass components for esper. Device work lives in ``systems/``, not here."""

from __future__ import annotations

from components.binding import BufferBinding
from engine.buffer_types import ManagedBuffer

__all__ = ["ManagedBuffer"]
__all__ += ["BufferBinding"]
