"""Plain dataclass components for esper. Device work lives in ``systems/``, not here."""

from __future__ import annotations

from components.binding import BufferBinding
from components.camera import Camera
from components.particle_emitter import ParticleEmitter
from components.player import Player
from components.point_light import PointLight
from components.readback import ReadbackRequest
from components.transform import Transform
from engine.buffers.types import ManagedBuffer

__all__ = ["ManagedBuffer"]
__all__ += ["BufferBinding", "ReadbackRequest"]
__all__ += ["Camera", "ParticleEmitter", "Player", "PointLight", "Transform"]
