"""Asteroids: thousands of rocks drifting and turning, drawn with one indexed indirect draw.

Every frame the RockSystem moves the rocks (numpy, on the CPU) and writes them into a
per-instance buffer; in the compute phase a shader keeps the rocks that touch the view and
counts them into the draw's arguments, and the forward phase draws the rock mesh (vertex and
index buffers) once per visible rock with ``draw_indexed_indirect``. No Vulkan call in here.
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import esper
import numpy as np

import engine.render as render
from engine import (
    BufferConfig,
    BufferManager,
    BufferStrategy,
    BufferUsage,
    GraphicsContext,
    ManagedBuffer,
    Phase,
    ResourceBinder,
    add_system,
)
from engine.binding.pipelines import ComputePipeline
from engine.render.swapchain import SwapchainTarget
from engine.render.window import Window, display_available, required_instance_extensions
from engine.shaders.compiler import compile_glsl
from systems import BindingSystem, BufferSystem, InputSystem, RenderSystem

HERE = Path(__file__).parent
ROCK = np.dtype([("pos", "<f4", 2), ("angle", "<f4"), ("scale", "<f4"), ("color", "<f4", 4)])
"""One rock: the per-instance vertex data and cull.comp's ``Rock`` (std430, 32 bytes)."""
MESH = np.dtype([("pos", "<f4", 2), ("shade", "<f4")])
"""One vertex of the rock mesh (per vertex)."""
CULL = np.dtype([("half_view", "<f4", 2), ("count", "<u4"), ("index_count", "<u4")])
"""cull.comp's push constants."""
DRAW_ARGS_BYTES = 20  # VkDrawIndexedIndirectCommand


def rock_mesh(corners: int = 11, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A jagged unit-radius outline around a centre vertex, as a triangle fan of indices."""
    rng = np.random.default_rng(seed)
    a = np.linspace(0.0, 2 * np.pi, corners, endpoint=False)
    r = rng.uniform(0.7, 1.0, corners)
    vertices = np.zeros(corners + 1, MESH)
    vertices["pos"][1:] = np.stack([np.cos(a) * r, np.sin(a) * r], axis=1)
    vertices["shade"] = 0.55
    vertices["shade"][0] = 1.0
    ring = np.arange(1, corners + 1, dtype=np.uint32)
    indices = np.stack([np.zeros(corners, np.uint32), ring, np.roll(ring, -1)], axis=1)
    return vertices, indices.reshape(-1)


@dataclass
class RockField:
    """Component: ``count`` rocks (structure of numpy arrays) wrapping around a world of
    ``2 * half_world`` world units; the view shows ``2 * half_view`` of it."""
    count: int
    half_view: tuple[float, float]
    half_world: tuple[float, float]
    seed: int = 1
    rocks: np.ndarray = field(init=False)
    velocity: np.ndarray = field(init=False)
    spin: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        hw = np.asarray(self.half_world, np.float32)
        self.rocks = np.zeros(self.count, ROCK)
        self.rocks["pos"] = rng.uniform(-hw, hw, (self.count, 2))
        self.rocks["angle"] = rng.uniform(0, 2 * np.pi, self.count)
        self.rocks["scale"] = 0.012 + 0.09 * rng.random(self.count) ** 4
        grey = rng.uniform(0.35, 0.9, (self.count, 1))  # dusty browns and greys
        tint = np.where(rng.random((self.count, 1)) < 0.25, (1.0, 0.78, 0.55), (0.9, 0.9, 0.95))
        self.rocks["color"] = np.hstack([grey * tint, np.ones((self.count, 1))])
        self.velocity = rng.normal(0.0, 0.12, (self.count, 2)).astype(np.float32)
        self.spin = rng.normal(0.0, 1.0, self.count).astype(np.float32)

    def visible(self) -> int:
        """How many rocks touch the view (what cull.comp counts), from the CPU's copy."""
        hv = np.asarray(self.half_view, np.float32)
        out = np.abs(self.rocks["pos"]) - self.rocks["scale"][:, None] > hv
        return int((~out.any(axis=1)).sum())


class RockSystem(esper.Processor):
    """SIMULATE phase: move and turn every RockField's rocks; write them for this frame."""
    def __init__(self, manager: BufferManager, rocks: ManagedBuffer) -> None:
        self.manager, self.buffer = manager, rocks

    def process(self, dt: float) -> None:
        for _, f in esper.get_component(RockField):
            hw = np.asarray(f.half_world, np.float32)
            f.rocks["pos"] = (f.rocks["pos"] + f.velocity * dt + hw) % (2 * hw) - hw  # wrap
            f.rocks["angle"] += f.spin * dt
            self.manager.update_buffer(self.buffer, f.rocks)  # staged; the GPU culls it


class Asteroids:
    """The GPU side: buffers, the cull pipeline and its pass, the rock pipeline and its pass."""
    def __init__(self, manager: BufferManager, binder: ResourceBinder, renderer: render.Renderer,
                 rock_field: RockField) -> None:
        self.field, n = rock_field, rock_field.count
        def buffer(name: str, size: int, usage: BufferUsage) -> ManagedBuffer:
            return manager.create_buffer(BufferConfig(name, size, BufferStrategy.DEVICE_LOCAL,
                                                      usage))
        self.rocks = buffer("rocks", n * ROCK.itemsize, BufferUsage.STORAGE)
        self.visible = buffer("rocks.visible", n * ROCK.itemsize,
                              BufferUsage.STORAGE | BufferUsage.VERTEX)
        self.args = buffer("rocks.draw", DRAW_ARGS_BYTES,
                           BufferUsage.STORAGE | BufferUsage.INDIRECT)
        vertices, indices = rock_mesh()
        self.index_count = len(indices)
        self.mesh = manager.create_and_upload("rock.mesh", vertices, usage=BufferUsage.VERTEX)
        self.indices = manager.create_and_upload("rock.indices", indices, usage=BufferUsage.INDEX)
        # Compute: cull into Visible and count into the draw's arguments.
        pid = binder.register_pipeline("rocks.cull", [compile_glsl(HERE / "cull.comp")])
        binder.bind_storage_buffer_named(pid, "Rocks", self.rocks, element_dtype=ROCK)
        binder.bind_storage_buffer_named(pid, "Visible", self.visible, element_dtype=ROCK)
        binder.bind_storage_buffer_named(pid, "DrawArgs", self.args)
        self.cull = ComputePipeline(binder, pid)
        self.cull_args = np.zeros((), CULL)
        self.cull_args["half_view"], self.cull_args["count"] = rock_field.half_view, n
        self.cull_args["index_count"] = self.index_count
        # Forward phase: mesh per vertex, the visible rocks per instance (checked vs rock.vert).
        self.pipeline = render.DrawPipeline(
            binder, renderer, "rocks", vertex_shader=HERE / "rock.vert",
            fragment_shader=HERE / "rock.frag", phase="forward",
            vertex=[render.VertexInput(MESH), render.VertexInput(ROCK, rate="instance")])
        self.to_clip = {"to_clip": 1.0 / np.asarray(rock_field.half_view, np.float32)}
        renderer.add_pass(self.record_cull, phase="compute", name="cull")
        renderer.add_pass(self.record_rocks, phase="forward", name="rocks")

    def record_cull(self, dc: render.DrawContext) -> None:
        dc.fill_buffer(self.args, 0)  # instanceCount = 0 (and the rest) before the atomics
        dc.dispatch(self.cull, self.cull.groups_for(self.field.count),
                    push_constants=self.cull_args)
        dc.barrier("compute", ("indirect", "vertex"))  # arguments and Visible, for the draw

    def record_rocks(self, dc: render.DrawContext) -> None:
        dc.bind_pipeline(self.pipeline)
        dc.push_constants("View", self.to_clip)
        dc.bind_vertex_buffers(self.mesh, self.visible)
        dc.bind_index_buffer(self.indices)
        dc.draw_indexed_indirect(self.args)  # the count the GPU just computed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m games.asteroids", description=__doc__)
    p.add_argument("--headless", action="store_true")  # else a window, if there is a display
    p.add_argument("--frames", type=int)  # default: 120 headless, until closed in a window
    p.add_argument("--screenshot")  # save the last frame to this PNG
    p.add_argument("--rocks", type=int, default=4000)
    p.add_argument("--timing", action="store_true")  # GPU ms per pass, at the end
    args = p.parse_args(argv)
    window = None if args.headless or not display_available() else Window(800, 500, "asteroids")
    frames = args.frames or (None if window else 120)
    with window or contextlib.nullcontext(), GraphicsContext.create(
            instance_extensions=required_instance_extensions() if window else []) as ctx:
        manager, binder = BufferManager(ctx), ResourceBinder(ctx)
        target = render.OffscreenTarget(ctx, 800, 500, layout="forward") if window is None \
            else SwapchainTarget(ctx, window, 3, vsync=True, layout="forward")
        ctx.add_close_hook(target.destroy)  # the context destroys it (and the renderer) first
        renderer = render.Renderer(manager, target)
        ctx.add_close_hook(renderer.destroy)
        rock_field = RockField(args.rocks, half_view=(1.6, 1.0), half_world=(2.4, 1.5))
        esper.create_entity(rock_field)
        scene = Asteroids(manager, binder, renderer, rock_field)
        add_system(InputSystem(window), Phase.INPUT)
        BufferSystem.install(manager)
        add_system(RockSystem(manager, scene.rocks), Phase.SIMULATE)
        BindingSystem.install(binder, manager)
        add_system(RenderSystem(renderer, manager), Phase.RENDER)
        while renderer.frames_rendered != frames and not (window and window.should_close()):
            if args.screenshot and renderer.frames_rendered + 1 == frames:
                renderer.request_screenshot()
            esper.process(1 / 60)
        if args.screenshot:
            render.save_png(args.screenshot, renderer.read_screenshot())
        if args.timing:
            renderer.print_statistics()
    return 0
