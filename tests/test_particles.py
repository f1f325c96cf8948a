"""ParticleSystem and the particle passes on the real driver (validation + sync validation)."""

from __future__ import annotations

import esper
import numpy as np
import pytest

from components.particle_emitter import ParticleEmitter
from components.transform import Transform
from engine.render.layouts import (
    EMITTER_DTYPE,
    GLOBAL_UBO_DTYPE,
    PARTICLE_DTYPE,
    SIM_PARAMS_DTYPE,
)

try:  # tests/ may or may not be a package
    from render_helpers import MiniScene, bright_spots
except ImportError:
    from tests.render_helpers import MiniScene, bright_spots


@pytest.fixture
def scene(buffer_manager, ecs_world):
    s = MiniScene(buffer_manager, particles=1024)
    yield s
    s.close()


def fountain(x: float = 0.0, **kw: object) -> int:
    params = {"rate": 400.0, "lifetime": 1.0, "speed": 1.0, "velocity": (0.0, 3.0, 0.0),
              "size": 0.3, "max_particles": 256, "gravity": 1.0, "drag": 0.0, **kw}
    return esper.create_entity(Transform(x, 0.0, 0.0), ParticleEmitter(**params))  # type: ignore[arg-type]


def test_particles_simulate_on_the_gpu_and_counts_reach_it(scene, buffer_manager):
    ps = scene.stack.particles
    ent = fountain(max_particles=300)
    scene.step(40)
    assert ps.count == 300
    slot = buffer_manager.frame_index
    params = buffer_manager.read_array(ps.params.get_buffer(slot), SIM_PARAMS_DTYPE)[0]
    assert params["particle_count"] == 300 and params["frame"] == ps.frame
    ubo = buffer_manager.read_array(scene.stack.ubo.get_buffer(slot), GLOBAL_UBO_DTYPE)[0]
    assert ubo["particle_count"] == 300
    data = buffer_manager.read_array(ps.particles, PARTICLE_DTYPE, count=300)
    alive = data[data["pos_life"][:, 3] > 0]
    assert 100 < len(alive) <= 300
    assert np.all(data["emitter"] == esper.component_for_entity(ent, ParticleEmitter).slot)
    # Launched upward at ~3 units/s under gravity: they rise, then fall back, near x = 0.
    assert np.all(np.abs(alive["pos_life"][:, 0]) < 3.0)
    assert alive["pos_life"][:, 1].max() > 0.3
    assert alive["vel_age"][:, 1].min() < 2.0
    assert np.all(alive["color"][:, 3] >= 0.0)


def test_static_emitters_upload_nothing_and_moves_upload_once_per_frame(scene):
    ps = scene.stack.particles
    ent = fountain()
    fountain(x=2.0)
    scene.step(3)
    uploads = ps.emitter_uploads
    scene.step(50)
    assert ps.emitter_uploads == uploads
    tr = esper.component_for_entity(ent, Transform)
    for i in range(5):
        tr.x = 0.1 * (i + 1)
        scene.step(1)
    assert ps.emitter_uploads == uploads + 5
    em = esper.component_for_entity(ent, ParticleEmitter)
    gpu = scene.manager.read_array(ps.emitters, EMITTER_DTYPE, offset=em.slot * 96, count=1)[0]
    assert np.isclose(gpu["position"][0], 0.5)
    em.color_start = (0.0, 1.0, 0.0, 1.0)  # any field counts
    scene.step(1)
    assert ps.emitter_uploads == uploads + 6


def test_burst_spawns_every_free_slot_at_once(scene):
    ps = scene.stack.particles
    ent = fountain(rate=0.0, max_particles=200, lifetime=2.0)
    scene.step(5)
    assert ps.alive_count() == 0
    esper.component_for_entity(ent, ParticleEmitter).burst()
    scene.step(1)
    assert ps.alive_count() == 200
    scene.step(20)
    assert ps.alive_count() == 200  # nothing respawns, nothing died yet (lifetime >= 1.2 s)


def test_removed_emitter_kills_its_particles_and_frees_its_range(scene):
    ps = scene.stack.particles
    a = fountain(max_particles=400)
    fountain(x=3.0, max_particles=400)
    scene.step(20)
    assert ps.count == 800
    first_a = esper.component_for_entity(a, ParticleEmitter).first
    esper.delete_entity(a)
    scene.step(1)
    data = scene.manager.read_array(ps.particles, PARTICLE_DTYPE, count=800)
    assert np.all(data["pos_life"][first_a:first_a + 400, 3] <= 0.0)
    c = fountain(x=-3.0, max_particles=300)
    scene.step(2)
    assert esper.component_for_entity(c, ParticleEmitter).first == first_a  # range reused


def test_dispatch_goes_2d_past_max_work_group_count(scene):
    ps = scene.stack.particles
    ps._max_x = 2  # pretend the device allows only 2 groups per row
    ent = fountain(rate=0.0, max_particles=1000, lifetime=5.0)
    scene.step(2)
    assert ps.groups == (2, 2, 1)
    esper.component_for_entity(ent, ParticleEmitter).burst()
    scene.step(1)
    assert ps.alive_count() == 1000  # every slot was simulated, across both rows


def test_particles_are_drawn_as_bright_spots(scene):
    scene.step(2)
    empty = scene.screenshot()
    fountain(size=0.25, color_start=(1.0, 0.9, 0.6, 1.0), color_end=(1.0, 0.5, 0.2, 1.0),
             speed=3.0)
    scene.step(30)
    shot = scene.screenshot()
    assert bright_spots(empty) == 0
    assert bright_spots(shot) > 20


def test_particle_layouts_match_the_shader_reflection():
    from engine.render.passes import spirv
    from engine.shaders.reflect import reflect_spirv
    from engine.shaders.std_layout import check_dtype, check_element_dtype

    refl = reflect_spirv(spirv("particles.comp"))
    check_element_dtype(PARTICLE_DTYPE, refl.binding("ParticleBuffer").block, rule="std430")
    check_element_dtype(EMITTER_DTYPE, refl.binding("EmitterBuffer").block, rule="std430")
    check_dtype(SIM_PARAMS_DTYPE, refl.binding("SimParams").block, rule="std140")
    assert (PARTICLE_DTYPE.itemsize, EMITTER_DTYPE.itemsize) == (64, 96)


def test_the_gpu_counts_the_live_particles_and_the_count_reads_back_late(scene):
    """ParticleStats.alive equals the particles alive in the buffer, frame after frame, and a
    ReadbackRequest delivers it a few frames late without any fence wait."""
    from components.readback import ReadbackRequest
    from systems.readback_system import ReadbackSystem

    ps = scene.stack.particles
    ReadbackSystem.install(scene.manager)
    request = ReadbackRequest(ps.stats, size=4, dtype=np.uint32, every=1)
    esper.create_entity(request)
    fountain(max_particles=300)
    fountain(x=2.0, rate=0.0, max_particles=200, lifetime=5.0)
    for _ in range(6):
        scene.step(4)
        assert int(scene.manager.read_array(ps.stats)[0]) == ps.alive_count()
    assert request.latest is not None and request.arrived >= 10
    assert 0 < int(request.latest[0]) <= 500
    assert scene.manager.statistics().readback_fence_waits == 0
