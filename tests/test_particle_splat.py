"""The compute particle path (engine/render/particle_splat.py) against the point-sprite path,
on the real driver with validation + synchronisation validation (any message fails a test)."""

from __future__ import annotations

import uuid

import esper
import numpy as np
import pytest

from components.particle_emitter import ParticleEmitter
from components.transform import Transform
from engine.buffers.manager import BufferManager
from engine.device.context import GraphicsContext
from engine.errors import InvalidOptionError
from engine.render import meshes
from engine.render.particle_splat import (
    ACCUM_BYTES_PER_PIXEL,
    GPU_COMPUTE_MIN_PARTICLES,
    PACKED_ACCUM_BYTES_PER_PIXEL,
    SOFTWARE_COMPUTE_MIN_PARTICLES,
    SPLAT_TILE,
    choose_particles_path,
)

try:  # tests/ may or may not be a package
    from render_helpers import MiniScene, bright_spots, luminance
except ImportError:
    from tests.render_helpers import MiniScene, bright_spots, luminance

PILLAR = (3.0, 2.0, 0.0)
"""A 2 x 4 x 2 box standing on the ground; an emitter inside it is hidden from the camera."""


def level() -> np.ndarray:
    return meshes.merge([meshes.ground(30.0, (0.6, 0.6, 0.6, 0.0)),
                         meshes.box(PILLAR, (2.0, 4.0, 2.0), (0.3, 0.3, 0.35, 0.0))])


def fountain(x: float, y: float = 0.0, z: float = 0.0, **kw: object) -> int:
    params = {"rate": 400.0, "lifetime": 1.0, "speed": 1.5, "velocity": (0.0, 3.0, 0.0),
              "size": 0.3, "max_particles": 300, "gravity": 1.0, "drag": 0.0,
              "color_start": (1.0, 0.9, 0.6, 1.0), "color_end": (1.0, 0.5, 0.2, 1.0), **kw}
    return esper.create_entity(Transform(x, y, z), ParticleEmitter(**params))  # type: ignore[arg-type]


@pytest.fixture
def scene(buffer_manager, ecs_world):
    s = MiniScene(buffer_manager, width=192, height=112, particles=2048, vertices=level(),
                  particles_path="compute")
    yield s
    s.close()


def frozen_shot(scene: MiniScene, path: str) -> np.ndarray:
    """Screenshot of the current particles drawn by ``path`` (dt = 0: nothing moves)."""
    scene.stack.set_particles_path(path)
    scene.stack.renderer.request_screenshot()
    scene.step(1, dt=0.0)
    return scene.stack.renderer.read_screenshot()


@pytest.mark.parametrize("path", ["sprites", "compute"])
def test_both_paths_render_headless_frames_under_validation(buffer_manager, ecs_world, path):
    s = MiniScene(buffer_manager, particles=512, particles_path=path)
    try:
        assert s.stack.particles_path == path
        assert (s.stack.splat_pass is None) == (path == "sprites")
        fountain(0.0)
        s.step(20)
        shot = s.screenshot()
        assert bright_spots(shot) > 20, path
    finally:
        s.close()


def no_particles_shot(scene: MiniScene) -> np.ndarray:
    """Screenshot with neither path drawing (the particles stay alive)."""
    stack = scene.stack
    assert stack.splat_pass is not None
    stack.set_particles_path("compute")
    stack.splat_pass.enabled = False
    stack.renderer.request_screenshot()
    scene.step(1, dt=0.0)
    shot = stack.renderer.read_screenshot()
    stack.set_particles_path("compute")
    return shot


def test_a_fountain_inside_the_pillar_is_hidden_in_both_paths(scene):
    hidden = fountain(PILLAR[0], 1.0, speed=0.2, velocity=(0.0, 0.0, 0.0), gravity=0.0,
                      spawn_radius=0.3, size=0.5)
    scene.step(30)
    assert scene.stack.particles.alive_count() > 250  # alive, drawn, behind the pillar's faces
    assert esper.component_for_entity(hidden, ParticleEmitter).count == 300
    empty = no_particles_shot(scene)
    for path in ("sprites", "compute"):
        shot = frozen_shot(scene, path)
        assert np.abs(shot.astype(np.int16) - empty).max() <= 1, path


def test_compute_image_is_close_to_the_sprite_image(scene):
    """Same particles (the simulation is frozen with dt = 0) drawn both ways. Metric: mean
    absolute difference of 8-bit RGB < 0.5 and lit-pixel counts within 5%. One fountain is
    in the open, one rises from behind the pillar (its lower particles are hidden)."""
    fountain(-3.0)
    fountain(PILLAR[0], 0.0, -1.6)
    scene.step(40)
    empty = no_particles_shot(scene)
    sprites = frozen_shot(scene, "sprites")
    compute = frozen_shot(scene, "compute")
    diff = np.abs(sprites[:, :, :3].astype(np.int16) - compute[:, :, :3]).astype(np.float64)
    assert diff.mean() < 0.5
    lit_s = int(np.count_nonzero(luminance(sprites) > 60))
    lit_c = int(np.count_nonzero(luminance(compute) > 60))
    assert lit_s > 80 and abs(lit_s - lit_c) <= 0.05 * lit_s
    assert bright_spots(sprites) > 20 and bright_spots(compute) > 20
    drawn = np.abs(compute.astype(np.int16) - empty).max(axis=2) > 8
    assert np.count_nonzero(drawn) > 80  # particles were drawn at all


def two_fountain_shots(manager) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(no particles, sprites, compute) screenshots of the same frozen two-fountain scene, in
    an esper world of its own."""
    previous, world = esper.current_world, f"shots-{uuid.uuid4().hex}"
    esper.switch_world(world)
    try:
        s = MiniScene(manager, width=192, height=112, particles=2048, vertices=level(),
                      particles_path="compute")
        try:
            fountain(-3.0)
            fountain(PILLAR[0], 0.0, -1.6)
            s.step(40)
            return no_particles_shot(s), frozen_shot(s, "sprites"), frozen_shot(s, "compute")
        finally:
            s.close()
    finally:
        esper.switch_world(previous)
        esper.delete_world(world)


def test_three_uint_layout_without_int64_atomics_draws_what_the_packed_one_draws(
        validation, buffer_manager):
    """The device without 64-bit buffer atomics (``disable_features``) accumulates three uints
    a pixel; the same particles (the simulation is deterministic) give the same picture as the
    packed uint64 layout, where the device has it. Both: sprites within the sprite test's
    bounds."""
    default = two_fountain_shots(buffer_manager)
    ctx = GraphicsContext.create(validation=True, disable_features=("buffer_int64_atomics",))
    try:
        assert ctx.features.buffer_int64_atomics is False
        manager = BufferManager(ctx, frames_in_flight=3)
        try:
            plain = two_fountain_shots(manager)
            previous, world = esper.current_world, f"small-{uuid.uuid4().hex}"
            esper.switch_world(world)
            s = MiniScene(manager, width=64, height=32, particles=16, particles_path="compute")
            try:
                assert s.stack.splat_pass is not None and not s.stack.splat_pass.packed
                assert s.stack.splat_pass.accum.size == 64 * 32 * ACCUM_BYTES_PER_PIXEL
            finally:
                s.close()
                esper.switch_world(previous)
                esper.delete_world(world)
        finally:
            manager.close()
    finally:
        ctx.close()
    for empty, sprites, compute in (default, plain):
        diff = np.abs(sprites[:, :, :3].astype(np.int16) - compute[:, :, :3])
        assert diff.mean() < 0.5
        assert np.count_nonzero(np.abs(compute.astype(np.int16) - empty).max(axis=2) > 8) > 80
    # Same fixed-point sums either way: the pictures agree to the rounding of 1/SPLAT_SCALE.
    assert np.abs(default[2].astype(np.int16) - plain[2]).max() <= 1


def test_accumulation_follows_a_resize_and_the_binder_rebinds(scene, buffer_manager):
    fountain(0.0)
    scene.step(10)
    sp = scene.stack.splat_pass
    assert sp is not None and sp.accum is not None
    assert sp.tiles is not None
    packed = scene.manager.context.features.buffer_int64_atomics
    assert sp.packed == packed
    assert sp.accum_bytes_per_pixel == (PACKED_ACCUM_BYTES_PER_PIXEL if packed
                                        else ACCUM_BYTES_PER_PIXEL)
    assert sp.accum.size == 192 * 112 * sp.accum_bytes_per_pixel
    generations = (sp.accum.generation, sp.tiles.generation)
    slots = buffer_manager.frames_in_flight
    assert sp.depth_writes == slots  # the depth attachment's descriptor, once per slot
    names = {b.name for b in buffer_manager.live_buffers()}
    assert {"particles.splat_accum", "particles.splat_tiles"} <= names
    described = {d.name for d in buffer_manager.allocation_descriptions().values()}
    assert {"particles.splat_accum", "particles.splat_tiles"} <= described  # memory map, stats
    scene.target.resize(250, 130)
    scene.step(3)
    assert sp.size == (250, 130) and sp.resizes == 1
    assert sp.accum.size == 250 * 130 * sp.accum_bytes_per_pixel
    assert sp.depth_writes == 2 * slots  # rewritten for the new depth image
    assert sp.tiles.size == -(-250 // SPLAT_TILE) * -(-130 // SPLAT_TILE) * 4
    assert (sp.accum.generation, sp.tiles.generation) == tuple(
        g + 1 for g in generations)
    shot = scene.screenshot()
    assert shot.shape == (130, 250, 4) and bright_spots(shot) > 20
    scene.target.resize(120, 80)  # smaller again: no write may land outside the buffers
    shot = scene.screenshot()
    assert shot.shape == (80, 120, 4) and bright_spots(shot) > 5 and sp.resizes == 2


def test_switching_paths_and_bad_arguments(scene):
    fountain(0.0)
    scene.step(5)
    for bad in ("points", None, 1, True, b"compute"):
        with pytest.raises(InvalidOptionError):
            scene.stack.set_particles_path(bad)  # type: ignore[arg-type]
    assert scene.stack.particles_path == "compute"
    for bad_size in ((0, 10), (10, -1), (True, 5), (2.0, 3), (None, 3), (10**9, 10)):
        with pytest.raises(ValueError):
            scene.target.resize(*bad_size)
    assert (scene.target.width, scene.target.height) == (192, 112)
    for path in ("sprites", "compute", "sprites", "compute"):
        scene.stack.set_particles_path(path)
        scene.step(2)
    assert scene.stack.splat_pass is not None and scene.stack.splat_pass.enabled


def test_resize_after_destroy_and_path_after_close_raise_cleanly(buffer_manager, ecs_world):
    from engine.errors import EngineError
    from engine.render.targets import OffscreenTarget

    target = OffscreenTarget(buffer_manager.context, 32, 32)
    target.destroy()
    with pytest.raises(EngineError):
        target.resize(64, 64)
    s = MiniScene(buffer_manager, particles=64)
    s.close()
    buffer_manager.close()
    with pytest.raises(EngineError):
        s.stack.set_particles_path("compute")


def test_no_particles_draws_nothing_in_either_path(scene):
    empty = frozen_shot(scene, "sprites")
    assert np.array_equal(empty, frozen_shot(scene, "compute"))


def test_the_default_rule(vk_context):
    limit = SOFTWARE_COMPUTE_MIN_PARTICLES if vk_context.is_software \
        else GPU_COMPUTE_MIN_PARTICLES
    assert choose_particles_path(vk_context, limit - 1) == "sprites"
    assert choose_particles_path(vk_context, limit) == "compute"
    assert choose_particles_path(vk_context, 10_000_000) == "compute"


def test_splat_layouts_match_the_shader_reflection():
    from engine.render.layouts import PARTICLE_DTYPE
    from engine.render.passes import spirv
    from engine.shaders.reflect import reflect_spirv
    from engine.shaders.std_layout import check_element_dtype

    refl = reflect_spirv(spirv("particle_splat.comp"))
    check_element_dtype(PARTICLE_DTYPE, refl.binding("ParticleBuffer").block, rule="std430")
    assert refl.local_size == (256, 1, 1)


def test_wisp_on_the_compute_path_is_clean_and_deterministic(vk_context, tmp_path):
    """Integer atomics add in any order to the same sum: two runs, identical pictures."""
    from engine.render.png import load_png
    from games.wisp.app import WispApp, parse_args

    argv = ["--headless", "--width", "320", "--height", "180", "--particles", "3000",
            "--lights", "16", "--particles-path", "compute"]
    shots = []
    for run in range(2):
        app = WispApp(parse_args(argv), context=vk_context)
        try:
            assert app.particles_path == "compute" and app.stack.splat_pass is not None
            path = tmp_path / f"run{run}.png"
            app.run(150, str(path))
            shots.append(path.read_bytes())
        finally:
            app.close()
    assert shots[0] == shots[1]
    assert bright_spots(load_png(tmp_path / "run0.png")) > 30
