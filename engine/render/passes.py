"""The frame's passes: particle simulation and sprites, scene geometry, light volumes.

Each pass registers its pipeline(s) with the ResourceBinder (layouts come from reflection),
binds its buffers by name with their dtypes checked against reflection, builds its VkPipeline
against the target's render pass (the binder adopts and later destroys it), and records into
the frame through the :class:`~engine.render.renderer.FramePass` hooks. Per-frame recording
uses prebuilt cffi arrays only (no binding struct constructors per frame). Buffers are read
through their ``ManagedBuffer`` every
frame, so a resize (new handle, generation + 1) is picked up without rebuilding anything; the
BindingSystem rewrites the descriptors once per slot.
"""

from __future__ import annotations

from typing import Any, Protocol

from engine.binding.binder import ResourceBinder
from engine.binding.pipelines import ComputePipeline
from engine.buffers.manager import BufferManager
from engine.buffers.sets import BufferSet
from engine.buffers.types import BufferUsage, ManagedBuffer
from engine.device.barriers import memory_barrier
from engine.device.vk import ffi, lib, vk
from engine.render.graphics_pipeline import (
    BLEND_ADDITIVE,
    GraphicsPipeline,
    GraphicsPipelineDesc,
    VertexAttribute,
)
from engine.render.layouts import (
    EMITTER_DTYPE,
    GLOBAL_UBO_DTYPE,
    LIGHT_DTYPE,
    PARTICLE_DTYPE,
    SCENE_VERTEX_DTYPE,
    SIM_PARAMS_DTYPE,
)
from engine.render.render_pass import LIGHT_SUBPASS, SCENE_COLOR_ATTACHMENTS, SCENE_SUBPASS
from engine.shaders.compiler import compile_glsl, shader_path

_GRAPHICS = vk.VK_PIPELINE_BIND_POINT_GRAPHICS
_FLOAT4 = vk.VK_FORMAT_R32G32B32A32_SFLOAT
_FLOAT3 = vk.VK_FORMAT_R32G32B32_SFLOAT
LIGHT_VOLUME_VERTICES = 18
"""Vertices of one light volume: an octagon drawn as a fan of 6 triangles."""


def spirv(name: str) -> bytes:
    """SPIR-V of the engine shader ``name`` (compiled once, cached on disk)."""
    return compile_glsl(shader_path(name))


class _Target(Protocol):
    render_pass: Any
    generation: int
    gbuffer: Any


class ParticleSource(Protocol):
    """What the particle pass reads from the ParticleSystem (buffers and counts)."""

    particles: ManagedBuffer
    emitters: ManagedBuffer
    params: BufferSet
    count: int
    groups: tuple[int, int, int]


class LightSource(Protocol):
    """What the light pass reads from the LightingSystem."""

    buffer: ManagedBuffer
    count: int


class _GraphicsDraw:
    """A graphics pipeline id, its VkPipeline and the prebuilt bind arguments."""

    def __init__(self, binder: ResourceBinder, name: str, shaders: list[str],
                 desc: GraphicsPipelineDesc, global_ubo: BufferSet, render_pass: Any) -> None:
        self.binder = binder
        codes = {s.rsplit(".", 1)[1]: spirv(s) for s in shaders}
        self.pid = binder.register_pipeline(name, list(codes.values()))
        binder.bind_uniform_buffer_named(self.pid, "GlobalUbo", global_ubo,
                                         dtype=GLOBAL_UBO_DTYPE)
        self.layout = binder.pipeline_layout(self.pid)
        self.pipeline = GraphicsPipeline(binder.context, desc, codes, self.layout, render_pass)
        binder.adopt(self.pid, self.pipeline)
        self.set_count = len(binder.descriptor_sets(self.pid, 0))
        self._sets = [binder.descriptor_set_array(self.pid, f)
                      for f in range(binder.frames_in_flight)]

    def bind(self, cmd: Any, slot: int) -> None:
        lib.vkCmdBindPipeline(cmd, _GRAPHICS, self.pipeline.handle)
        lib.vkCmdBindDescriptorSets(cmd, _GRAPHICS, self.layout, 0, self.set_count,
                                    self._sets[slot], 0, ffi.NULL)


class ScenePass:
    """Static scene geometry (ground, shapes) into colour + G-buffer (subpass 0).

    ``vertices`` (SCENE_VERTEX_DTYPE) are uploaded once to a DEVICE_LOCAL vertex buffer.
    """

    def __init__(self, binder: ResourceBinder, manager: BufferManager, global_ubo: BufferSet,
                 target: _Target, vertices: Any) -> None:
        self.vertex_count = len(vertices)
        self.vertices = manager.create_and_upload("scene.vertices", vertices,
                                                  usage=BufferUsage.VERTEX)
        fields = SCENE_VERTEX_DTYPE.fields
        assert fields is not None
        attrs = tuple(VertexAttribute(i, 0, fmt, fields[name][1])
                      for i, (name, fmt) in enumerate(
                          (("position", _FLOAT3), ("normal", _FLOAT3), ("color", _FLOAT4))))
        desc = GraphicsPipelineDesc(
            "scene", vertex_bindings=((0, SCENE_VERTEX_DTYPE.itemsize),),
            vertex_attributes=attrs, cull_mode=vk.VK_CULL_MODE_BACK_BIT,
            front_face=vk.VK_FRONT_FACE_COUNTER_CLOCKWISE,
            color_attachments=SCENE_COLOR_ATTACHMENTS, subpass=SCENE_SUBPASS)
        self.draw = _GraphicsDraw(binder, "scene", ["scene.vert", "scene.frag"], desc,
                                  global_ubo, target.render_pass)
        self._vb = ffi.new("VkBuffer[1]")
        self._offsets = ffi.new("VkDeviceSize[1]")

    def record_compute(self, cmd: Any, slot: int) -> None:
        """No compute work."""

    def record_scene(self, cmd: Any, slot: int) -> None:
        if not self.vertex_count:
            return
        self.draw.bind(cmd, slot)
        self._vb[0] = self.vertices.handle
        lib.vkCmdBindVertexBuffers(cmd, 0, 1, self._vb, self._offsets)
        lib.vkCmdDraw(cmd, self.vertex_count, 1, 0, 0)

    def record_light(self, cmd: Any, slot: int) -> None:
        """Nothing in the light subpass."""


class LightVolumePass:
    """One additive octagon per light (instanced), applying that light to the G-buffer.

    The octagon covers the light sphere's silhouette and sits at the depth of the sphere's far
    side; the depth test (GREATER_OR_EQUAL, read-only, early) rejects pixels whose surface is
    out of reach behind the light, and the sky, before the fragment shader runs.

    The G-buffer is read through an input attachment in set 1, whose descriptor this pass
    writes itself (the binder handles buffers): once per slot at start, and again after the
    target recreated its attachments (``target.generation`` changed; the device was idle).
    """

    def __init__(self, binder: ResourceBinder, lights: LightSource, global_ubo: BufferSet,
                 target: _Target) -> None:
        self.binder = binder
        self.lights = lights
        self.target = target
        desc = GraphicsPipelineDesc(
            "light_volumes", depth_test=True, depth_write=False,
            depth_compare=vk.VK_COMPARE_OP_GREATER_OR_EQUAL, blend=BLEND_ADDITIVE,
            subpass=LIGHT_SUBPASS)
        self.draw = _GraphicsDraw(binder, "light_volumes",
                                  ["light_volume.vert", "light_volume.frag"], desc, global_ubo,
                                  target.render_pass)
        binder.bind_storage_buffer_named(self.draw.pid, "LightBuffer", lights.buffer,
                                         element_dtype=LIGHT_DTYPE)
        self._image_info = ffi.new("VkDescriptorImageInfo*")
        self._write = ffi.new("VkWriteDescriptorSet*")
        self._written_generation = -1
        self.attachment_writes = 0

    def _write_attachments(self) -> None:
        info = self._image_info
        surface = self.target.gbuffer.surface
        assert surface is not None, "light volumes need a deferred target (its G-buffer)"
        info.imageView = surface.view
        info.imageLayout = vk.VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL
        w = self._write
        w.sType = vk.VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
        w.dstBinding = 0
        w.descriptorCount = 1
        w.descriptorType = vk.VK_DESCRIPTOR_TYPE_INPUT_ATTACHMENT
        w.pImageInfo = info
        for slot in range(self.binder.frames_in_flight):
            w.dstSet = self.binder.descriptor_sets(self.draw.pid, slot)[1]
            lib.vkUpdateDescriptorSets(self.binder.context.device, 1, w, 0, ffi.NULL)
            self.attachment_writes += 1
        self._written_generation = self.target.generation

    def record_compute(self, cmd: Any, slot: int) -> None:
        """No compute work."""

    def record_scene(self, cmd: Any, slot: int) -> None:
        """Nothing in the scene subpass."""

    def record_light(self, cmd: Any, slot: int) -> None:
        if self.target.generation != self._written_generation:
            self._write_attachments()
        count = self.lights.count
        if not count:
            return
        self.draw.bind(cmd, slot)
        lib.vkCmdDraw(cmd, LIGHT_VOLUME_VERTICES, count, 0, 0)


class ParticlePass:
    """Compute simulation before the render pass, additive point sprites in subpass 1.

    Synchronisation: the dispatch is ordered after every earlier GPU access (uploads, the
    previous frame's vertex reads: write-after-read) by the ComputePipeline's barrier, and the
    draw's vertex fetch after the dispatch by a compute-write -> vertex-attribute-read barrier.
    """

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
        self.compute = ComputePipeline(binder, self.compute_id)
        fields = PARTICLE_DTYPE.fields
        assert fields is not None
        attrs = (VertexAttribute(0, 0, _FLOAT4, fields["pos_life"][1]),
                 VertexAttribute(1, 0, _FLOAT4, fields["color"][1]),
                 VertexAttribute(2, 0, vk.VK_FORMAT_R32_SFLOAT, fields["size"][1]))
        desc = GraphicsPipelineDesc(
            "particles.draw", topology=vk.VK_PRIMITIVE_TOPOLOGY_POINT_LIST,
            vertex_bindings=((0, PARTICLE_DTYPE.itemsize),), vertex_attributes=attrs,
            depth_test=True, depth_write=False, blend=BLEND_ADDITIVE, subpass=LIGHT_SUBPASS)
        self.draw = _GraphicsDraw(binder, "particles.draw",
                                  ["particle_draw.vert", "particle_draw.frag"], desc, global_ubo,
                                  target.render_pass)
        self._barrier = ffi.new("VkMemoryBarrier*", {"sType": vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER})
        self._vb = ffi.new("VkBuffer[1]")
        self._offsets = ffi.new("VkDeviceSize[1]")

    def record_compute(self, cmd: Any, slot: int) -> None:
        source = self.source
        if not source.count:
            return
        self.compute.record(cmd, slot, source.groups)
        memory_barrier(cmd, vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                       vk.VK_ACCESS_SHADER_WRITE_BIT, vk.VK_PIPELINE_STAGE_VERTEX_INPUT_BIT,
                       vk.VK_ACCESS_VERTEX_ATTRIBUTE_READ_BIT, barrier=self._barrier)

    def record_scene(self, cmd: Any, slot: int) -> None:
        """Nothing in the scene subpass."""

    def record_light(self, cmd: Any, slot: int) -> None:
        count = self.source.count
        if not count:
            return
        self.draw.bind(cmd, slot)
        self._vb[0] = self.source.particles.handle
        lib.vkCmdBindVertexBuffers(cmd, 0, 1, self._vb, self._offsets)
        lib.vkCmdDraw(cmd, count, 1, 0, 0)
