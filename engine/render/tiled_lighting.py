"""The compute lighting path ("tiled deferred"): every light applied in one dispatch.

The light-volume path (:class:`~engine.render.passes.LightVolumePass`) rasterises one additive
octagon per light and blends every covered fragment into the picture. Each blended fragment
costs raster and blend work besides the shader: on an H200 the raster/ROP units are few (256
lights at 1080p: 1.11 ms), on lavapipe each fragment pays llvmpipe's binning, raster and blend
(64 lights at 960x540: ~13 ms). This path does the same lighting in compute instead:

render pass
    The scene subpass writes colour (ambient + emissive) and the G-buffer surface as usual;
    the light subpass draws no volumes (``LightVolumePass.enabled`` False), only the particle
    sprites when that particle path is on. The surface is stored (STORE) and stays in
    SHADER_READ_ONLY_OPTIMAL after the pass.
``record_after`` (after the render pass, :attr:`~engine.render.renderer.Renderer.after_passes`)
    1. ``light_tiled.comp``, one workgroup per ``TiledLightingPass.tile`` squared pixels
       (four pixels an invocation),
       behind the dispatch's barrier (every earlier write, the surface's attachment writes and
       store included, before its reads; the previous frame's composite reads before its
       writes): the tile's depth range from the surface, the lights culled against the tile in
       batches of one light per invocation (the silhouette's screen rectangle, the volume's
       depth test and the light's reach against the depth range) into shared memory, then
       each pixel sums its tile's lights with the light volumes' maths (silhouette, depth
       test, falloff, Lambert, glow). The sum goes to ``lighting.accum`` (RGB 10:10:10 unorm
       per pixel) and one flag per tile to ``lighting.tiles`` (1: some light was listed).
       Every flag and every pixel of a flagged tile is written each dispatch, so nothing is
       cleared.
    2. A one-subpass render pass over the colour image (LOAD, additive; the same
       :class:`~engine.render.tile_composite.TileComposite`): one quad per tile,
       instanced over all tiles; unlit tiles collapse in the vertex shader, unlit pixels
       discard. It is timed apart as ``lighting.composite``.

Equivalence: the dispatch reconstructs the surface point from the same packed depth and
evaluates the same expressions per light; the differences left are rounding: the volumes
round the picture to 8 bits after each light, the compute path once after the sum (10-bit
sum, saturated at 1.0 as the UNORM target saturates anyway), and the volume's depth test
compares the stored D32 depth where the compute path compares the G-buffer's 16-bit linear
depth (it matters only for surfaces exactly at a volume's far side, which no light reaches).

Synchronisation: the next frame's scene subpass writes the surface after this dispatch read
it: the render pass's incoming external dependency includes the compute stage
(engine/render/render_pass.py). The next frame's dispatch writes ``lighting.accum`` and
``lighting.tiles`` after this frame's composite read them: the dispatch's barrier (all
commands before it).

Buffers (through the BufferManager, bound by name; statistics and the memory map show them):
``lighting.accum`` DEVICE_LOCAL STORAGE, width x height x 4 bytes; ``lighting.tiles``
DEVICE_LOCAL STORAGE, 4 bytes per tile. Both follow the target's size (``resize_buffer`` at
the next dispatch: the resize copies are submitted ahead of the frame's command buffer).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from engine.binding.binder import ResourceBinder
from engine.binding.pipelines import ComputePipeline
from engine.buffers.manager import BufferManager
from engine.buffers.sets import BufferSet
from engine.buffers.types import BufferConfig, BufferStrategy, BufferUsage, ManagedBuffer
from engine.device.context import GraphicsContext
from engine.device.vk import vk
from engine.errors import InvalidOptionError
from engine.numbers import as_int
from engine.render.image_descriptors import SlotImageDescriptor
from engine.render.layouts import GLOBAL_UBO_DTYPE, LIGHT_DTYPE
from engine.render.tile_composite import TileComposite
from engine.shaders.compiler import compile_engine_shader

LIGHTING_PATHS = ("volumes", "compute")
"""The two ways to apply the lights; ``"auto"`` picks one (:func:`choose_lighting_path`)."""
LIGHT_TILES = (8, 16)
"""Tile edges (pixels) the compute path is built for; one workgroup per tile."""
DEFAULT_LIGHT_TILE = 16
"""The tile edge used unless another is asked for (see :func:`choose_lighting_path`)."""
ACCUM_BYTES_PER_PIXEL = 4
"""One uint32 per pixel in ``lighting.accum``: RGB 10:10:10 unorm."""

SOFTWARE_COMPUTE_MIN_LIGHTS: int | None = None
"""On lavapipe and other CPU devices ``auto`` never picks compute lighting (None): measured
there, the dispatch costs several times what the volumes cost (see
:func:`choose_lighting_path`)."""
GPU_COMPUTE_MIN_LIGHTS = 8
"""On a hardware GPU, ``auto`` picks compute lighting from this many lights (see
:func:`choose_lighting_path`)."""


def choose_lighting_path(ctx: GraphicsContext, lights: int) -> str:
    """The faster lighting path for this device (the rule ``--lighting auto`` applies).

    - lavapipe and other CPU devices (``ctx.is_software``): ``"volumes"``.
    - hardware GPUs: ``"compute"`` from :data:`GPU_COMPUTE_MIN_LIGHTS` lights, else
      ``"volumes"``.

    Measured on lavapipe (2 cores shared with other work, Wisp headless 960x540, 64 lights,
    GPU ms per pass from timestamps and CPU ms per frame of the whole process; BENCHMARKS.md,
    "Tiled compute lighting"; 100 frames a run, interleaved, load average 0.6-4.7):

    ============ ================================ ===================================
    particles    volumes                          compute (dispatch + composite)
    ============ ================================ ===================================
    10,000       GPU 10.5-23.8 ms, CPU 31-40 ms   GPU 40-86 + 5-7 ms, CPU 102-122 ms
    100,000      GPU 9.6-16.7 ms, CPU 97-109 ms   GPU 42-79 + 6-7 ms, CPU 169 ms
    ============ ================================ ===================================

    (CPU: whole-process user + system time per frame, lavapipe's threads included.) llvmpipe
    runs every shared-memory and storage-buffer access of a compute shader as a loop over its
    SIMD lanes (even a dispatch
    that only reads the surface and writes one uint a pixel costs ~10 ms at 960x540), and the
    per-pixel loop over a tile's list is made of such loads; its fragment path (input
    attachment loads, blending) is vectorised, so the volumes stay the faster path there.

    On a GPU the volumes are raster- and blend-bound: an H200 has few raster/ROP units (1,920
    x 1,080, 256 lights: 1.11 ms for the volumes, scene 0.55 ms; ~4 us a light), while the
    dispatch reads 8 bytes and writes 4 a pixel (~25 MB at 1080p: microseconds of bandwidth)
    plus ~30 flops per listed light per pixel, and the composite blends each lit pixel once.
    Below a handful of lights the fixed cost (launch, full-screen read, composite) is about
    what the volumes cost, hence the threshold of 8. Confirm it on the device with the
    commands in BENCHMARKS.md.
    """
    n = int(lights)
    if ctx.is_software:
        if SOFTWARE_COMPUTE_MIN_LIGHTS is None:
            return "volumes"
        return "compute" if n >= SOFTWARE_COMPUTE_MIN_LIGHTS else "volumes"
    return "compute" if n >= GPU_COMPUTE_MIN_LIGHTS else "volumes"


def check_lighting_path(path: Any, what: str) -> str:
    """``path`` if it is one of :data:`LIGHTING_PATHS`, else InvalidOptionError."""
    if path.__class__ is not str or path not in LIGHTING_PATHS:
        raise InvalidOptionError(f"{what}: lighting path {path!r} is not one of "
                                 f"{', '.join(LIGHTING_PATHS)}; pass 'volumes' or 'compute'.")
    return str(path)


def check_light_tile(tile: Any, what: str) -> int:
    """``tile`` as an int if it is one of :data:`LIGHT_TILES` (an int or numpy integer; not a
    bool or float), else InvalidOptionError."""
    value = as_int(tile)
    if value is None or value not in LIGHT_TILES:
        raise InvalidOptionError(f"{what}: light tile {tile!r} is not one of "
                                 f"{', '.join(map(str, LIGHT_TILES))} (pixels); pass 8 or 16.")
    return value


def tile_count(width: int, height: int, tile: int) -> int:
    """Tiles of ``tile`` x ``tile`` pixels covering ``width`` x ``height``."""
    return -(-width // tile) * -(-height // tile)


def _spirv(name: str, tile: int) -> bytes:
    """SPIR-V of the engine shader ``name`` with ``LIGHT_TILE`` defined as ``tile``."""
    return compile_engine_shader(name, {"LIGHT_TILE": tile})




class _LightSource(Protocol):
    buffer: ManagedBuffer
    count: int


class _LightingTarget(Protocol):
    width: int
    height: int
    generation: int
    final_layout: int
    color_format: int
    gbuffer: Any

    def color_view(self, index: int) -> Any: ...

    def color_image(self, index: int) -> Any: ...

    def color_storage_view(self, index: int) -> Any: ...


class _CompositeStep:
    """The composite half of :class:`TiledLightingPass` as its own after-pass, so GPU timings
    show it apart (``lighting.composite``)."""

    name = "lighting.composite"

    def __init__(self, owner: TiledLightingPass) -> None:
        self.owner = owner

    def record_after(self, cmd: Any, slot: int, index: int) -> None:
        self.owner.record_composite(cmd, slot, index)


class TiledLightingPass:
    """Applies the LightingSystem's lights in compute (see the module docstring).

    It is an :class:`~engine.render.renderer.AfterPass` (``record_after``: follow the target's
    size, the dispatch; named ``lighting.tiled``); ``composite`` is a second AfterPass (the
    composite, named ``lighting.composite``). ``enabled`` False makes every hook a no-op (the
    volumes light).

    Args:
        binder, manager: the ResourceBinder and BufferManager of the frame.
        lights: the LightingSystem (``buffer``, ``count``).
        global_ubo: the GlobalUbo set (camera matrices, time).
        target: a deferred render target (its size, G-buffer surface, colour views, final
            layout).
        tile: tile edge in pixels, one of :data:`LIGHT_TILES`.

    Lifetime: :meth:`destroy` (waits for the device) frees the render pass, framebuffers and
    both buffers; the pipelines belong to the binder.
    """

    name = "lighting.tiled"

    def __init__(self, binder: ResourceBinder, manager: BufferManager, lights: _LightSource,
                 global_ubo: BufferSet, target: _LightingTarget, *,
                 tile: int = DEFAULT_LIGHT_TILE) -> None:
        what = "TiledLightingPass"
        self.tile = check_light_tile(tile, what)
        if getattr(target.gbuffer, "surface", None) is None:
            raise InvalidOptionError(f"{what}: the target has no G-buffer surface (a forward "
                                     "target); compute lighting needs a deferred target.")
        self.binder, self.manager, self.lights, self.target = binder, manager, lights, target
        self.ctx = manager.context
        self.enabled = True
        self.resizes = 0
        """Times the buffers followed a new target size."""
        self.surface_writes = 0
        """Descriptor writes of the G-buffer surface (once per slot per target generation)."""
        self.composite = _CompositeStep(self)
        self.composite_pass: TileComposite | None = None
        self.accum: ManagedBuffer | None = None
        self.tiles: ManagedBuffer | None = None
        w, h = max(1, target.width), max(1, target.height)
        self._size = (w, h)
        try:
            self.accum = manager.create_buffer(BufferConfig(
                "lighting.accum", w * h * ACCUM_BYTES_PER_PIXEL, BufferStrategy.DEVICE_LOCAL,
                BufferUsage.STORAGE))
            self.tiles = manager.create_buffer(BufferConfig(
                "lighting.tiles", tile_count(w, h, self.tile) * 4, BufferStrategy.DEVICE_LOCAL,
                BufferUsage.STORAGE))
            self.compute_id = binder.register_pipeline(
                "lighting.tiled", [_spirv("light_tiled.comp", self.tile)])
            binder.bind_uniform_buffer_named(self.compute_id, "GlobalUbo", global_ubo,
                                             dtype=GLOBAL_UBO_DTYPE)
            binder.bind_storage_buffer_named(self.compute_id, "LightBuffer", lights.buffer,
                                             element_dtype=LIGHT_DTYPE)
            binder.bind_storage_buffer_named(self.compute_id, "LightAccum", self.accum)
            binder.bind_storage_buffer_named(self.compute_id, "LightTiles", self.tiles)
            self.compute = ComputePipeline(binder, self.compute_id)
            self.composite_pass = TileComposite(
                binder, target, "lighting.composite",
                {"vert": _spirv("light_composite.vert", self.tile),
                 "frag": _spirv("light_composite.frag", self.tile)},
                {"LightAccum": self.accum, "LightTiles": self.tiles},
                compute_code=_spirv("light_composite.comp", self.tile), tile=self.tile)
            self.composite_id = self.composite_pass.pipeline_id
        except BaseException:
            self.destroy()
            raise
        # Prebuilt per-frame structs and arrays (fields mutated, nothing built per frame).
        self._push = np.zeros(4, np.uint32)  # width, height, tiles_x, light_count
        self._surface = SlotImageDescriptor(binder, self.compute_id,
                                            vk.VK_DESCRIPTOR_TYPE_SAMPLED_IMAGE)
        self._lit = False

    # --- size and descriptors -------------------------------------------------------------

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels the buffers are sized for."""
        return self._size

    def _follow_target(self, slot: int) -> None:
        """Resize both buffers to the target (generation + 1 each); the resize copies go ahead
        of this frame's command buffer and this slot's descriptors are rewritten now."""
        w, h = self.target.width, self.target.height
        assert self.accum is not None and self.tiles is not None
        self.manager.resize_buffer(self.accum, w * h * ACCUM_BYTES_PER_PIXEL)
        self.manager.resize_buffer(self.tiles, tile_count(w, h, self.tile) * 4)
        self._size = (w, h)
        self.resizes += 1
        self.manager.submit_uploads()
        self.binder.update_frame(self.compute_id, slot)
        self.binder.update_frame(self.composite_id, slot)

    def _write_surface(self) -> None:
        """Point set 1 of every slot at the target's G-buffer surface (sampled, read-only
        layout). Called at the first frame and after the target recreated its images (the
        device was idle then, so no slot's set is in use)."""
        self.surface_writes += self._surface.write(self.target.gbuffer.surface.view,
                                                   generation=self.target.generation)

    # --- FramePass / AfterPass hooks --------------------------------------------------------

    def record_after(self, cmd: Any, slot: int, index: int) -> None:
        """The tiled dispatch (see the module docstring); the composite records next.

        When the target changed size, the buffers follow it first: their resize copies are
        submitted at once (ahead of this frame's command buffer, which is still being
        recorded) and this slot's descriptors are rewritten before the dispatch binds them."""
        self._lit = False
        count = self.lights.count
        if not self.enabled or not count:
            return
        if (self.target.width, self.target.height) != self._size:
            self._follow_target(slot)
        if self.target.generation != self._surface.generation:
            self._write_surface()
        w, h = self._size
        tile = self.tile
        tiles_x, tiles_y = -(-w // tile), -(-h // tile)
        push = self._push
        push[0], push[1], push[2], push[3] = w, h, tiles_x, count
        self.compute.record(cmd, slot, (tiles_x, tiles_y, 1), push_constants=push)
        self._lit = True

    def record_composite(self, cmd: Any, slot: int, index: int) -> None:
        """Add the lit tiles to the picture (only after a dispatch in this frame)."""
        if not self._lit:
            return
        w, h = self._size
        tile = self.tile
        tiles_x = -(-w // tile)
        assert self.composite_pass is not None
        self.composite_pass.record(cmd, slot, index, w, h, tiles_x, tile_count(w, h, tile))

    # --- shutdown -------------------------------------------------------------------------

    def destroy(self) -> None:
        """Wait for the device; release both pipelines from the binder (while it is open: so
        it stops rewriting descriptors of the buffers freed here), free framebuffers, the
        render pass and (frame-safe) the buffers; the hooks record nothing afterwards.
        Idempotent."""
        self.enabled = False  # every hook is a no-op from now on
        self._lit = False
        device = self.ctx.device
        composite = self.composite_pass
        if device is not None and composite is not None and composite.holds_objects:
            self.ctx.wait_idle()
        if not self.binder.closed:
            for pid in (getattr(self, "compute_id", None), getattr(self, "composite_id", None)):
                if pid is not None and pid in self.binder:
                    self.binder.release_pipeline(pid)
        if composite is not None:
            composite.destroy()
        if not self.manager.closed:
            for buf in (self.accum, self.tiles):
                if buf is not None and buf.alive:
                    self.manager.destroy_buffer(buf)
        self.accum = self.tiles = None
