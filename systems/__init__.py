"""esper processors, one verb each, registered by schedule phase (see engine.schedule)."""

from __future__ import annotations

from .binding_system import BindingSystem
from .buffer_system import BufferSystem
from .camera_system import CameraSystem
from .input_system import InputSystem
from .lighting_system import LightingSystem
from .particle_system import ParticleSystem
from .readback_system import ReadbackSystem
from .render_stack import RenderStack
from .render_system import RenderSystem

__all__ = ["BufferSystem"]
__all__ += ["BindingSystem", "ReadbackSystem"]
__all__ += ["CameraSystem", "InputSystem", "LightingSystem", "ParticleSystem", "RenderStack",
            "RenderSystem"]
