"""A triangle spun by an esper system: the smallest complete program on the buffer subsystem."""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass

import esper
import numpy as np

import engine.render as render
from engine import BufferManager, GlobalUboSet, GraphicsContext, Phase, ResourceBinder, add_system
from engine.render.swapchain import SwapchainTarget
from engine.render.window import Window, display_available, required_instance_extensions
from engine.shaders.compiler import shader_path
from systems import BindingSystem, BufferSystem, InputSystem, RenderSystem

SPIN = np.dtype([("tint", "<f4", 4), ("angle", "<f4")])  # minimal.vert's "Spin" (checked)


@dataclass
class Spinner:
    """Component: a triangle turning at ``speed`` radians per second."""
    speed: float
    angle: float = 0.0


class SpinSystem(esper.Processor):
    """SIMULATE phase: turn each Spinner; write it into this frame slot's uniform buffer."""
    def __init__(self, manager: BufferManager, spin: GlobalUboSet) -> None:
        self.manager, self.spin, self.value = manager, spin, np.zeros((), SPIN)

    def process(self, dt: float) -> None:
        for _, spinner in esper.get_component(Spinner):
            spinner.angle += spinner.speed * dt
            self.value["tint"], self.value["angle"] = (1.0, 0.55, 0.15, 1.0), spinner.angle
            # This slot's own buffer: the GPU may still read the other slots' buffers.
            self.manager.update_buffer(self.spin.get_buffer(), self.value)


class TrianglePass:
    """Recorded each frame in the scene phase: the pipeline, this slot's sets, one draw."""
    def __init__(self, binder: ResourceBinder, renderer: render.Renderer | render.OffscreenTarget,
                 spin: GlobalUboSet) -> None:
        # The scene phase writes the picture and the G-buffer (checked against minimal.frag).
        self.pipeline = render.DrawPipeline(
            binder, renderer, "minimal", vertex_shader=shader_path("minimal.vert"),
            fragment_shader=shader_path("minimal.frag"), phase="scene", depth_test=False)
        binder.bind_uniform_buffer_named(self.pipeline.id, "Spin", spin, dtype=SPIN)  # by name

    def record(self, dc: render.DrawContext) -> None:
        dc.bind_pipeline(self.pipeline)  # and this slot's descriptor sets (BindingSystem wrote)
        dc.draw(3)                       # no vertex buffer: minimal.vert uses gl_VertexIndex


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m games.minimal", description=__doc__)
    p.add_argument("--headless", action="store_true")  # else a window, if there is a display
    p.add_argument("--frames", type=int)  # default: 60 headless, until closed in a window
    p.add_argument("--screenshot")  # save the last frame to this PNG
    args = p.parse_args(argv)
    # 1. A window if there is a display; the device (closing it closes manager and binder).
    window = None if args.headless or not display_available() else Window(640, 480, "minimal")
    frames = args.frames or (None if window else 60)
    with window or contextlib.nullcontext(), GraphicsContext.create(
            instance_extensions=required_instance_extensions() if window else []) as ctx:
        manager, binder = BufferManager(ctx), ResourceBinder(ctx)  # 3 frames in flight
        target = render.OffscreenTarget(ctx, 640, 480) if window is None \
            else SwapchainTarget(ctx, window, 3, vsync=True)
        ctx.add_close_hook(target.destroy)  # the context destroys it (and the renderer) first
        # 2. One uniform buffer per frame slot (host-visible), and the pass that draws with it.
        spin, renderer = GlobalUboSet(manager, SPIN, name="Spin"), render.Renderer(manager, target)
        renderer.add_pass(TrianglePass(binder, renderer, spin), phase="scene", name="triangle")
        ctx.add_close_hook(renderer.destroy)
        # 3. The esper world: one entity, and each system at its phase of the frame.
        esper.create_entity(Spinner(speed=1.5))
        add_system(InputSystem(window), Phase.INPUT)                # polls the window
        BufferSystem.install(manager)                               # BEGIN, UPLOADS, END
        add_system(SpinSystem(manager, spin), Phase.SIMULATE)       # update_buffer
        BindingSystem.install(binder, manager)                      # descriptor writes
        add_system(RenderSystem(renderer, manager), Phase.RENDER)   # record, submit, present
        # 4. The frames, at a fixed time step, until N were drawn or the window closes.
        while renderer.frames_rendered != frames and not (window and window.should_close()):
            if args.screenshot and renderer.frames_rendered + 1 == frames:
                renderer.request_screenshot()  # capture the last frame
            esper.process(1 / 60)
        if args.screenshot:
            render.save_png(args.screenshot, renderer.read_screenshot())
    return 0  # closing the context closes the renderer, target, binder, manager; then the window
