"""InputSystem (INPUT phase): read the keyboard and mouse into Player components and actions.

Events arrive through :meth:`InputSystem.on_key` (and ``on_mouse_button``/``on_cursor``), which
a window calls from its GLFW callbacks and tests call directly with synthetic events. Each
frame, :meth:`InputSystem.process` polls the window (if any) and turns the held keys into every
:class:`~components.player.Player`'s ``move_x``/``move_z`` (WASD or arrows, normalised), or,
while the left mouse button is held, into a ground target under the cursor. One-shot keys
(pause, restart, quit...) become named actions that the game takes with
:meth:`InputSystem.take_actions`.
"""

from __future__ import annotations

import math
from typing import Any

import esper
import glfw
import numpy as np

from components.camera import Camera
from components.player import Player

MOVE_KEYS: dict[int, tuple[float, float]] = {
    glfw.KEY_W: (0.0, -1.0), glfw.KEY_UP: (0.0, -1.0),
    glfw.KEY_S: (0.0, 1.0), glfw.KEY_DOWN: (0.0, 1.0),
    glfw.KEY_A: (-1.0, 0.0), glfw.KEY_LEFT: (-1.0, 0.0),
    glfw.KEY_D: (1.0, 0.0), glfw.KEY_RIGHT: (1.0, 0.0),
}
"""Key -> (x, z) direction on the ground (the camera looks toward -z)."""

ACTION_KEYS: dict[int, str] = {
    glfw.KEY_P: "pause", glfw.KEY_SPACE: "pause", glfw.KEY_R: "restart",
    glfw.KEY_ESCAPE: "quit", glfw.KEY_Q: "quit", glfw.KEY_ENTER: "start",
}


class InputSystem(esper.Processor):
    """Keyboard and mouse into Player components and named actions (INPUT phase).

    Args:
        window: a :class:`~engine.render.window.Window` to poll and listen to, or None
            (headless: only synthetic events).
    """

    def __init__(self, window: Any = None) -> None:
        self.window = window
        self.held: set[int] = set()
        self.actions: list[str] = []
        self.mouse_down = False
        self.cursor = (0.0, 0.0)
        self.events = 0
        if window is not None:
            window.on_key(self.on_key)
            window.on_mouse_button(self.on_mouse_button)
            window.on_cursor(self.on_cursor)

    # --- event callbacks -------------------------------------------------------------------

    def on_key(self, key: int, scancode: int, action: int, mods: int) -> None:
        """GLFW key callback signature; PRESS/RELEASE update held keys, PRESS fires actions."""
        self.events += 1
        if action == glfw.PRESS:
            self.held.add(key)
            name = ACTION_KEYS.get(key)
            if name is not None:
                self.actions.append(name)
        elif action == glfw.RELEASE:
            self.held.discard(key)

    def on_mouse_button(self, button: int, action: int, mods: int) -> None:
        if button == glfw.MOUSE_BUTTON_LEFT:
            self.mouse_down = action == glfw.PRESS

    def on_cursor(self, x: float, y: float) -> None:
        self.cursor = (x, y)

    def take_actions(self) -> list[str]:
        """The actions fired since the last call (oldest first)."""
        out, self.actions = self.actions, []
        return out

    # --- per frame -------------------------------------------------------------------------

    def process(self, *args: Any, **kwargs: Any) -> None:
        if self.window is not None:
            self.window.poll_events()
        mx = mz = 0.0
        for key in self.held:
            d = MOVE_KEYS.get(key)
            if d is not None:
                mx += d[0]
                mz += d[1]
        length = math.hypot(mx, mz)
        if length > 1.0:
            mx, mz = mx / length, mz / length
        target = self._mouse_target() if self.mouse_down else None
        for _ent, player in esper.get_component(Player):
            player.move_x, player.move_z = mx, mz
            player.target = target

    def _mouse_target(self) -> tuple[float, float] | None:
        """The ground point (y = 0) under the cursor, from the camera of the last frame."""
        if self.window is None:
            return None
        cams = esper.get_component(Camera)
        if not cams:
            return None
        cam = cams[0][1]
        w, h = self.window.window_size()
        if w <= 0 or h <= 0:
            return None
        x = self.cursor[0] / w * 2.0 - 1.0
        y = self.cursor[1] / h * 2.0 - 1.0
        near = cam.inv_view_proj @ np.array([x, y, 0.0, 1.0], np.float32)
        far = cam.inv_view_proj @ np.array([x, y, 1.0, 1.0], np.float32)
        a, b = near[:3] / near[3], far[:3] / far[3]
        if abs(b[1] - a[1]) < 1e-6:
            return None
        t = -a[1] / (b[1] - a[1])
        if t < 0:
            return None
        p = a + (b - a) * t
        return float(p[0]), float(p[2])
