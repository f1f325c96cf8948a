"""Camera: a perspective camera that looks at a point; the CameraSystem fills the matrices.

Angles in degrees, distances in world units. ``follow`` makes the camera trail an entity's
Transform at ``offset`` with exponential smoothing (``smoothing`` per second; 0 = rigid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

Vec3 = tuple[float, float, float]


@dataclass(slots=True, eq=False)
class Camera:
    """The camera that views the scene (one entity holds it).

    Attributes:
        eye, target: world positions (the CameraSystem moves them when following).
        fov_y: vertical field of view (degrees).
        near, far: clip distances (units).
        follow: entity id to follow, or None.
        offset: eye position relative to the followed entity.
        smoothing: how fast the camera catches up (1/s).
        view, proj, view_proj, inv_view_proj: row-major 4x4 matrices (written by the
            CameraSystem each frame; the UBO stores their transposes, column-major).
    """

    eye: Vec3 = (0.0, 10.0, 10.0)
    target: Vec3 = (0.0, 0.0, 0.0)
    fov_y: float = 50.0
    near: float = 0.1
    far: float = 200.0
    follow: int | None = None
    offset: Vec3 = (0.0, 16.0, 12.0)
    smoothing: float = 6.0
    view: np.ndarray[Any, Any] = field(default_factory=lambda: np.eye(4, dtype=np.float32))
    proj: np.ndarray[Any, Any] = field(default_factory=lambda: np.eye(4, dtype=np.float32))
    view_proj: np.ndarray[Any, Any] = field(default_factory=lambda: np.eye(4, dtype=np.float32))
    inv_view_proj: np.ndarray[Any, Any] = field(
        default_factory=lambda: np.eye(4, dtype=np.float32))
