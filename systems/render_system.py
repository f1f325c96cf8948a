"""RenderSystem (RENDER phase): record, submit and present the frame.

It runs after the BufferSystem submitted the frame's uploads and the BindingSystem wrote the
slot's descriptors, and hands the slot to :meth:`~engine.render.renderer.Renderer.render` (compute,
scene, light volumes, particles, one fence-tracked submission, present). It also records how long
the frame's Python work took since the BEGIN phase (``cpu_ms``), for the frame statistics.
"""

from __future__ import annotations

from typing import Any

import esper

from engine.buffers.manager import BufferManager
from engine.render.renderer import Renderer


class RenderSystem(esper.Processor):
    """Records, submits and presents the frame (RENDER phase).

    Args:
        renderer: the frame recorder for the current target.
        manager: whose ``frame_index`` is the slot of this frame.

    Attributes:
        rendered: frames drawn; skipped: frames the target skipped (minimised/out of date).
    """

    def __init__(self, renderer: Renderer, manager: BufferManager) -> None:
        self.renderer = renderer
        self.manager = manager
        self.rendered = 0
        self.skipped = 0

    def process(self, *args: Any, **kwargs: Any) -> None:
        if self.renderer.render(self.manager.frame_index):
            self.rendered += 1
        else:
            self.skipped += 1
