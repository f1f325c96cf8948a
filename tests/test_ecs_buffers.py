"""ManagedBuffer as an esper component; BufferSystem phases; BufferSet per-frame data."""

from __future__ import annotations

import esper
import numpy as np
import pytest

from engine import (
    BufferConfig,
    BufferSet,
    BufferStrategy,
    BufferUsage,
    GlobalUboSet,
    ManagedBuffer,
    errors,
)
from engine.schedule import Phase, phase_of, priority
from systems import BufferSystem

pytestmark = pytest.mark.usefixtures("staged_uploads")  # staging mechanics are tested here


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


# --- world changes (systems/buffer_system.py's rule) ---------------------------------------


def _live(manager) -> list[str]:
    return sorted(b.name for b in manager.live_buffers())


def test_clear_database_retires_old_buffers_and_reused_ids_track_the_new_ones(
        buffer_manager, ecs_world, frame_driver):
    frame_driver.install(buffer_manager)
    old = [buffer_manager.create_buffer(BufferConfig(n, 64)) for n in "abc"]
    ids = [esper.create_entity(b) for b in old]
    frame_driver.step()
    esper.clear_database()
    new = [buffer_manager.create_buffer(BufferConfig(n, 64)) for n in "def"]
    assert [esper.create_entity(b) for b in new] == ids  # esper reuses ids 1-3
    frame_driver.step()
    assert _live(buffer_manager) == ["d", "e", "f"]
    esper.remove_component(ids[0], ManagedBuffer)
    frame_driver.step()
    assert _live(buffer_manager) == ["e", "f"]
    frame_driver.step(3)
    stats = buffer_manager.statistics()
    assert stats.buffers_destroyed_total == stats.buffers_freed_total == 4


def test_shared_buffer_is_retired_once_when_its_last_holder_goes(
        buffer_manager, ecs_world, frame_driver):
    frame_driver.install(buffer_manager)
    shared = buffer_manager.create_buffer(BufferConfig("shared", 64))
    e1, e2 = esper.create_entity(shared), esper.create_entity(shared)
    frame_driver.step()
    esper.delete_entity(e1, immediate=True)
    frame_driver.step()
    assert shared.alive
    esper.delete_entity(e2)
    frame_driver.step()
    assert not shared.alive
    assert buffer_manager.statistics().buffers_destroyed_total == 1


def test_replaced_component_retires_the_old_buffer_and_a_moved_one_is_kept(
        buffer_manager, ecs_world, frame_driver):
    frame_driver.install(buffer_manager)
    a = buffer_manager.create_buffer(BufferConfig("a", 64))
    b = buffer_manager.create_buffer(BufferConfig("b", 64))
    e1, e2 = esper.create_entity(a), esper.create_entity()
    frame_driver.step()
    esper.remove_component(e1, ManagedBuffer)
    esper.add_component(e2, a)  # moved between two syncs
    frame_driver.step()
    assert a.alive
    esper.add_component(e2, b)  # replaced
    frame_driver.step()
    assert not a.alive and b.alive


def test_created_and_deleted_in_one_frame_is_retired(buffer_manager, ecs_world, frame_driver):
    frame_driver.install(buffer_manager)
    made: list[ManagedBuffer] = []

    class Spawn(esper.Processor):
        def process(self, *args: object) -> None:
            if not made:
                made.append(buffer_manager.create_buffer(BufferConfig("tmp", 64)))
                esper.delete_entity(esper.create_entity(made[0]))  # deferred: seen at END

    esper.add_processor(Spawn(), priority=priority(Phase.SIMULATE))
    frame_driver.step(2)
    assert not made[0].alive


def test_switch_world_keeps_buffers_and_delete_world_retires_them(
        buffer_manager, ecs_world, frame_driver):
    BufferSystem.install(buffer_manager)
    home = buffer_manager.create_buffer(BufferConfig("home", 64))
    esper.create_entity(home)
    esper.process()
    level = f"{ecs_world}-level"
    esper.switch_world(level)
    try:
        BufferSystem.install(buffer_manager)
        own = buffer_manager.create_buffer(BufferConfig("own", 64))
        esper.create_entity(own)
        esper.create_entity(home)
        esper.process()
    finally:
        esper.switch_world(ecs_world)
    esper.process()
    assert own.alive and home.alive
    esper.delete_world(level)
    esper.process()
    assert not own.alive and home.alive


def test_second_install_in_one_world_raises(buffer_manager, ecs_world):
    BufferSystem.install(buffer_manager)
    with pytest.raises(errors.FrameStateError, match="already runs a BufferSystem"):
        BufferSystem.install(buffer_manager)


def test_sync_of_an_unchanged_world_does_not_compare_the_record(buffer_manager, ecs_world):
    system = BufferSystem.install(buffer_manager)
    for i in range(50):
        esper.create_entity(buffer_manager.create_buffer(BufferConfig(f"b{i}", 16)))
    esper.process()
    before = system.tracker.reconciles
    esper.create_entity("another component type")  # esper's cache drops, pairs unchanged
    esper.process()
    esper.process()
    assert system.tracker.reconciles == before
    assert system.tracker.held_count == 50


# --- recovery after a system raised ---------------------------------------------------------


class SystemFailedError(Exception):
    pass


def test_a_frame_interrupted_by_a_raise_is_ended_at_the_next_begin(
        buffer_manager, ecs_world, caplog):
    system = BufferSystem.install(buffer_manager)
    buf = buffer_manager.create_buffer(BufferConfig("d", 64, BufferStrategy.DEVICE_LOCAL))
    entity = esper.create_entity(buf)
    calls = [0]

    class Raiser(esper.Processor):
        def process(self, *args: object) -> None:
            calls[0] += 1
            if calls[0] in (2, 4):
                buffer_manager.update_buffer(buf, bytes([calls[0]]) * 64)
                if calls[0] == 4:
                    esper.remove_component(entity, ManagedBuffer)
                raise SystemFailedError

    esper.add_processor(Raiser(), priority=priority(Phase.SIMULATE))
    esper.process()
    with pytest.raises(SystemFailedError):
        esper.process()
    assert buffer_manager.frame_open
    with caplog.at_level("WARNING", logger="systems.buffer_system"):
        esper.process()
        assert buffer_manager.read_buffer(buf) == b"\x02" * 64  # the interrupted copy landed
        with pytest.raises(SystemFailedError):
            esper.process()
        esper.process()
    assert system.recovered_frames == 2
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 1
    assert "still open" in caplog.records[0].getMessage()
    assert not buf.alive  # the removal of the interrupted frame was retired at the recovery
    assert buffer_manager.frame_number == 4


def test_keyboard_interrupt_from_a_processor_then_more_frames(buffer_manager, ecs_world):
    system = BufferSystem.install(buffer_manager)
    fired = [False]

    class CtrlC(esper.Processor):
        def process(self, *args: object) -> None:
            if not fired[0]:
                fired[0] = True
                raise KeyboardInterrupt

    esper.add_processor(CtrlC(), priority=priority(Phase.RENDER))
    with pytest.raises(KeyboardInterrupt):
        esper.process()
    for _ in range(4):
        esper.process()
    assert system.recovered_frames == 1 and not buffer_manager.frame_open


def test_a_frame_opened_by_hand_is_not_ended_for_the_caller(buffer_manager, ecs_world):
    system = BufferSystem.install(buffer_manager)
    buffer_manager.begin_frame()
    with pytest.raises(errors.FrameStateError, match="still open"):
        esper.process()
    buffer_manager.end_frame()
    esper.process()
    assert system.recovered_frames == 0
