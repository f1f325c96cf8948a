"""CameraSystem (SIMULATE phase, last): move the camera, write the frame's GlobalUbo.

Every frame it follows the camera's target entity (if any), builds view and projection
matrices (right-handed, y up; Vulkan clip space: y down, depth 0..1), and writes the whole
GlobalUbo (320 B: matrices, eye, viewport, ambient, time, dt, light and particle counts) into
this frame slot's buffer of the GlobalUboSet. The data changes every frame, which is exactly
what a per-frame set is for: no buffer a frame in flight reads is ever written.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import esper
import numpy as np

from components.camera import Camera
from components.transform import Transform
from engine.buffer_set import GlobalUboSet
from engine.render.layouts import GLOBAL_UBO_DTYPE


class _Sized(Protocol):
    width: int
    height: int


class _Counted(Protocol):
    count: int


def look_at(eye: np.ndarray[Any, Any], target: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Row-major view matrix (world -> view, camera looking down -z, y up)."""
    f = target - eye
    f = f / np.linalg.norm(f)
    s = np.cross(f, (0.0, 1.0, 0.0))
    s = s / np.linalg.norm(s)
    u = np.cross(s, f)
    m = np.eye(4)
    m[0, :3], m[1, :3], m[2, :3] = s, u, -f
    m[:3, 3] = -m[:3, :3] @ eye
    return m


def perspective(fov_y_deg: float, aspect: float, near: float, far: float
                ) -> np.ndarray[Any, Any]:
    """Row-major projection to Vulkan clip space (y down, depth 0 at near, 1 at far)."""
    f = 1.0 / math.tan(math.radians(fov_y_deg) / 2)
    m = np.zeros((4, 4))
    m[0, 0] = f / aspect
    m[1, 1] = -f
    m[2, 2] = far / (near - far)
    m[2, 3] = near * far / (near - far)
    m[3, 2] = -1.0
    return m


class CameraSystem(esper.Processor):
    """Args:
        ubo: the GlobalUboSet (GLOBAL_UBO_DTYPE) the shaders read as ``GlobalUbo``.
        viewport: anything with ``width``/``height`` in pixels (the render target).
        lights, particles: anything with ``count`` (LightingSystem, ParticleSystem).
        ambient: ambient light RGB.
    """

    def __init__(self, ubo: GlobalUboSet, viewport: _Sized, lights: _Counted,
                 particles: _Counted, *, ambient: tuple[float, float, float] = (0.06, 0.07, 0.1)
                 ) -> None:
        self.ubo = ubo
        self.viewport = viewport
        self.lights = lights
        self.particles = particles
        self.ambient = ambient
        self.time = 0.0
        self._data = np.zeros(1, GLOBAL_UBO_DTYPE)

    def process(self, dt: float = 0.0, *args: Any, **kwargs: Any) -> None:
        self.time += dt
        for _ent, cam in esper.get_component(Camera):
            self._move(cam, dt)
            self._write(cam, dt)
            return

    def _move(self, cam: Camera, dt: float) -> None:
        if cam.follow is None or not esper.entity_exists(cam.follow):
            return
        tr = esper.try_component(cam.follow, Transform)
        if tr is None:
            return
        k = 1.0 if cam.smoothing <= 0 else 1.0 - math.exp(-cam.smoothing * dt)
        tx, ty, tz = cam.target
        tx += (tr.x - tx) * k
        ty += (tr.y - ty) * k
        tz += (tr.z - tz) * k
        cam.target = (tx, ty, tz)
        ox, oy, oz = cam.offset
        cam.eye = (tx + ox, ty + oy, tz + oz)

    def _write(self, cam: Camera, dt: float) -> None:
        w = max(1, self.viewport.width)
        h = max(1, self.viewport.height)
        view = look_at(np.asarray(cam.eye, np.float64), np.asarray(cam.target, np.float64))
        proj = perspective(cam.fov_y, w / h, cam.near, cam.far)
        view_proj = proj @ view
        inv = np.linalg.inv(view_proj)
        cam.view, cam.proj = view.astype(np.float32), proj.astype(np.float32)
        cam.view_proj, cam.inv_view_proj = view_proj.astype(np.float32), inv.astype(np.float32)
        d = self._data[0]
        d["view"], d["proj"] = view.T, proj.T
        d["view_proj"], d["inv_view_proj"] = view_proj.T, inv.T
        d["camera_pos"][:3] = cam.eye
        d["viewport"] = (w, h, 1.0 / w, 1.0 / h)
        d["ambient"][:3] = self.ambient
        d["time"], d["dt"] = self.time, dt
        d["light_count"] = self.lights.count
        d["particle_count"] = self.particles.count
        self.ubo.update(self._data)
