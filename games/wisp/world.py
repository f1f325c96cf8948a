"""The Wisp level: static scene geometry and the entities of one round, from a seed.

Layout (world units, y up, the ground is y = 0): a square field of half-size ``HALF``; stone
pillars and glass orbs as obstacles; lamp posts with amber lights around the field; wisps
(the lights to collect); embers (the hazards); the player's spark; one burst emitter reused for
every collection flash. Everything is placed by a ``numpy`` generator seeded by the caller, so
one seed always gives the same level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import esper
import numpy as np

from components.camera import Camera
from components.particle_emitter import ParticleEmitter
from components.player import Player
from components.point_light import PointLight
from components.transform import Transform
from engine.render import meshes
from games.wisp.props import BOX, PROP_DTYPE, SPHERE

HALF = 20.0
"""Half-size of the field (units)."""
WISP_COLORS = ((0.3, 0.9, 1.0), (0.5, 1.0, 0.45), (0.8, 0.5, 1.0), (1.0, 0.55, 0.85))


@dataclass(slots=True, eq=False)
class Wisp:
    """A light to collect. ``home`` is where it floats."""

    color: tuple[float, float, float] = (0.3, 0.9, 1.0)


@dataclass(slots=True, eq=False)
class Ember:
    """A hazard: wanders, and hunts the player when close. Speeds in units/s."""

    heading: float = 0.0
    speed: float = 2.2
    hunt_speed: float = 3.6
    hunt_range: float = 7.0


@dataclass(slots=True, eq=False)
class BurstFx:
    """Marks the entity whose emitter flashes where a wisp was collected."""


@dataclass
class Level:
    """The static part of a level: obstacles (circles on the ground), the props that draw
    them (pillars and orbs, :data:`~games.wisp.props.PROP_DTYPE`, drawn per object from a
    uniform ring) and the static scene mesh (ground and lamp posts, one draw)."""

    obstacles: list[tuple[float, float, float]] = field(default_factory=list)  # x, z, radius
    lamps: list[tuple[float, float]] = field(default_factory=list)
    props: Any = None
    vertices: Any = None


@dataclass
class Counts:
    """How many of each light the level gets for a light budget."""

    embers: int
    wisps: int
    lamps: int

    @classmethod
    def for_lights(cls, lights: int) -> Counts:
        lights = max(4, lights)
        embers = max(1, lights // 10)
        wisps = max(2, lights // 3)
        return cls(embers, wisps, max(0, lights - 1 - embers - wisps))


def build_level(seed: int, counts: Counts) -> Level:
    """Pillars and orbs (props, one row each) and lamp posts (merged into the static vertex
    array with the ground) at seeded positions."""
    rng = np.random.default_rng(seed)
    level = Level()
    parts = [meshes.ground(HALF + 6.0, (0.42, 0.4, 0.38, 0.0))]
    props = np.zeros(10, PROP_DTYPE)
    for i in range(10):
        x, z = _free_spot(rng, level, 2.5)
        if i % 3 == 2:  # a glass orb hovering over the ground, bobbing
            r = float(rng.uniform(0.7, 1.1))
            props[i] = (SPHERE, (x, r + 0.25, z), (r, r, r), (0.55, 0.6, 0.75, 0.05), 0.2,
                        float(rng.uniform(0.0, 2 * math.pi)))
            level.obstacles.append((x, z, r))
        else:  # a stone pillar
            w = float(rng.uniform(0.9, 1.6))
            h = float(rng.uniform(1.5, 3.2))
            props[i] = (BOX, (x, h / 2, z), (w, h, w), (0.55, 0.5, 0.45, 0.0), 0.0, 0.0)
            level.obstacles.append((x, z, w * 0.72))
    level.props = props
    for i in range(counts.lamps):
        angle = 2 * math.pi * i / max(1, counts.lamps)
        ring = HALF - 1.5 if i % 2 == 0 else HALF * 0.55
        x, z = ring * math.cos(angle), ring * math.sin(angle)
        parts.append(meshes.box((x, 0.55, z), (0.25, 1.1, 0.25), (0.3, 0.28, 0.26, 0.0)))
        level.lamps.append((x, z))
    level.vertices = meshes.merge(parts)
    return level


def _free_spot(rng: np.random.Generator, level: Level, clearance: float,
               avoid: tuple[float, float] | None = None) -> tuple[float, float]:
    for _ in range(200):
        x, z = (float(v) for v in rng.uniform(-HALF + 2, HALF - 2, 2))
        if avoid is not None and math.hypot(x - avoid[0], z - avoid[1]) < 6.0:
            continue
        if math.hypot(x, z) < 3.0:
            continue
        if all(math.hypot(x - ox, z - oz) > r + clearance for ox, oz, r in level.obstacles):
            return x, z
    return x, z


def spot_for_wisp(rng: np.random.Generator, level: Level, player: tuple[float, float]
                  ) -> tuple[float, float]:
    """A free ground spot away from the player."""
    return _free_spot(rng, level, 1.2, avoid=player)


def spawn_round(level: Level, counts: Counts, rng: np.random.Generator, particles: int
                ) -> int:
    """Create the round's entities; returns the player entity.

    ``particles`` is the particle budget the emitters share (their ``max_particles``).
    """
    budget = max(64, particles)
    # Sprites add up: keep the picture's brightness about the same for any particle budget.
    dim = min(1.0, (12_000 / budget) ** 0.5)
    trail = max(16, budget // 6)
    burst = max(16, budget // 8)
    ember_share = max(16, budget // 4 // max(1, counts.embers))
    wisp_share = max(8, (budget - trail - burst - ember_share * counts.embers)
                     // max(1, counts.wisps))
    player = esper.create_entity(
        Transform(0.0, 0.0, 0.0), Player(),
        PointLight((1.0, 0.85, 0.6), 2.6, 5.5, height=1.1, glow=1.0),
        ParticleEmitter(rate=trail / 0.7, lifetime=0.7, speed=1.2, velocity=(0.0, 1.4, 0.0),
                        color_start=(1.0, 0.85, 0.5, dim), color_end=(1.0, 0.25, 0.05, 0.0),
                        size=0.12, spawn_radius=0.2, offset=(0.0, 1.0, 0.0), gravity=0.6,
                        drag=1.2, max_particles=trail))
    esper.create_entity(Camera(follow=player, offset=(0.0, 15.0, 11.0),
                               eye=(0.0, 15.0, 11.0), target=(0.0, 0.0, 0.0)))
    esper.create_entity(
        Transform(0.0, 0.0, 0.0), BurstFx(),
        ParticleEmitter(rate=0.0, lifetime=1.1, speed=6.0, velocity=(0.0, 2.5, 0.0),
                        color_start=(0.7, 1.0, 1.0, dim), color_end=(0.2, 0.4, 1.0, 0.0),
                        size=0.14, spawn_radius=0.3, offset=(0.0, 1.0, 0.0), gravity=0.8,
                        drag=0.8, max_particles=burst))
    for i in range(counts.wisps):
        x, z = spot_for_wisp(rng, level, (0.0, 0.0))
        color = WISP_COLORS[i % len(WISP_COLORS)]
        esper.create_entity(
            Transform(x, 0.0, z), Wisp(color),
            PointLight(color, 2.0, 3.2, height=1.0, pulse_hz=0.6 + 0.1 * (i % 5),
                       pulse_phase=float(i), pulse_depth=0.45, glow=1.3),
            ParticleEmitter(rate=wisp_share / 2.4, lifetime=2.4, speed=0.35,
                            velocity=(0.0, 0.55, 0.0), color_start=(*color, 0.9 * dim),
                            color_end=(*color, 0.0), size=0.1, spawn_radius=0.45,
                            offset=(0.0, 0.6, 0.0), gravity=0.0, drag=0.3,
                            max_particles=wisp_share))
    for i in range(counts.embers):
        x, z = _free_spot(rng, level, 1.5, avoid=(0.0, 0.0))
        esper.create_entity(
            Transform(x, 0.0, z), Ember(heading=float(rng.uniform(0, 2 * math.pi))),
            PointLight((1.0, 0.22, 0.06), 2.8, 3.6, height=0.9, pulse_hz=7.0 + i,
                       pulse_depth=0.35, glow=1.8),
            ParticleEmitter(rate=ember_share / 0.8, lifetime=0.8, speed=1.6,
                            velocity=(0.0, 2.2, 0.0), color_start=(1.0, 0.6, 0.15, dim),
                            color_end=(0.8, 0.05, 0.0, 0.0), size=0.13, spawn_radius=0.35,
                            offset=(0.0, 0.7, 0.0), gravity=0.45, drag=0.9,
                            max_particles=ember_share))
    for i, (x, z) in enumerate(level.lamps):
        esper.create_entity(Transform(x, 0.0, z), PointLight(
            (1.0, 0.62, 0.25), 1.6, 2.4, height=1.2, pulse_hz=0.25, pulse_phase=float(i),
            pulse_depth=0.15, glow=0.9))
    return player
