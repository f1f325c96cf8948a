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
small scenes. :meth:`close` retires what it created (the manager and binder are not owned).
"""

from __future__ import annotations

from typing import Any

from engine.binding.binder import ResourceBinder
from engine.buffers.manager import BufferManager
from engine.buffers.sets import GlobalUboSet
from engine.render.layouts import GLOBAL_UBO_DTYPE
from engine.render.passes import LightVolumePass, ParticlePass, ScenePass, add_passes
from engine.render.renderer import Renderer
from engine.schedule import Phase, add_system
from systems.binding_system import BindingSystem
from systems.buffer_system import BufferSystem
from systems.camera_system import CameraSystem
from systems.input_system import InputSystem
from systems.lighting_system import LightingSystem
from systems.particle_system import ParticleSystem
from systems.render_system import RenderSystem


class RenderStack:
    """Args:
        manager, binder: the device's BufferManager and ResourceBinder (same frames in flight).
        target: an OffscreenTarget or SwapchainTarget (not owned).
        scene_vertices: SCENE_VERTEX_DTYPE array of the static scene (one draw).
        particles: particle slots; light_capacity: lights before the first resize.
        inputs: an InputSystem to run in the INPUT phase, or None.
        ambient: ambient light RGB.
        gpu_timing: timestamp queries per pass (the renderer's ``statistics()``).
    """

    def __init__(self, manager: BufferManager, binder: ResourceBinder, target: Any,
                 scene_vertices: Any, *, particles: int = 10_000, light_capacity: int = 64,
                 inputs: InputSystem | None = None,
                 ambient: tuple[float, float, float] = (0.09, 0.1, 0.14),
                 gpu_timing: bool = True) -> None:
        self.manager, self.binder, self.target = manager, binder, target
        self.particles = ParticleSystem(manager, capacity=max(64, particles))
        self.lights = LightingSystem(manager, capacity=light_capacity)
        self.ubo = GlobalUboSet(manager, GLOBAL_UBO_DTYPE)
        self.renderer = Renderer(manager, target, gpu_timing=gpu_timing)
        self.scene_pass = ScenePass(binder, manager, self.ubo, target, scene_vertices)
        self.light_pass = LightVolumePass(binder, self.lights, self.ubo, target)
        self.particle_pass = ParticlePass(binder, self.particles, self.ubo, target)
        add_passes(self.renderer, self.scene_pass, self.light_pass, self.particle_pass)
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

    def close(self) -> None:
        """Wait for the GPU; free the renderer's objects and retire the stack's buffers."""
        self.renderer.destroy()
        if not self.manager.closed:
            self.particles.destroy()
            self.lights.destroy()
            self.ubo.destroy()
            if self.scene_pass.vertices.alive:
                self.manager.destroy_buffer(self.scene_pass.vertices)
