"""UniformRing: aligned per-slot linear allocation, per-slot reset, dynamic-offset binding.

Every test runs on the real driver with validation and synchronisation validation on (the
plugin's fixtures); the GPU tests dispatch ``tests/shaders/ring/copy_block.comp`` once per
pushed block with that block's dynamic offset and read back what the shader saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine import (
    BufferConfig,
    BufferManager,
    BufferStrategy,
    BufferUsage,
    ComputePipeline,
    FrameCommands,
    GraphicsContext,
    ResourceBinder,
)
from engine import errors as E  # noqa: N812
from engine.buffers.uniform_ring import UniformRing
from engine.device.vk import vk
from engine.shaders.compiler import compile_glsl

SHADERS = Path(__file__).parent / "shaders" / "ring"
OBJECT = np.dtype([("color", "<f4", 4), ("id", "<u4"), ("scale", "<f4")])
"""The std140 block ``Object`` of copy_block.comp: 24 bytes (stride 32 with 16-byte
alignment, so the padding between blocks is exercised)."""
TINT = np.dtype([("tint", "<u4", 2)])
EXTRA = np.dtype([("value", "<u4"), ("more", "<u4")])


def objects(n: int, frame: int) -> np.ndarray[Any, Any]:
    """``n`` distinct blocks for ``frame``."""
    arr = np.zeros(n, OBJECT)
    arr["color"] = np.arange(4 * n, dtype=np.float32).reshape(n, 4) + frame * 1000.0
    arr["id"] = np.arange(n, dtype=np.uint32) + frame * 100_000
    arr["scale"] = np.float32(frame) + np.arange(n, dtype=np.float32) / 8
    return arr


class CopyRig:
    """copy_block.comp with the ring bound to ``Object`` and a device-local Out buffer."""

    def __init__(self, manager: BufferManager, binder: ResourceBinder, ring: UniformRing,
                 max_dispatches: int) -> None:
        self.manager, self.binder, self.ring = manager, binder, ring
        code = compile_glsl(SHADERS / "copy_block.comp")
        self.pid = binder.register_pipeline("copy_block", [code], dynamic={"Object"})
        self.pipeline = ComputePipeline(binder, self.pid)
        self.commands = FrameCommands(manager)
        self.out = manager.create_buffer(BufferConfig(
            "out", 32 * max_dispatches, BufferStrategy.DEVICE_LOCAL, BufferUsage.STORAGE))
        binder.bind_ring_named(self.pid, "Object", ring)
        binder.bind_storage_buffer_named(self.pid, "Out", self.out)

    def dispatch(self, offsets: Any) -> None:
        """One dispatch per offset (dispatch i writes words 8i..8i+7), submitted now."""
        m = self.manager
        cmd = self.commands.begin()
        for i, offset in enumerate(offsets):
            self.pipeline.record(cmd, m.frame_index, 1, push_constants=np.array([i], np.uint32),
                                 dynamic_offsets=[offset])
        self.commands.submit(cmd, what="copy_block")

    def seen(self, n: int) -> np.ndarray[Any, Any]:
        """What dispatch i read, as OBJECT rows (checks the marker words too)."""
        words = self.manager.read_array(self.out, np.uint32, count=8 * n).reshape(n, 8)
        assert (words[:, 6] == 0xC0FFEE).all() and (words[:, 7] == np.arange(n)).all()
        return np.ascontiguousarray(words[:, :6]).view(OBJECT).reshape(n)


# --- allocation -------------------------------------------------------------------------------


def test_push_and_push_many_return_aligned_increasing_offsets(buffer_manager):
    m = buffer_manager
    ring = UniformRing(m, OBJECT, 64, name="objs")
    align = m.context.limits.min_uniform_buffer_offset_alignment
    assert ring.block_size == 24 and ring.alignment == align
    assert ring.stride % align == 0 and ring.stride >= 24
    assert [b.name for b in ring.buffers] == ["objs[0]", "objs[1]", "objs[2]"]
    assert all(b.size == 64 * ring.stride and b.strategy is BufferStrategy.HOST_VISIBLE
               for b in ring.buffers)
    m.begin_frame()
    first = ring.push(objects(1, 0)[0])
    many = ring.push_many(objects(10, 0))
    last = ring.push(bytes(24))
    assert type(first) is int and first == 0
    assert many.dtype == np.uint32 and not many.flags.writeable
    assert many.tolist() == [ring.stride * (i + 1) for i in range(10)]
    assert last == 11 * ring.stride and ring.used == 12 and ring.free == 52
    assert ring.offsets().tolist() == [i * ring.stride for i in range(12)]
    assert ring.push_many(np.zeros(0, OBJECT)).tolist() == [] and ring.used == 12
    m.end_frame()
    # the bytes landed at the offsets, the padding between blocks is untouched (zero)
    raw = np.frombuffer(m.read_buffer(ring.buffers[0], 0, 12 * ring.stride), np.uint8)
    rows = raw.reshape(12, ring.stride)
    assert (rows[:, 24:] == 0).all()
    got = np.ascontiguousarray(rows[1:11, :24]).view(OBJECT).reshape(10)
    assert got.tobytes() == objects(10, 0).tobytes()
    stats = m.statistics()
    assert stats.by_strategy["host_visible"].buffers == 3


def test_storage_ring_uses_the_storage_alignment(buffer_manager):
    ring = UniformRing(buffer_manager, 20, np.int64(4), name="ss", storage=True)
    limits = buffer_manager.context.limits
    assert ring.alignment == limits.min_storage_buffer_offset_alignment and ring.capacity == 4
    assert all(int(b.usage) & int(BufferUsage.STORAGE) for b in ring.buffers)
    buffer_manager.begin_frame()
    assert ring.push_many(np.ones((3, 20), np.uint8)).tolist() == [0, ring.stride,
                                                                   2 * ring.stride]
    buffer_manager.end_frame()


@pytest.mark.parametrize("frames", [1, 2, 3])
def test_each_slot_starts_again_at_zero_and_keeps_the_other_slots(vk_context, frames):
    m = BufferManager(vk_context, frames_in_flight=frames)
    ring = UniformRing(m, 16, 8, name="r")
    for n in range(3 * frames):
        m.begin_frame()
        assert ring.used == 0, "a slot's cursor restarts when its frame begins"
        offsets = ring.push_many(np.full((n % 4 + 1, 16), n, np.uint8))
        assert offsets[0] == 0 and ring.used == n % 4 + 1
        m.end_frame()
        assert ring.used == n % 4 + 1, "between frames: the last frame's count"
    # the last frame of every slot is still in that slot's buffer
    for n in range(2 * frames, 3 * frames):
        slot = n % frames
        assert ring.used_in(slot) == (n % 4 + 1 if n == 3 * frames - 1 else 0)
        assert m.read_buffer(ring.buffer(slot), 0, 16) == bytes([n]) * 16
    m.close()


def test_a_full_ring_raises_and_changes_nothing(buffer_manager):
    m = buffer_manager
    ring = UniformRing(m, OBJECT, 4, name="small")
    m.begin_frame()
    ring.push_many(objects(3, 7))
    before = m.read_buffer(ring.buffer(), 0, ring.buffer().size)
    with pytest.raises(E.RingFullError, match=r"larger capacity \(at least 5 blocks"):
        ring.push_many(objects(2, 8))
    assert ring.used == 3
    ring.push(objects(1, 9)[0])
    with pytest.raises(E.RingFullError, match="4 of 4 blocks"):
        ring.push(objects(1, 9)[0])
    after = m.read_buffer(ring.buffer(), 0, ring.buffer().size)
    assert after[:3 * ring.stride] == before[:3 * ring.stride]
    assert ring.used == 4
    m.end_frame()


def test_wrong_values_sizes_and_states_raise_clear_errors(buffer_manager):
    m = buffer_manager
    ring = UniformRing(m, OBJECT, 8, name="objs")
    raw = UniformRing(m, 24, 8, name="raw")
    with pytest.raises(E.RingFrameError, match="between begin_frame"):
        ring.push(objects(1, 0)[0])
    m.begin_frame()
    wrong = np.zeros(2, [("color", "<f4", 4), ("id", "<i4"), ("scale", "<f4")])
    with pytest.raises(E.RingDataError, match="dtype"):
        ring.push(wrong[0])
    with pytest.raises(E.RingDataError, match="dtype"):
        ring.push_many(wrong)
    with pytest.raises(E.RingDataError, match="exactly 24 bytes"):
        ring.push(bytes(23))
    with pytest.raises(E.RingDataError, match="push_many"):
        ring.push(objects(2, 0))
    with pytest.raises(E.RingDataError):
        ring.push("24 characters of a text.")
    with pytest.raises(E.RingDataError, match="1-D"):
        ring.push_many(objects(4, 0).reshape(2, 2))
    with pytest.raises(E.RingDataError, match="uint8"):
        raw.push_many(np.zeros((2, 25), np.uint8))
    with pytest.raises(E.RingDataError):
        raw.push_many([b"x" * 24])
    assert ring.used == raw.used == 0
    assert raw.push_many(objects(2, 0)).tolist() == [0, raw.stride], "itemsize 24 rows"
    assert raw.push(np.zeros(6, np.float32)) == 2 * raw.stride
    assert ring.push_many(objects(4, 0)[::2]).tolist() == [0, ring.stride], "strided input"
    m.end_frame()
    for bad in (0, -1, 1.5, True, None, "8"):
        with pytest.raises(E.EngineError):
            UniformRing(m, OBJECT, bad, name="bad")
    for bad in (0, None, 2.0, np.dtype(object), "no such dtype"):
        with pytest.raises(E.EngineError):
            UniformRing(m, bad, 4, name="bad")
    with pytest.raises(E.InvalidSizeError, match="maxUniformBufferRange"):
        UniformRing(m, m.context.limits.max_uniform_buffer_range + 1, 1, name="huge")
    with pytest.raises(E.InvalidSizeError, match="uint32"):
        UniformRing(m, 256, 1 << 40, name="far")
    with pytest.raises(E.InvalidOptionError):
        UniformRing(m, OBJECT, 4, name="s", storage="yes")
    ring.close()
    ring.close()
    m.begin_frame()
    with pytest.raises(E.RingClosedError):
        ring.push(objects(1, 0)[0])
    with pytest.raises(E.RingClosedError):
        ring.push_many(objects(1, 0))
    m.end_frame()
    m.close()
    with pytest.raises(E.RingClosedError, match="BufferManager was closed"):
        raw.push(bytes(24))
    raw.close()


def test_close_retires_the_buffers_frame_safely(buffer_manager, resource_binder):
    m, binder = buffer_manager, resource_binder
    ring = UniformRing(m, OBJECT, 16, name="objs")
    rig = CopyRig(m, binder, ring, 16)
    m.begin_frame()
    binder.update_frame(rig.pid, m.frame_index)
    rig.dispatch(ring.push_many(objects(4, 1)))
    live = m.statistics().live_buffers
    ring.close()  # the dispatch above may still read slot 0's buffer
    stats = m.statistics()
    assert stats.live_buffers == live - 3 and stats.pending_destroy_count >= 3
    m.end_frame()
    with pytest.raises(E.BufferDestroyedError):
        binder.update_frame(rig.pid, (m.frame_index + 1) % 3)
    with pytest.raises(E.RingClosedError):
        binder.bind_ring_named(rig.pid, "Object", ring)
    binder.unbind(rig.pid, "Object")
    for _ in range(3):
        m.begin_frame()
        m.end_frame()
    assert m.statistics().pending_destroy_count == 0


# --- the GPU reads the block at each offset ---------------------------------------------------


@pytest.mark.parametrize("frames", [1, 2, 3])
def test_the_gpu_reads_the_block_at_each_dynamic_offset(vk_context, frames):
    m = BufferManager(vk_context, frames_in_flight=frames)
    binder = ResourceBinder(vk_context, frames_in_flight=frames)
    ring = UniformRing(m, OBJECT, 32, name="objs")
    rig = CopyRig(m, binder, ring, 32)
    writes = []
    for frame in range(3 * frames + 1):
        m.begin_frame()
        n = 5 + frame % 3
        blocks = objects(n, frame)
        offsets = [ring.push(blocks[0]), *ring.push_many(blocks[1:])]
        writes.append(binder.update_all(m.frame_index))
        order = offsets[::-1]  # dispatch i reads block n-1-i
        rig.dispatch(order)
        m.end_frame()
        seen = rig.seen(n)
        assert seen.tobytes() == blocks[::-1].tobytes(), f"frame {frame}"
    assert sum(writes[:frames]) == 2 * frames, "ring and Out: one write per slot"
    assert writes[frames:] == [0] * (2 * frames + 1), "steady state: no descriptor writes"
    m.begin_frame()
    assert m.statistics().descriptor_writes_this_frame == 0
    m.end_frame()
    binder.close()
    m.close()


def test_offsets_are_consumed_by_set_then_binding(buffer_manager, resource_binder):
    m, binder = buffer_manager, resource_binder
    pid = binder.register_pipeline("copy_two", [compile_glsl(SHADERS / "copy_two.comp")],
                                   dynamic=["Extra", "Tint"])
    assert binder.dynamic_binding_names(pid) == ["Tint", "Extra"]
    assert binder.dynamic_binding_count(pid) == 2
    assert binder.pool_sizes(pid) == {  # 3 frame slots, dynamic types counted on their own
        vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER: 3,
        vk.VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER_DYNAMIC: 3,
        vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER_DYNAMIC: 3}
    plain = binder.register_pipeline("plain_two", [compile_glsl(SHADERS / "copy_two.comp")])
    assert binder.pool_sizes(plain) == {vk.VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER: 3,
                                        vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER: 6}
    pipeline = ComputePipeline(binder, pid)
    assert pipeline.dynamic_count == 2
    tints = UniformRing(m, TINT, 8, name="tints")
    extras = UniformRing(m, EXTRA, 8, name="extras", storage=True)
    out = m.create_buffer(BufferConfig("out", 16 * 8, BufferStrategy.DEVICE_LOCAL,
                                       BufferUsage.STORAGE))
    binder.bind_ring_named(pid, "Tint", tints)
    binder.bind_ring_named(pid, "b", extras)  # the variable name works too
    binder.bind_storage_buffer_named(pid, "Out", out)
    cmds = FrameCommands(m)
    m.begin_frame()
    t = np.zeros(4, TINT)
    t["tint"] = [[1, 2], [3, 4], [5, 6], [7, 8]]
    x = np.zeros(4, EXTRA)
    x["value"], x["more"] = [10, 20, 30, 40], [11, 21, 31, 41]
    to, xo = tints.push_many(t), extras.push_many(x)
    binder.update_all(m.frame_index)
    cmd = cmds.begin()
    pairs = [(0, 3), (1, 2), (2, 1), (3, 0), (3, 3)]
    for i, (a, b) in enumerate(pairs):
        pipeline.record(cmd, m.frame_index, 1, push_constants=np.array([i], np.uint32),
                        dynamic_offsets=np.array([to[a], xo[b]], np.uint32))
    cmds.submit(cmd)
    m.end_frame()
    got = m.read_array(out, np.uint32, count=4 * len(pairs)).reshape(-1, 4)
    want = [[*t["tint"][a], x["value"][b], x["more"][b]] for a, b in pairs]
    assert got.tolist() == want


# --- checks at bind and dispatch --------------------------------------------------------------


def test_reflection_and_declaration_mismatches_raise(buffer_manager, resource_binder):
    m, binder = buffer_manager, resource_binder
    code = compile_glsl(SHADERS / "copy_block.comp")
    with pytest.raises(E.UnknownBindingError, match="Objects"):
        binder.register_pipeline("x", [code], dynamic={"Objects"})
    with pytest.raises(E.InvalidOptionError, match="letter by letter"):
        binder.register_pipeline("x", [code], dynamic="Object")
    layouts = compile_glsl(SHADERS.parent / "layouts.comp")
    with pytest.raises(E.DynamicBindingError, match="only uniform and storage"):
        binder.register_pipeline("x", [layouts], dynamic={"texels"})
    assert binder.pipeline_ids() == [], "nothing was registered"
    dynamic = binder.register_pipeline("dyn", [code], dynamic={"obj"})
    plain = binder.register_pipeline("plain", [code])
    ring = UniformRing(m, OBJECT, 4, name="objs")
    buf = m.create_buffer(BufferConfig("ubo", 32, BufferStrategy.HOST_VISIBLE,
                                       BufferUsage.UNIFORM))
    with pytest.raises(E.DynamicBindingError, match="dynamic="):
        binder.bind_ring_named(plain, "Object", ring)
    with pytest.raises(E.DynamicBindingError, match="bind_ring_named"):
        binder.bind_uniform_buffer_named(dynamic, "Object", buf)
    bad_layout = UniformRing(m, np.dtype([("color", "<f4", 3), ("id", "<u4"),
                                          ("scale", "<f4"), ("pad", "<f4", 3)]), 4, name="bad")
    with pytest.raises(E.LayoutMismatchError):
        binder.bind_ring_named(dynamic, "Object", bad_layout)
    with pytest.raises(E.LayoutMismatchError):
        binder.bind_ring_named(dynamic, "Object", UniformRing(m, 24, 4, name="raw"),
                               dtype=bad_layout.dtype)
    with pytest.raises(E.BindingSizeError, match="needs at least 24"):
        binder.bind_ring_named(dynamic, "Object", UniformRing(m, 16, 4, name="short"))
    with pytest.raises(E.BindingTypeMismatchError, match="storage=False"):
        binder.bind_ring_named(dynamic, "Object", UniformRing(m, OBJECT, 4, name="s",
                                                              storage=True))
    with pytest.raises(E.InvalidDataError, match="UniformRing"):
        binder.bind_ring_named(dynamic, "Object", buf)
    other = BufferManager(m.context, frames_in_flight=2)
    with pytest.raises(E.BindingCountError, match="frame slots"):
        binder.bind_ring_named(dynamic, "Object", UniformRing(other, OBJECT, 4, name="two"))
    assert binder.missing_bindings(dynamic) == ["Object", "Out"], "nothing was bound"
    binder.bind_ring_named(dynamic, "Object", ring)
    binder.bind_ring_named(dynamic, "Object", UniformRing(m, 24, 4, name="raw ok"))
    other.close()


def test_dynamic_offsets_are_checked_before_recording(buffer_manager, resource_binder):
    m, binder = buffer_manager, resource_binder
    ring = UniformRing(m, OBJECT, 8, name="objs")
    rig = CopyRig(m, binder, ring, 8)
    m.begin_frame()
    binder.update_all(m.frame_index)
    offsets = ring.push_many(objects(3, 0))
    cmd = rig.commands.begin()
    slot = m.frame_index
    push = np.array([0], np.uint32)
    for bad, match in (([], "exactly 1"), (None, "exactly 1"), ([0, 0], "exactly 1"),
                       (0, "exactly 1"), ([ring.stride // 2], "multiple"),
                       ([-ring.stride], "multiple"), ([3 * ring.stride], "3 block"),
                       ([1 << 40], "not a block pushed"), ([1.0], "not an integer"),
                       ([True], "not an integer"), (["0"], "not an integer")):
        with pytest.raises(E.DynamicOffsetError, match=match):
            rig.pipeline.record(cmd, slot, 1, push_constants=push, dynamic_offsets=bad)
    with pytest.raises(E.DynamicOffsetError, match="slot"):
        rig.pipeline.record(cmd, (slot + 1) % 3, 1, push_constants=push,
                            dynamic_offsets=[0])
    rig.pipeline.record(cmd, slot, 1, push_constants=push, dynamic_offsets=[offsets[2]])
    rig.pipeline.record(cmd, slot, 1, push_constants=push,
                        dynamic_offsets=(np.int64(ring.stride),))
    rig.commands.submit(cmd)
    m.end_frame()
    m.begin_frame()  # last frame's offsets are not this frame's blocks
    binder.update_all(m.frame_index)
    cmd = rig.commands.begin()
    with pytest.raises(E.DynamicOffsetError, match="0 block"):
        rig.pipeline.record(cmd, m.frame_index, 1, push_constants=push,
                            dynamic_offsets=[int(offsets[0])])
    ring.push(objects(1, 1)[0])
    rig.pipeline.record(cmd, m.frame_index, 1, push_constants=push, dynamic_offsets=[0])
    rig.commands.submit(cmd)
    m.end_frame()
    # a pipeline without dynamic bindings takes no offsets
    plain = binder.register_pipeline("plain", [compile_glsl(SHADERS / "copy_block.comp")])
    assert binder.dynamic_binding_count(plain) == 0
    with pytest.raises(E.DynamicOffsetError, match="0 dynamic binding"):
        binder.dynamic_offset_array(plain, 0, [0])
    assert binder.dynamic_offset_array(plain, 0, [])[0] == 0


def test_pushes_after_a_submission_in_the_same_frame_are_safe(buffer_manager,
                                                               resource_binder):
    """Fresh blocks may follow a submission that reads earlier blocks of the frame; rewriting
    a block the submitted work may read is refused by the manager."""
    m, binder = buffer_manager, resource_binder
    ring = UniformRing(m, OBJECT, 8, name="objs")
    rig = CopyRig(m, binder, ring, 8)
    m.begin_frame()
    binder.update_all(m.frame_index)
    blocks = objects(4, 3)
    first = ring.push_many(blocks[:2])
    rig.dispatch(first)
    second = ring.push_many(blocks[2:])  # after the submission: fresh bytes
    assert second.tolist() == [2 * ring.stride, 3 * ring.stride]
    with pytest.raises(E.HostWriteHazardError, match="after GPU work"):
        m.append_blocks(ring.buffer(), blocks[:1], 0, ring.stride)
    m.end_frame()
    assert rig.seen(2).tobytes() == blocks[:2].tobytes()


def test_append_blocks_checks_its_arguments(buffer_manager):
    m = buffer_manager
    host = m.create_buffer(BufferConfig("h", 256, BufferStrategy.HOST_VISIBLE))
    dev = m.create_buffer(BufferConfig("d", 256))
    rows = np.arange(8, dtype=np.uint32).reshape(4, 2)
    with pytest.raises(E.InvalidStrategyError):
        m.append_blocks(dev, rows, 0, 16)
    with pytest.raises(E.InvalidSizeError, match="overlap"):
        m.append_blocks(host, rows, 0, 4)
    with pytest.raises(E.InvalidSizeError):
        m.append_blocks(host, rows, 0, 0)
    with pytest.raises(E.OutOfBoundsError):
        m.append_blocks(host, rows, 208, 16)
    with pytest.raises(E.InvalidOffsetError):
        m.append_blocks(host, rows, -16, 16)
    with pytest.raises(E.InvalidDataError):
        m.append_blocks(host, rows.tolist(), 0, 16)  # type: ignore[arg-type]
    with pytest.raises(E.InvalidDataError):
        m.append_blocks(host, rows[:, ::2], 0, 16)
    assert m.read_buffer(host) == bytes(256), "nothing was written"
    m.append_blocks(host, rows, np.uint8(8), np.int32(64))
    got = np.frombuffer(m.read_buffer(host), np.uint32)
    assert [got[2 + 16 * i:4 + 16 * i].tolist() for i in range(4)] == rows.tolist()


def test_block_appender_keeps_append_blocks_checks_and_follows_the_buffer(buffer_manager):
    """The ring's bound writer does what append_blocks does: the same errors for bad rows,
    bounds and hazards, a resize's new mapping, and a destroyed buffer refused."""
    import threading

    m = buffer_manager
    host = m.create_buffer(BufferConfig("h", 256, BufferStrategy.HOST_VISIBLE))
    rows = np.arange(8, dtype=np.uint32).reshape(4, 2)
    append = m.block_appender(host, 16, 8, "test")
    for stride, row in ((4, 8), (16, 0), (True, 8), (16.0, 8), ("16", 8), (2**70, 8)):
        with pytest.raises(E.InvalidSizeError):
            m.block_appender(host, stride, row)
    m.block_appender(host, np.int64(16), np.uint8(8))  # numpy integers are fine
    with pytest.raises(E.InvalidStrategyError):
        m.block_appender(m.create_buffer(BufferConfig("d", 256)), 16, 8)
    with pytest.raises(E.OutOfBoundsError):
        append(rows, 208)
    with pytest.raises(E.InvalidOffsetError):
        append(rows, -16)
    with pytest.raises(E.InvalidDataError):
        append(rows.tolist(), 0)  # type: ignore[arg-type]
    with pytest.raises(E.InvalidDataError):
        append(rows[:, ::2], 0)
    with pytest.raises(E.InvalidSizeError, match="overlap"):
        append(np.zeros((2, 32), np.uint8), 0)  # rows wider than the stride
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            append(rows, 0)
        except E.WrongThreadError as exc:
            errors.append(exc)

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    assert len(errors) == 1
    assert m.read_buffer(host) == bytes(256), "nothing was written"
    append(rows, np.uint8(16))  # a numpy offset goes through append_blocks' coercion
    m.resize_buffer(host, 512)
    append(rows, 256)
    got = np.frombuffer(m.read_buffer(host), np.uint32)
    assert [got[64 + 4 * i:66 + 4 * i].tolist() for i in range(4)] == rows.tolist()
    m.begin_frame()
    append(rows, 0)
    m.end_frame()
    m.begin_frame()  # the frame that wrote it may still be in flight: a hazard, as before
    if m.frames.completed_frame < m.frames.frame_number - 1:
        with pytest.raises(E.HostWriteHazardError):
            append(rows, 0)
    m.end_frame()
    m.destroy_buffer(host)
    with pytest.raises(E.BufferDestroyedError):
        append(rows, 0)


def test_a_ring_is_not_copyable_and_belongs_to_its_context(vk_context, buffer_manager):
    import copy
    import pickle

    ring = UniformRing(buffer_manager, OBJECT, 2, name="objs")
    with pytest.raises(E.NotCopyableError):
        copy.copy(ring)
    with pytest.raises(E.NotCopyableError):
        pickle.dumps(ring)
    for field in ("capacity", "stride", "block_size", "dtype", "alignment", "manager"):
        with pytest.raises(E.ReadOnlyFieldError, match="fixed when the ring is created"):
            setattr(ring, field, 1)
    assert ring.capacity == 2 and ring.stride == -(-24 // ring.alignment) * ring.alignment
    with GraphicsContext.create(validation=True) as other:
        binder = ResourceBinder(other, frames_in_flight=3)
        pid = binder.register_pipeline("copy", [compile_glsl(SHADERS / "copy_block.comp")],
                                       dynamic={"Object"})
        with pytest.raises(E.ForeignBufferError):
            binder.bind_ring_named(pid, "Object", ring)


def test_the_how_to_page_example_runs(validation, monkeypatch):
    """docs/howto/uniform-ring.md's example runs as written (from the repository root, as
    its shader path says), validation on."""
    import re

    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(root)
    page = root / "docs" / "howto" / "uniform-ring.md"
    code = re.search(r"```python\n(.*?)```", page.read_text(), re.S)
    assert code, "the how-to has a python block"
    exec(compile(code.group(1), "docs/howto/uniform-ring.md", "exec"), {})
    validation.assert_clean("running the uniform-ring how-to")


def test_bind_sets_records_the_sets_with_checked_dynamic_offsets(buffer_manager,
                                                                 resource_binder):
    """The binder's own bind-sets path (for recording objects other than ComputePipeline):
    a dispatch after ``bind_sets`` with another offset reads that block."""
    from engine.device.barriers import memory_barrier
    from engine.device.vk import ffi, lib

    m, binder = buffer_manager, resource_binder
    ring = UniformRing(m, OBJECT, 8, name="objs")
    rig = CopyRig(m, binder, ring, 8)
    m.begin_frame()
    binder.update_all(m.frame_index)
    blocks = objects(3, 5)
    offsets = ring.push_many(blocks)
    cmd = rig.commands.begin()
    slot = m.frame_index
    rig.pipeline.record(cmd, slot, 1, push_constants=np.array([0], np.uint32),
                        dynamic_offsets=[offsets[0]])
    for bad, error in (([], E.DynamicOffsetError), ([3 * ring.stride], E.DynamicOffsetError),
                       (None, E.DynamicOffsetError)):
        with pytest.raises(error):
            binder.bind_sets(cmd, rig.pid, slot, graphics=False, dynamic_offsets=bad)
    with pytest.raises(E.InvalidDataError):
        binder.bind_sets(None, rig.pid, slot, graphics=False, dynamic_offsets=[0])
    with pytest.raises(E.InvalidOptionError):
        binder.bind_sets(cmd, rig.pid, slot, graphics="no", dynamic_offsets=[0])
    binder.bind_sets(cmd, rig.pid, slot, graphics=False, dynamic_offsets=[offsets[2]])
    memory_barrier(cmd, vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, vk.VK_ACCESS_SHADER_WRITE_BIT,
                   vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                   vk.VK_ACCESS_SHADER_READ_BIT | vk.VK_ACCESS_SHADER_WRITE_BIT)
    index = ffi.new("uint32_t*", 1)
    lib.vkCmdPushConstants(cmd, binder.pipeline_layout(rig.pid),
                           vk.VK_SHADER_STAGE_COMPUTE_BIT, 0, 4, index)
    lib.vkCmdDispatch(cmd, 1, 1, 1)
    rig.commands.submit(cmd)
    m.end_frame()
    seen = rig.seen(2)
    assert seen[0].tobytes() == blocks[0].tobytes() and seen[1].tobytes() == blocks[2].tobytes()
    with pytest.raises(E.FrameStateError):
        binder.bind_sets(cmd, rig.pid, slot, graphics=False, dynamic_offsets=[0])
