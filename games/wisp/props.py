"""Wisp's props: the pillars and glass orbs, drawn one object at a time from a uniform ring.

Each prop is one row of :data:`PROP_DTYPE` (kind, centre, size, colour, bob). Every frame the
:class:`PropSystem` (SIMULATE) turns the rows into per-object blocks (:data:`OBJECT_BLOCK`:
a model matrix and a colour, std140, 80 bytes), with the orbs bobbing; in the scene phase the
:class:`PropsPass` pushes all of them into a :class:`~engine.buffers.uniform_ring.UniformRing`
in one copy and draws each prop's unit mesh (a box or a sphere, one DEVICE_LOCAL vertex
buffer) with its block's dynamic offset: one pipeline bind, then one descriptor-set rebind and
one draw per prop, and no descriptor writes after each slot's first frame.

The props write the G-buffer exactly as the static scene does (the engine's ``scene.frag``),
so the light volumes, the particle depth test and the compute splat see them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import esper
import numpy as np

from engine.binding.binder import ResourceBinder
from engine.buffers.manager import BufferManager
from engine.buffers.sets import BufferSet
from engine.buffers.types import BufferUsage
from engine.buffers.uniform_ring import UniformRing
from engine.render import meshes
from engine.render.draw import DrawContext, DrawPipeline, VertexInput
from engine.render.layouts import GLOBAL_UBO_DTYPE, SCENE_VERTEX_DTYPE
from engine.shaders.compiler import shader_path
from engine.shaders.std_layout import std140

HERE = Path(__file__).resolve().parent
BOX, SPHERE = 0, 1
"""Prop kinds: a unit box (-0.5..0.5 on each axis) or a unit sphere (radius 1)."""

PROP_DTYPE = np.dtype([("kind", np.uint32), ("center", np.float32, 3),
                       ("size", np.float32, 3), ("color", np.float32, 4),
                       ("bob", np.float32), ("phase", np.float32)])
"""One prop: ``size`` scales the unit mesh (world units); ``color`` rgb albedo, a emissive;
``bob``: height of the up-and-down motion (units, 0 = still), ``phase`` its phase (radians)."""

OBJECT_BLOCK = std140([("model", "mat4"), ("color", "vec4")])
"""The per-object uniform block of ``props.vert`` (``Object``), 80 bytes."""

BOB_RATE = 1.3
"""Radians per second of an orb's bob."""


class PropSystem(esper.Processor):
    """Computes every prop's block for this frame (SIMULATE), vectorised over the props.

    ``blocks`` (:data:`OBJECT_BLOCK`, one per prop, in prop order) is what the PropsPass pushes.
    """

    def __init__(self, props: np.ndarray[Any, Any]) -> None:
        self.props = props
        self.time = 0.0
        self.blocks = np.zeros(len(props), OBJECT_BLOCK)
        self.blocks["color"] = props["color"]
        model = self.blocks["model"]  # column-major mat4: the numpy rows are GLSL's columns
        model[:, 3, 3] = 1.0
        for axis in range(3):
            model[:, axis, axis] = props["size"][:, axis]
        self._update()

    def _update(self) -> None:
        props = self.props
        center = props["center"].copy()
        center[:, 1] += props["bob"] * np.sin(BOB_RATE * self.time + props["phase"])
        self.blocks["model"][:, 3, :3] = center

    def process(self, dt: float = 0.0, *args: Any, **kwargs: Any) -> None:
        if dt > 0.0:
            self.time += dt
            self._update()


class PropsPass:
    """Draws the props in the ``scene`` phase, one per-object block each from a UniformRing.

    Args:
        binder, manager: the device's ResourceBinder and BufferManager.
        global_ubo: the frame's GlobalUbo set (camera).
        target: the render target (its deferred layout's scene phase).
        system: the PropSystem whose blocks are drawn.
    """

    def __init__(self, binder: ResourceBinder, manager: BufferManager, global_ubo: BufferSet,
                 target: Any, system: PropSystem) -> None:
        self.system = system
        unit_box = meshes.box((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (1.0, 1.0, 1.0, 0.0))
        unit_sphere = meshes.sphere((0.0, 0.0, 0.0), 1.0, (1.0, 1.0, 1.0, 0.0))
        self.ranges = {BOX: (0, len(unit_box)), SPHERE: (len(unit_box), len(unit_sphere))}
        """Per kind: (first vertex, vertex count) in the mesh buffer."""
        self.mesh = manager.create_and_upload("props.meshes", meshes.merge([unit_box,
                                                                           unit_sphere]),
                                              usage=BufferUsage.VERTEX)
        self.ring = UniformRing(manager, OBJECT_BLOCK, max(1, len(system.props)),
                                name="props.objects")
        self.pipeline = DrawPipeline(
            binder, target, "props", vertex_shader=HERE / "shaders" / "props.vert",
            fragment_shader=shader_path("scene.frag"), phase="scene",
            vertex=[VertexInput(SCENE_VERTEX_DTYPE, fields=("position", "normal"))],
            cull="back", dynamic={"Object"})
        binder.bind_uniform_buffer_named(self.pipeline.id, "GlobalUbo", global_ubo,
                                         dtype=GLOBAL_UBO_DTYPE)
        binder.bind_ring_named(self.pipeline.id, "Object", self.ring)
        kinds = system.props["kind"].tolist()
        self._draws = [self.ranges[kind] for kind in kinds]

    def record(self, dc: DrawContext) -> None:
        blocks = self.system.blocks
        if not len(blocks):
            return
        offsets = self.ring.push_many(blocks).tolist()  # one copy for every prop
        dc.bind_pipeline(self.pipeline, dynamic_offsets=offsets[:1])
        dc.bind_vertex_buffers(self.mesh)
        rebind, draw = dc.bind_descriptor_sets, dc.draw
        for offset, (first, count) in zip(offsets, self._draws, strict=True):
            rebind(dynamic_offsets=(offset,))
            draw(count, 1, first)

    def destroy(self, manager: BufferManager) -> None:
        """Retire the ring and the mesh buffer (frame-safely)."""
        if not self.ring.closed:
            self.ring.close()
        if self.mesh.alive and not manager.closed:
            manager.destroy_buffer(self.mesh)
