"""Transform: where an entity is, in world units (right-handed, y up; the ground is y = 0)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, eq=False)
class Transform:
    """World position ``(x, y, z)`` in world units. Systems read it every frame, so moving an
    entity is just assigning to these fields."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0

    @property
    def position(self) -> tuple[float, float, float]:
        return (self.x, self.y, self.z)

    def set(self, x: float, y: float, z: float) -> None:
        self.x, self.y, self.z = x, y, z
