"""Player: the entity steered by input. The InputSystem writes ``move_x``/``move_z`` (-1..1,
or toward a mouse target) and the game's movement system turns them into motion."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, eq=False)
class Player:
    """The player's spark: what the InputSystem and the game rules read and write.

    Attributes:
        speed: top speed (units/s).
        radius: collision radius (units).
        move_x, move_z: requested direction this frame, each -1..1 (set by the InputSystem).
        vx, vz: current velocity (units/s).
        target: ground point to steer toward (mouse), or None.
    """

    speed: float = 7.0
    radius: float = 0.5
    move_x: float = 0.0
    move_z: float = 0.0
    vx: float = 0.0
    vz: float = 0.0
    target: tuple[float, float] | None = None
