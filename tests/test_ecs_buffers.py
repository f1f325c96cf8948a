"""ManagedBuffer as an esper component; BufferSystem phases; BufferSet per-frame data."""

from __future__ import annotations

import esper
import numpy as np
import pytest

from engine import BufferConfig, BufferSet, BufferStrategy, BufferUsage, GlobalUboSet, errors
from engine.schedule import Phase, phase_of, priority
from systems import BufferSystem


class Recorder(esper.Processor):
    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name

    def process(self, *args: object) -> None:
        self.log.append(self.name)


def test_schedule_priorities_run_phases_in_order(ecs_world):
    log: list[str] = []
    for phase in reversed(Phase):
        esper.add_processor(Recorder(log, phase.name), priority=priority(phase))
    esper.process()
    assert log == [p.name for p in Phase]
    assert all(phase_of(priority(p, 5)) is p for p in Phase)


def test_removing_the_component_or_deleting_the_entity_retires_the_buffer(
        buffer_manager, ecs_world, frame_driver):
    BufferSystem.install(buffer_manager)
    a = buffer_manager.create_buffer(BufferConfig("a", 64))
    b = buffer_manager.create_buffer(BufferConfig("b", 64))
    keep = buffer_manager.create_buffer(BufferConfig("keep", 64))
    ea, eb = esper.create_entity(a), esper.create_entity(b)
    esper.create_entity(keep)
    frame_driver.step()
    assert a.alive and b.alive
    esper.remove_component(ea, type(a))
    esper.delete_entity(eb)
    frame_driver.step()
    assert not a.alive and not b.alive and keep.alive
    assert buffer_manager.statistics().pending_destroy_count == 2
    frame_driver.step(3)
    assert buffer_manager.statistics().pending_destroy_count == 0
    assert buffer_manager.statistics().buffers_freed_total == 2


def test_buffer_system_uploads_before_the_render_phase(buffer_manager, ecs_world, frame_driver):
    system = BufferSystem.install(buffer_manager)
    buf = buffer_manager.create_buffer(BufferConfig("particles", 400, BufferStrategy.DEVICE_LOCAL))
    esper.create_entity(buf)
    seen: list[int] = []

    class Writer(esper.Processor):
        def process(self, *args: object) -> None:
            buffer_manager.update_buffer(buf, np.full(100, 7, np.uint32))

    class Render(esper.Processor):
        def process(self, *args: object) -> None:
            seen.append(system.copies_last_frame)

    esper.add_processor(Writer(), priority=priority(Phase.SIMULATE))
    esper.add_processor(Render(), priority=priority(Phase.RENDER))
    frame_driver.step(2)
    assert seen[-1] == 1, "the frame's copy was submitted in the upload phase, before render"
    assert (np.frombuffer(buffer_manager.read_buffer(buf), np.uint32) == 7).all()


def test_buffer_set_writes_only_its_slot_and_never_changes_generation(buffer_manager):
    dtype = np.dtype([("view", np.float32, (4, 4)), ("time", np.float32), ("pad", np.float32, 3)])
    ubo = GlobalUboSet(buffer_manager, dtype)
    assert len(ubo) == 3 and ubo.size == dtype.itemsize
    work = buffer_manager.create_buffer(BufferConfig("work", 16))
    for frame in range(9):
        buffer_manager.begin_frame()
        value = np.zeros((), dtype)
        value["time"] = frame
        ubo.update(value)
        buffer_manager.update_buffer(work, b"w" * 16)
        buffer_manager.end_frame()
    for slot, buf in enumerate(ubo):
        got = np.frombuffer(buffer_manager.read_buffer(buf), dtype)[0]
        assert got["time"] == 6 + slot
        assert buf.generation == 1
        assert ubo.get_buffer(slot) is buf
    with pytest.raises(errors.InvalidFrameIndexError):
        ubo.update(value, 3)
    with pytest.raises(errors.InvalidDataError):
        ubo.update(np.zeros(3, np.float64))


def test_buffer_set_of_raw_size(buffer_manager):
    storage = BufferSet(buffer_manager, 256, name="emitters", usage=BufferUsage.STORAGE)
    storage.update(b"\x01" * 256, 1)
    assert buffer_manager.read_buffer(storage.get_buffer(1)) == b"\x01" * 256
    storage.destroy()
    assert buffer_manager.statistics().pending_destroy_count == 3


def test_buffer_set_update_all_reaches_every_slot_in_its_next_frame(buffer_manager):
    material = BufferSet(buffer_manager, np.dtype(np.float32), name="material")
    material.update_all(np.float32(1.0))  # set-up: every slot at once
    work = buffer_manager.create_buffer(BufferConfig("work", 16))
    seen: list[list[float]] = []
    for frame in range(7):
        buffer_manager.begin_frame()
        if frame == 2:
            material.update_all(np.float32(5.0))  # slot 2 now, slots 0 and 1 when they begin
        buffer_manager.update_buffer(work, b"w" * 16)
        buffer_manager.end_frame()
        seen.append([float(np.frombuffer(buffer_manager.read_buffer(b), np.float32)[0])
                     for b in material])
    assert seen[1] == [1.0, 1.0, 1.0]
    assert seen[2] == [1.0, 1.0, 5.0]
    assert seen[3] == [5.0, 1.0, 5.0]
    assert seen[4] == [5.0, 5.0, 5.0]
    assert all(b.generation == 1 for b in material)
    with pytest.raises(errors.InvalidDataError):
        material.update_all(np.zeros(1, np.float64))


def test_write_when_slot_begins_checks_now_and_writes_in_that_slots_upload_phase(
        buffer_manager):
    per_slot = BufferSet(buffer_manager, 16, name="slots")
    with pytest.raises(errors.InvalidFrameIndexError):
        buffer_manager.write_when_slot_begins(per_slot.buffers[0], b"x" * 16, 3)
    with pytest.raises(errors.OutOfBoundsError):
        buffer_manager.write_when_slot_begins(per_slot.buffers[0], b"x" * 17, 0)
    work = buffer_manager.create_buffer(BufferConfig("work", 16))
    buffer_manager.begin_frame()  # frame 0, slot 0
    buffer_manager.write_when_slot_begins(per_slot.buffers[1], b"\x07" * 16, 1)
    buffer_manager.update_buffer(work, b"w" * 16)
    buffer_manager.end_frame()
    assert buffer_manager.read_buffer(per_slot.buffers[1]) == b"\x00" * 16
    buffer_manager.begin_frame()  # slot 1
    buffer_manager.submit_uploads()
    assert buffer_manager.read_buffer(per_slot.buffers[1]) == b"\x07" * 16
    buffer_manager.end_frame()
