"""Simple scene meshes as non-indexed triangle lists of
:data:`~engine.render.layouts.SCENE_VERTEX_DTYPE` vertices.

World space is right-handed, y up, in world units. Triangles wind counter-clockwise seen from
outside; with the y-flipping projection they stay counter-clockwise in Vulkan framebuffer
terms. Colours are ``(r, g, b, emissive)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.render.layouts import SCENE_VERTEX_DTYPE

Vec3 = tuple[float, float, float]
Color = tuple[float, float, float, float]


def _triangles(positions: np.ndarray[Any, Any], normals: np.ndarray[Any, Any],
               color: Color) -> np.ndarray[Any, Any]:
    out = np.zeros(len(positions), SCENE_VERTEX_DTYPE)
    out["position"] = positions
    out["normal"] = normals
    out["color"] = color
    return out


def ground(half_size: float, color: Color) -> np.ndarray[Any, Any]:
    """A square at y = 0 from ``-half_size`` to ``half_size`` on x and z, normal +y."""
    s = half_size
    corners = np.array([(-s, 0, -s), (-s, 0, s), (s, 0, s), (s, 0, -s)], np.float32)
    pos = corners[[0, 1, 2, 0, 2, 3]]
    return _triangles(pos, np.tile([0.0, 1.0, 0.0], (6, 1)), color)


def box(center: Vec3, size: Vec3, color: Color) -> np.ndarray[Any, Any]:
    """An axis-aligned box (``size`` = full extents), flat-shaded."""
    c = np.asarray(center, np.float32)
    h = np.asarray(size, np.float32) / 2
    faces = []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            n = np.zeros(3, np.float32)
            n[axis] = sign
            u = np.zeros(3, np.float32)
            v = np.zeros(3, np.float32)
            u[(axis + 1) % 3] = 1.0
            v[(axis + 2) % 3] = 1.0
            if sign < 0:
                u, v = v, u
            quad = [c + h * (n + a * u + b * v) for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
            tri = np.array([quad[i] for i in (0, 1, 2, 0, 2, 3)], np.float32)
            faces.append(_triangles(tri, np.tile(n, (6, 1)), color))
    return np.concatenate(faces)


def sphere(center: Vec3, radius: float, color: Color, subdivisions: int = 2
           ) -> np.ndarray[Any, Any]:
    """An icosphere, flat-shaded (one normal per face: the G-buffer stores flat normals)."""
    t = (1.0 + 5 ** 0.5) / 2
    verts = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t),
             (0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4),
             (11, 10, 2), (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8),
             (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    tris = np.array([[verts[i] for i in f] for f in faces], np.float64)
    tris /= np.linalg.norm(tris, axis=2, keepdims=True)
    for _ in range(subdivisions):
        a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
        ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
        tris = np.concatenate([np.stack(x, 1) for x in
                               ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
        tris /= np.linalg.norm(tris, axis=2, keepdims=True)
    unit = tris.reshape(-1, 3).astype(np.float32)
    pos = (unit * radius + np.asarray(center, np.float32)).astype(np.float32)
    face = tris.mean(axis=1)
    face /= np.linalg.norm(face, axis=1, keepdims=True)
    return _triangles(pos, np.repeat(face, 3, axis=0).astype(np.float32), color)


def merge(parts: Sequence[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    """One vertex array of all ``parts`` (one draw call)."""
    return np.concatenate(list(parts)) if parts else np.zeros(0, SCENE_VERTEX_DTYPE)
