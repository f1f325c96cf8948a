"""CameraSystem (SIMULATE phase, last): move the camera, write the frame's GlobalUbo.

Every frame it follows the camera's target entity (if any), builds view and projection
matrices (right-handed, y up; Vulkan clip space: y down, depth 0..1), and writes the whole
GlobalUbo (320 B: matrices, eye, viewport, ambient, time, dt, light and particle counts) in
place into this frame slot's buffer of the GlobalUboSet (``map_write``: the values go
straight into the mapped memory the shaders read, no temporary block). The data changes
every frame, which is exactly what a per-frame set is for: no buffer a frame in flight reads
is ever written.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import esper
import numpy as np

from components.camera import Camera
from components.transform import Transform
from engine.buffers.sets import GlobalUboSet
from engine.render.layouts import GLOBAL_UBO_DTYPE

_FIELDS = GLOBAL_UBO_DTYPE.fields
assert _FIELDS is not None
_TAIL: int = _FIELDS["camera_pos"][1]  # 256: after the four matrices
_COUNTS: int = _FIELDS["light_count"][1]  # 312


class _Sized(Protocol):
    width: int
    height: int


class _Counted(Protocol):
    count: int


def camera_matrices(eye: tuple[float, float, float], target: tuple[float, float, float],
                    fov_y_deg: float, aspect: float, near: float, far: float
                    ) -> np.ndarray[Any, Any]:
    """Row-major (view, proj, view_proj, inv_view_proj) as a (4, 4, 4) float64 array.

    View: right-handed, camera looking down -z, y up. Projection: Vulkan clip space (y down,
    depth 0 at ``near``, 1 at ``far``). The inverse is built in closed form (a rigid view and
    a perspective matrix), which is exact and cheaper than a general 4x4 inverse.
    """
    ex, ey, ez = eye
    fx, fy, fz = target[0] - ex, target[1] - ey, target[2] - ez
    n = math.sqrt(fx * fx + fy * fy + fz * fz)
    fx, fy, fz = fx / n, fy / n, fz / n
    sx, sz = -fz, fx                       # f x (0, 1, 0)
    n = math.hypot(sx, sz) or 1.0
    sx, sz = sx / n, sz / n
    ux, uy, uz = -sz * fy, sz * fx - sx * fz, sx * fy   # s x f
    f = 1.0 / math.tan(math.radians(fov_y_deg) / 2)
    a, b = f / aspect, -f
    c, d = far / (near - far), near * far / (near - far)
    m = np.zeros((4, 4, 4))
    view, proj, vp, inv = m[0], m[1], m[2], m[3]
    view[0] = (sx, 0.0, sz, -(sx * ex + sz * ez))
    view[1] = (ux, uy, uz, -(ux * ex + uy * ey + uz * ez))
    view[2] = (-fx, -fy, -fz, fx * ex + fy * ey + fz * ez)
    view[3, 3] = 1.0
    proj[0, 0], proj[1, 1], proj[2, 2], proj[2, 3], proj[3, 2] = a, b, c, d, -1.0
    vp[...] = proj @ view
    inv_view = np.array(((sx, ux, -fx, ex), (0.0, uy, -fy, ey), (sz, uz, -fz, ez),
                         (0.0, 0.0, 0.0, 1.0)))
    inv_proj = np.array(((1.0 / a, 0.0, 0.0, 0.0), (0.0, 1.0 / b, 0.0, 0.0),
                         (0.0, 0.0, 0.0, -1.0), (0.0, 0.0, 1.0 / d, c / d)))
    inv[...] = inv_view @ inv_proj
    return m


class CameraSystem(esper.Processor):
    """Writes this frame slot's global uniform block (SIMULATE phase).

    Args:
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
        self._tail = np.zeros(14, np.float32)

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
        mats = camera_matrices(cam.eye, cam.target, cam.fov_y, w / h, cam.near, cam.far)
        cam.view, cam.proj, cam.view_proj, cam.inv_view_proj = mats.astype(np.float32)
        ex, ey, ez = cam.eye
        ar, ag, ab = self.ambient
        tail = self._tail
        tail[:12] = (ex, ey, ez, 0.0, w, h, 1.0 / w, 1.0 / h, ar, ag, ab, 0.0)
        tail[12:14] = (self.time, dt)
        # In place, at GLOBAL_UBO_DTYPE's offsets: four column-major matrices, then
        # camera_pos, viewport, ambient, time, dt, then the two counts.
        with self.ubo.map_write(np.uint8) as raw:
            raw[:_TAIL].view(np.float32).reshape(4, 4, 4)[...] = mats.transpose(0, 2, 1)
            raw[_TAIL:_COUNTS].view(np.float32)[:] = tail
            raw[_COUNTS:_COUNTS + 8].view(np.uint32)[:] = (self.lights.count,
                                                           self.particles.count)
