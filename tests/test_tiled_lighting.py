"""The compute lighting path (engine/render/tiled_lighting.py) against the light volumes, on the
real driver with validation + synchronisation validation (any message fails a test)."""

from __future__ import annotations

import esper
import numpy as np
import pytest

from components.particle_emitter import ParticleEmitter
from components.point_light import PointLight
from components.transform import Transform
from engine.errors import InvalidOptionError
from engine.render import meshes
from engine.render.tiled_lighting import (
    ACCUM_BYTES_PER_PIXEL,
    GPU_COMPUTE_MIN_LIGHTS,
    LIGHT_TILES,
    SOFTWARE_COMPUTE_MIN_LIGHTS,
    TiledLightingPass,
    choose_lighting_path,
    tile_count,
)

try:  # tests/ may or may not be a package
    from render_helpers import MiniScene, bright_spots, luminance
except ImportError:
    from tests.render_helpers import MiniScene, bright_spots, luminance

PILLAR = (3.0, 2.0, 0.0)
"""A 2 x 4 x 2 box standing on the ground (x 2..4, y 0..4, z -1..1)."""
W, H = 192, 112


def level() -> np.ndarray:
    return meshes.merge([meshes.ground(30.0, (0.6, 0.6, 0.6, 0.0)),
                         meshes.box(PILLAR, (2.0, 4.0, 2.0), (0.3, 0.3, 0.35, 0.0)),
                         meshes.box((-4.0, 0.5, 2.0), (1.0, 1.0, 1.0), (0.8, 0.2, 0.2, 0.3))])


def add_light(x: float, z: float, **kw: object) -> int:
    light = PointLight(**{"color": (1.0, 0.8, 0.5), "intensity": 2.0, "radius": 4.0,
                          "height": 1.0, **kw})  # type: ignore[arg-type]
    return esper.create_entity(Transform(x, 0.0, z), light)


@pytest.fixture
def scene(buffer_manager, ecs_world):
    s = MiniScene(buffer_manager, width=W, height=H, light_capacity=16, vertices=level())
    yield s
    s.close()


def shot(scene: MiniScene, lighting: str) -> np.ndarray:
    """Screenshot with ``lighting`` (dt = 0: the lights' pulse phase stays put)."""
    scene.stack.set_lighting_path(lighting)
    scene.stack.renderer.request_screenshot()
    scene.step(1, dt=0.0)
    return scene.stack.renderer.read_screenshot()


def assert_same_picture(volumes: np.ndarray, compute: np.ndarray, *, min_lit: int) -> None:
    """The particle-path test's measure: mean absolute difference of 8-bit RGB < 0.5 and
    lit-pixel counts within 5%; here also no pixel off by more than 4 levels (the paths
    differ only in rounding: the volumes round to 8 bits once per overlapping light)."""
    diff = np.abs(volumes[:, :, :3].astype(np.int16) - compute[:, :, :3])
    assert diff.mean() < 0.5, diff.mean()
    assert diff.max() <= 4, (diff.max(), np.argwhere(diff.max(axis=2) > 4)[:5])
    lit_v = int(np.count_nonzero(luminance(volumes) > 60))
    lit_c = int(np.count_nonzero(luminance(compute) > 60))
    assert lit_v >= min_lit and abs(lit_v - lit_c) <= 0.05 * lit_v, (lit_v, lit_c)


def test_compute_lighting_matches_the_light_volumes(scene):
    """Steady, pulsing, coloured, glowing and glow-less lights, overlapping ones, one whose
    sphere reaches the pillar and one over the emissive box."""
    add_light(-3.0, 0.0, color=(1.0, 0.2, 0.1))
    add_light(-1.0, 1.0, color=(0.2, 0.6, 1.0), radius=5.0, pulse_hz=0.7, pulse_depth=0.6)
    add_light(1.5, -1.0, radius=3.0, glow=0.0)
    add_light(1.2, 0.0, intensity=3.0, radius=6.0, height=2.5, glow=2.0)
    add_light(-4.0, 3.0, radius=2.5, color=(0.3, 1.0, 0.3))
    add_light(6.0, -4.0, radius=8.0, height=0.3)
    scene.step(5)
    empty = shot_without_lights(scene)
    volumes = shot(scene, "volumes")
    compute = shot(scene, "compute")
    assert_same_picture(volumes, compute, min_lit=1500)
    lit = np.abs(compute.astype(np.int16) - empty).max(axis=2) > 8
    assert np.count_nonzero(lit) > 0.1 * W * H  # the lights did light the picture
    assert shot(scene, "volumes").tolist() == volumes.tolist()  # switching back: same picture


def shot_without_lights(scene: MiniScene) -> np.ndarray:
    """Screenshot with neither path lighting (the lights stay in the buffer)."""
    stack = scene.stack
    path = stack.lighting
    stack.light_pass.enabled = False
    stack.renderer.request_screenshot()
    scene.step(1, dt=0.0)
    out = stack.renderer.read_screenshot()
    stack.set_lighting_path(path)
    return out


def test_camera_inside_a_light_sphere_matches(scene):
    """The volumes' full-screen case (the eye inside the sphere): same picture in compute."""
    add_light(0.0, 10.0, radius=30.0, height=13.5, intensity=1.0, glow=1.5)
    add_light(-2.0, 0.0, radius=4.0)
    scene.step(3)
    assert_same_picture(shot(scene, "volumes"), shot(scene, "compute"), min_lit=500)


@pytest.mark.parametrize("case", ["inside_the_pillar", "out_of_reach_above",
                                  "glow_above_far_ground", "behind_the_camera"])
def test_a_hidden_or_out_of_range_light_lights_nothing_in_both_paths(scene, case):
    if case == "inside_the_pillar":  # its sphere lies inside the box; the faces hide the glow
        add_light(PILLAR[0], PILLAR[2], radius=0.9, height=2.0, glow=3.0, intensity=5.0)
    elif case == "out_of_reach_above":  # the sphere touches nothing; no glow
        add_light(-2.0, 0.0, radius=2.0, height=7.0, glow=0.0, intensity=5.0)
    elif case == "glow_above_far_ground":  # the volume's depth test hides the glow: the
        # ground behind it lies beyond the sphere's far side
        add_light(-2.0, 0.0, radius=2.0, height=7.0, glow=3.0, intensity=5.0)
    else:  # behind the eye (0, 14, 10), looking away from everything it could reach
        add_light(0.0, 16.0, radius=3.0, height=16.0, glow=3.0, intensity=5.0)
    scene.step(3)
    empty = shot_without_lights(scene)
    for lighting in ("volumes", "compute"):
        picture = shot(scene, lighting)
        assert np.abs(picture.astype(np.int16) - empty).max() <= 1, (case, lighting)


def test_buffers_follow_a_resize_and_the_picture_stays_equal(scene, buffer_manager):
    add_light(-2.0, 0.0, radius=5.0)
    add_light(2.0, 1.0, radius=3.0, color=(0.2, 0.5, 1.0))
    shot(scene, "compute")
    tl = scene.stack.tiled_lighting
    assert tl is not None and tl.accum is not None and tl.tiles is not None
    assert tl.accum.size == W * H * ACCUM_BYTES_PER_PIXEL
    assert tl.tiles.size == tile_count(W, H, tl.tile) * 4
    names = {b.name for b in buffer_manager.live_buffers()}
    assert {"lighting.accum", "lighting.tiles"} <= names
    described = {d.name for d in buffer_manager.allocation_descriptions().values()}
    assert {"lighting.accum", "lighting.tiles"} <= described  # memory map, statistics
    generations = (tl.accum.generation, tl.tiles.generation)
    writes = tl.surface_writes
    scene.target.resize(250, 130)
    compute = shot(scene, "compute")
    assert tl.size == (250, 130) and tl.resizes == 1
    assert tl.accum.size == 250 * 130 * ACCUM_BYTES_PER_PIXEL
    assert tl.tiles.size == tile_count(250, 130, tl.tile) * 4
    assert (tl.accum.generation, tl.tiles.generation) == tuple(g + 1 for g in generations)
    assert tl.surface_writes == writes + buffer_manager.frames_in_flight  # new surface view
    assert compute.shape == (130, 250, 4)
    assert_same_picture(shot(scene, "volumes"), compute, min_lit=300)
    scene.target.resize(120, 80)  # smaller again: no write may land outside the buffers
    compute = shot(scene, "compute")
    assert compute.shape == (80, 120, 4) and tl.resizes == 2
    assert_same_picture(shot(scene, "volumes"), compute, min_lit=100)


@pytest.mark.parametrize("tile", LIGHT_TILES)
def test_both_tile_sizes_give_the_same_picture(buffer_manager, ecs_world, tile):
    s = MiniScene(buffer_manager, width=100, height=60, light_capacity=4, vertices=level(),
                  lighting="compute", light_tile=tile)
    try:
        add_light(-2.0, 0.0, radius=5.0)
        add_light(1.0, 1.0, radius=3.0, color=(0.2, 0.5, 1.0))
        s.step(2)
        assert s.stack.tiled_lighting is not None and s.stack.tiled_lighting.tile == tile
        assert_same_picture(shot(s, "volumes"), shot(s, "compute"), min_lit=100)
    finally:
        s.close()


def fountain(x: float) -> int:
    return esper.create_entity(Transform(x, 0.0, 0.0), ParticleEmitter(
        rate=400.0, lifetime=1.0, speed=1.5, velocity=(0.0, 3.0, 0.0), size=0.3,
        max_particles=300, gravity=1.0, drag=0.0, color_start=(1.0, 0.9, 0.6, 1.0),
        color_end=(1.0, 0.5, 0.2, 1.0)))


@pytest.mark.parametrize("particles_path", ["sprites", "compute"])
@pytest.mark.parametrize("lighting", ["volumes", "compute"])
def test_both_particle_paths_with_both_lighting_paths(buffer_manager, ecs_world,
                                                      particles_path, lighting):
    s = MiniScene(buffer_manager, width=W, height=H, particles=512, light_capacity=4,
                  vertices=level(), particles_path=particles_path)
    try:
        s.stack.set_lighting_path(lighting)
        add_light(-2.0, 0.0, radius=5.0)
        add_light(2.0, 2.0, radius=4.0, color=(0.3, 0.6, 1.0))
        fountain(-1.0)
        s.step(20)
        picture = s.screenshot()
        assert bright_spots(picture) > 20, (particles_path, lighting)
        assert np.count_nonzero(luminance(picture) > 60) > 500
        timed = s.stack.renderer.pass_median_ms()
        if lighting == "compute":
            assert {"lighting.tiled", "lighting.composite"} <= set(timed)
        assert s.stack.lighting == lighting and s.stack.particles_path == particles_path
    finally:
        s.close()


def test_bad_lighting_arguments_change_nothing(scene, buffer_manager):
    from systems.render_stack import RenderStack

    add_light(0.0, 0.0)
    scene.step(2)
    for bad in ("deferred", None, 1, True, b"compute", "Compute"):
        with pytest.raises(InvalidOptionError):
            scene.stack.set_lighting_path(bad)  # type: ignore[arg-type]
    assert scene.stack.lighting == "volumes" and scene.stack.tiled_lighting is None
    for bad in (12, True, 8.0, None, "16", np.int32(12), 2**70, np.bool_(True)):
        with pytest.raises(InvalidOptionError):
            TiledLightingPass(scene.binder, buffer_manager, scene.stack.lights,
                              scene.stack.ubo, scene.target, tile=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError):
        RenderStack(buffer_manager, scene.binder, scene.target, level(), lighting="raster")
    for path in ("compute", "volumes", "compute", "volumes"):
        scene.stack.set_lighting_path(path)
        scene.step(2)
    assert scene.stack.tiled_lighting is not None and not scene.stack.tiled_lighting.enabled


def test_lighting_after_close_raises_cleanly(buffer_manager, ecs_world):
    from engine.errors import EngineError

    s = MiniScene(buffer_manager, width=64, height=40, lighting="compute",
                  light_tile=np.int64(8))
    assert s.stack.tiled_lighting is not None and s.stack.tiled_lighting.tile == 8
    add_light(0.0, 0.0)
    s.step(2)
    tl = s.stack.tiled_lighting
    tl.destroy()
    tl.destroy()  # idempotent
    assert tl.accum is None and tl.tiles is None and not tl.enabled
    s.step(2)  # a destroyed pass records nothing (and frees nothing twice)
    s.close()
    buffer_manager.close()
    with pytest.raises(EngineError):
        s.stack.set_lighting_path("volumes")


def test_a_forward_target_is_refused_cleanly(buffer_manager, ecs_world):
    from engine.binding.binder import ResourceBinder
    from engine.buffers.sets import GlobalUboSet
    from engine.render.layouts import GLOBAL_UBO_DTYPE
    from engine.render.targets import OffscreenTarget
    from systems.lighting_system import LightingSystem

    target = OffscreenTarget(buffer_manager.context, 32, 32, layout="forward")
    binder = ResourceBinder(buffer_manager.context,
                            frames_in_flight=buffer_manager.frames_in_flight)
    lights = LightingSystem(buffer_manager, capacity=2)
    ubo = GlobalUboSet(buffer_manager, GLOBAL_UBO_DTYPE)
    try:
        live = len(buffer_manager.live_buffers())
        with pytest.raises(InvalidOptionError, match="deferred"):
            TiledLightingPass(binder, buffer_manager, lights, ubo, target)
        assert len(buffer_manager.live_buffers()) == live  # nothing was created
    finally:
        lights.destroy()
        ubo.destroy()
        binder.close()
        target.destroy()


def test_no_lights_draws_nothing_in_either_path(scene):
    assert np.array_equal(shot(scene, "volumes"), shot(scene, "compute"))


def test_the_default_rule(vk_context):
    assert choose_lighting_path(vk_context, 0) == "volumes"
    if vk_context.is_software and SOFTWARE_COMPUTE_MIN_LIGHTS is None:
        assert choose_lighting_path(vk_context, 100_000) == "volumes"
        return
    limit = SOFTWARE_COMPUTE_MIN_LIGHTS if vk_context.is_software else GPU_COMPUTE_MIN_LIGHTS
    assert limit is not None
    assert choose_lighting_path(vk_context, limit - 1) == "volumes"
    assert choose_lighting_path(vk_context, limit) == "compute"
    assert choose_lighting_path(vk_context, 100_000) == "compute"


def test_tiled_shader_layouts_match_the_reflection():
    from engine.render.layouts import LIGHT_DTYPE
    from engine.render.tiled_lighting import _spirv
    from engine.shaders.reflect import reflect_spirv
    from engine.shaders.std_layout import check_element_dtype

    for tile in LIGHT_TILES:
        refl = reflect_spirv(_spirv("light_tiled.comp", tile))
        check_element_dtype(LIGHT_DTYPE, refl.binding("LightBuffer").block, rule="std430")
        assert refl.local_size == (tile, tile // 4, 1)  # four pixels per invocation


def test_wisp_with_compute_lighting_is_clean_and_deterministic(vk_context, tmp_path):
    from engine.render.png import load_png
    from games.wisp.app import WispApp, parse_args

    shots = []
    for lighting in ("compute", "compute", "volumes"):
        argv = ["--headless", "--width", "200", "--height", "120", "--particles", "1000",
                "--lights", "16", "--lighting", lighting]
        app = WispApp(parse_args(argv), context=vk_context)
        try:
            assert app.lighting == lighting
            assert (app.stack.tiled_lighting is None) == (lighting == "volumes")
            path = tmp_path / f"run{len(shots)}.png"
            app.run(40, str(path))
            shots.append(load_png(path))
        finally:
            app.close()
    assert np.array_equal(shots[0], shots[1])
    diff = np.abs(shots[0][:, :, :3].astype(np.int16) - shots[2][:, :, :3])
    assert diff.mean() < 0.5
