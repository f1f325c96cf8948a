"""BindingSystem + BufferBinding components through the real frame schedule (esper)."""

from __future__ import annotations

import esper
import numpy as np
import pytest
from binder_helpers import ScaleRig, expected, many_pipelines, spirv

from components import BufferBinding
from engine import (
    BufferConfig,
    BufferStrategy,
    BufferUsage,
    Phase,
    ResourceBinder,
    add_system,
    errors,
)
from systems import BindingSystem, BufferSystem


class Dispatch(esper.Processor):
    """RENDER phase: run scale.comp for the frame's slot."""

    def __init__(self, rig: ScaleRig) -> None:
        self.rig = rig

    def process(self, *args: object) -> None:
        rig, slot = self.rig, self.rig.manager.frame_index
        cmd = rig.commands.begin()
        rig.pipeline.record(cmd, slot, rig.pipeline.groups_for(rig.count),
                            push_constants=np.array([0.25], np.float32))
        rig.commands.submit(cmd, what="Dispatch")


@pytest.fixture
def binder(resource_binder):
    """The plugin's ResourceBinder (paired with ``buffer_manager``), under a shorter name."""
    return resource_binder


@pytest.fixture
def world(buffer_manager, binder, ecs_world):
    """The schedule: BufferSystem phases plus the BindingSystem; returns the BindingSystem."""
    BufferSystem.install(buffer_manager)
    return BindingSystem.install(binder, buffer_manager)


def counting_syncs(system: BindingSystem) -> list[int]:
    calls: list[int] = []
    original = system._sync_components

    def wrapped(current):  # type: ignore[no-untyped-def]
        calls.append(len(current))
        original(current)

    system._sync_components = wrapped  # type: ignore[method-assign]
    return calls


def test_components_bind_by_name_and_steady_state_costs_nothing(
        buffer_manager, binder, world, frame_driver):
    rig = ScaleRig.create(buffer_manager, binder, count=200, bind=False)
    add_system(Dispatch(rig), Phase.RENDER)
    in_entity = esper.create_entity(rig.inputs)
    esper.create_entity(BufferBinding(rig.pid, "Params", rig.params))
    esper.create_entity(BufferBinding(rig.pid, "InBuf", in_entity))  # buffer given by entity
    esper.create_entity(BufferBinding(rig.pid, "outBuf", rig.outputs))
    writes = []
    for _ in range(3):
        frame_driver.step()
        writes.append(world.writes_last_frame)
        assert buffer_manager.statistics().descriptor_writes_this_frame == writes[-1]
    assert writes == [3, 3, 3] and world.applied_total == 3
    syncs = counting_syncs(world)
    for _ in range(100):
        frame_driver.step()
        assert world.writes_last_frame == 0
    assert world.writes_total == 9 and syncs == [], "no component diff without changes"
    np.testing.assert_array_equal(rig.result(), expected(np.arange(200), 2, 1, 0.25))


def test_replacing_and_removing_components(buffer_manager, binder, world, frame_driver):
    rig = ScaleRig.create(buffer_manager, binder, count=64, bind=False)
    add_system(Dispatch(rig), Phase.RENDER)
    esper.create_entity(BufferBinding(rig.pid, "Params", rig.params))
    esper.create_entity(BufferBinding(rig.pid, "InBuf", rig.inputs))
    out_entity = esper.create_entity(BufferBinding(rig.pid, "OutBuf", rig.outputs))
    frame_driver.step(3)
    other = buffer_manager.create_buffer(BufferConfig("out2", 256, BufferStrategy.DEVICE_LOCAL,
                                                      BufferUsage.STORAGE))
    esper.add_component(out_entity, BufferBinding(rig.pid, "OutBuf", other))
    writes = []
    for _ in range(4):
        frame_driver.step()
        writes.append(world.writes_last_frame)
    assert writes == [1, 1, 1, 0] and world.applied_total == 4
    got = buffer_manager.read_array(other, np.float32)
    np.testing.assert_array_equal(got, expected(np.arange(64), 2, 1, 0.25))
    esper.remove_component(out_entity, BufferBinding)
    esper.remove_processor(Dispatch)  # nothing may dispatch with an unbound binding
    frame_driver.step()
    assert binder.missing_bindings(rig.pid) == ["OutBuf"]


def test_deleting_the_buffer_entity_and_its_binding_together_is_clean(
        buffer_manager, binder, world, frame_driver):
    rig = ScaleRig.create(buffer_manager, binder, count=16, bind=False)
    holder = esper.create_entity(rig.inputs, BufferBinding(rig.pid, "InBuf", rig.inputs))
    frame_driver.step(2)
    esper.delete_entity(holder)
    frame_driver.step(4)  # BEGIN retires the buffer, BINDINGS unbinds: update_frame never sees it
    assert not rig.inputs.alive and "InBuf" in binder.missing_bindings(rig.pid)


def test_a_bad_component_raises_its_own_error_naming_the_entity(
        buffer_manager, binder, world, frame_driver):
    pid = binder.register_pipeline("scale", [spirv("scale.comp")])
    bad = esper.create_entity(BufferBinding(pid, "Particles", 12345))
    with pytest.raises(errors.InvalidDataError, match=f"entity {bad}"):
        frame_driver.step()
    buffer_manager.end_frame()  # the exception left the frame open
    esper.add_component(bad, BufferBinding(pid, "InBuf", ()))
    with pytest.raises(errors.BindingCountError, match=f"entity {bad}"):
        frame_driver.step()
    buffer_manager.end_frame()
    esper.add_component(bad, BufferBinding(pid, "Particles", ()))
    with pytest.raises(errors.UnknownBindingError, match="InBuf, OutBuf"):
        frame_driver.step()
    buffer_manager.end_frame()


def test_ten_thousand_binding_components_steady_state_write_nothing(
        buffer_manager, binder, world, frame_driver):
    pids, ubo, ssbo = many_pipelines(buffer_manager, binder)
    for pid in pids:
        for i in range(8):
            esper.create_entity(BufferBinding(pid, f"u{i}", ubo))
        for i in range(32):
            esper.create_entity(BufferBinding(pid, f"S{i}", ssbo))
    frame_driver.step(3)
    assert world.applied_total == 10_000 and world.writes_total == 30_000
    syncs = counting_syncs(world)
    for _ in range(5):
        frame_driver.step()
        assert world.writes_last_frame == 0
    assert syncs == []


def test_binder_and_manager_must_agree_on_frames_in_flight(vk_context, buffer_manager):
    binder = ResourceBinder(vk_context, frames_in_flight=2)
    with pytest.raises(errors.InvalidFrameIndexError, match="same frames_in_flight"):
        BindingSystem(binder, buffer_manager)
    binder.close()
