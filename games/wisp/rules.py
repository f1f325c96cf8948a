"""The rules of Wisp, as esper systems (one verb each) around a shared :class:`GameState`.

- :class:`FlowSystem` (SIMULATE 0): pause / restart / quit actions, the clock, win and lose.
- :class:`AutopilotSystem` (INPUT 1): steers the player in demo/headless runs.
- :class:`MoveSystem` (SIMULATE 1): player and ember motion, field edges, obstacles.
- :class:`CollectSystem` (SIMULATE 2): wisp pick-ups (score, burst) and ember hits (lives).
- :class:`HudSystem` (END 50): score, lives, time and FPS in the window title.

Randomness comes from ``GameState.rng`` (seeded), and every system uses the frame's ``dt``, so a
fixed time step replays exactly.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import esper
import numpy as np

from components.camera import Camera
from components.particle_emitter import ParticleEmitter
from components.player import Player
from components.point_light import PointLight
from components.transform import Transform
from games.wisp.world import HALF, BurstFx, Counts, Ember, Level, Wisp, spawn_round, spot_for_wisp
from systems.input_system import InputSystem

PLAYING, PAUSED, WON, LOST = "playing", "paused", "won", "lost"


@dataclass
class GameState:
    """Everything a round needs beyond its entities. Times in seconds."""

    level: Level
    counts: Counts
    seed: int
    particles: int
    goal: int = 25
    round_time: float = 90.0
    lives: int = 3
    score: int = 0
    time_left: float = 90.0
    state: str = PLAYING
    invulnerable: float = 0.0
    quit: bool = False
    rounds: int = 0
    player: int = 0
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    def sim_scale(self) -> float:
        """1 while playing, 0 when paused or over (the world freezes)."""
        return 1.0 if self.state == PLAYING else 0.0

    def new_round(self) -> None:
        """Delete the round's entities and spawn a fresh round from the seed."""
        for ent in [e for e, _ in esper.get_component(Transform)]:
            esper.delete_entity(ent, immediate=True)
        for ent in [e for e, _ in esper.get_component(Camera)]:
            esper.delete_entity(ent, immediate=True)
        self.rng = np.random.default_rng(self.seed + 1)
        self.player = spawn_round(self.level, self.counts, self.rng, self.particles)
        self.score, self.lives, self.invulnerable = 0, 3, 0.0
        self.time_left, self.state = self.round_time, PLAYING
        self.rounds += 1


class FlowSystem(esper.Processor):
    """Applies actions (pause, restart, quit) and ends the round on a win or a loss."""

    def __init__(self, game: GameState, inputs: InputSystem) -> None:
        self.game, self.inputs = game, inputs

    def process(self, dt: float = 0.0, *args: Any, **kwargs: Any) -> None:
        game = self.game
        for action in self.inputs.take_actions():
            if action == "quit":
                game.quit = True
            elif action == "restart" or (action == "start" and game.state in (WON, LOST)):
                game.new_round()
            elif action == "pause" and game.state in (PLAYING, PAUSED):
                game.state = PAUSED if game.state == PLAYING else PLAYING
        if game.state != PLAYING:
            return
        game.time_left = max(0.0, game.time_left - dt)
        game.invulnerable = max(0.0, game.invulnerable - dt)
        if game.score >= game.goal:
            game.state = WON
        elif game.lives <= 0 or game.time_left <= 0.0:
            game.state = LOST


class AutopilotSystem(esper.Processor):
    """Steers the player toward the nearest wisp, away from embers (demo and headless)."""

    def __init__(self, game: GameState) -> None:
        self.game = game
        self.enabled = True

    def process(self, *args: Any, **kwargs: Any) -> None:
        if not self.enabled:
            return
        for _ent, (player, tr) in esper.get_components(Player, Transform):
            if player.move_x or player.move_z or player.target is not None:
                continue  # a human is playing
            best, bx, bz = 1e9, 0.0, 0.0
            for _w, (_wisp, wt) in esper.get_components(Wisp, Transform):
                d = math.hypot(wt.x - tr.x, wt.z - tr.z)
                if d < best:
                    best, bx, bz = d, wt.x - tr.x, wt.z - tr.z
            mx, mz = (bx / best, bz / best) if best < 1e9 and best > 1e-6 else (0.0, 0.0)
            for _e, (_ember, et) in esper.get_components(Ember, Transform):
                dx, dz = tr.x - et.x, tr.z - et.z
                d = math.hypot(dx, dz)
                if 1e-6 < d < 3.5:
                    push = (3.5 - d) / 3.5 * 2.0
                    mx, mz = mx + dx / d * push, mz + dz / d * push
            n = math.hypot(mx, mz)
            player.move_x, player.move_z = (mx / n, mz / n) if n > 1e-6 else (0.0, 0.0)


def _push_out(x: float, z: float, radius: float, level: Level) -> tuple[float, float]:
    x = min(HALF, max(-HALF, x))
    z = min(HALF, max(-HALF, z))
    for ox, oz, r in level.obstacles:
        dx, dz = x - ox, z - oz
        d = math.hypot(dx, dz)
        if d < r + radius:
            if d < 1e-6:
                dx, dz, d = 1.0, 0.0, 1.0
            x, z = ox + dx / d * (r + radius), oz + dz / d * (r + radius)
    return x, z


class MoveSystem(esper.Processor):
    """Moves the player (toward its input) and the embers (wander, or hunt when close)."""

    def __init__(self, game: GameState) -> None:
        self.game = game

    def process(self, dt: float = 0.0, *args: Any, **kwargs: Any) -> None:
        if dt <= 0.0:
            return
        level = self.game.level
        px = pz = 0.0
        for _ent, (player, tr) in esper.get_components(Player, Transform):
            mx, mz = player.move_x, player.move_z
            if player.target is not None:
                dx, dz = player.target[0] - tr.x, player.target[1] - tr.z
                d = math.hypot(dx, dz)
                mx, mz = (dx / d, dz / d) if d > 0.3 else (0.0, 0.0)
            k = min(1.0, 10.0 * dt)
            player.vx += (mx * player.speed - player.vx) * k
            player.vz += (mz * player.speed - player.vz) * k
            tr.x, tr.z = _push_out(tr.x + player.vx * dt, tr.z + player.vz * dt, player.radius,
                                   level)
            px, pz = tr.x, tr.z
        rng = self.game.rng
        safe = self.game.invulnerable > 0.0
        for _ent, (ember, tr) in esper.get_components(Ember, Transform):
            dx, dz = px - tr.x, pz - tr.z
            d = math.hypot(dx, dz)
            if not safe and d < ember.hunt_range:
                target = math.atan2(dz, dx)
                turn = (target - ember.heading + math.pi) % (2 * math.pi) - math.pi
                ember.heading += max(-3.0 * dt, min(3.0 * dt, turn))
                speed = ember.hunt_speed + 0.08 * self.game.score  # they get keener
            else:
                ember.heading += float(rng.normal(0.0, 1.6)) * dt
                speed = ember.speed
            nx = tr.x + math.cos(ember.heading) * speed * dt
            nz = tr.z + math.sin(ember.heading) * speed * dt
            if abs(nx) > HALF or abs(nz) > HALF:
                ember.heading += math.pi
            tr.x, tr.z = _push_out(nx, nz, 0.4, level)


class CollectSystem(esper.Processor):
    """Wisp pick-ups (score + burst + the wisp moves) and ember hits (a life, a grace time)."""

    def __init__(self, game: GameState) -> None:
        self.game = game
        self.collected = 0
        self.hits = 0

    def process(self, dt: float = 0.0, *args: Any, **kwargs: Any) -> None:
        game = self.game
        if game.state != PLAYING or not esper.entity_exists(game.player):
            return
        tr = esper.component_for_entity(game.player, Transform)
        player = esper.component_for_entity(game.player, Player)
        light = esper.component_for_entity(game.player, PointLight)
        for _ent, (_wisp, wt) in esper.get_components(Wisp, Transform):
            if math.hypot(wt.x - tr.x, wt.z - tr.z) < player.radius + 0.7:
                game.score += 1
                self.collected += 1
                for _b, (_fx, bt, em) in esper.get_components(BurstFx, Transform,
                                                              ParticleEmitter):
                    bt.set(wt.x, 0.0, wt.z)
                    em.burst()
                wt.x, wt.z = spot_for_wisp(game.rng, game.level, (tr.x, tr.z))
        if game.invulnerable <= 0.0:
            for _ent, (_ember, et) in esper.get_components(Ember, Transform):
                if math.hypot(et.x - tr.x, et.z - tr.z) < player.radius + 0.45:
                    game.lives -= 1
                    game.invulnerable = 2.0
                    self.hits += 1
                    et.x, et.z = spot_for_wisp(game.rng, game.level, (tr.x, tr.z))
                    break
        blink = game.invulnerable > 0.0 and int(game.invulnerable * 8) % 2 == 0
        light.intensity = 0.6 if blink else 2.4


class HudSystem(esper.Processor):
    """Score, lives, time left, state and FPS in the window title.

    The title is refreshed by frame count, never by wall-clock time: on the first frame, on any
    frame where the score, lives, state or whole seconds left changed, and every
    ``refresh_frames`` frames for the FPS figure (which is the only part measured by the clock).
    So what the title says after N frames does not depend on how fast the machine is.
    """

    def __init__(self, game: GameState, window: Any, *, refresh_frames: int = 15,
                 live_particles: Any = None) -> None:
        self.game, self.window = game, window
        self.live_particles = live_particles
        """A ReadbackRequest of the particle count (``latest[0]``), or None."""
        self.live: int | None = None
        self.refresh_frames = refresh_frames
        self._last = time.perf_counter()
        self._frames = 0
        self._shown: tuple[object, ...] | None = None
        self.fps = 0.0
        self.text = ""

    def process(self, *args: Any, **kwargs: Any) -> None:
        self._frames += 1
        game = self.game
        shown = (game.score, game.goal, game.lives, game.state, int(game.time_left))
        if shown == self._shown and self._frames < self.refresh_frames:
            return
        now = time.perf_counter()
        if self._frames >= self.refresh_frames:
            if now > self._last:
                self.fps = self._frames / (now - self._last)
            self._last, self._frames = now, 0
        self._shown = shown
        latest = None if self.live_particles is None else self.live_particles.latest
        self.live = None if latest is None else int(latest[0])
        self.text = title_for(game, self.fps, self.live)
        if self.window is not None:
            self.window.set_title(self.text)


def title_for(game: GameState, fps: float, live_particles: int | None = None) -> str:
    """The window title; ``live_particles`` (counted on the GPU, read back a few frames
    late) is shown when known."""
    status = {PAUSED: "  [PAUSED: P to resume]", WON: "  YOU WIN! R: play again",
              LOST: "  GAME OVER. R: try again"}.get(game.state, "")
    live = "" if live_particles is None else f"  |  {live_particles} particles"
    return (f"Wisp  |  score {game.score}/{game.goal}  |  lives {max(0, game.lives)}  |  "
            f"{game.time_left:4.0f} s  |  {fps:5.1f} FPS{live}{status}")
