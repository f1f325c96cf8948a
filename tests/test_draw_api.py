"""The public draw API: DrawPipeline (vertex dtypes, phase rules), DrawContext (recording checks),
Renderer.add_pass phases, GPU timestamps per pass and debug labels. Real driver, validation on.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import engine.render as render
from engine import BufferConfig, BufferManager, BufferStrategy, BufferUsage, Phase, add_system
from engine.binding.pipelines import ComputePipeline
from engine.errors import (
    BufferDestroyedError,
    DrawStateError,
    EngineError,
    ForeignBufferError,
    IndirectArgumentError,
    InvalidOffsetError,
    InvalidOptionError,
    InvalidUsageError,
    PassRuleError,
    UnknownBindingError,
    UnknownPhaseError,
    VertexInputMismatchError,
)
from engine.shaders.compiler import compile_glsl_source
from systems.render_system import RenderSystem

QUAD = np.dtype([("corner", "<f4", 2)])
SPOT = np.dtype([("offset", "<f4", 2), ("color", "<f4", 4)])

INSTANCED_VERT = """#version 450
layout(location = 0) in vec2 corner;   // per vertex
layout(location = 1) in vec2 offset;   // per instance
layout(location = 2) in vec4 color;    // per instance
layout(push_constant) uniform Size { float half_size; } size;
layout(location = 0) out vec4 v_color;
void main() {
    gl_Position = vec4(offset + corner * size.half_size, 0.5, 1.0);
    v_color = color;
}
"""
FORWARD_FRAG = """#version 450
layout(location = 0) in vec4 v_color;
layout(location = 0) out vec4 out_color;
void main() { out_color = v_color; }
"""
SCENE_FRAG = """#version 450
layout(location = 0) in vec4 v_color;
layout(location = 0) out vec4 out_color;
layout(location = 1) out uvec2 out_surface;
void main() { out_color = v_color; out_surface = uvec2(0u); }
"""
FULLSCREEN_VERT = """#version 450
layout(location = 0) out vec4 v_color;
void main() {
    vec2 p = vec2((gl_VertexIndex << 1) & 2, gl_VertexIndex & 2);
    gl_Position = vec4(p * 2.0 - 1.0, 0.5, 1.0);
    v_color = vec4(0.2, 0.4, 0.6, 1.0);
}
"""
INT_VERT = """#version 450
layout(location = 0) in ivec2 cell;
void main() { gl_Position = vec4(vec2(cell), 0.5, 1.0); }
"""


def vert(src: str) -> bytes:
    return compile_glsl_source(src, "vert")


def frag(src: str) -> bytes:
    return compile_glsl_source(src, "frag")


class Stage:
    """A renderer on an offscreen target of ``layout``, its frames run by the frame driver."""

    def __init__(self, manager: BufferManager, binder: Any, driver: Any, layout: str,
                 **renderer_options: Any) -> None:
        self.manager, self.binder, self.driver = manager, binder, driver
        self.target = render.OffscreenTarget(manager.context, 64, 48, layout=layout)
        self.renderer = render.Renderer(manager, self.target, **renderer_options)
        driver.install(manager, binder)
        add_system(RenderSystem(self.renderer, manager), Phase.RENDER)

    def pipeline(self, name: str, vs: str, fs: str, **options: Any) -> render.DrawPipeline:
        return render.DrawPipeline(self.binder, self.renderer, name, vertex_shader=vert(vs),
                                   fragment_shader=frag(fs), **options)

    def shot(self) -> np.ndarray:
        self.renderer.request_screenshot()
        self.driver.step(1)
        return self.renderer.read_screenshot()

    def close(self) -> None:
        self.manager.context.wait_idle()
        self.renderer.destroy()
        self.target.destroy()


@pytest.fixture
def forward(buffer_manager, resource_binder, frame_driver, ecs_world) -> Iterator[Stage]:
    stage = Stage(buffer_manager, resource_binder, frame_driver, "forward")
    yield stage
    stage.close()


@pytest.fixture
def deferred(buffer_manager, resource_binder, frame_driver, ecs_world) -> Iterator[Stage]:
    stage = Stage(buffer_manager, resource_binder, frame_driver, "deferred")
    yield stage
    stage.close()


def instanced(stage: Stage, **options: Any) -> render.DrawPipeline:
    return stage.pipeline("spots", INSTANCED_VERT, FORWARD_FRAG, phase="forward",
                          vertex=[render.VertexInput(QUAD),
                                  render.VertexInput(SPOT, rate="instance")], **options)


def quad_buffers(manager: BufferManager, spots: np.ndarray) -> tuple[Any, Any, Any]:
    corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], np.float32).view(QUAD).ravel()
    mesh = manager.create_and_upload("quad", corners, usage=BufferUsage.VERTEX)
    inst = manager.create_and_upload("spots", spots, usage=BufferUsage.VERTEX)
    index = manager.create_and_upload("quad.indices", np.array([0, 1, 2, 0, 2, 3], np.uint32),
                                      usage=BufferUsage.INDEX)
    return mesh, inst, index


# --- vertex input from dtypes, checked against reflection -----------------------------------

def test_instanced_draw_from_dtypes_puts_each_instance_where_its_data_says(forward):
    spots = np.zeros(4, SPOT)
    spots["offset"] = [(-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5)]
    spots["color"] = [(1, 0, 0, 1), (0, 1, 0, 1), (0, 0, 1, 1), (1, 1, 1, 1)]
    pipe = instanced(forward)
    mesh, inst, index = quad_buffers(forward.manager, spots)
    assert pipe.rates == ("vertex", "instance") and pipe.strides == (8, 24)
    assert "Size" in pipe.push_constants and "size" in pipe.push_constants

    def record(dc: render.DrawContext) -> None:
        dc.bind_pipeline(pipe)
        dc.push_constants("Size", {"half_size": 0.25})
        dc.bind_vertex_buffers(mesh, inst)
        dc.bind_index_buffer(index)
        dc.draw_indexed(6, 4)
    forward.renderer.add_pass(record, phase="forward")
    img = forward.shot()
    h, w = img.shape[:2]
    # Clip (x, y) -> pixel: y points down in Vulkan clip space.
    for (x, y), color in zip(spots["offset"], spots["color"], strict=True):
        px, py = int((x + 1) / 2 * w), int((y + 1) / 2 * h)
        assert img[py, px, :3].tolist() == [int(c * 255) for c in color[:3]], (x, y)
    assert img[h // 2, w // 2, :3].tolist() == [0, 0, 0], "nothing between the squares"


def test_vertex_input_mismatches_are_named_before_the_driver_sees_them(forward):
    binder = forward.binder
    before = binder.pipeline_ids()
    with pytest.raises(VertexInputMismatchError, match="location 2"):  # no field for color
        forward.pipeline("short", INSTANCED_VERT, FORWARD_FRAG, phase="forward",
                         vertex=[render.VertexInput(QUAD), render.VertexInput(
                             SPOT, rate="instance", fields=("offset",))])
    with pytest.raises(VertexInputMismatchError, match="not read by the vertex shader"):
        forward.pipeline("extra", INSTANCED_VERT, FORWARD_FRAG, phase="forward",
                         vertex=[render.VertexInput(np.dtype([("corner", "<f4", 2),
                                                              ("junk", "<f4")])),
                                 render.VertexInput(SPOT, rate="instance")])
    with pytest.raises(VertexInputMismatchError, match="int-based"):  # float data, ivec2 input
        forward.pipeline("int", INT_VERT, FORWARD_FRAG.replace("in vec4 v_color", "in vec4 x")
                         .replace("= v_color", "= vec4(1)"), phase="forward",
                         vertex=[render.VertexInput(np.dtype([("cell", "<f4", 2)]))])
    with pytest.raises(VertexInputMismatchError, match="not structured"):
        instanced_with = [render.VertexInput(np.float32)]
        forward.pipeline("flat", INT_VERT, FORWARD_FRAG, phase="forward", vertex=instanced_with)
    with pytest.raises(VertexInputMismatchError, match=r"float64|<f8"):
        forward.pipeline("f8", INT_VERT, FORWARD_FRAG, phase="forward",
                         vertex=[render.VertexInput(np.dtype([("cell", "<f8", 2)]))])
    with pytest.raises(InvalidOptionError, match="rate"):
        forward.pipeline("rate", INT_VERT, FORWARD_FRAG, phase="forward",
                         vertex=[render.VertexInput(np.dtype([("cell", "<i4", 2)]), rate="x")])
    assert binder.pipeline_ids() == before, "a refused pipeline leaves nothing registered"
    # The right dtype (i4 for ivec2) and a padding field are accepted.
    cells = np.dtype([("cell", "<i4", 2), ("_pad", "<f4")])
    ok = forward.pipeline("int-ok", INT_VERT, "#version 450\nlayout(location = 0) out vec4 o;\n"
                          "void main() { o = vec4(1); }", phase="forward",
                          vertex=[render.VertexInput(cells)])
    assert ok.strides == (12,)


# --- the pass rules ---------------------------------------------------------------------------

def test_phase_rules_refuse_what_validation_would_report_later(deferred):
    d = deferred
    with pytest.raises(PassRuleError, match="location 1"):  # no G-buffer output
        d.pipeline("no-gbuffer", FULLSCREEN_VERT, FORWARD_FRAG, phase="scene")
    with pytest.raises(PassRuleError, match="integer"):  # blending the uint G-buffer
        d.pipeline("blend-int", FULLSCREEN_VERT, SCENE_FRAG, phase="scene",
                   blend=("additive", "additive"))
    with pytest.raises(PassRuleError, match="depth_test=False"):
        d.pipeline("write-untested", FULLSCREEN_VERT, SCENE_FRAG, phase="scene",
                   depth_test=False, depth_write=True)
    with pytest.raises(PassRuleError, match="read-only"):
        d.pipeline("write-light", FULLSCREEN_VERT, FORWARD_FRAG, phase="light", depth_write=True)
    with pytest.raises(PassRuleError, match="outside the render pass"):
        d.pipeline("compute", FULLSCREEN_VERT, FORWARD_FRAG, phase="compute")
    with pytest.raises(UnknownPhaseError, match="'scene', 'light'"):
        d.pipeline("forward-in-deferred", FULLSCREEN_VERT, FORWARD_FRAG, phase="forward")
    with pytest.raises(UnknownPhaseError):
        d.renderer.add_pass(lambda dc: None, phase="lights")


def test_the_forward_phase_takes_one_float_colour_output(forward):
    with pytest.raises(PassRuleError, match="1 colour attachment"):  # forward has no G-buffer
        forward.pipeline("gbuffer-in-forward", FULLSCREEN_VERT, SCENE_FRAG, phase="forward")
    with pytest.raises(PassRuleError, match="takes vec4"):  # uint output for the picture
        forward.pipeline("uint-picture", FULLSCREEN_VERT, "#version 450\nlayout(location = 0) "
                         "out uvec4 o;\nvoid main() { o = uvec4(1); }", phase="forward")


def test_additive_scene_and_light_pipelines_draw_clean_under_validation(deferred):
    # blend="additive" leaves the integer G-buffer unblended; in the light phase depth writes
    # default to off (its depth is read-only): the two validation errors of the old desc API.
    scene = deferred.pipeline("scene-add", FULLSCREEN_VERT, SCENE_FRAG, phase="scene",
                              blend="additive", depth_test=False)
    light = deferred.pipeline("light-add", FULLSCREEN_VERT, FORWARD_FRAG, phase="light",
                              blend="additive")

    def draw_with(pipe: render.DrawPipeline) -> Any:
        def record(dc: render.DrawContext) -> None:
            dc.bind_pipeline(pipe)
            dc.draw(3)
        return record
    deferred.renderer.add_pass(draw_with(scene), phase="scene", name="scene-add")
    deferred.renderer.add_pass(draw_with(light), phase="light", name="light-add")
    img = deferred.shot()  # validation on: a message fails the step
    assert img[10, 10, :3].tolist() == [102, 204, 255], "0.2+0.2, 0.4+0.4, 0.6+0.6 (clamped)"


# --- recording checks -------------------------------------------------------------------------

def test_recording_misuse_raises_clean_errors_and_later_frames_are_clean(forward, vk_context):
    spots = np.zeros(2, SPOT)
    pipe = instanced(forward)
    mesh, inst, index = quad_buffers(forward.manager, spots)
    uniform = forward.manager.create_buffer(BufferConfig("u", 256, BufferStrategy.HOST_VISIBLE,
                                                         BufferUsage.UNIFORM))
    args = forward.manager.create_buffer(BufferConfig(
        "args", 64, BufferStrategy.DEVICE_LOCAL, BufferUsage.INDIRECT | BufferUsage.STORAGE))
    other = BufferManager(vk_context, frames_in_flight=3)
    foreign = other.create_buffer(BufferConfig("foreign", 64, BufferStrategy.DEVICE_LOCAL,
                                               BufferUsage.VERTEX))
    dead = forward.manager.create_buffer(BufferConfig("dead", 64, BufferStrategy.DEVICE_LOCAL,
                                                      BufferUsage.VERTEX))
    forward.manager.destroy_buffer(dead)
    kept: list[render.DrawContext] = []

    def bound(dc: render.DrawContext) -> None:
        dc.bind_pipeline(pipe)
        dc.bind_vertex_buffers(mesh, inst)
        dc.bind_index_buffer(index)
    cases: list[tuple[type[Exception], str, Any]] = [
        (DrawStateError, "no pipeline", lambda dc: dc.draw(3)),
        (DrawStateError, "2 vertex binding", lambda dc: (dc.bind_pipeline(pipe),
                                                         dc.bind_vertex_buffers(mesh))),
        (InvalidUsageError, "VERTEX", lambda dc: (dc.bind_pipeline(pipe),
                                                  dc.bind_vertex_buffers(mesh, uniform))),
        (ForeignBufferError, "another", lambda dc: (dc.bind_pipeline(pipe),
                                                    dc.bind_vertex_buffers(mesh, foreign))),
        (BufferDestroyedError, "destroyed", lambda dc: (dc.bind_pipeline(pipe),
                                                        dc.bind_vertex_buffers(mesh, dead))),
        (DrawStateError, "instance rate", lambda dc: (bound(dc), dc.draw_indexed(6, 3))),
        (DrawStateError, "indices", lambda dc: (bound(dc), dc.draw_indexed(7, 1))),
        (DrawStateError, "vertex buffer", lambda dc: (dc.bind_pipeline(pipe), dc.draw(3))),
        (IndirectArgumentError, "multiple of 4", lambda dc: (bound(dc),
                                                             dc.draw_indexed_indirect(args, 2))),
        (IndirectArgumentError, "at least 20", lambda dc: (bound(dc), dc.draw_indexed_indirect(
            args, 0, 1, 16))),
        (IndirectArgumentError, "end at byte 68", lambda dc: (bound(dc),
                                                               dc.draw_indexed_indirect(args, 48))),
        (IndirectArgumentError, "at least 20", lambda dc: (bound(dc), dc.draw_indexed_indirect(
            args, 0, 2, 16))),
        (IndirectArgumentError, "draw_count=-1", lambda dc: (bound(dc), dc.draw_indirect(
            args, 0, -1))),
        (IndirectArgumentError, "end at byte 76", lambda dc: (bound(dc), dc.draw_indirect(
            args, 0, 4, 20))),
        (InvalidUsageError, "INDIRECT", lambda dc: (bound(dc), dc.draw_indirect(uniform))),
        (DrawStateError, "compute", lambda dc: dc.fill_buffer(args)),
        (DrawStateError, "dynamic descriptor", lambda dc: dc.bind_pipeline(
            pipe, dynamic_offsets=[0])),
        (UnknownBindingError, "Size", lambda dc: (bound(dc), dc.push_constants("Sise", {}))),
        (UnknownBindingError, "member", lambda dc: (bound(dc), dc.push_constants(
            "Size", {"half": 1.0}))),
        (InvalidOffsetError, "offset", lambda dc: (dc.bind_pipeline(pipe), dc.bind_vertex_buffers(
            mesh, inst, offsets=(0, 10_000)))),
        (InvalidOptionError, "uint16", lambda dc: dc.bind_index_buffer(index, index_type="u8")),
    ]
    for error, words, case in cases:
        name = forward.renderer.add_pass(case, phase="forward", name=f"case-{words}")
        with pytest.raises(error, match=words):
            forward.driver.step(1)
        forward.renderer.remove_pass(name)
    forward.renderer.add_pass(lambda dc: kept.append(dc), phase="forward", name="keep")
    forward.driver.step(1)
    with pytest.raises(DrawStateError, match="outside its pass"):
        kept[0].draw(3)
    with pytest.raises(InvalidOptionError, match="exists already"):
        forward.renderer.add_pass(lambda dc: None, phase="forward", name="keep")
    forward.driver.step(3)  # the abandoned frames left nothing behind: clean frames follow
    other.close()


def test_compute_phase_fills_dispatches_and_feeds_an_indirect_draw(forward, read_back):
    comp = compile_glsl_source("""#version 450
layout(local_size_x = 1) in;
layout(std430, binding = 0) buffer Args { uint v[5]; } args;
void main() { atomicAdd(args.v[1], 1u); if (gl_GlobalInvocationID.x == 0u) args.v[0] = 6u; }
""", "comp")
    args = forward.manager.create_buffer(BufferConfig(
        "args", 20, BufferStrategy.DEVICE_LOCAL, BufferUsage.INDIRECT | BufferUsage.STORAGE))
    pid = forward.binder.register_pipeline("count", [comp])
    forward.binder.bind_storage_buffer_named(pid, "Args", args)
    counter = ComputePipeline(forward.binder, pid)
    spots = np.zeros(3, SPOT)
    spots["offset"] = [(-0.5, 0.0), (0.0, 0.0), (0.5, 0.0)]
    spots["color"] = (1, 1, 1, 1)
    pipe = instanced(forward)
    mesh, inst, index = quad_buffers(forward.manager, spots)

    def compute(dc: render.DrawContext) -> None:
        dc.fill_buffer(args, 0)
        dc.dispatch(counter, 3)          # three instances, counted on the GPU
        dc.barrier("compute", "indirect")

    def draw(dc: render.DrawContext) -> None:
        dc.bind_pipeline(pipe)
        size = np.array([0.1], np.float32).view(pipe.push_block("Size").dtype)[0]
        dc.push_constants("Size", size)  # a numpy value of the block's reflected dtype
        dc.bind_vertex_buffers(mesh, inst)
        dc.bind_index_buffer(index)
        dc.draw_indexed_indirect(args)
    forward.renderer.add_pass(compute, phase="compute", name="count")
    forward.renderer.add_pass(draw, phase="forward", name="draw")
    assert forward.renderer.pass_names() == {"compute": ["count"], "forward": ["draw"]}
    forward.driver.step(2)
    img = forward.shot()
    assert read_back.array(args, np.uint32).tolist() == [6, 3, 0, 0, 0]
    # dispatch_indirect: the workgroup counts come from a buffer (here 2 x 1 x 1).
    groups = forward.manager.create_and_upload("groups", np.array([2, 1, 1], np.uint32),
                                               usage=BufferUsage.INDIRECT)

    def indirect(dc: render.DrawContext) -> None:
        dc.fill_buffer(args, 0)
        dc.dispatch_indirect(counter, groups)
        with pytest.raises(IndirectArgumentError, match="multiple of 4"):
            dc.dispatch_indirect(counter, groups, 2)
        with pytest.raises(IndirectArgumentError):
            dc.dispatch_indirect(counter, groups, 4)  # 12 bytes from 4 > the 12-byte buffer
        dc.barrier("compute", "indirect")
    forward.renderer.remove_pass("count")
    forward.renderer.add_pass(indirect, phase="compute", name="indirect")
    forward.driver.step(1)
    assert read_back.array(args, np.uint32).tolist()[:2] == [6, 2], "two invocations counted"
    h, w = img.shape[:2]
    lit = [img[h // 2, int((x + 1) / 2 * w), 0] for x in (-0.5, 0.0, 0.5)]
    assert lit == [255, 255, 255], "all three instances drawn by the GPU-written count"


def test_one_indirect_call_records_several_draws_where_the_device_allows(forward):
    if forward.renderer.draw_context.max_draw_indirect_count < 2:
        pytest.skip("the device has no multiDrawIndirect")
    six = np.array([(-1, -1), (1, -1), (1, 1), (-1, -1), (1, 1), (-1, 1)], np.float32)
    mesh = forward.manager.create_and_upload("six", six.view(QUAD).ravel(),
                                             usage=BufferUsage.VERTEX)
    spots = np.zeros(2, SPOT)
    spots["offset"], spots["color"] = [(-0.5, 0.0), (0.5, 0.0)], [(1, 0, 0, 1), (0, 0, 1, 1)]
    inst = forward.manager.create_and_upload("two", spots, usage=BufferUsage.VERTEX)
    # Two VkDrawIndirectCommands 32 bytes apart: 6 vertices of instance 0, then of instance 1.
    commands = np.zeros((2, 8), np.uint32)
    commands[0, :4], commands[1, :4] = (6, 1, 0, 0), (6, 1, 0, 1)
    args = forward.manager.create_and_upload("two.args", commands, usage=BufferUsage.INDIRECT)
    pipe = instanced(forward)

    def draw(dc: render.DrawContext) -> None:
        dc.bind_pipeline(pipe)
        dc.push_constants("Size", {"half_size": 0.2})
        dc.bind_vertex_buffers(mesh, inst)
        dc.draw_indirect(args, 0, 2, 32)
    forward.renderer.add_pass(draw, phase="forward")
    img = forward.shot()
    h, w = img.shape[:2]
    assert img[h // 2, w // 4, :3].tolist() == [255, 0, 0]
    assert img[h // 2, 3 * w // 4, :3].tolist() == [0, 0, 255]


# --- GPU timings and labels -------------------------------------------------------------------

def test_gpu_time_per_pass_is_read_back_when_each_slot_comes_round(forward):
    pipe = forward.pipeline("full", FULLSCREEN_VERT, FORWARD_FRAG, phase="forward")
    forward.renderer.add_pass(lambda dc: (dc.bind_pipeline(pipe), dc.draw(3)), phase="forward",
                              name="fullscreen")
    forward.renderer.add_pass(lambda dc: None, phase="compute", name="nothing")
    forward.driver.step(10)
    stats = forward.renderer.statistics()
    gpu = stats["gpu"]
    assert gpu["supported"] and gpu["valid_bits"] > 0 and gpu["timestamp_period_ns"] > 0
    # Frames 0-6 are complete (begin_frame of frames 3-9 waited for them); 7-9 may be too.
    assert 7 <= gpu["frames"] <= 10 and gpu["missed"] == 0
    assert set(gpu["passes"]) == {"fullscreen", "nothing"}
    assert gpu["passes"]["fullscreen"]["median_ms"] > 0.0
    assert gpu["frame_ms"]["median_ms"] >= gpu["passes"]["fullscreen"]["median_ms"]
    assert stats["debug_labels"] is True, "validation is on: VK_EXT_debug_utils labels"
    text = forward.renderer.format_statistics()
    assert "fullscreen" in text and "median ms" in text


def test_a_validation_message_names_the_pass_that_caused_it(forward, validation):
    class Broken:  # a legacy pass on the raw command buffer: a barrier without stage masks
        def record_compute(self, cmd: Any, slot: int) -> None:
            from engine.device.vk import ffi, lib
            lib.vkCmdPipelineBarrier(cmd, 0, 0, 0, 0, ffi.NULL, 0, ffi.NULL, 0, ffi.NULL)
    forward.renderer.add_pass(lambda dc: None, phase="compute", name="before")
    forward.renderer.passes = [Broken()]
    forward.driver.step(1, check_validation=False)
    messages = validation.expect("StageMask-03937")  # src and dst
    assert all("[in pass: Broken]" in m.text for m in messages), messages


def test_gpu_timing_can_be_turned_off(buffer_manager, resource_binder, frame_driver, ecs_world):
    stage = Stage(buffer_manager, resource_binder, frame_driver, "forward", gpu_timing=False)
    try:
        stage.renderer.add_pass(lambda dc: None, phase="forward", name="empty")
        frame_driver.step(4)
        assert stage.renderer.statistics()["gpu"] is None
        assert "GPU timing off" in stage.renderer.format_statistics()
    finally:
        stage.close()
    with pytest.raises(InvalidOptionError):
        render.Renderer(buffer_manager, stage.target, gpu_timing=1)  # type: ignore[arg-type]


# --- games/ use the engine only ---------------------------------------------------------------

def test_no_game_imports_or_uses_vulkan_directly():
    games = Path(__file__).resolve().parent.parent / "games"
    offenders = []
    for path in sorted(games.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in ("lib", "ffi", "vk"):
                names = [f"{node.value.id}.{node.attr}"]
            for n in names:
                if n.split(".")[0] in ("vulkan", "cffi") or n.startswith(
                        ("engine.device.vk", "lib.", "ffi.", "vk.")):
                    offenders.append(f"{path.relative_to(games.parent)}:{node.lineno}: {n}")
    assert not offenders, "games/ must draw through the engine's API:\n" + "\n".join(offenders)


# --- hostile arguments --------------------------------------------------------------------------

HOSTILE = [None, True, np.bool_(True), 3.0, -1, 2**70, np.int64(-5), "3", b"3", [3], object()]


def test_hostile_arguments_get_engine_errors_never_a_crash(forward):
    pipe = instanced(forward)
    spots = np.zeros(2, SPOT)
    mesh, inst, index = quad_buffers(forward.manager, spots)
    calls: list[Any] = []
    for bad in HOSTILE:
        calls += [
            lambda dc, bad=bad: (dc.bind_pipeline(pipe), dc.bind_vertex_buffers(mesh, inst),
                                 dc.draw(bad)),
            lambda dc, bad=bad: (dc.bind_pipeline(pipe), dc.bind_vertex_buffers(mesh, inst),
                                 dc.bind_index_buffer(index), dc.draw_indexed(6, 1, 0, bad)),
            lambda dc, bad=bad: dc.bind_pipeline(bad),
            lambda dc, bad=bad: dc.bind_pipeline(pipe, dynamic_offsets=bad),
            lambda dc, bad=bad: (dc.bind_pipeline(pipe), dc.bind_vertex_buffers(mesh, bad)),
            lambda dc, bad=bad: (dc.bind_pipeline(pipe), dc.bind_vertex_buffers(
                mesh, inst, offsets=(0, bad))),
            lambda dc, bad=bad: dc.bind_index_buffer(index, index_type=bad),
            lambda dc, bad=bad: dc.bind_index_buffer(index, offset=bad),
            lambda dc, bad=bad: (dc.bind_pipeline(pipe), dc.push_constants(bad, {})),
            lambda dc, bad=bad: (dc.bind_pipeline(pipe), dc.push_constants("Size", bad)),
            lambda dc, bad=bad: (dc.bind_pipeline(pipe), dc.push_constants(
                "Size", {"half_size": bad})),
            lambda dc, bad=bad: (dc.bind_pipeline(pipe), dc.bind_vertex_buffers(mesh, inst),
                                 dc.bind_index_buffer(index), dc.draw_indexed_indirect(bad)),
            lambda dc, bad=bad: dc.barrier(bad, bad),
        ]
    raised = 0
    for i, call in enumerate(calls):
        name = forward.renderer.add_pass(call, phase="forward", name=f"hostile-{i}")
        try:
            forward.driver.step(1)
        except (EngineError, TypeError, ValueError):
            raised += 1
        finally:
            forward.renderer.remove_pass(name)
    # Accepted as valid: a signed vertex_offset (-1, np.int64(-5)) and push-constant values
    # numpy converts to float32 (True, 3.0, -1, "3", [3], ...): 12 of the 143 calls.
    assert raised >= len(calls) - 12
    for bad in HOSTILE:
        for options in ({"phase": bad}, {"blend": bad}, {"topology": bad}, {"depth_test": bad},
                        {"depth_compare": bad}, {"cull": bad}, {"vertex": bad},
                        {"vertex": [bad]}, {"vertex": [render.VertexInput(bad)]},
                        {"vertex": [render.VertexInput(QUAD, fields=bad)]},
                        {"vertex": [render.VertexInput(QUAD, normalized=bad)]},
                        {"vertex": [render.VertexInput(QUAD, rate=bad)]},
                        {"vertex": [render.VertexInput(QUAD, first_location=bad)]}):
            with pytest.raises((EngineError, TypeError, ValueError)):
                forward.pipeline("hostile", INSTANCED_VERT, FORWARD_FRAG,
                                 **{"phase": "forward", **options})
    for bad in HOSTILE:
        with pytest.raises((EngineError, TypeError, ValueError)):
            forward.renderer.add_pass(bad, phase="forward")
        with pytest.raises((EngineError, TypeError, ValueError)):
            forward.renderer.remove_pass(bad)
    forward.driver.step(2)  # still clean


def test_wisps_passes_record_through_the_recorder_and_are_timed(buffer_manager, ecs_world):
    try:
        from render_helpers import MiniScene
    except ImportError:
        from tests.render_helpers import MiniScene
    scene = MiniScene(buffer_manager, width=96, height=64)
    try:
        scene.step(8)
        renderer = scene.stack.renderer
        assert renderer.passes == [], "no legacy hooks left in Wisp's frame"
        assert renderer.pass_names() == {"compute": ["particles.simulate"], "scene": ["scene"],
                                         "light": ["light_volumes", "particles"]}
        assert isinstance(scene.stack.scene_pass.pipeline, render.DrawPipeline)
        gpu = renderer.statistics()["gpu"]
        # The surface's compute clear (GPUs: engine/render/surface_clear.py) is timed too.
        clear = {"gbuffer.clear"} if scene.target.surface_cleared_in_compute else set()
        assert set(gpu["passes"]) == {"particles.simulate", "scene", "light_volumes",
                                      "particles"} | clear
        assert gpu["frames"] >= 5 and gpu["missed"] == 0
    finally:
        scene.close()
