"""LightingSystem and the light-volume pass on the real driver (validation + sync validation)."""

from __future__ import annotations

import esper
import numpy as np
import pytest

from components.point_light import PointLight
from components.transform import Transform
from engine.render.layouts import GLOBAL_UBO_DTYPE, LIGHT_DTYPE

try:  # tests/ may or may not be a package
    from render_helpers import MiniScene, luminance
except ImportError:
    from tests.render_helpers import MiniScene, luminance


@pytest.fixture
def scene(buffer_manager, ecs_world):
    s = MiniScene(buffer_manager, light_capacity=4)
    yield s
    s.close()


def add_light(x: float, z: float, **kw: object) -> int:
    light = PointLight(**{"color": (1.0, 0.8, 0.5), "intensity": 2.0, "radius": 4.0,
                          "height": 1.0, **kw})  # type: ignore[arg-type]
    return esper.create_entity(Transform(x, 0.0, z), light)


def test_light_count_and_data_reach_the_gpu(scene, buffer_manager):
    lights = scene.stack.lights
    add_light(-3.0, 0.0, color=(1.0, 0.0, 0.0))
    add_light(3.0, 1.0, radius=2.5, pulse_hz=0.5, glow=0.0)
    scene.step(2)
    gpu = lights.read_lights()
    assert lights.count == 2 and len(gpu) == 2
    by_x = sorted(gpu, key=lambda r: r["position_radius"][0])
    assert np.allclose(by_x[0]["position_radius"], (-3.0, 1.0, 0.0, 4.0))
    assert np.allclose(by_x[0]["color_intensity"], (1.0, 0.0, 0.0, 2.0))
    assert np.allclose(by_x[1]["position_radius"], (3.0, 1.0, 1.0, 2.5))
    assert np.allclose(by_x[1]["pulse"], (0.5, 0.0, 0.0, 0.0))
    slot = buffer_manager.frame_index
    ubo = buffer_manager.read_array(scene.stack.ubo.get_buffer(slot), GLOBAL_UBO_DTYPE)[0]
    assert ubo["light_count"] == 2


def test_unchanged_lights_make_no_light_uploads_for_100_frames(scene, buffer_manager):
    lights = scene.stack.lights
    for i in range(4):
        add_light(-4.0 + 2.5 * i, 0.0, pulse_hz=1.0, pulse_depth=0.5)  # pulses on the GPU
    scene.step(3)
    uploads, updated = lights.uploads, lights.buffer.last_updated_frame
    writes = scene.stack.bindings.writes_total
    scene.step(100)
    assert lights.uploads == uploads
    assert lights.buffer.last_updated_frame == updated
    assert scene.stack.bindings.writes_total == writes  # nothing rebinds either


@pytest.mark.parametrize("change", [
    "x", "z", "color", "intensity", "radius", "height", "pulse_hz", "pulse_phase",
    "pulse_depth", "glow"])
def test_every_field_is_part_of_the_change_check(scene, change):
    lights = scene.stack.lights
    ent = add_light(0.0, 0.0)
    scene.step(2)
    before = lights.uploads
    light = esper.component_for_entity(ent, PointLight)
    tr = esper.component_for_entity(ent, Transform)
    if change in ("x", "z"):
        setattr(tr, change, getattr(tr, change) + 0.5)
    elif change == "color":
        light.color = (0.1, 0.2, 0.3)
    else:
        setattr(light, change, getattr(light, change) + 0.25)
    scene.step(1)
    assert lights.uploads == before + 1
    record = lights.read_lights()[0]
    expected = {"x": record["position_radius"][0] == 0.5,
                "z": record["position_radius"][2] == 0.5,
                "color": np.allclose(record["color_intensity"][:3], (0.1, 0.2, 0.3)),
                "intensity": record["color_intensity"][3] == 2.25,
                "radius": record["position_radius"][3] == 4.25,
                "height": record["position_radius"][1] == 1.25,
                "pulse_hz": record["pulse"][0] == 0.25, "pulse_phase": record["pulse"][1] == 0.25,
                "pulse_depth": record["pulse"][2] == 0.25, "glow": record["pulse"][3] == 1.25}
    assert expected[change]


def test_lights_past_capacity_resize_rebind_once_per_slot_and_render(scene, buffer_manager):
    lights = scene.stack.lights
    for i in range(4):
        add_light(-5.0 + 1.0 * i, -1.0)
    scene.step(4)
    before = scene.screenshot()
    assert lights.capacity == 4 and lights.buffer.generation == 1
    writes = scene.stack.bindings.writes_total
    for i in range(4):
        add_light(3.0 + 1.5 * i, 2.0, color=(0.2, 0.6, 1.0))
    scene.step(buffer_manager.frames_in_flight)
    assert lights.count == 8 and lights.capacity == 8 and lights.resizes == 1
    assert lights.buffer.generation == 2
    assert scene.stack.bindings.writes_total - writes == buffer_manager.frames_in_flight
    scene.step(5)
    assert scene.stack.bindings.writes_total - writes == buffer_manager.frames_in_flight
    gpu = lights.read_lights()
    assert len(gpu) == 8
    assert sorted(np.round(gpu["position_radius"][:, 0], 3)) == sorted(
        [-5.0, -4.0, -3.0, -2.0, 3.0, 4.5, 6.0, 7.5])
    after = scene.screenshot()
    right = (slice(None), slice(after.shape[1] * 2 // 3, None))
    left = (slice(None), slice(0, after.shape[1] // 3))
    assert luminance(after[right]).mean() > luminance(before[right]).mean() + 5.0
    assert abs(luminance(after[left]).mean() - luminance(before[left]).mean()) < 2.0


def test_removing_lights_compacts_the_buffer(scene):
    lights = scene.stack.lights
    ents = [add_light(float(i), 0.0) for i in range(4)]
    scene.step(2)
    esper.delete_entity(ents[1])
    scene.step(2)
    assert lights.count == 3
    xs = sorted(lights.read_lights()["position_radius"][:, 0].tolist())
    assert xs == [0.0, 2.0, 3.0]
    esper.delete_entity(ents[3])
    esper.delete_entity(ents[0])
    scene.step(2)
    assert lights.count == 1
    assert lights.read_lights()["position_radius"][0, 0] == 2.0


def test_light_dtype_matches_the_shader_reflection():
    from engine.render.passes import spirv
    from engine.shaders.reflect import reflect_spirv
    from engine.shaders.std_layout import check_element_dtype

    block = reflect_spirv(spirv("light_volume.vert")).binding("LightBuffer").block
    assert block is not None
    check_element_dtype(LIGHT_DTYPE, block, rule="std430")
    assert LIGHT_DTYPE.itemsize == 48
