"""numpy dtypes of every GPU block the renderer shares with its shaders.

Each is declared with :mod:`engine.shaders.std_layout` (std140 for uniform blocks, std430 for
storage
buffers) and checked against SPIR-V reflection when bound (the ResourceBinder's ``dtype=`` /
``element_dtype=`` arguments raise :class:`~engine.errors.LayoutMismatchError` before any GPU
work if a shader and its dtype disagree). Offsets and sizes are bytes; matrices are stored
column-major (write ``M.T`` of a row-major numpy matrix).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.shaders.std_layout import std140, std430

GLOBAL_UBO_DTYPE: np.dtype[Any] = std140([
    ("view", "mat4"), ("proj", "mat4"), ("view_proj", "mat4"), ("inv_view_proj", "mat4"),
    ("camera_pos", "vec4"), ("viewport", "vec4"), ("ambient", "vec4"),
    ("time", "float"), ("dt", "float"), ("light_count", "uint"), ("particle_count", "uint"),
])
"""``GlobalUbo`` (engine/glsl/globals.glsl): 320 bytes, one buffer per frame slot."""

PARTICLE_DTYPE: np.dtype[Any] = std430([
    ("pos_life", "vec4"), ("vel_age", "vec4"), ("color", "vec4"),
    ("size", "float"), ("emitter", "uint"), ("seed", "float"), ("pad", "float"),
])
"""One ``Particle`` of ``ParticleBuffer`` (particles.comp): 64 bytes, also the vertex stride."""

EMITTER_DTYPE: np.dtype[Any] = std430([
    ("position", "vec4"), ("velocity", "vec4"), ("color_start", "vec4"), ("color_end", "vec4"),
    ("rate", "float"), ("lifetime", "float"), ("size", "float"), ("burst_time", "float"),
    ("gravity", "float"), ("drag", "float"), ("count", "uint"), ("enabled", "uint"),
])
"""One ``Emitter`` of ``EmitterBuffer`` (particles.comp): 96 bytes."""

SIM_PARAMS_DTYPE: np.dtype[Any] = std140([
    ("gravity", "vec4"), ("dt", "float"), ("time", "float"), ("frame", "uint"),
    ("particle_count", "uint"), ("row_stride", "uint"),
])
"""``SimParams`` (particles.comp): per-frame simulation parameters, 48 bytes."""

LIGHT_DTYPE: np.dtype[Any] = std430([
    ("position_radius", "vec4"), ("color_intensity", "vec4"), ("pulse", "vec4"),
])
"""One ``Light`` of ``LightBuffer`` (light_volume.vert): 48 bytes."""

SCENE_VERTEX_DTYPE: np.dtype[Any] = np.dtype([
    ("position", np.float32, 3), ("normal", np.float32, 3), ("color", np.float32, 4),
])
"""Scene vertex (scene.vert inputs 0-2): 40 bytes."""
