"""RenderStack: the standard frame (docs/ARCHITECTURE.md, "One frame"), assembled in the current
esper world.

``RenderStack(manager, binder, target, scene_vertices, ...)`` creates the ParticleSystem,
LightingSystem, GlobalUboSet, Renderer and its three passes, and adds every engine system at
its phase::

    BEGIN     BufferBeginSystem (begin_frame)
    INPUT     InputSystem (if ``inputs`` is given)                  order 0
    SIMULATE  ParticleSystem 10, LightingSystem 20, CameraSystem 30 (game systems use 0-9)
    UPLOADS   BufferSystem (the frame's staged copies)
    BINDINGS  BindingSystem (descriptor writes of this slot)
    RENDER    RenderSystem (compute, scene, light volumes, particles, submit, present)
    END       BufferEndSystem (end_frame)

Games add their own systems around these (see ``games/wisp/app.py``); tests use it to render
small scenes. :meth:`RenderStack.close` retires what it created (the manager and binder are
not owned).

Particles are drawn one of two ways (``particles_path``): ``"sprites"`` (point sprites in the
light subpass) or ``"compute"`` (:class:`~engine.render.particle_splat.ParticleSplatPass`:
atomics splat and a composite after the render pass). :meth:`RenderStack.set_particles_path`
switches between them at any frame boundary; the compute pass and its buffers are created the
first time it is chosen.

Lights are applied one of two ways (``lighting``): ``"volumes"`` (one additive octagon per
light in the light subpass) or ``"compute"``
(:class:`~engine.render.tiled_lighting.TiledLightingPass`: a tiled dispatch after the render
pass and a composite of the lit tiles). :meth:`RenderStack.set_lighting_path` switches at any
frame boundary, the same way. Both lighting paths work with both particle paths.
"""

from __future__ import annotations

from typing import Any

from engine.binding.binder import ResourceBinder
from engine.buffers.manager import BufferManager
from engine.buffers.sets import GlobalUboSet
from engine.render.layouts import GLOBAL_UBO_DTYPE
from engine.render.particle_splat import ParticleSplatPass, check_particles_path
from engine.render.passes import LightVolumePass, ParticlePass, ScenePass, add_passes
from engine.render.renderer import Renderer
from engine.render.tiled_lighting import (
    DEFAULT_LIGHT_TILE,
    TiledLightingPass,
    check_light_tile,
    check_lighting_path,
)
from engine.schedule import Phase, add_system
from systems.binding_system import BindingSystem
from systems.buffer_system import BufferSystem
from systems.camera_system import CameraSystem
from systems.input_system import InputSystem
from systems.lighting_system import LightingSystem
from systems.particle_system import ParticleSystem
from systems.render_system import RenderSystem


class RenderStack:
    """The standard frame, assembled in the current esper world.

    Args:
        manager, binder: the device's BufferManager and ResourceBinder (same frames in flight).
        target: an OffscreenTarget or SwapchainTarget (not owned).
        scene_vertices: SCENE_VERTEX_DTYPE array of the static scene (one draw).
        particles: particle slots; light_capacity: lights before the first resize.
        inputs: an InputSystem to run in the INPUT phase, or None.
        ambient: ambient light RGB.
        particles_path: ``"sprites"`` or ``"compute"`` (see the module docstring).
        gpu_timing: timestamp queries per pass (the renderer's ``statistics()``).
        lighting: ``"volumes"`` or ``"compute"`` (see the module docstring).
        light_tile: tile edge in pixels of the compute lighting path (8 or 16).
    """

    def __init__(self, manager: BufferManager, binder: ResourceBinder, target: Any,
                 scene_vertices: Any, *, particles: int = 10_000, light_capacity: int = 64,
                 inputs: InputSystem | None = None,
                 ambient: tuple[float, float, float] = (0.09, 0.1, 0.14),
                 particles_path: str = "sprites", gpu_timing: bool = True,
                 lighting: str = "volumes", light_tile: int = DEFAULT_LIGHT_TILE) -> None:
        check_particles_path(particles_path, "RenderStack")
        check_lighting_path(lighting, "RenderStack")
        self.light_tile = check_light_tile(light_tile, "RenderStack")
        self.manager, self.binder, self.target = manager, binder, target
        self.particles = ParticleSystem(manager, capacity=max(64, particles))
        self.lights = LightingSystem(manager, capacity=light_capacity)
        self.ubo = GlobalUboSet(manager, GLOBAL_UBO_DTYPE)
        self.renderer = Renderer(manager, target, gpu_timing=gpu_timing)
        self.scene_pass = ScenePass(binder, manager, self.ubo, target, scene_vertices)
        self.light_pass = LightVolumePass(binder, self.lights, self.ubo, target)
        self.particle_pass = ParticlePass(binder, self.particles, self.ubo, target)
        add_passes(self.renderer, self.scene_pass, self.light_pass, self.particle_pass)
        self.splat_pass: ParticleSplatPass | None = None
        self.particles_path = "sprites"
        self.set_particles_path(particles_path)
        self.tiled_lighting: TiledLightingPass | None = None
        self.lighting = "volumes"
        self.set_lighting_path(lighting)
        self.buffers = BufferSystem.install(manager)
        self.inputs = inputs
        if inputs is not None:
            add_system(inputs, Phase.INPUT, 0)
        add_system(self.particles, Phase.SIMULATE, 10)
        add_system(self.lights, Phase.SIMULATE, 20)
        self.camera = CameraSystem(self.ubo, target, self.lights, self.particles,
                                   ambient=ambient)
        add_system(self.camera, Phase.SIMULATE, 30)
        self.bindings = BindingSystem.install(binder, manager)
        self.render_system = RenderSystem(self.renderer, manager)
        add_system(self.render_system, Phase.RENDER)

    def set_particles_path(self, path: str) -> None:
        """Draw particles as ``"sprites"`` or in ``"compute"`` from the next frame on (call it
        between frames). InvalidOptionError for anything else (nothing changes)."""
        path = check_particles_path(path, "RenderStack.set_particles_path")
        self.manager.require_open("RenderStack.set_particles_path")
        compute = path == "compute"
        if compute and self.splat_pass is None:
            self.splat_pass = ParticleSplatPass(self.binder, self.manager, self.particles,
                                                self.ubo, self.target)
            self.renderer.passes.append(self.splat_pass)
            self.renderer.after_passes.append(self.splat_pass)
        if self.splat_pass is not None:
            self.splat_pass.enabled = compute
        self.particle_pass.draw_sprites = not compute
        self.particles_path = path

    def set_lighting_path(self, path: str) -> None:
        """Apply the lights as ``"volumes"`` or in ``"compute"`` from the next frame on (call
        it between frames). InvalidOptionError for anything else (nothing changes)."""
        path = check_lighting_path(path, "RenderStack.set_lighting_path")
        self.manager.require_open("RenderStack.set_lighting_path")
        compute = path == "compute"
        if compute and self.tiled_lighting is None:
            self.tiled_lighting = TiledLightingPass(self.binder, self.manager, self.lights,
                                                    self.ubo, self.target, tile=self.light_tile)
            self.renderer.after_passes.append(self.tiled_lighting)
            self.renderer.after_passes.append(self.tiled_lighting.composite)
        if self.tiled_lighting is not None:
            self.tiled_lighting.enabled = compute
        self.light_pass.enabled = not compute
        self.lighting = path

    def close(self) -> None:
        """Wait for the GPU; free the renderer's objects and retire the stack's buffers."""
        self.renderer.destroy()
        if self.splat_pass is not None:
            self.splat_pass.destroy()
        if self.tiled_lighting is not None:
            self.tiled_lighting.destroy()
        if not self.manager.closed:
            self.particles.destroy()
            self.lights.destroy()
            self.ubo.destroy()
            if self.scene_pass.vertices.alive:
                self.manager.destroy_buffer(self.scene_pass.vertices)
