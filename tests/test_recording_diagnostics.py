"""Mistakes a newcomer makes while recording, reported where they are made: an unbound buffer
binding (compute and graphics), descriptors of a slot never written, the pass named in a
validation message, and the renderer's clear colour. Real driver, validation on."""

from __future__ import annotations

import logging
import pydoc
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import engine.render as render
from engine import (
    BufferConfig,
    BufferManager,
    BufferStrategy,
    BufferUsage,
    ComputePipeline,
    FrameCommands,
    Phase,
    add_system,
)
from engine.device.debug import SINK
from engine.errors import (
    DescriptorsNotWrittenError,
    InvalidFrameIndexError,
    InvalidOptionError,
    MissingBindingError,
    UnknownPipelineError,
)
from engine.shaders.compiler import compile_glsl_source
from systems.render_system import RenderSystem

CULL = """#version 450
layout(local_size_x = 8) in;
layout(std430, set = 0, binding = 0) readonly buffer Items { uint items[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Kept { uint kept[]; };
layout(std430, set = 0, binding = 2) buffer DrawArgs {
    uint indexCount; uint instanceCount; uint firstIndex; int vertexOffset; uint firstInstance;
} args;
layout(push_constant) uniform Cull { uint count; uint limit; } cull;
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i == 0u) args.indexCount = 3u;
    if (i >= cull.count || items[i] >= cull.limit) return;
    kept[atomicAdd(args.instanceCount, 1u)] = items[i];
}
"""
CAMERA_VERT = """#version 450
layout(set = 0, binding = 0) uniform Camera { vec4 offset; } camera;
void main() {
    vec2 p = vec2((gl_VertexIndex << 1) & 2, gl_VertexIndex & 2);
    gl_Position = vec4(p * 2.0 - 1.0, 0.5, 1.0) + camera.offset;
}
"""
WHITE_FRAG = """#version 450
layout(location = 0) out vec4 out_color;
void main() { out_color = vec4(1.0); }
"""
TRIANGLE_VERT = """#version 450
void main() {
    vec2 p = vec2((gl_VertexIndex << 1) & 2, gl_VertexIndex & 2);
    gl_Position = vec4(p * 0.1, 0.5, 1.0);
}
"""
CULL_PUSH = np.dtype([("count", "<u4"), ("limit", "<u4")])


class Stage:
    """A forward renderer on a small offscreen target, its frames run by the frame driver;
    the target and renderer are destroyed by a close hook, so a failing test leaks nothing."""

    def __init__(self, manager: BufferManager, binder: Any, driver: Any,
                 **renderer_options: Any) -> None:
        self.manager, self.binder, self.driver = manager, binder, driver
        ctx = manager.context
        self.target = render.OffscreenTarget(ctx, 32, 24, layout="forward")
        ctx.add_close_hook(self.target.destroy)
        self.renderer = render.Renderer(manager, self.target, **renderer_options)
        ctx.add_close_hook(self.renderer.destroy)
        driver.install(manager, binder)
        add_system(RenderSystem(self.renderer, manager), Phase.RENDER)

    def shot(self) -> np.ndarray[Any, Any]:
        self.renderer.request_screenshot()
        self.driver.step(1)
        return self.renderer.read_screenshot()


@pytest.fixture
def stage(buffer_manager, resource_binder, frame_driver, ecs_world) -> Iterator[Stage]:
    yield Stage(buffer_manager, resource_binder, frame_driver)


def cull_rig(stage: Stage, *, bind_args: bool) -> tuple[Any, ...]:
    m, binder = stage.manager, stage.binder
    items = m.create_and_upload("items", np.arange(16, dtype=np.uint32),
                                usage=BufferUsage.STORAGE)
    kept = m.create_buffer(BufferConfig("kept", 64, BufferStrategy.DEVICE_LOCAL,
                                        BufferUsage.STORAGE))
    args = m.create_buffer(BufferConfig("args", 20, BufferStrategy.DEVICE_LOCAL,
                                        BufferUsage.STORAGE | BufferUsage.INDIRECT))
    pid = binder.register_pipeline("cull", [compile_glsl_source(CULL, "comp")])
    binder.bind_storage_buffer_named(pid, "Items", items)
    binder.bind_storage_buffer_named(pid, "Kept", kept)
    if bind_args:
        binder.bind_storage_buffer_named(pid, "DrawArgs", args)
    return pid, ComputePipeline(binder, pid), items, kept, args


# --- an unbound buffer binding ------------------------------------------------------------

def test_a_dispatch_with_an_unbound_binding_raises_naming_it_and_the_fix(stage, read_back):
    pid, cull, _items, kept, args = cull_rig(stage, bind_args=False)
    push = np.zeros((), CULL_PUSH)
    push["count"], push["limit"] = 16, 5

    def record_cull(dc: render.DrawContext) -> None:
        dc.fill_buffer(args, 0)
        dc.dispatch(cull, cull.groups_for(16), push_constants=push)
    stage.renderer.add_pass(record_cull, phase="compute", name="cull")
    with pytest.raises(MissingBindingError) as info:
        stage.driver.step(1)          # no validation message: the check ran before recording
    text = str(info.value)
    for part in ("ComputePipeline('cull#", "'DrawArgs'", "set 0, binding 2", "variable 'args'",
                 "bind_storage_buffer_named(pid, 'DrawArgs', buffer)", "Nothing was recorded"):
        assert part in text, (part, text)
    assert "'Items'" not in text and "'Kept'" not in text, "only the unbound one is named"
    assert stage.binder.missing_bindings(pid) == ["DrawArgs"]

    stage.binder.bind_storage_buffer_named(pid, "DrawArgs", args)  # the fix the message gives
    stage.driver.step(2)                                             # validation: clean
    assert read_back.array(args, np.uint32).tolist() == [3, 5, 0, 0, 0]
    assert sorted(read_back.array(kept, np.uint32)[:5].tolist()) == [0, 1, 2, 3, 4]

    stage.binder.unbind(pid, "Kept")  # a change makes the next record check again
    with pytest.raises(MissingBindingError, match="'Kept' \\(set 0, binding 1"):
        stage.driver.step(1)
    stage.renderer.remove_pass("cull")
    stage.driver.step(1)


def test_frame_commands_record_checks_bindings_and_descriptor_writes(buffer_manager,
                                                                     resource_binder):
    m, binder = buffer_manager, resource_binder
    items = m.create_and_upload("items", np.arange(8, dtype=np.uint32), usage=BufferUsage.STORAGE)
    pid = binder.register_pipeline("cull", [compile_glsl_source(CULL, "comp")])
    cull = ComputePipeline(binder, pid)
    commands = FrameCommands(m)
    push = np.zeros((), CULL_PUSH)
    m.begin_frame()
    slot = m.frame_index
    cmd = commands.begin()
    with pytest.raises(MissingBindingError) as info:
        cull.record(cmd, slot, 1, push_constants=push)
    assert "'Items' (set 0, binding 0)" in str(info.value)
    assert "'Kept' (set 0, binding 1)" in str(info.value)
    assert "'DrawArgs' (set 0, binding 2" in str(info.value)
    for name in ("Items", "Kept", "DrawArgs"):
        binder.bind_storage_buffer_named(pid, name, items)
    # Bound after this slot's descriptors were written (the BINDINGS phase of a frame):
    with pytest.raises(DescriptorsNotWrittenError, match=f"binder.update_all\\({slot}\\)"):
        cull.record(cmd, slot, 1, push_constants=push)
    binder.update_all(slot)
    cull.record(cmd, slot, 1, push_constants=push)       # complete now: recorded
    cull.record(cmd, slot, 1, push_constants=push)       # and again (the cached fast path)
    commands.submit(cmd)
    m.end_frame()
    m.context.wait_idle()


def test_require_complete_checks_a_graphics_pipeline_and_bind_pipeline_calls_it(stage):
    binder = stage.binder
    pipe = render.DrawPipeline(binder, stage.renderer, "shifted",
                               vertex_shader=compile_glsl_source(CAMERA_VERT, "vert"),
                               fragment_shader=compile_glsl_source(WHITE_FRAG, "frag"),
                               phase="forward")
    what = "DrawContext.bind_pipeline"
    name = stage.renderer.add_pass(lambda dc: (dc.bind_pipeline(pipe), dc.draw(3)),
                                   phase="forward", name="unbound")
    with pytest.raises(MissingBindingError, match="'Camera'"):
        stage.driver.step(1)  # raised when the pass binds the pipeline, before any draw
    stage.renderer.remove_pass(name)
    with pytest.raises(MissingBindingError) as info:
        binder.require_complete(pipe.id, 0, what)
    text = str(info.value)
    assert text.startswith(f"{what}: pipeline 'shifted#")
    assert "uniform buffer 'Camera' (set 0, binding 0, variable 'camera')" in text
    assert "binder.bind_uniform_buffer_named(pid, 'Camera', buffer)" in text
    ubo = stage.manager.create_and_upload("camera", np.zeros(4, np.float32),
                                          usage=BufferUsage.UNIFORM)
    binder.bind_uniform_buffer_named(pipe.id, "Camera", ubo)
    with pytest.raises(DescriptorsNotWrittenError, match="'Camera' \\(set 0, binding 0\\)"):
        binder.require_complete(pipe.id, 0, what)
    binder.update_all(0)
    binder.require_complete(pipe.id, 0, what)
    with pytest.raises(DescriptorsNotWrittenError, match="frame slot 1"):
        binder.require_complete(pipe.id, 1, what)           # slot 1 was not written
    for bad in (True, -1, 3, None, 0.0, "0"):
        with pytest.raises(InvalidFrameIndexError):
            binder.require_complete(pipe.id, bad, what)  # type: ignore[arg-type]
    binder.require_complete(pipe.id, np.int64(0))       # numpy ints are slots too
    with pytest.raises(UnknownPipelineError):
        binder.require_complete("shifted#1", 0)  # type: ignore[arg-type]
    # The renderer's frames write every slot: the pipeline draws clean under validation.
    stage.renderer.add_pass(lambda dc: (dc.bind_pipeline(pipe), dc.draw(3)), phase="forward",
                            name="shifted")
    stage.driver.step(3)
    for slot in range(3):
        binder.require_complete(pipe.id, slot)
    stage.renderer.remove_pass("shifted")


# --- the pass in a validation message --------------------------------------------------------

def test_a_hazard_inside_a_pass_names_it_in_the_message_and_the_log(stage, validation, caplog):
    _pid, cull, _items, _kept, args = cull_rig(stage, bind_args=True)
    push = np.zeros((), CULL_PUSH)
    push["count"], push["limit"] = 16, 5
    tri = render.DrawPipeline(stage.binder, stage.renderer, "tri",
                              vertex_shader=compile_glsl_source(TRIANGLE_VERT, "vert"),
                              fragment_shader=compile_glsl_source(WHITE_FRAG, "frag"),
                              phase="forward")
    seen: list[str | None] = []

    def record_cull(dc: render.DrawContext) -> None:
        seen.append(SINK.current_pass)
        dc.fill_buffer(args, 0)
        dc.dispatch(cull, cull.groups_for(16), push_constants=push)
        # no dc.barrier("compute", "indirect"): the draw reads the arguments too early

    def record_draw(dc: render.DrawContext) -> None:
        dc.bind_pipeline(tri)
        dc.draw_indirect(args, 0, 1, 20)
    stage.renderer.add_pass(record_cull, phase="compute", name="cull")
    stage.renderer.add_pass(record_draw, phase="forward", name="draw")
    with caplog.at_level(logging.WARNING, logger="engine.vulkan"):
        stage.driver.step(1, check_validation=False)
    hits = validation.expect("SYNC-HAZARD-READ-AFTER-WRITE")
    assert all(m.text.endswith("[in pass: draw]") for m in hits), hits
    assert "VK_OBJECT_TYPE_BUFFER" in hits[0].text, "the layer lists no command buffer here"
    logged = [r.getMessage() for r in caplog.records if r.name == "engine.vulkan"]
    assert any("SYNC-HAZARD" in t and t.endswith("[in pass: draw]") for t in logged), logged
    assert seen == ["cull"] and SINK.current_pass is None, "outside passes: no pass"

    def broken(dc: render.DrawContext) -> None:
        raise RuntimeError("a bug in a pass")
    stage.renderer.remove_pass("draw")
    stage.renderer.add_pass(broken, phase="forward", name="broken")
    with pytest.raises(RuntimeError, match="a bug in a pass"):
        stage.driver.step(1)
    assert SINK.current_pass is None, "an abandoned pass leaves no name behind"
    stage.renderer.remove_pass("broken")
    stage.renderer.remove_pass("cull")
    stage.driver.step(1)


# --- the clear colour ------------------------------------------------------------------------

def test_the_picture_starts_from_the_clear_colour(buffer_manager, resource_binder,
                                                 frame_driver, ecs_world):
    stage = Stage(buffer_manager, resource_binder, frame_driver,
                  clear_color=(0.2, 0.4, np.float32(0.6), 1))
    assert stage.renderer.clear_color == pytest.approx((0.2, 0.4, 0.6, 1.0))
    img = stage.shot()
    assert img[5, 5, :3].tolist() == [51, 102, 153]
    stage.renderer.clear_color = [1.0, 0.0, 0.0, 1.0]
    assert stage.shot()[5, 5, :3].tolist() == [255, 0, 0]
    for bad in ((1.0, 0.0, 0.0), "red", None, (True, 0, 0, 1), (float("nan"), 0, 0, 1),
                (0, 0, float("inf"), 1), (10**400, 0, 0, 1), (1e39, 0, 0, 1), ("1", 0, 0, 1),
                np.zeros((2, 2)), 1.0):
        with pytest.raises(InvalidOptionError):
            stage.renderer.clear_color = bad  # type: ignore[assignment]
        with pytest.raises(InvalidOptionError):
            render.Renderer(buffer_manager, stage.target, clear_color=bad)  # type: ignore[arg-type]
    assert stage.renderer.clear_color == (1.0, 0.0, 0.0, 1.0), "a refused value changes nothing"
    assert stage.shot()[5, 5, :3].tolist() == [255, 0, 0]
    default = render.Renderer(buffer_manager, stage.target)
    assert default.clear_color == (0.0, 0.0, 0.0, 1.0), "opaque black by default"
    default.destroy()


def test_help_of_renderer_documents_frames_rendered_and_clear_color():
    text = pydoc.render_doc(render.Renderer, renderer=pydoc.plaintext)
    assert "frames_rendered" in text and "frames_skipped" in text
    assert "clear_color" in text and "opaque black" in text


def test_a_validation_failure_names_the_message_ids_on_its_first_line():
    from engine.device.debug import DebugMessage
    from engine.testing import ValidationLog
    error = 0x1000  # VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT
    msgs = [DebugMessage(error, 2, "SYNC-HAZARD-READ-AFTER-WRITE", "a"),
            DebugMessage(error, 2, "VUID-x", "b"),
            DebugMessage(error, 2, "SYNC-HAZARD-READ-AFTER-WRITE", "c"),
            DebugMessage(error, 2, "", "d")]
    assert ValidationLog.summary(msgs) == "SYNC-HAZARD-READ-AFTER-WRITE x2, VUID-x, (no id)"


def test_a_script_can_stop_on_a_validation_message_through_the_sink(vk_context, validation,
                                                                    caplog):
    """The idiom of the testing page's "Validation in a program": messages are logged on
    ``engine.vulkan`` and kept in SINK, where ``take()`` returns and clears them."""
    from engine.device.vk import ffi, lib, vk
    info = ffi.new("VkFenceCreateInfo*", {
        "sType": vk.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO, "flags": 0x80})  # not a valid flag
    fence = ffi.new("VkFence*")
    with caplog.at_level(logging.WARNING, logger="engine.vulkan"):
        lib.vkCreateFence(vk_context.device, info, ffi.NULL, fence)
    lib.vkDestroyFence(vk_context.device, fence[0], ffi.NULL)
    assert SINK.messages, "the script's check sees the message"
    taken = SINK.take()
    assert [m.message_id for m in taken] == ["VUID-VkFenceCreateInfo-flags-parameter"], taken
    assert taken[0].is_error and "\n".join(str(m) for m in taken)
    assert not SINK.messages, "take() cleared them"
    assert any("VkFenceCreateInfo-flags" in r.getMessage() for r in caplog.records)
    validation.expect("VkFenceCreateInfo-flags")  # the test's log still holds what SINK gave
