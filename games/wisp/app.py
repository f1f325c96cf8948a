"""Wisp: set-up, the frame loop and shutdown (``python -m games.wisp --help``).

Windowed by default; ``--headless`` renders offscreen with a fixed time step (1/60 s) and a
fixed seed, so ``--headless --frames N --screenshot out.png`` gives the same picture every
run. Headless runs (and ``--autopilot``) steer the player automatically.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

import esper
import numpy as np

from components.readback import ReadbackRequest
from engine.binding.binder import ResourceBinder
from engine.buffers.manager import BufferManager
from engine.device.context import GraphicsContext
from engine.render.frame_loop import FrameLimiter, FrameLoop, FrameTimes
from engine.render.particle_splat import choose_particles_path
from engine.render.png import save_png
from engine.render.swapchain import SwapchainTarget
from engine.render.targets import OffscreenTarget
from engine.render.tiled_lighting import choose_lighting_path
from engine.render.tuning import keep_frame_memory
from engine.render.window import Window, required_instance_extensions
from engine.schedule import Phase, add_system
from games.wisp.props import PropsPass, PropSystem
from games.wisp.rules import (
    AutopilotSystem,
    CollectSystem,
    FlowSystem,
    GameState,
    HudSystem,
    MoveSystem,
    title_for,
)
from games.wisp.world import Counts, build_level
from systems.input_system import InputSystem
from systems.readback_system import ReadbackSystem
from systems.render_stack import RenderStack

FIXED_DT = 1.0 / 60.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m games.wisp", description=(
        "Wisp: steer a glowing spark, collect the wisps, dodge the embers. "
        "WASD/arrows or hold the left mouse button to move, P/Space pause, R restart, "
        "Esc quit."))
    p.add_argument("--headless", action="store_true", help="render offscreen (no window)")
    p.add_argument("--frames", type=int, default=None, help="stop after N frames")
    p.add_argument("--screenshot", default=None, help="write the last frame to this PNG")
    p.add_argument("--stats", action="store_true", help="print BufferManager statistics")
    p.add_argument("--timing", action="store_true",
                   help="print frame-time summary and GPU ms per pass (JSON)")
    p.add_argument("--no-gpu-timing", action="store_true",
                   help="no timestamp queries per pass (to measure what they cost)")
    p.add_argument("--device", default=None, help="GPU index or name fragment")
    p.add_argument("--particles", type=int, default=10_000, help="particle slots")
    p.add_argument("--lights", type=int, default=64, help="lights in the level")
    p.add_argument("--width", type=int, default=960)
    p.add_argument("--height", type=int, default=540)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--fps", type=float, default=60.0, help="frame limit when windowed (0: none)")
    p.add_argument("--vsync", action="store_true", help="FIFO presentation")
    p.add_argument("--validation", action="store_true", help="Khronos validation layer")
    p.add_argument("--autopilot", action="store_true", help="let the game steer (demo)")
    p.add_argument("--memory-map", default=None, help="write a PNG map of GPU memory at exit")
    p.add_argument("--particles-path", choices=("auto", "sprites", "compute"), default="auto",
                   help="draw particles as point sprites or in compute (atomics splat); auto: "
                        "the faster one for this device (engine/render/particle_splat.py)")
    p.add_argument("--lighting", choices=("auto", "volumes", "compute"), default="auto",
                   help="apply the lights as light volumes (raster, blended) or in one tiled "
                        "compute dispatch; auto: the faster one for this device "
                        "(engine/render/tiled_lighting.py)")
    p.add_argument("--light-tile", type=int, choices=(8, 16), default=16,
                   help="tile edge in pixels of the compute lighting path")
    return p.parse_args(argv)


class WispApp:
    """Owns the device, managers, target, renderer and the esper world of one run."""

    def __init__(self, args: argparse.Namespace, *, context: GraphicsContext | None = None
                 ) -> None:
        self.args = args
        self.headless = bool(args.headless)
        self.window: Window | None = None
        self.own_context = context is None
        if context is None:
            extensions = [] if self.headless else required_instance_extensions()
            context = GraphicsContext.create(validation=args.validation, device=args.device,
                                             instance_extensions=extensions)
        self.ctx = context
        if context.is_software:
            keep_frame_memory()  # lavapipe: no mmap/munmap churn per frame (engine.render.tuning)
        self.world = f"wisp-{id(self)}"
        self._previous_world = esper.current_world
        try:
            self._build(args)
        except BaseException:
            self.close()
            raise

    def _build(self, args: argparse.Namespace) -> None:
        context = self.ctx
        self.manager = BufferManager(context, frames_in_flight=3)
        self.binder = ResourceBinder(context, frames_in_flight=3)
        self.target: Any = None
        if self.headless:
            self.target = OffscreenTarget(context, args.width, args.height)
        else:
            self.window = Window(args.width, args.height, "Wisp")
            self.target = SwapchainTarget(context, self.window, 3, vsync=args.vsync)
        esper.switch_world(self.world)
        counts = Counts.for_lights(args.lights)
        level = build_level(args.seed, counts)
        self.game = GameState(level=level, counts=counts, seed=args.seed,
                              particles=args.particles)
        self._build_systems(level)
        self.game.new_round()
        self.loop = FrameLoop(fixed_dt=FIXED_DT if self.headless else None,
                              limiter=None if self.headless else FrameLimiter(args.fps),
                              sim_scale=self.game.sim_scale)

    def _build_systems(self, level: Any) -> None:
        self.inputs = InputSystem(self.window)
        path = getattr(self.args, "particles_path", "auto")
        if path == "auto":
            path = choose_particles_path(self.ctx, self.args.particles)
        self.particles_path = path
        lighting = getattr(self.args, "lighting", "auto")
        if lighting == "auto":
            lighting = choose_lighting_path(self.ctx, self.args.lights)
        self.lighting = lighting
        self.stack = RenderStack(self.manager, self.binder, self.target, level.vertices,
                                 particles=self.args.particles, inputs=self.inputs,
                                 particles_path=path, lighting=lighting,
                                 light_tile=getattr(self.args, "light_tile", 16),
                                 gpu_timing=self._wants_gpu_timing())
        self.particles, self.lights = self.stack.particles, self.stack.lights
        self.renderer = self.stack.renderer
        # Pillars and orbs: one block each per frame in a uniform ring, drawn by dynamic offset.
        self.prop_system = PropSystem(level.props)
        add_system(self.prop_system, Phase.SIMULATE, 5)
        self.props = PropsPass(self.binder, self.manager, self.stack.ubo, self.target,
                               self.prop_system)
        self.renderer.add_pass(self.props.record, phase="scene", name="props")
        self.autopilot = AutopilotSystem(self.game)
        self.autopilot.enabled = self.headless or bool(self.args.autopilot)
        add_system(self.autopilot, Phase.INPUT, 1)
        add_system(FlowSystem(self.game, self.inputs), Phase.SIMULATE, 0)
        add_system(MoveSystem(self.game), Phase.SIMULATE, 1)
        self.collect = CollectSystem(self.game)
        add_system(self.collect, Phase.SIMULATE, 2)
        # The live-particle count, counted on the GPU and read back a few frames late (never
        # waited for): shown in the HUD.
        ReadbackSystem.install(self.manager)
        self.live_particles = ReadbackRequest(self.particles.stats, size=4, dtype=np.uint32,
                                              every=15)
        esper.create_entity(self.live_particles)
        self.hud = HudSystem(self.game, self.window, live_particles=self.live_particles)
        add_system(self.hud, Phase.END, 50)

    def _wants_gpu_timing(self) -> bool:
        """Timestamp queries only when a report shows them (``--timing``, ``--stats``): on
        lavapipe they cost about 3 ms of a 22 ms frame at 960x540 (each timestamp ends a
        batch of llvmpipe's binned rendering), so a plain run or the bench goes without."""
        args = self.args
        wanted = bool(getattr(args, "timing", False) or getattr(args, "stats", False))
        return wanted and not getattr(args, "no_gpu_timing", False)

    # --- running ---------------------------------------------------------------------------

    def should_stop(self) -> bool:
        return self.game.quit or (self.window is not None and self.window.should_close())

    def run(self, frames: int | None = None, screenshot: str | None = None) -> FrameTimes:
        """Run ``frames`` frames (None: until quit); capture the last one to ``screenshot``."""
        def on_frame(done: int) -> None:
            if done == 1:  # the first frame is on screen: say so (and how to stop)
                sys.stderr.write("wisp: running (Ctrl-C quits)\n")
                sys.stderr.flush()
            if screenshot and frames is not None and done == frames - 1:
                self.renderer.request_screenshot()
        times = self.loop.run(frames, self.should_stop, on_frame)
        if screenshot:
            save_png(screenshot, self.renderer.read_screenshot())
        return times

    def step(self, frames: int = 1) -> None:
        """Run ``frames`` frames with the loop's time step (tests)."""
        self.loop.run(frames)

    # --- shutdown --------------------------------------------------------------------------

    def close(self) -> None:
        """Wait for the GPU, destroy everything in dependency order; idempotent (also after
        a failed start, whatever was built by then)."""
        if not self.ctx.closed:
            self.ctx.wait_idle()
            stack = getattr(self, "stack", None)
            if stack is not None:
                stack.close()
            props = getattr(self, "props", None)
            if props is not None:
                props.destroy(self.manager)
            binder = getattr(self, "binder", None)
            if binder is not None:
                binder.close()
            if getattr(self, "target", None) is not None:
                self.target.destroy()
            manager = getattr(self, "manager", None)
            if manager is not None:
                manager.close()
        if esper.current_world == self.world:
            esper.switch_world(self._previous_world if self._previous_world != self.world
                               else "default")
        if self.world in esper.list_worlds():
            esper.delete_world(self.world)
        if self.window is not None:
            self.window.close()
        if self.own_context:
            self.ctx.close()


def main(argv: list[str] | None = None) -> int:
    """Run the game; Ctrl-C ends it cleanly (everything freed) with exit status 130."""
    args = parse_args(argv)
    try:
        app = WispApp(args)  # a failed or interrupted start releases what it built
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: shutting down cleanly\n")
        return 130
    try:
        frames = args.frames
        try:
            times = app.run(frames, args.screenshot)
        except KeyboardInterrupt:
            sys.stderr.write("interrupted: shutting down cleanly\n")
            return 130
        if args.timing:
            summary: dict[str, Any] = dict(times.summary(skip=min(60, len(times.ms) // 4)))
            summary.update(device=app.ctx.device_name, width=args.width, height=args.height,
                           particles=app.particles.count, lights=app.lights.count,
                           headless=app.headless, particles_path=app.particles_path,
                           lighting=app.lighting, light_tile=app.stack.light_tile,
                           gpu_pass_ms=app.renderer.pass_median_ms())
            sys.stdout.write(json.dumps(summary) + "\n")
        if args.stats:
            app.manager.print_statistics()
            app.renderer.print_statistics()
        if args.memory_map:
            try:
                memory_map = importlib.import_module("engine.memory.map_picture")
                memory_map.save_memory_map(app.manager, args.memory_map)
            except (ImportError, AttributeError) as exc:
                sys.stderr.write(f"--memory-map: not available ({exc})\n")
        sys.stdout.write(title_for(app.game, times.summary()["fps"], app.hud.live) + "\n")
    finally:
        app.close()
    return 0
