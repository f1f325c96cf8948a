"""Stencil targets and pipeline state, and draws whose count the GPU reads from a buffer.

Real driver, validation and synchronisation validation on: each picture is read back and
checked pixel by pixel, so a stencil test or a draw count that did nothing fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import engine.render as render
import engine.render.targets as targets_module
from engine import (
    BufferConfig,
    BufferManager,
    BufferStrategy,
    BufferUsage,
    GraphicsContext,
    Phase,
    ResourceBinder,
    add_system,
)
from engine.binding.pipelines import ComputePipeline
from engine.device.vk import vk
from engine.errors import (
    BufferDestroyedError,
    DrawIndirectCountUnsupportedError,
    DrawStateError,
    EngineError,
    IndirectArgumentError,
    InvalidOptionError,
    InvalidStencilStateError,
    InvalidUsageError,
    StencilUnavailableError,
)
from engine.render.images import DEPTH_FORMAT, choose_depth_format
from engine.shaders.compiler import compile_glsl_source
from systems.render_system import RenderSystem

RECT_VERT = """#version 450
layout(push_constant) uniform Rect { vec2 center; } rect;
void main() {   // a 0.5 x 0.5 square (clip units) around rect.center, as a triangle strip
    vec2 corner = vec2(gl_VertexIndex & 1, gl_VertexIndex >> 1) * 2.0 - 1.0;
    gl_Position = vec4(rect.center + corner * 0.25, 0.5, 1.0);
}
"""
WHITE_FRAG = """#version 450
layout(location = 0) out vec4 out_color;
void main() { out_color = vec4(1.0); }
"""
FULLSCREEN_VERT = """#version 450
void main() {
    vec2 p = vec2((gl_VertexIndex << 1) & 2, gl_VertexIndex & 2);
    gl_Position = vec4(p * 2.0 - 1.0, 0.5, 1.0);
}
"""
BLUE_FRAG = """#version 450
layout(location = 0) out vec4 out_color;
void main() { out_color = vec4(0.2, 0.4, 0.6, 1.0); }
"""
ROW_VERT = """#version 450
void main() {   // quad number gl_InstanceIndex of a row of six across the picture
    vec2 corner = vec2(gl_VertexIndex & 1, gl_VertexIndex >> 1) * 2.0 - 1.0;
    vec2 center = vec2(-0.75 + 0.3 * float(gl_InstanceIndex), 0.0);
    gl_Position = vec4(center + corner * 0.1, 0.5, 1.0);
}
"""
COUNT_COMP = """#version 450
layout(local_size_x = 1) in;
layout(std430, binding = 0) buffer Count { uint value[]; } count;
void main() { atomicAdd(count.value[2], 1u); }   // the count at byte 8
"""
BLUE = [51, 102, 153]
ROW_X = [-0.75 + 0.3 * i for i in range(6)]
D32S8, D24S8 = vk.VK_FORMAT_D32_SFLOAT_S8_UINT, vk.VK_FORMAT_D24_UNORM_S8_UINT


def shader(src: str, stage: str) -> bytes:
    return compile_glsl_source(src, stage)


class Stage:
    """A forward offscreen target (``stencil``) and its renderer, run by the frame driver."""

    def __init__(self, manager: BufferManager, binder: Any, driver: Any, *,
                 stencil: bool, install: bool = True) -> None:
        self.manager, self.binder, self.driver = manager, binder, driver
        if install:  # once per world and manager
            driver.install(manager, binder)
        self.target = render.OffscreenTarget(manager.context, 64, 48, layout="forward",
                                             stencil=stencil)
        self.renderer = render.Renderer(manager, self.target)
        add_system(RenderSystem(self.renderer, manager), Phase.RENDER)

    def pipeline(self, name: str, vs: str, fs: str, **options: Any) -> render.DrawPipeline:
        return render.DrawPipeline(self.binder, self.renderer, name,
                                   vertex_shader=shader(vs, "vert"),
                                   fragment_shader=shader(fs, "frag"), phase="forward",
                                   **options)

    def shot(self) -> np.ndarray:
        self.renderer.request_screenshot()
        self.driver.step(1)
        return self.renderer.read_screenshot()

    def raises(self, error: type[Exception], words: str, record: Any) -> None:
        name = self.renderer.add_pass(record, phase="forward", name=f"raises-{words}")
        try:
            with pytest.raises(error, match=words or None):
                self.driver.step(1)
        finally:
            self.renderer.remove_pass(name)

    def close(self) -> None:
        self.manager.context.wait_idle()
        self.renderer.destroy()
        self.target.destroy()


@pytest.fixture
def stencil_stage(buffer_manager, resource_binder, frame_driver, ecs_world) -> Iterator[Stage]:
    stage = Stage(buffer_manager, resource_binder, frame_driver, stencil=True)
    yield stage
    stage.close()


@pytest.fixture
def plain_stage(buffer_manager, resource_binder, frame_driver, ecs_world) -> Iterator[Stage]:
    stage = Stage(buffer_manager, resource_binder, frame_driver, stencil=False)
    yield stage
    stage.close()


def pixel(img: np.ndarray, x: float, y: float = 0.0) -> list[int]:
    """The RGB of the pixel at clip coordinates (x, y)."""
    h, w = img.shape[:2]
    return img[int((y + 1) / 2 * h), int((x + 1) / 2 * w), :3].tolist()


# --- stencil ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", [D32S8, D24S8], ids=["D32_SFLOAT_S8_UINT", "D24_UNORM_S8_UINT"])
def test_a_full_screen_draw_tested_against_stencil_colours_only_the_marked_square(
        fmt, buffer_manager, resource_binder, frame_driver, ecs_world, monkeypatch):
    # Pick each depth/stencil format in turn (the device is asked whether it offers it).
    monkeypatch.setattr(targets_module, "choose_depth_format", lambda ctx, stencil, what:
                        choose_depth_format(ctx, stencil, what, (fmt,)))
    stage = Stage(buffer_manager, resource_binder, frame_driver, stencil=True)
    try:
        assert stage.target.has_stencil and stage.target.depth_format == fmt
        # Marks stencil with its reference where the square covers, writing no colour.
        mark = stage.pipeline("mark", RECT_VERT, WHITE_FRAG, topology="triangle_strip",
                              depth_test=False, color_write=False,
                              stencil=render.StencilFace(pass_op="replace", reference=1))
        fill = stage.pipeline("fill", FULLSCREEN_VERT, BLUE_FRAG, depth_test=False,
                              stencil=render.StencilFace(compare="equal", reference=1,
                                                         write_mask=0))
        assert mark.stencil_reference == (1, 1) and fill.depth_format == fmt

        def record(dc: render.DrawContext) -> None:
            dc.bind_pipeline(mark)                       # reference 1 (the pipeline's)
            dc.push_constants("Rect", {"center": (-0.5, 0.0)})
            dc.draw(4)                                   # left square: stencil 1
            dc.set_stencil_reference(2)
            dc.push_constants("Rect", {"center": (0.5, 0.0)})
            dc.draw(4)                                   # right square: stencil 2
            dc.bind_pipeline(fill)                       # EQUAL 1 ...
            dc.set_stencil_reference(2, face="both")     # ... changed to EQUAL 2
            dc.draw(3)
        stage.renderer.add_pass(record, phase="forward", name="stencil")
        img = stage.shot()
        assert pixel(img, 0.5) == BLUE, "inside the square marked 2"
        assert pixel(img, 0.6, 0.1) == BLUE
        assert pixel(img, -0.5) == [0, 0, 0], "marked 1: the test (EQUAL 2) fails there; and " \
            "colour writes are off for the marking draw (white otherwise)"
        for x, y in ((0.0, 0.0), (0.9, 0.9), (-0.9, -0.9), (0.5, 0.6)):
            assert pixel(img, x, y) == [0, 0, 0], ("outside both squares", x, y)
        # The stencil is cleared to 0 each frame: a frame without the marking draws shows
        # nothing, though the test is the same.
        stage.renderer.remove_pass("stencil")
        stage.renderer.add_pass(lambda dc: (dc.bind_pipeline(fill), dc.draw(3)),
                                phase="forward", name="fill-only")
        assert not stage.shot()[..., :3].any(), "the previous frame's stencil was cleared"
    finally:
        stage.close()


def test_front_and_back_faces_take_their_own_stencil_state(stencil_stage):
    s = stencil_stage
    # Both squares are marked 1; the fill's front face (ccw) tests EQUAL 1, its back face
    # NEVER passes, so a clockwise full-screen triangle draws nothing.
    mark = s.pipeline("mark", RECT_VERT, WHITE_FRAG, topology="triangle_strip",
                      depth_test=False, color_write=False,
                      stencil=render.StencilFace(pass_op="replace", reference=1))
    front = render.StencilFace(compare="equal", reference=1, write_mask=0)
    back = render.StencilFace(compare="never", reference=7, write_mask=0)
    fill_ccw = s.pipeline("fill-ccw", FULLSCREEN_VERT, BLUE_FRAG, depth_test=False,
                          stencil=(front, back), front_face="ccw")
    fill_cw = s.pipeline("fill-cw", FULLSCREEN_VERT, BLUE_FRAG, depth_test=False,
                         stencil=(front, back), front_face="cw")
    assert fill_ccw.stencil_reference == (1, 7)

    def record_with(fill: render.DrawPipeline) -> Any:
        def record(dc: render.DrawContext) -> None:
            dc.bind_pipeline(mark)
            dc.push_constants("Rect", {"center": (0.5, 0.0)})
            dc.draw(4)
            dc.bind_pipeline(fill)
            dc.draw(3)
        return record
    s.renderer.add_pass(record_with(fill_ccw), phase="forward", name="ccw")
    img = s.shot()
    s.renderer.remove_pass("ccw")
    s.renderer.add_pass(record_with(fill_cw), phase="forward", name="cw")
    img_cw = s.shot()
    # The full-screen triangle is one winding: counter-clockwise in framebuffer space under
    # one front_face setting, clockwise under the other; exactly one of the two shows the
    # square.
    shown = [pixel(i, 0.5) == BLUE for i in (img, img_cw)]
    assert sorted(shown) == [False, True], shown
    assert pixel(img, -0.5) == pixel(img_cw, -0.5) == [0, 0, 0]


def test_stencil_rules_are_checked_before_the_driver_sees_them(stencil_stage, vk_context):
    s = stencil_stage
    face = render.StencilFace(pass_op="replace", reference=1)
    plain_target = render.OffscreenTarget(vk_context, 8, 8, layout="forward")
    try:
        with pytest.raises(StencilUnavailableError, match="stencil=True"):
            render.DrawPipeline(s.binder, plain_target, "no-aspect",
                                vertex_shader=shader(FULLSCREEN_VERT, "vert"),
                                fragment_shader=shader(BLUE_FRAG, "frag"), phase="forward",
                                stencil=face)
        other_plain = render.DrawPipeline(s.binder, plain_target, "other-plain",
                                          vertex_shader=shader(FULLSCREEN_VERT, "vert"),
                                          fragment_shader=shader(BLUE_FRAG, "frag"),
                                          phase="forward")
    finally:
        plain_target.destroy()
    with pytest.raises(StencilUnavailableError, match="forward"):
        render.OffscreenTarget(vk_context, 8, 8, stencil=True)            # deferred layout
    with pytest.raises(InvalidOptionError, match="not a flag"):
        render.OffscreenTarget(vk_context, 8, 8, layout="forward", stencil="yes")
    for bad in ({"pass_op": "replce"}, {"fail_op": 1}, {"depth_fail_op": None},
                {"compare": "eq"}, {"compare": "EQUAL"}, {"reference": 256},
                {"reference": -1}, {"reference": True}, {"reference": np.bool_(True)},
                {"reference": 1.0}, {"reference": np.float32(1)}, {"reference": "1"},
                {"compare_mask": 2**70}, {"write_mask": None}, {"write_mask": np.int64(-1)}):
        with pytest.raises(InvalidStencilStateError):
            render.StencilFace(**bad)
    ok = render.StencilFace(reference=np.uint8(7), compare_mask=np.int64(255))
    assert type(ok.reference) is int and ok.reference == 7 and type(ok.compare_mask) is int
    forced = render.StencilFace()
    object.__setattr__(forced, "pass_op", "explode")
    for bad_state in ("replace", (face,), (face, face, face), [face, face], forced, 1,
                      (face, None)):
        with pytest.raises(InvalidStencilStateError):
            s.pipeline("bad-state", FULLSCREEN_VERT, BLUE_FRAG, stencil=bad_state)
    for bad_write in ("no", 0, None, (True, False), [np.bool_(True), 1]):
        with pytest.raises(InvalidOptionError, match="color_write"):
            s.pipeline("bad-write", FULLSCREEN_VERT, BLUE_FRAG, color_write=bad_write)
    s.pipeline("np-write", FULLSCREEN_VERT, BLUE_FRAG, color_write=(np.bool_(False),))
    # Recording: a pipeline of a plain target does not bind in a stencil renderer (their
    # render passes are incompatible), and the reference needs a stencil pipeline.
    stencil_pipe = s.pipeline("stencil", FULLSCREEN_VERT, BLUE_FRAG, stencil=face)
    plain_pipe = s.pipeline("plain", FULLSCREEN_VERT, BLUE_FRAG)
    s.raises(DrawStateError, "incompatible", lambda dc: dc.bind_pipeline(other_plain))
    s.raises(DrawStateError, "no pipeline", lambda dc: dc.set_stencil_reference(1))
    s.raises(DrawStateError, "no stencil state", lambda dc: (
        dc.bind_pipeline(plain_pipe), dc.set_stencil_reference(1)))
    for value in (256, -1, True, 1.5, None, "1", np.float64(1)):
        s.raises(InvalidStencilStateError, "0 to 255", lambda dc, v=value: (
            dc.bind_pipeline(stencil_pipe), dc.set_stencil_reference(v)))
    for bad_face in ("left", None, 3, "FRONT"):
        s.raises(InvalidStencilStateError, "face", lambda dc, f=bad_face: (
            dc.bind_pipeline(stencil_pipe), dc.set_stencil_reference(1, face=f)))
    kept: list[render.DrawContext] = []
    s.renderer.add_pass(lambda dc: (dc.bind_pipeline(stencil_pipe),
                                    dc.set_stencil_reference(np.uint8(3), face="front"),
                                    dc.set_stencil_reference(np.int32(4), face="back"),
                                    dc.draw(3), kept.append(dc)), phase="forward", name="ok")
    s.driver.step(2)  # the refused calls left clean frames behind
    with pytest.raises(DrawStateError, match="outside its pass"):
        kept[0].set_stencil_reference(1)


def test_a_plain_renderer_refuses_stencil_pipelines_and_references(plain_stage, vk_context):
    p = plain_stage
    stencil_target = render.OffscreenTarget(vk_context, 8, 8, layout="forward", stencil=True)
    try:
        stencil_pipe = render.DrawPipeline(
            p.binder, stencil_target, "stencil", vertex_shader=shader(FULLSCREEN_VERT, "vert"),
            fragment_shader=shader(BLUE_FRAG, "frag"), phase="forward",
            stencil=render.StencilFace(pass_op="replace", reference=1))
    finally:
        stencil_target.destroy()
    plain_pipe = p.pipeline("plain", FULLSCREEN_VERT, BLUE_FRAG)
    p.raises(DrawStateError, "incompatible", lambda dc: dc.bind_pipeline(stencil_pipe))
    p.raises(StencilUnavailableError, "stencil=True", lambda dc: (
        dc.bind_pipeline(plain_pipe), dc.set_stencil_reference(1)))
    p.renderer.add_pass(lambda dc: (dc.bind_pipeline(plain_pipe), dc.draw(3)),
                        phase="forward", name="ok")
    assert pixel(p.shot(), 0.0) == BLUE


def test_the_depth_stencil_format_is_the_first_the_device_offers(vk_context):
    assert choose_depth_format(vk_context, False, "t") == DEPTH_FORMAT
    chosen = choose_depth_format(vk_context, True, "t")
    assert chosen in (D32S8, D24S8)
    props = vk.vkGetPhysicalDeviceFormatProperties(vk_context.physical_device,
                                                   vk.VK_FORMAT_D16_UNORM_S8_UINT)
    if props.optimalTilingFeatures & vk.VK_FORMAT_FEATURE_DEPTH_STENCIL_ATTACHMENT_BIT:
        pytest.skip("the device offers D16_UNORM_S8_UINT: no unsupported candidate to try")
    assert choose_depth_format(vk_context, True, "t",
                               (vk.VK_FORMAT_D16_UNORM_S8_UINT, D24S8)) == D24S8
    with pytest.raises(StencilUnavailableError, match="D16_UNORM_S8_UINT"):
        choose_depth_format(vk_context, True, "t", (vk.VK_FORMAT_D16_UNORM_S8_UINT,))


# --- draw counts read from a buffer ----------------------------------------------------------

def row_buffers(manager: BufferManager) -> tuple[Any, Any, Any, Any]:
    """Six VkDrawIndirectCommands (quad i = instance i), six indexed ones 32 bytes apart,
    the quad's indices, and a 16-byte count buffer (the count at byte 8, STORAGE too)."""
    plain = np.zeros((6, 4), np.uint32)
    plain[:, 0], plain[:, 1], plain[:, 3] = 4, 1, np.arange(6)
    indexed = np.zeros((6, 8), np.uint32)
    indexed[:, 0], indexed[:, 1], indexed[:, 4] = 4, 1, np.arange(6)
    args = manager.create_and_upload("row.args", plain, usage=BufferUsage.INDIRECT)
    iargs = manager.create_and_upload("row.iargs", indexed, usage=BufferUsage.INDIRECT)
    index = manager.create_and_upload("row.index", np.arange(4, dtype=np.uint32),
                                      usage=BufferUsage.INDEX)
    count = manager.create_buffer(BufferConfig(
        "row.count", 16, BufferStrategy.DEVICE_LOCAL,
        BufferUsage.INDIRECT | BufferUsage.STORAGE | BufferUsage.TRANSFER_DST))
    return args, iargs, index, count


def drawn(img: np.ndarray) -> list[bool]:
    return [pixel(img, x) == [255, 255, 255] for x in ROW_X]


def test_the_gpu_written_count_decides_how_many_of_the_records_are_drawn(plain_stage,
                                                                         read_back):
    s = plain_stage
    if not s.renderer.draw_context.draw_indirect_count_supported:
        pytest.skip(f"{s.manager.context.device_name} has no drawIndirectCount")
    assert s.manager.context.features.draw_indirect_count
    args, iargs, index, count = row_buffers(s.manager)
    pid = s.binder.register_pipeline("count", [shader(COUNT_COMP, "comp")])
    s.binder.bind_storage_buffer_named(pid, "Count", count)
    counter = ComputePipeline(s.binder, pid)
    row = s.pipeline("row", ROW_VERT, WHITE_FRAG, topology="triangle_strip")
    plan = {"count": ("dispatch", 3), "indexed": False}

    def compute(dc: render.DrawContext) -> None:
        how, n = plan["count"]  # type: ignore[misc]
        dc.fill_buffer(count, 0)
        if how == "dispatch":
            dc.dispatch(counter, n)                     # n invocations count into byte 8
            dc.barrier("compute", "indirect")
        else:
            dc.fill_buffer(count, n, offset=8, size=4)
            dc.barrier("transfer", "indirect")

    def draw(dc: render.DrawContext) -> None:
        dc.bind_pipeline(row)
        if plan["indexed"]:
            dc.bind_index_buffer(index)
            dc.draw_indexed_indirect_count(iargs, count, 6, count_offset=8, stride=32)
        else:
            dc.draw_indirect_count(args, count, np.int64(6), count_offset=np.uint32(8))
    s.renderer.add_pass(compute, phase="compute", name="count")
    s.renderer.add_pass(draw, phase="forward", name="row")
    img = s.shot()
    assert read_back.array(count, np.uint32).tolist() == [0, 0, 3, 0]
    assert drawn(img) == [True] * 3 + [False] * 3, "3 of the 6 records, counted on the GPU"
    plan["count"] = ("fill", 5)
    assert drawn(s.shot()) == [True] * 5 + [False]
    plan["count"] = ("fill", 1000)                      # clamped to max_draw_count (6)
    assert drawn(s.shot()) == [True] * 6
    plan["count"], plan["indexed"] = ("dispatch", 2), True
    assert drawn(s.shot()) == [True] * 2 + [False] * 4, "indexed, stride 32"
    plan["count"] = ("fill", 0)
    assert drawn(s.shot()) == [False] * 6


def test_draw_count_arguments_are_checked(plain_stage):
    s = plain_stage
    if not s.renderer.draw_context.draw_indirect_count_supported:
        pytest.skip(f"{s.manager.context.device_name} has no drawIndirectCount")
    args, iargs, index, count = row_buffers(s.manager)
    uniform = s.manager.create_buffer(BufferConfig("u", 64, BufferStrategy.HOST_VISIBLE,
                                                   BufferUsage.UNIFORM))
    dead = s.manager.create_buffer(BufferConfig("dead", 16, BufferStrategy.DEVICE_LOCAL,
                                                BufferUsage.INDIRECT))
    s.manager.destroy_buffer(dead)
    row = s.pipeline("row", ROW_VERT, WHITE_FRAG, topology="triangle_strip")
    limit = s.renderer.draw_context.max_draw_count

    def bound(dc: render.DrawContext) -> None:
        dc.bind_pipeline(row)
    cases: list[tuple[type[Exception], str, Any]] = [
        (DrawStateError, "no pipeline", lambda dc: dc.draw_indirect_count(args, count, 1)),
        (InvalidUsageError, "INDIRECT", lambda dc: (bound(dc), dc.draw_indirect_count(
            uniform, count, 1))),
        (InvalidUsageError, "INDIRECT", lambda dc: (bound(dc), dc.draw_indirect_count(
            args, uniform, 1))),
        (BufferDestroyedError, "destroyed", lambda dc: (bound(dc), dc.draw_indirect_count(
            args, dead, 1))),
        (IndirectArgumentError, "multiple of 4", lambda dc: (bound(dc), dc.draw_indirect_count(
            args, count, 1, offset=2))),
        (IndirectArgumentError, "count_offset", lambda dc: (bound(dc), dc.draw_indirect_count(
            args, count, 1, count_offset=2))),
        (IndirectArgumentError, "count_offset", lambda dc: (bound(dc), dc.draw_indirect_count(
            args, count, 1, count_offset=16))),
        (IndirectArgumentError, "end at byte 112", lambda dc: (bound(dc),
                                                                dc.draw_indirect_count(
                                                                    args, count, 7))),
        (IndirectArgumentError, "at least 16", lambda dc: (bound(dc), dc.draw_indirect_count(
            args, count, 2, stride=8))),
        (IndirectArgumentError, "max_draw_count", lambda dc: (bound(dc),
                                                               dc.draw_indirect_count(
                                                                   args, count, limit + 1))),
        (IndirectArgumentError, "at least 20", lambda dc: (bound(dc), dc.bind_index_buffer(
            index), dc.draw_indexed_indirect_count(iargs, count, 2, stride=16))),
        (DrawStateError, "index buffer", lambda dc: (bound(dc), dc.draw_indexed_indirect_count(
            iargs, count, 1))),
        (DrawStateError, "compute", lambda dc: dc.fill_buffer(count)),
    ]
    for bad in (None, True, np.bool_(True), 3.0, -1, 2**70, np.int64(-5), "3", b"3", [3]):
        cases += [
            (EngineError, "", lambda dc, b=bad: (bound(dc), dc.draw_indirect_count(b, count, 1))),
            (EngineError, "", lambda dc, b=bad: (bound(dc), dc.draw_indirect_count(args, b, 1))),
            (EngineError, "", lambda dc, b=bad: (bound(dc), dc.draw_indirect_count(
                args, count, b))),
            (EngineError, "", lambda dc, b=bad: (bound(dc), dc.draw_indirect_count(
                args, count, 1, offset=b))),
            (EngineError, "", lambda dc, b=bad: (bound(dc), dc.draw_indirect_count(
                args, count, 1, count_offset=b))),
        ]
        if bad is not None:  # stride=None is the default (the record's size)
            cases.append((EngineError, "", lambda dc, b=bad: (
                bound(dc), dc.bind_index_buffer(index),
                dc.draw_indexed_indirect_count(iargs, count, 1, stride=b))))
    for error, words, case in cases:
        s.raises(error, words, case)
    s.driver.step(2)  # clean frames after every refused call


def test_without_the_feature_the_count_draws_raise_naming_the_device_and_the_fix(
        validation, ecs_world, frame_driver):
    ctx = GraphicsContext.create(validation=True, disable_features=("draw_indirect_count",))
    try:
        assert ctx.features.draw_indirect_count is False
        manager, binder = BufferManager(ctx), ResourceBinder(ctx)
        stage = Stage(manager, binder, frame_driver, stencil=False)
        try:
            args, _, _, count = row_buffers(manager)
            row = stage.pipeline("row", ROW_VERT, WHITE_FRAG, topology="triangle_strip")
            assert not stage.renderer.draw_context.draw_indirect_count_supported
            stage.raises(DrawIndirectCountUnsupportedError, re.escape(ctx.device_name), lambda dc: (
                dc.bind_pipeline(row), dc.draw_indirect_count(args, count, 1)))
            stage.raises(DrawIndirectCountUnsupportedError, "drawIndirectCount", lambda dc: (
                dc.bind_pipeline(row), dc.draw_indexed_indirect_count(args, count, 1)))
            stage.renderer.add_pass(lambda dc: (dc.bind_pipeline(row), dc.draw_indirect(
                args, 0, 3)), phase="forward", name="fallback")   # the CPU count still works
            assert drawn(stage.shot()) == [True] * 3 + [False] * 3
        finally:
            stage.close()
    finally:
        ctx.close()
    for bad in ("draw_indirect_count", ("warp_drive",), [1], None):
        with pytest.raises(InvalidOptionError, match="disable_features"):
            GraphicsContext.create(validation=False, disable_features=bad)


# --- a window's swapchain target ---------------------------------------------------------------

@pytest.mark.window
def test_a_stencil_swapchain_target_masks_its_draws_and_keeps_stencil_when_recreated(
        validation):
    from engine.render.swapchain import SwapchainTarget
    from engine.render.window import Window, required_instance_extensions
    try:
        from render_helpers import xvfb
    except ImportError:
        from tests.render_helpers import xvfb
    with xvfb() as display:
        if display is None:
            pytest.skip("Xvfb is not installed (apt-get install xvfb)")
        ctx = GraphicsContext.create(validation=True, sync_validation=True,
                                     instance_extensions=required_instance_extensions())
        window = Window(96, 64, "stencil")
        try:
            manager = BufferManager(ctx)
            binder = ResourceBinder(ctx)
            target = SwapchainTarget(ctx, window, 3, layout="forward", stencil=True)
            ctx.add_close_hook(target.destroy)
            renderer = render.Renderer(manager, target)
            ctx.add_close_hook(renderer.destroy)
            assert target.has_stencil and target.depth_format in (D32S8, D24S8)

            def pipeline(name: str, vs: str, fs: str, **options: Any) -> render.DrawPipeline:
                return render.DrawPipeline(binder, renderer, name,
                                           vertex_shader=shader(vs, "vert"),
                                           fragment_shader=shader(fs, "frag"),
                                           phase="forward", depth_test=False, **options)
            mark = pipeline("mark", RECT_VERT, WHITE_FRAG, topology="triangle_strip",
                            color_write=False,
                            stencil=render.StencilFace(pass_op="replace", reference=1))
            fill = pipeline("fill", FULLSCREEN_VERT, BLUE_FRAG,
                            stencil=render.StencilFace(compare="equal", reference=1,
                                                       write_mask=0))
            renderer.add_pass(lambda dc: (dc.bind_pipeline(mark), dc.push_constants(
                "Rect", {"center": (0.5, 0.0)}), dc.draw(4), dc.bind_pipeline(fill),
                dc.draw(3)), phase="forward", name="masked")

            def frames(n: int, shot: bool = False) -> np.ndarray | None:
                for i in range(n):
                    manager.begin_frame()
                    try:
                        manager.submit_uploads()
                        if shot and i == n - 1:
                            renderer.request_screenshot()
                        renderer.render(manager.frame_index)
                    finally:
                        manager.end_frame()
                return renderer.read_screenshot() if shot else None
            for round_ in range(2):
                img = frames(4, shot=target.supports_screenshot)
                if img is not None:
                    assert pixel(img, 0.5) == BLUE and pixel(img, -0.5) == [0, 0, 0], round_
                target.recreate()                      # as after a resize: new depth/stencil
                assert target.has_stencil
            assert renderer.frames_rendered >= 8
            validation.assert_clean("stencil swapchain frames")
        finally:
            ctx.close()
            window.close()
