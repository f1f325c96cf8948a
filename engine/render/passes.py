"""The frame's passes: particle simulation and sprites, scene geometry, light volumes.

Each pass builds its :class:`~engine.render.draw.DrawPipeline` for its phase of the (deferred)
target: vertex input from the layouts' numpy dtypes, checked against the shaders' reflection,
the phase rules checked before the driver sees them; the binder registers and later destroys
it. Buffers are bound by name with their dtypes checked against reflection. Each frame the
renderer hands the passes its :class:`~engine.render.draw.DrawContext` (:func:`add_passes`
registers them in frame order), which records from prebuilt cffi arrays only. Buffers are read
through their ``ManagedBuffer`` every frame, so a resize (new handle, generation + 1) is picked
up without rebuilding anything; the BindingSystem rewrites the descriptors once per slot.

Measured on lavapipe (Wisp, 600 frames headless): the recorder's checks cost no measurable
frame time against the raw ``lib.vkCmd*`` calls they replaced (a few microseconds per call, four
draws and one dispatch per frame; see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from typing import Any, Protocol

from engine.binding.binder import ResourceBinder
from engine.binding.pipelines import ComputePipeline
from engine.buffers.manager import BufferManager
from engine.buffers.sets import BufferSet
from engine.buffers.types import BufferUsage, ManagedBuffer
from engine.device.vk import vk
from engine.render.draw import DrawContext, DrawPipeline, VertexInput
from engine.render.graphics_pipeline import BLEND_ADDITIVE
from engine.render.image_descriptors import SlotImageDescriptor
from engine.render.layouts import (
    EMITTER_DTYPE,
    GLOBAL_UBO_DTYPE,
    LIGHT_DTYPE,
    PARTICLE_DTYPE,
    SCENE_VERTEX_DTYPE,
    SIM_PARAMS_DTYPE,
)
from engine.shaders.compiler import compile_glsl, shader_path

LIGHT_VOLUME_VERTICES = 18
"""Vertices of one light volume: an octagon drawn as a fan of 6 triangles."""


def spirv(name: str) -> bytes:
    """SPIR-V of the engine shader ``name`` (compiled once, cached on disk)."""
    return compile_glsl(shader_path(name))


class _Target(Protocol):
    render_pass: Any
    generation: int
    gbuffer: Any
    layout: Any


class ParticleSource(Protocol):
    """What the particle pass reads from the ParticleSystem (buffers and counts)."""

    particles: ManagedBuffer
    emitters: ManagedBuffer
    stats: ManagedBuffer
    params: BufferSet
    count: int
    groups: tuple[int, int, int]


class LightSource(Protocol):
    """What the light pass reads from the LightingSystem."""

    buffer: ManagedBuffer
    count: int


def _pipeline(binder: ResourceBinder, target: _Target, name: str, shaders: str,
              global_ubo: BufferSet, **options: Any) -> DrawPipeline:
    """A DrawPipeline of the engine shaders ``shaders.vert``/``.frag`` with GlobalUbo bound."""
    pipe = DrawPipeline(binder, target, name, vertex_shader=spirv(f"{shaders}.vert"),
                        fragment_shader=spirv(f"{shaders}.frag"), **options)
    binder.bind_uniform_buffer_named(pipe.id, "GlobalUbo", global_ubo, dtype=GLOBAL_UBO_DTYPE)
    return pipe


class ScenePass:
    """Static scene geometry (ground, shapes) into colour + G-buffer (the ``scene`` phase).

    ``vertices`` (SCENE_VERTEX_DTYPE) are uploaded once to a DEVICE_LOCAL vertex buffer.
    """

    phase = "scene"

    def __init__(self, binder: ResourceBinder, manager: BufferManager, global_ubo: BufferSet,
                 target: _Target, vertices: Any) -> None:
        self.vertex_count = len(vertices)
        self.vertices = manager.create_and_upload("scene.vertices", vertices,
                                                  usage=BufferUsage.VERTEX)
        self.pipeline = _pipeline(binder, target, "scene", "scene", global_ubo,
                                  phase=self.phase, vertex=[VertexInput(SCENE_VERTEX_DTYPE)],
                                  cull="back", front_face="ccw")

    def record(self, dc: DrawContext) -> None:
        if not self.vertex_count:
            return
        dc.bind_pipeline(self.pipeline)
        dc.bind_vertex_buffers(self.vertices)
        dc.draw(self.vertex_count)


class LightVolumePass:
    """One additive octagon per light (instanced), applying that light to the G-buffer
    (the ``light`` phase).

    The octagon covers the light sphere's silhouette and sits at the depth of the sphere's far
    side; the depth test (GREATER_OR_EQUAL, read-only, early) rejects pixels whose surface is
    out of reach behind the light, and the sky, before the fragment shader runs.

    ``enabled`` False draws nothing (the compute lighting path,
    :class:`~engine.render.tiled_lighting.TiledLightingPass`, applies the lights instead).

    The G-buffer is read through an input attachment in set 1, whose descriptor this pass
    writes itself (the binder handles buffers): once per slot at start, and again after the
    target recreated its attachments (``target.generation`` changed; the device was idle).
    """

    phase = "light"

    def __init__(self, binder: ResourceBinder, lights: LightSource, global_ubo: BufferSet,
                 target: _Target) -> None:
        self.binder = binder
        self.lights = lights
        self.target = target
        self.pipeline = _pipeline(binder, target, "light_volumes", "light_volume", global_ubo,
                                  phase=self.phase, depth_compare="greater_or_equal",
                                  blend=BLEND_ADDITIVE)
        binder.bind_storage_buffer_named(self.pipeline.id, "LightBuffer", lights.buffer,
                                         element_dtype=LIGHT_DTYPE)
        self._surface = SlotImageDescriptor(binder, self.pipeline.id,
                                            vk.VK_DESCRIPTOR_TYPE_INPUT_ATTACHMENT)
        self.attachment_writes = 0
        self.enabled = True

    def _write_attachments(self) -> None:
        surface = self.target.gbuffer.surface
        assert surface is not None, "light volumes need a deferred target (its G-buffer)"
        self.attachment_writes += self._surface.write(surface.view,
                                                      generation=self.target.generation)

    def record(self, dc: DrawContext) -> None:
        if self.target.generation != self._surface.generation:
            self._write_attachments()
        count = self.lights.count
        if not count or not self.enabled:
            return
        dc.bind_pipeline(self.pipeline)
        dc.draw(LIGHT_VOLUME_VERTICES, count)


class ParticlePass:
    """Compute simulation (the ``compute`` phase), additive point sprites (``light``).

    ``draw_sprites`` False leaves the drawing to the compute path
    (:class:`~engine.render.particle_splat.ParticleSplatPass`); the simulation still runs.

    Synchronisation: the dispatch is ordered after every earlier GPU access (uploads, the
    previous frame's vertex reads: write-after-read) by the dispatch's own barrier, and the
    draw's vertex fetch after the dispatch by a compute-write -> vertex-attribute-read barrier.
    """

    phase = "light"

    def __init__(self, binder: ResourceBinder, source: ParticleSource, global_ubo: BufferSet,
                 target: _Target) -> None:
        self.source = source
        self.compute_id = binder.register_pipeline("particles.simulate", [spirv("particles.comp")])
        binder.bind_uniform_buffer_named(self.compute_id, "SimParams", source.params,
                                         dtype=SIM_PARAMS_DTYPE)
        binder.bind_storage_buffer_named(self.compute_id, "ParticleBuffer", source.particles,
                                         element_dtype=PARTICLE_DTYPE)
        binder.bind_storage_buffer_named(self.compute_id, "EmitterBuffer", source.emitters,
                                         element_dtype=EMITTER_DTYPE)
        binder.bind_storage_buffer_named(self.compute_id, "ParticleStats", source.stats)
        self.compute = ComputePipeline(binder, self.compute_id)
        self.pipeline = _pipeline(
            binder, target, "particles.draw", "particle_draw", global_ubo, phase=self.phase,
            topology="points", blend=BLEND_ADDITIVE,
            vertex=[VertexInput(PARTICLE_DTYPE, fields=("pos_life", "color", "size"))])
        self.draw_sprites = True

    def record_compute(self, dc: DrawContext) -> None:
        source = self.source
        dc.fill_buffer(source.stats, 0)  # the alive count starts at 0 each frame
        if not source.count:
            return
        dc.dispatch(self.compute, source.groups)
        dc.barrier("compute", "vertex")

    def record(self, dc: DrawContext) -> None:
        count = self.source.count
        if not count or not self.draw_sprites:
            return
        dc.bind_pipeline(self.pipeline)
        dc.bind_vertex_buffers(self.source.particles)
        dc.draw(count)


def add_passes(renderer: Any, scene: ScenePass, lights: LightVolumePass,
               particles: ParticlePass) -> None:
    """Add Wisp's passes to ``renderer`` in frame order: particle simulation (compute), scene
    geometry (scene), light volumes then particle sprites (light; both additive)."""
    renderer.add_pass(particles.record_compute, phase="compute", name="particles.simulate")
    renderer.add_pass(scene.record, phase="scene", name="scene")
    renderer.add_pass(lights.record, phase="light", name="light_volumes")
    renderer.add_pass(particles.record, phase="light", name="particles")
