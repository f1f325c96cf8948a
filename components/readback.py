"""ReadbackRequest: an ECS component asking for a buffer's bytes back, a few frames late."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.buffers.readback import Readback
from engine.buffers.types import ManagedBuffer


@dataclass(eq=False)
class ReadbackRequest:
    """Read ``buffer`` back every ``every`` frames without stalling the frame.

    The :class:`~systems.readback_system.ReadbackSystem` starts a ``read_async`` of the
    range (``offset``/``size`` in bytes, ``size=None``: the rest) every ``every`` frames (at
    most ``max_in_flight`` at once), and when one arrives puts its data in :attr:`latest`
    (a read-only numpy array of ``dtype``, default the buffer's) and the frame it was read in
    in :attr:`latest_frame`. Until the first arrives ``latest`` is None.
    """

    buffer: ManagedBuffer
    every: int = 1
    offset: int = 0
    size: int | None = None
    dtype: Any = None
    max_in_flight: int = 3
    latest: np.ndarray[Any, Any] | None = None
    latest_frame: int = -1
    arrived: int = 0
    """How many reads have arrived so far."""
    in_flight: list[Readback] = field(default_factory=list)
    """Reads started and not arrived yet, oldest first."""
