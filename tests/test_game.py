"""The Wisp game, headless on the real driver with validation + sync validation on."""

from __future__ import annotations

import esper
import glfw
import numpy as np
import pytest

from components.player import Player
from components.transform import Transform
from engine.render.layouts import GLOBAL_UBO_DTYPE, SIM_PARAMS_DTYPE
from engine.render.png import load_png
from games.wisp.app import WispApp, main, parse_args
from games.wisp.rules import LOST, PAUSED, PLAYING, WON
from games.wisp.world import Ember, Wisp

try:  # tests/ may or may not be a package
    from render_helpers import bright_spots, luminance
except ImportError:
    from tests.render_helpers import bright_spots, luminance

SMALL = ["--headless", "--width", "320", "--height", "180", "--particles", "3000",
         "--lights", "16"]


@pytest.fixture
def app(vk_context):
    a = WispApp(parse_args(SMALL), context=vk_context)
    a.autopilot.enabled = False
    yield a
    a.close()


def player(app: WispApp) -> tuple[Player, Transform]:
    return esper.component_for_entity(app.game.player, Player), \
        esper.component_for_entity(app.game.player, Transform)


def test_headless_run_is_clean_lit_has_particles_and_is_deterministic(vk_context, tmp_path):
    shots = []
    for run in range(2):
        a = WispApp(parse_args(SMALL), context=vk_context)
        try:
            path = tmp_path / f"run{run}.png"
            a.run(300, str(path))
            shots.append(path.read_bytes())
            if run == 0:
                slot = a.manager.frame_index
                ubo = a.manager.read_array(a.stack.ubo.get_buffer(slot), GLOBAL_UBO_DTYPE)[0]
                params = a.manager.read_array(a.particles.params.get_buffer(slot),
                                              SIM_PARAMS_DTYPE)[0]
                assert ubo["light_count"] == a.lights.count == 16
                assert params["particle_count"] == ubo["particle_count"] == a.particles.count
                assert a.particles.count > 2500 and a.particles.alive_count() > 1000
                assert a.collect.collected > 0  # the autopilot played
        finally:
            a.close()
    assert shots[0] == shots[1]  # fixed step + fixed seed: byte-identical pictures
    image = load_png(tmp_path / "run0.png")
    lum = luminance(image)
    assert image.shape == (180, 320, 4)
    assert lum.std() > 12                          # lit: light pools and darkness
    assert np.mean(lum < 20) > 0.2 and np.mean(lum > 80) > 0.01
    assert bright_spots(image) > 30                # particles: small bright spots


def test_synthetic_keys_move_the_player(app):
    p, tr = player(app)
    app.step(2)
    x0, z0 = tr.x, tr.z
    app.inputs.on_key(glfw.KEY_D, 0, glfw.PRESS, 0)
    app.step(30)
    assert tr.x > x0 + 2.0 and abs(tr.z - z0) < 0.5
    app.inputs.on_key(glfw.KEY_D, 0, glfw.RELEASE, 0)
    app.inputs.on_key(glfw.KEY_UP, 0, glfw.PRESS, 0)
    app.step(30)
    app.inputs.on_key(glfw.KEY_UP, 0, glfw.RELEASE, 0)
    assert tr.z < z0 - 2.0
    app.step(30)
    assert abs(p.vx) < 0.05 and abs(p.vz) < 0.05  # released: the spark glides to a stop


def test_pause_freezes_the_world_and_uploads_nothing(app):
    app.step(10)
    app.inputs.on_key(glfw.KEY_P, 0, glfw.PRESS, 0)
    app.step(1)
    assert app.game.state == PAUSED
    embers = [(tr.x, tr.z) for _e, (_m, tr) in esper.get_components(Ember, Transform)]
    sim_time, light_uploads = app.particles.time, app.lights.uploads
    emitter_uploads = app.particles.emitter_uploads
    app.step(20)
    assert [(tr.x, tr.z) for _e, (_m, tr) in esper.get_components(Ember, Transform)] == embers
    assert app.particles.time == sim_time
    assert app.lights.uploads == light_uploads  # nothing moved: no light upload at all
    assert app.particles.emitter_uploads == emitter_uploads
    app.inputs.on_key(glfw.KEY_P, 0, glfw.PRESS, 0)
    app.step(2)
    assert app.game.state == PLAYING and app.particles.time > sim_time


def test_collecting_scores_winning_and_restarting(app):
    game = app.game
    _p, tr = player(app)
    app.step(2)
    game.score = game.goal - 1
    for _e, (_w, wt) in esper.get_components(Wisp, Transform):
        wt.x, wt.z = tr.x, tr.z
        break
    app.step(2)
    assert game.score == game.goal and game.state == WON
    app.inputs.on_key(glfw.KEY_R, 0, glfw.PRESS, 0)
    app.step(2)
    assert game.state == PLAYING and game.score == 0 and game.rounds == 2
    assert len(esper.get_component(Wisp)) == game.counts.wisps
    assert app.lights.count == 16  # the new round's lights replaced the old ones


def test_losing_by_embers_or_time(app):
    game = app.game
    _p, tr = player(app)
    app.step(2)
    game.lives = 1
    for _e, (_m, et) in esper.get_components(Ember, Transform):
        et.x, et.z = tr.x, tr.z
        break
    app.step(2)
    assert game.lives == 0 and game.state == LOST
    app.inputs.on_key(glfw.KEY_R, 0, glfw.PRESS, 0)
    app.step(1)
    game.time_left = 0.01
    app.step(2)
    assert game.state == LOST


def test_command_line_headless_with_stats_and_memory_map(tmp_path, capsys):
    shot, memory = tmp_path / "shot.png", tmp_path / "memory.png"
    assert main(["--headless", "--frames", "20", "--width", "160", "--height", "96",
                 "--particles", "500", "--lights", "8", "--stats", "--timing",
                 "--screenshot", str(shot), "--memory-map", str(memory)]) == 0
    out = capsys.readouterr().out
    assert "Buffer Manager Statistics" in out and "median_ms" in out and "score" in out
    assert load_png(shot).shape == (96, 160, 4)
    assert memory.exists()


class FakeWindow:
    """Just enough of engine.render.window.Window for the InputSystem."""

    def __init__(self) -> None:
        self.listeners: list[object] = []

    def on_key(self, f: object) -> None:
        self.listeners.append(f)

    on_mouse_button = on_cursor = on_key

    def poll_events(self) -> None:
        pass

    def window_size(self) -> tuple[int, int]:
        return 320, 180


def test_mouse_steers_toward_the_ground_point_under_the_cursor(app):
    from systems.input_system import InputSystem

    app.step(2)  # the camera has matrices now
    inputs = InputSystem(FakeWindow())
    _p, tr = player(app)
    inputs.on_cursor(300.0, 90.0)  # right of the screen centre, at mid height
    inputs.on_mouse_button(glfw.MOUSE_BUTTON_LEFT, glfw.PRESS, 0)
    target = inputs._mouse_target()
    assert target is not None and target[0] > tr.x + 3.0
    inputs.process()
    p, _tr = player(app)
    assert p.target == target
    inputs.on_mouse_button(glfw.MOUSE_BUTTON_LEFT, glfw.RELEASE, 0)
    inputs.process()
    assert p.target is None


def test_hud_title_depends_on_frames_not_on_machine_speed(app, monkeypatch):
    """The title says the score from the first frame on, however fast frames run: a frozen clock
    (an infinitely fast machine) still refreshes it on changes and every refresh_frames frames."""
    from games.wisp import rules

    class Titles:
        def __init__(self) -> None:
            self.titles: list[str] = []

        def set_title(self, text: str) -> None:
            self.titles.append(text)

    monkeypatch.setattr(rules.time, "perf_counter", lambda: 100.0)
    window = Titles()
    hud = rules.HudSystem(app.game, window, refresh_frames=15)
    hud.process()
    assert len(window.titles) == 1 and "score 0/" in window.titles[0]
    hud.process()
    assert len(window.titles) == 1  # nothing changed: no refresh
    app.game.score += 1
    hud.process()
    assert len(window.titles) == 2 and "score 1/" in window.titles[-1]
    for _ in range(15):
        hud.process()
    assert len(window.titles) == 3  # the periodic FPS refresh, counted in frames


def test_pillars_and_orbs_are_drawn_one_block_each_from_the_uniform_ring(app):
    """Every prop's block is pushed into the props ring each frame and drawn by its dynamic
    offset: the ring's slot holds the PropSystem's blocks, orbs bob while pillars stay, the
    ring's descriptors are not rewritten after each slot's first frame, and the props are in
    the picture (removing the pass changes it where they stand)."""
    from games.wisp.props import SPHERE

    props, system, ring = app.props.system.props, app.prop_system, app.props.ring
    app.step(4)
    writes = app.ctx.counters.descriptor_writes_total
    before = system.blocks.copy()
    app.step(6)
    assert app.ctx.counters.descriptor_writes_total == writes
    assert ring.used == len(props) == 10
    slot = app.manager.frame_index
    raw = np.frombuffer(app.manager.read_buffer(ring.buffer(slot), 0, len(props) * ring.stride),
                        np.uint8).reshape(len(props), ring.stride)[:, :ring.block_size]
    assert raw.tobytes() == system.blocks.tobytes()
    orbs = props["kind"] == SPHERE
    moved = system.blocks["model"][:, 3, 1] != before["model"][:, 3, 1]
    assert orbs.any() and moved[orbs].all() and not moved[~orbs].any()
    app.inputs.on_key(glfw.KEY_P, 0, glfw.PRESS, 0)  # paused: the picture stands still
    app.step(2)
    shots = []
    for _ in range(3):
        app.renderer.request_screenshot()
        app.step(1)
        shots.append(luminance(app.renderer.read_screenshot()))
        if len(shots) == 2:
            app.renderer.remove_pass("props")
    assert np.array_equal(shots[0], shots[1])
    changed = np.abs(shots[1] - shots[2]) > 8
    assert changed.sum() > 200  # the pillars and orbs in view


def test_a_draw_may_only_use_offsets_of_blocks_pushed_this_frame(app):
    """The props pipeline's dynamic offset is checked by the binder: past what was pushed,
    misaligned, or the wrong count raise before anything is recorded."""
    from engine import errors as E  # noqa: N812

    pipe, ring = app.props.pipeline, app.props.ring
    cases = [(E.DynamicOffsetError, [ring.stride * 10]), (E.DynamicOffsetError, [1]),
             (E.DrawStateError, []), (E.DrawStateError, [0, 0]),
             (E.DynamicOffsetError, [2.0]), (E.InvalidDataError, "0")]
    for error, offsets in cases:
        name = app.renderer.add_pass(
            lambda dc, offsets=offsets: dc.bind_pipeline(pipe, dynamic_offsets=offsets),
            phase="scene", name="bad-offsets")
        with pytest.raises(error):
            app.step(1)
        app.renderer.remove_pass(name)
    app.step(2)  # the game goes on
    assert ring.used == 10
