"""ResourceBinder on lavapipe with validation + sync validation: names, lazy writes, errors."""

from __future__ import annotations

import numpy as np
import pytest
from binder_helpers import PARAMS, ScaleRig, expected, many_pipelines, params, spirv

from engine import (
    BufferConfig,
    BufferSet,
    BufferStrategy,
    BufferUsage,
    ResourceBinder,
    errors,
)
from engine.device.vk import FAULTS
from engine.shaders.reflect import STAGE_FRAGMENT, STAGE_VERTEX


@pytest.fixture
def binder(resource_binder):
    """The plugin's ResourceBinder (paired with ``buffer_manager``), under a shorter name."""
    return resource_binder


def test_compute_shader_bound_by_name_gives_the_right_numbers(buffer_manager, binder):
    rig = ScaleRig.create(buffer_manager, binder, count=1000)
    assert binder.binding_names(rig.pid) == [
        "InBuf", "OutBuf", "Params", "inBuf", "outBuf", "params"]
    assert len(binder.descriptor_sets(rig.pid, 0)) == 3, "set 1 is a gap with an empty layout"
    assert binder.missing_bindings(rig.pid) == []
    assert rig.frame(add=0.5) == 3, "first frame of slot 0 writes its 3 descriptors"
    np.testing.assert_array_equal(rig.result(), expected(np.arange(1000), 2, 1, 0.5))


def test_steady_state_makes_no_descriptor_writes_and_data_updates_never_rebind(
        buffer_manager, binder):
    rig = ScaleRig.create(buffer_manager, binder, count=128)
    assert [rig.frame() for _ in range(3)] == [3, 3, 3]
    total = buffer_manager.statistics().descriptor_writes_total
    generation = rig.inputs.generation
    writes = []
    for frame in range(100):
        data = np.arange(128, dtype=np.float32) + frame
        writes.append(rig.frame(before_bind=lambda d=data: buffer_manager.update_buffer(
            rig.inputs, d)))
    assert writes == [0] * 100
    stats = buffer_manager.statistics()
    assert stats.descriptor_writes_total == total and stats.descriptor_writes_this_frame == 0
    assert rig.inputs.generation == generation
    np.testing.assert_array_equal(rig.result(), expected(np.arange(128) + 99, 2, 1, 0))


def test_resize_writes_once_per_slot_when_the_slot_comes_up_and_gpu_reads_new_buffer(
        buffer_manager, binder):
    rig = ScaleRig.create(buffer_manager, binder, count=100, out_capacity=300)
    for _ in range(4):
        rig.frame()
    total = buffer_manager.statistics().descriptor_writes_total
    old_handle = rig.inputs.handle

    def grow() -> None:
        buffer_manager.resize_buffer(rig.inputs, 300 * 4)
        buffer_manager.update_buffer(rig.inputs, np.arange(300, dtype=np.float32) * 3)
        buffer_manager.update_buffer(rig.params, params(2.0, 1.0, 300))

    rig.count = 300
    per_frame = [rig.frame(before_bind=grow)]
    assert buffer_manager.statistics().descriptor_writes_this_frame == 1
    for _ in range(3):
        per_frame.append(rig.frame())
        assert buffer_manager.statistics().descriptor_writes_this_frame == per_frame[-1]
    assert per_frame == [1, 1, 1, 0], "exactly one write per slot, each in its own frame"
    assert buffer_manager.statistics().descriptor_writes_total == total + 3
    assert rig.inputs.handle != old_handle and rig.inputs.generation == 2
    np.testing.assert_array_equal(rig.result(), expected(np.arange(300) * 3, 2, 1, 0))


def test_per_frame_buffers_bind_slot_k_to_buffer_k(buffer_manager, binder):
    rig = ScaleRig.create(buffer_manager, binder, count=64, bind=False)
    per_slot = BufferSet(buffer_manager, PARAMS, name="params", usage=BufferUsage.UNIFORM)
    outs = [buffer_manager.create_buffer(BufferConfig(f"out{k}", 256, BufferStrategy.DEVICE_LOCAL,
                                                      BufferUsage.STORAGE)) for k in range(3)]
    binder.bind_uniform_buffer_named(rig.pid, "params", per_slot, dtype=PARAMS)
    binder.bind_storage_buffer_named(rig.pid, "InBuf", rig.inputs)
    binder.bind_storage_buffer_named(rig.pid, "outBuf", outs)
    writes = []
    for frame in range(6):
        slot = frame % 3
        writes.append(rig.frame(before_bind=lambda s=slot: per_slot.update(
            params(s + 1.0, 10.0 * s, 64), s)))
    assert writes == [3, 3, 3, 0, 0, 0]
    for k, out in enumerate(outs):
        got = buffer_manager.read_array(out, np.float32)
        np.testing.assert_array_equal(got, expected(np.arange(64), k + 1, 10 * k, 0))


def test_bad_bindings_raise_their_own_error_and_change_nothing(buffer_manager, binder):
    rig = ScaleRig.create(buffer_manager, binder, count=64)
    for _ in range(3):
        rig.frame()
    pid, m = rig.pid, buffer_manager
    small = m.create_buffer(BufferConfig("small", 8, BufferStrategy.HOST_VISIBLE,
                                         BufferUsage.UNIFORM))
    vertex_only = m.create_buffer(BufferConfig("verts", 64, usage=BufferUsage.VERTEX))
    dead = m.create_buffer(BufferConfig("dead", 64))
    m.destroy_buffer(dead)
    with pytest.raises(errors.UnknownBindingError) as info:
        binder.bind_storage_buffer_named(pid, "Particles", rig.inputs)
    assert all(n in str(info.value) for n in ("InBuf", "OutBuf", "Params", "params"))
    with pytest.raises(errors.BindingTypeMismatchError, match="storage buffer"):
        binder.bind_uniform_buffer_named(pid, "InBuf", rig.params)
    with pytest.raises(errors.BindingTypeMismatchError, match="uniform buffer"):
        binder.bind_storage_buffer_named(pid, "Params", rig.inputs)
    with pytest.raises(errors.BindingSizeError, match="needs at least 12 bytes"):
        binder.bind_uniform_buffer_named(pid, "Params", small)
    with pytest.raises(errors.BindingSizeError, match="exceed"):
        binder.bind_storage_buffer_named(pid, "InBuf", rig.inputs, offset=16, range=256)
    with pytest.raises(errors.BindingCountError, match="exactly frames_in_flight = 3"):
        binder.bind_storage_buffer_named(pid, "InBuf", [rig.inputs, rig.inputs])
    bad = np.dtype({"names": ["scale", "bias", "count"], "formats": ["<f4", "<f4", "<u4"],
                    "offsets": [0, 8, 4], "itemsize": 12})
    with pytest.raises(errors.LayoutMismatchError, match="bias"):
        binder.bind_uniform_buffer_named(pid, "Params", rig.params, dtype=bad)
    with pytest.raises(errors.InvalidDataError, match="raw Vulkan handles"):
        binder.bind_storage_buffer_named(pid, "InBuf", rig.inputs.handle)
    with pytest.raises(errors.BufferDestroyedError):
        binder.bind_storage_buffer_named(pid, "InBuf", dead)
    with pytest.raises(errors.InvalidUsageError, match="STORAGE"):
        binder.bind_storage_buffer_named(pid, "InBuf", vertex_only)
    with pytest.raises(errors.InvalidOffsetError):
        binder.bind_storage_buffer_named(pid, "InBuf", rig.inputs, offset=4)
    assert [rig.frame() for _ in range(3)] == [0, 0, 0], "no failed call marked anything"
    binder.bind_storage_buffer_named(pid, "InBuf", rig.inputs)  # the same buffer again
    assert [rig.frame() for _ in range(3)] == [0, 0, 0], "a rebind to the same state writes none"
    np.testing.assert_array_equal(rig.result(), expected(np.arange(64), 2, 1, 0))


def test_a_bound_buffer_shrunk_below_its_block_raises_at_update_and_writes_nothing(
        buffer_manager, binder):
    rig = ScaleRig.create(buffer_manager, binder, count=16)
    for _ in range(3):
        rig.frame()
    buffer_manager.begin_frame()
    buffer_manager.resize_buffer(rig.params, 8)
    with pytest.raises(errors.BindingSizeError, match="needs at least 12 bytes"):
        binder.update_frame(rig.pid, buffer_manager.frame_index)
    assert buffer_manager.statistics().descriptor_writes_this_frame == 0
    buffer_manager.resize_buffer(rig.params, 32)
    assert binder.update_frame(rig.pid, buffer_manager.frame_index) == 1
    buffer_manager.end_frame()
    assert [rig.frame(dispatch=False) for _ in range(3)] == [1, 1, 0]


def test_conflicting_stage_declarations_raise_and_create_nothing(binder):
    with pytest.raises(errors.ConflictingBindingError, match="set 0, binding 0"):
        binder.register_pipeline("bad", [spirv("lit.vert"), spirv("conflict_type.frag")])
    with pytest.raises(errors.ConflictingBindingError, match="'Camera'"):
        binder.register_pipeline("bad", [spirv("lit.vert"), spirv("conflict_name.frag")])
    with pytest.raises(errors.ConflictingBindingError, match="one module per stage"):
        binder.register_pipeline("bad", [spirv("lit.frag"), spirv("lit.frag")])
    with pytest.raises(errors.ReflectionError):
        binder.register_pipeline("bad", [b"\x03\x02\x23\x07" + b"\0" * 12])
    assert binder.pipeline_ids() == []


def test_stages_merge_with_ored_flags_and_both_instance_names(binder):
    pid = binder.register_pipeline("lit", [spirv("lit.vert"), spirv("lit.frag")])
    info = binder.layout_info(pid)
    camera = info.bindings[(0, 0)]
    assert camera.stages == STAGE_VERTEX | STAGE_FRAGMENT
    assert set(camera.names) == {"Camera", "camera", "cam"}
    assert info.bindings[(1, 0)].stages == STAGE_FRAGMENT
    assert len(binder.set_layouts(pid)) == 2 and binder.pipeline_layout(pid) is not None
    assert len(binder.descriptor_sets(pid, 2)) == 2


def test_destroyed_bound_buffer_raises_naming_the_binding_until_rebound(buffer_manager, binder):
    rig = ScaleRig.create(buffer_manager, binder, count=32)
    for _ in range(3):
        rig.frame()
    buffer_manager.begin_frame()
    buffer_manager.destroy_buffer(rig.inputs)
    with pytest.raises(errors.BufferDestroyedError, match=r"'inBuf'.*'in'"):
        binder.update_frame(rig.pid, buffer_manager.frame_index)
    replacement = buffer_manager.create_and_upload("in2", np.full(32, 5, np.float32),
                                                   usage=BufferUsage.STORAGE)
    binder.bind_storage_buffer_named(rig.pid, "InBuf", replacement)
    assert binder.update_frame(rig.pid, buffer_manager.frame_index) == 1
    buffer_manager.end_frame()
    assert [rig.frame() for _ in range(3)] == [1, 1, 0]
    np.testing.assert_array_equal(rig.result(), np.full(32, 11, np.float32))


def test_injected_descriptor_pool_oom_raises_and_leaks_nothing(binder):
    FAULTS.arm("descriptor_pool")
    try:
        with pytest.raises(errors.OutOfDeviceMemoryError, match="descriptor_pool"):
            binder.register_pipeline("scale", [spirv("scale.comp")])
    finally:
        FAULTS.disarm()
    assert binder.pipeline_ids() == []
    assert binder.register_pipeline("scale", [spirv("scale.comp")]) in binder


def test_ten_thousand_bindings_in_steady_state_write_nothing(buffer_manager, binder):
    pids, ubo, ssbo = many_pipelines(buffer_manager, binder)
    for pid in pids:
        for i in range(8):
            binder.bind_uniform_buffer_named(pid, f"U{i}", ubo)
        for i in range(32):
            binder.bind_storage_buffer_named(pid, f"s{i}", ssbo)

    def frame(all_at_once: bool) -> int:
        buffer_manager.begin_frame()
        slot = buffer_manager.frame_index
        n = binder.update_all(slot) if all_at_once else sum(
            binder.update_frame(pid, slot) for pid in pids)
        buffer_manager.end_frame()
        return n

    assert [frame(True), frame(False), frame(True)] == [10_000] * 3
    assert [frame(k % 2 == 0) for k in range(6)] == [0] * 6
    assert buffer_manager.statistics().descriptor_writes_total == 30_000
    buffer_manager.resize_buffer(ubo, 32)  # one buffer under 2,000 bindings: only those rewrite
    assert [frame(True) for _ in range(4)] == [2_000, 2_000, 2_000, 0]


def test_release_close_and_unknown_pipeline(vk_context, buffer_manager, binder):
    rig = ScaleRig.create(buffer_manager, binder, count=16)
    rig.frame()
    binder.release_pipeline(rig.pid)
    with pytest.raises(errors.UnknownPipelineError):
        binder.update_frame(rig.pid, 0)
    with pytest.raises(errors.InvalidFrameIndexError):
        binder.update_frame(binder.register_pipeline("again", [spirv("scale.comp")]), 3)
    binder.close()
    binder.close()
    with pytest.raises(errors.ManagerClosedError):
        binder.register_pipeline("late", [spirv("scale.comp")])
    other = ResourceBinder(vk_context)
    other.register_pipeline("closed-by-context", [spirv("scale.comp")])
