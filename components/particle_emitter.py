"""ParticleEmitter: a GPU particle fountain attached to an entity (with a Transform).

The ParticleSystem gives each emitter a contiguous range of ``max_particles`` slots in the
particle buffer (while it exists) and writes its parameters to the emitter buffer through
``update_buffer`` only in frames where a field or the entity's position changed. Units: world
units, seconds; colours are linear RGBA in 0..1 (alpha scales brightness: sprites are additive).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Vec3 = tuple[float, float, float]
Vec4 = tuple[float, float, float, float]


@dataclass(slots=True, eq=False)
class ParticleEmitter:
    """A GPU particle fountain at its entity's Transform.

    Attributes:
        rate: particles spawned per second (steady state, while slots are free).
        lifetime: mean particle lifetime in seconds (each particle 0.6x-1.4x).
        speed: random speed added in a random direction (units/s).
        velocity: mean initial velocity (units/s).
        color_start, color_end: the colour ramp over a particle's life (RGBA).
        size: sprite diameter in world units.
        spawn_radius: particles start within this distance of the emitter (units).
        offset: emitter position relative to the entity's Transform.
        gravity: multiplier of the system's gravity (0: floats, 1: falls).
        drag: velocity damping per second (0: none).
        max_particles: slots reserved for this emitter (its share of the buffer).
        enabled: False stops new spawns (living particles finish their lives).
        burst_time: simulation time of the last :meth:`burst` (all free slots spawn at once).
    """

    rate: float = 40.0
    lifetime: float = 1.5
    speed: float = 1.0
    velocity: Vec3 = (0.0, 1.0, 0.0)
    color_start: Vec4 = (1.0, 0.8, 0.4, 1.0)
    color_end: Vec4 = (1.0, 0.2, 0.05, 0.0)
    size: float = 0.15
    spawn_radius: float = 0.1
    offset: Vec3 = (0.0, 0.0, 0.0)
    gravity: float = 1.0
    drag: float = 0.5
    max_particles: int = 256
    enabled: bool = True
    burst_time: float = -1.0e9
    # --- owned by the ParticleSystem ---------------------------------------------------------
    slot: int = field(default=-1, repr=False)
    first: int = field(default=0, repr=False)
    count: int = field(default=0, repr=False)
    key: tuple[object, ...] | None = field(default=None, repr=False)

    def burst(self, now: float | None = None) -> None:
        """Spawn every free slot at once (an explosion): at simulation time ``now`` (seconds),
        or in the ParticleSystem's current frame when ``now`` is None."""
        self.burst_time = float("inf") if now is None else float(now)
