"""The compute particle path: particles splatted with atomics, then composited in one draw.

The point-sprite path (:class:`~engine.render.passes.ParticlePass` with ``draw_sprites``)
sends every particle through the GPU's point rasteriser; on an H200 that front end is a
handful of units and 1,000,000 sprites at 1080p cost ~6 ms, and on lavapipe it is single
threaded (0.35-0.6 us a sprite). This path draws the same sprites in compute instead
(after Schuetz, Kerbl and Wimmer, "Rendering point clouds with compute shaders", 2021/2022):

``record_compute`` (before the render pass)
    Barrier (every earlier access -> transfer), then ``vkCmdFillBuffer`` zeroes
    ``particles.splat_accum`` and ``particles.splat_tiles``. When the target changed size
    since the last frame, the buffers are first resized to it (``resize_buffer``:
    generation + 1), the resize copies are queued ahead of this frame's command buffer and
    the binder rewrites this slot's descriptors at once (the BINDINGS phase already ran).
render pass
    Scene and light volumes as usual; the sprite draw is off. The depth attachment is stored.
``record_after`` (after the render pass, :attr:`~engine.render.renderer.Renderer.after_passes`)
    1. ``particle_splat.comp``, one invocation per particle slot, behind a barrier from every
       earlier write (fill, the fragment tests' depth writes, simulation): project, size,
       depth-test each covered pixel against the depth attachment (sampled in the render
       pass's final DEPTH_STENCIL_READ_ONLY layout; a copy of it into a buffer cost 0.1 ms
       a frame on an H200 at 1080p), ``atomicAdd`` fixed-point R, G, B into
       ``splat_accum``: one 64-bit atomic per pixel (R, G, B packed 21:21:22) where the
       device has 64-bit buffer atomics
       (:attr:`~engine.device.context.DeviceFeatures.buffer_int64_atomics`), else three
       32-bit ones. On an H200 at 1080p the packed add halves the splat (1M particles:
       1.29 -> 0.64 ms; 10M: 11.5 -> 4.5 ms).
    2. The :class:`~engine.render.tile_composite.TileComposite` (a one-subpass render pass
       over the target's colour image, LOAD, additive): one quad
       per 16 x 16 tile, instanced over all tiles, adds ``splat_accum``
       (``particle_composite.frag``) to the lit picture; tiles that no sprite touched
       (``particles.splat_tiles``, flagged by the splat) collapse in the vertex shader, so
       the fragment work follows the particles' screen coverage, not the screen size. Its
       external dependencies order it after the splat's writes and the colour writes, and
       the screenshot copy or presentation after it.

The next frame's fill waits for this frame's composite reads and splat through the barrier at
the start of ``record_compute`` (submission order on one queue); the next frame's depth writes
wait for the splat's reads through the render pass's incoming dependency (compute stage).

Buffers (through the BufferManager, bound by name through the ResourceBinder; statistics and
the memory map show them): ``particles.splat_accum`` DEVICE_LOCAL STORAGE, width x height x 8
bytes packed (:data:`PACKED_ACCUM_BYTES_PER_PIXEL`) or 12 bytes (three uint32,
:data:`ACCUM_BYTES_PER_PIXEL`) a pixel, :data:`SPLAT_SCALE` units per 1.0 (the layouts and
their overflow limits: engine/glsl/particle_splat.glsl); ``particles.splat_tiles``
DEVICE_LOCAL STORAGE, one uint32 per 16 x 16 tile. Both are sized from the render target and
follow it; the depth attachment's descriptor (set 1) is written by the pass, at its first
frame and after the target recreated its images. Per frame nothing here touches per-particle
data on the CPU: the dispatch size comes from the ParticleSystem's ``count`` and ``groups``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from engine.binding.binder import ResourceBinder
from engine.binding.pipelines import ComputePipeline
from engine.buffers.manager import BufferManager
from engine.buffers.sets import BufferSet
from engine.buffers.types import BufferConfig, BufferStrategy, BufferUsage, ManagedBuffer
from engine.device.barriers import memory_barrier, new_memory_barrier
from engine.device.context import GraphicsContext
from engine.device.vk import lib, vk
from engine.errors import InvalidOptionError
from engine.render.image_descriptors import SlotImageDescriptor
from engine.render.layouts import GLOBAL_UBO_DTYPE, PARTICLE_DTYPE
from engine.render.tile_composite import TileComposite
from engine.shaders.compiler import compile_engine_shader

SPLAT_SCALE = 2048
"""Fixed-point units per 1.0 of colour in ``splat_accum`` (engine/glsl/particle_splat.glsl)."""
ACCUM_BYTES_PER_PIXEL = 12
"""Three uint32 (R, G, B) per pixel: the layout without 64-bit buffer atomics."""
PACKED_ACCUM_BYTES_PER_PIXEL = 8
"""One uint64 per pixel (R 21 bits, G 21, B 22): the layout with 64-bit buffer atomics."""
SPLAT_TILE = 16
"""Edge in pixels of one tile of ``particles.splat_tiles`` (engine/glsl/particle_splat.glsl)."""
SPLAT_LOCAL_SIZE = 256
"""Invocations per workgroup of particle_splat.comp (the simulation's, so its groups fit)."""

PARTICLE_PATHS = ("sprites", "compute")
"""The two ways to draw particles; ``"auto"`` resolves to one with :func:`choose_particles_path`."""
SOFTWARE_COMPUTE_MIN_PARTICLES = 50_000
"""On lavapipe and other CPU devices, ``auto`` picks compute from this many particle slots up.

Measured on lavapipe (2 cores shared with other work, 960x540, 64 lights, wisp, 600 frames,
two runs): 10,000 particles: sprites 40.2 and 40.3 ms median, compute 46.1 and 52.0 ms;
100,000: sprites 219 and 316 ms, compute 204 and 232 ms. CPU time per frame (less disturbed
by the other work): 10,000: sprites 27.7-30.5 ms, compute 32.5-33.7 ms; 100,000: sprites
101-110 ms, compute 111-112 ms. So the work is about equal; compute wins on wall-clock time
at large counts because the splat runs on every core while lavapipe's point front end is one
thread, and loses at small counts to its fixed cost (fill, then a depth copy, composite). The
splat is not the big win it is on a GPU: llvmpipe runs each storage-buffer load and atomic in
divergent code as a loop over the SIMD lanes, and the splat then did four per covered pixel
(since then: a sampled depth read and one packed atomic)."""
GPU_COMPUTE_MIN_PARTICLES = 50_000
"""On a hardware GPU, ``auto`` picks compute from this many particle slots up.

Why: the compute path has a fixed cost per frame that does not depend on the particle count:
a fill of 8 (packed) or 12 bytes a pixel, a read of the depth (4 bytes a pixel) and the
composite over the touched tiles: ~30 MB of traffic at 1080p, a few tens of microseconds on
an H200. The sprite path costs ~6 ns a particle there (6.3 ms for 1,000,000 at 1080p, one
light), so it can only be cheaper below a few thousand particles; 50,000 leaves a wide margin.
Confirm it with the ``game`` benchmark family, which records both paths side by side."""


def choose_particles_path(ctx: GraphicsContext, particles: int) -> str:
    """The faster path for this device (the rule ``--particles-path auto`` applies).

    - lavapipe and other CPU devices (``ctx.is_software``): ``"compute"`` from
      :data:`SOFTWARE_COMPUTE_MIN_PARTICLES` slots, else ``"sprites"``.
    - hardware GPUs: ``"compute"`` from :data:`GPU_COMPUTE_MIN_PARTICLES` slots, else
      ``"sprites"``.
    """
    n = int(particles)
    if ctx.is_software:
        return "compute" if n >= SOFTWARE_COMPUTE_MIN_PARTICLES else "sprites"
    return "compute" if n >= GPU_COMPUTE_MIN_PARTICLES else "sprites"


def check_particles_path(path: Any, what: str) -> str:
    """``path`` if it is one of :data:`PARTICLE_PATHS`, else InvalidOptionError."""
    if path.__class__ is not str or path not in PARTICLE_PATHS:
        raise InvalidOptionError(f"{what}: particles path {path!r} is not one of "
                                 f"{', '.join(PARTICLE_PATHS)}; pass 'sprites' or 'compute'.")
    return str(path)


def _tile_count(width: int, height: int) -> int:
    """Tiles of SPLAT_TILE x SPLAT_TILE pixels covering ``width`` x ``height``."""
    return -(-width // SPLAT_TILE) * -(-height // SPLAT_TILE)


def _spirv(name: str, packed: bool = False) -> bytes:
    """SPIR-V of ``name``; ``packed`` compiles it for the one-uint64-a-pixel layout."""
    return compile_engine_shader(name, {"SPLAT_PACKED": 1} if packed else None)


class _SplatSource(Protocol):
    particles: ManagedBuffer
    count: int
    groups: tuple[int, int, int]


class _SplatTarget(Protocol):
    width: int
    height: int
    generation: int
    final_layout: int
    color_format: int
    gbuffer: Any

    def color_view(self, index: int) -> Any: ...

    def color_image(self, index: int) -> Any: ...

    def color_storage_view(self, index: int) -> Any: ...


class ParticleSplatPass:
    """Draws the ParticleSystem's particles in compute (see the module docstring).

    It is a :class:`~engine.render.renderer.FramePass` (``record_compute`` clears the
    accumulation) and an :class:`~engine.render.renderer.AfterPass` (``record_after``:
    splat, composite). ``enabled`` False makes every hook a no-op (the sprite path draws).

    Args:
        binder, manager: the ResourceBinder and BufferManager of the frame.
        source: the ParticleSystem (``particles``, ``count``, ``groups``).
        global_ubo: the GlobalUbo set (camera matrices, viewport).
        target: the render target (its size, depth image, colour views, final layout).

    Lifetime: :meth:`destroy` (waits for the device) frees the render pass, framebuffers and
    both buffers; the pipelines belong to the binder.
    """

    def __init__(self, binder: ResourceBinder, manager: BufferManager, source: _SplatSource,
                 global_ubo: BufferSet, target: _SplatTarget) -> None:
        self.binder, self.manager, self.source, self.target = binder, manager, source, target
        self.ctx = manager.context
        self.enabled = True
        self.resizes = 0
        """Times the buffers followed a new target size."""
        self.composite_pass: TileComposite | None = None
        self.accum: ManagedBuffer | None = None
        self.tiles: ManagedBuffer | None = None
        self.depth_writes = 0
        """Descriptor writes of the depth attachment (once per slot per target generation)."""
        w, h = max(1, target.width), max(1, target.height)
        self._size = (w, h)
        self.packed = bool(self.ctx.features.buffer_int64_atomics)
        """True when ``splat_accum`` holds one uint64 a pixel (64-bit buffer atomics)."""
        self.accum_bytes_per_pixel = (PACKED_ACCUM_BYTES_PER_PIXEL if self.packed
                                      else ACCUM_BYTES_PER_PIXEL)
        """Bytes a pixel of ``splat_accum`` (8 packed, else 12)."""
        packed = self.packed
        try:
            self.tiles = manager.create_buffer(BufferConfig(
                "particles.splat_tiles", _tile_count(w, h) * 4, BufferStrategy.DEVICE_LOCAL,
                BufferUsage.STORAGE))
            self.accum = manager.create_buffer(BufferConfig(
                "particles.splat_accum", w * h * self.accum_bytes_per_pixel,
                BufferStrategy.DEVICE_LOCAL, BufferUsage.STORAGE))
            self.splat_id = binder.register_pipeline("particles.splat",
                                                     [_spirv("particle_splat.comp", packed)])
            binder.bind_uniform_buffer_named(self.splat_id, "GlobalUbo", global_ubo,
                                             dtype=GLOBAL_UBO_DTYPE)
            binder.bind_storage_buffer_named(self.splat_id, "ParticleBuffer", source.particles,
                                             element_dtype=PARTICLE_DTYPE)
            binder.bind_storage_buffer_named(self.splat_id, "SplatAccum", self.accum)
            binder.bind_storage_buffer_named(self.splat_id, "SplatTiles", self.tiles)
            self.splat = ComputePipeline(binder, self.splat_id)
            self.composite_pass = TileComposite(
                binder, target, "particles.composite",
                {"vert": _spirv("particle_composite.vert"),
                 "frag": _spirv("particle_composite.frag", packed)},
                {"SplatAccum": self.accum, "SplatTiles": self.tiles},
                compute_code=_spirv("particle_composite.comp", packed), tile=SPLAT_TILE)
            self.composite_id = self.composite_pass.pipeline_id
        except BaseException:
            self.destroy()
            raise
        # Prebuilt per-frame structs and arrays (fields mutated, nothing built per frame).
        self._push = np.zeros(5, np.uint32)  # width, height, count, row_stride, tiles_x
        self._barrier = new_memory_barrier()
        self._depth = SlotImageDescriptor(binder, self.splat_id,
                                          vk.VK_DESCRIPTOR_TYPE_SAMPLED_IMAGE)

    # --- size -----------------------------------------------------------------------------

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels the buffers are sized for."""
        return self._size

    def _follow_target(self, slot: int) -> None:
        """Resize both buffers to the target (generation + 1 each); their resize copies go
        ahead of this frame's command buffer and this slot's descriptors are rewritten now."""
        w, h = self.target.width, self.target.height
        assert self.accum is not None and self.tiles is not None
        self.manager.resize_buffer(self.accum, w * h * self.accum_bytes_per_pixel)
        self.manager.resize_buffer(self.tiles, _tile_count(w, h) * 4)
        self._size = (w, h)
        self.resizes += 1
        self.manager.submit_uploads()
        self.binder.update_frame(self.splat_id, slot)
        self.binder.update_frame(self.composite_id, slot)

    # --- FramePass / AfterPass hooks --------------------------------------------------------

    def record_compute(self, cmd: Any, slot: int) -> None:
        """Clear the accumulation (after every earlier access to it)."""
        if not self.enabled:
            return
        if (self.target.width, self.target.height) != self._size:
            self._follow_target(slot)
        if not self.source.count:
            return
        assert self.accum is not None and self.tiles is not None
        memory_barrier(cmd, vk.VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                       vk.VK_ACCESS_MEMORY_WRITE_BIT, vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
                       vk.VK_ACCESS_TRANSFER_WRITE_BIT, barrier=self._barrier)
        lib.vkCmdFillBuffer(cmd, self.accum.handle, 0, self.accum.size, 0)
        lib.vkCmdFillBuffer(cmd, self.tiles.handle, 0, self.tiles.size, 0)

    def record_scene(self, cmd: Any, slot: int) -> None:
        """Nothing in the scene subpass."""

    def record_light(self, cmd: Any, slot: int) -> None:
        """Nothing in the light subpass (the composite follows the render pass)."""

    def _write_depth(self) -> None:
        """Point set 1 of every slot at the target's depth attachment (sampled, read-only
        layout). Called at the first frame and after the target recreated its images (the
        device was idle then, so no slot's set is in use)."""
        self.depth_writes += self._depth.write(
            self.target.gbuffer.depth.view, vk.VK_IMAGE_LAYOUT_DEPTH_STENCIL_READ_ONLY_OPTIMAL,
            generation=self.target.generation)

    def record_after(self, cmd: Any, slot: int, index: int) -> None:
        """Splat, composite (see the module docstring)."""
        source = self.source
        if not self.enabled or not source.count:
            return
        if self.target.generation != self._depth.generation:
            self._write_depth()
        w, h = self._size
        groups = source.groups
        push = self._push
        tiles_x = -(-w // SPLAT_TILE)
        push[0], push[1], push[2] = w, h, source.count
        push[3], push[4] = groups[0] * SPLAT_LOCAL_SIZE, tiles_x
        self.splat.record(cmd, slot, groups, push_constants=push)
        assert self.composite_pass is not None
        self.composite_pass.record(cmd, slot, index, w, h, tiles_x, _tile_count(w, h))

    # --- shutdown -------------------------------------------------------------------------

    def destroy(self) -> None:
        """Wait for the device; free framebuffers, the render pass and (frame-safe) the
        buffers; the hooks record nothing afterwards. Idempotent; the binder destroys the
        pipelines."""
        self.enabled = False  # every hook is a no-op from now on
        device = self.ctx.device
        composite = self.composite_pass
        if device is not None and composite is not None and composite.holds_objects:
            self.ctx.wait_idle()
        if composite is not None:
            composite.destroy()
        if not self.manager.closed:
            for buf in (self.accum, self.tiles):
                if buf is not None and buf.alive:
                    self.manager.destroy_buffer(buf)
        self.accum = self.tiles = None
