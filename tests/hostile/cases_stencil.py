"""Hostile cases for stencil targets and state and GPU-read draw counts: numbers (class 4),
lifetimes (class 1), use outside a pass (class 10), raw exceptions and messages (class 12).

Each case draws through a forward :class:`~engine.render.OffscreenTarget` and a Renderer,
frames driven by hand (``begin_frame``, ``submit_uploads``, ``render``, ``end_frame``), and
reads the picture back where it checks bytes.
"""

from __future__ import annotations

import textwrap

from hostile_harness import Case

_RIG = '''
import engine.render as render
from engine.shaders.compiler import compile_glsl_source

RECT_VERT = """#version 450
layout(push_constant) uniform Rect { vec2 center; } rect;
void main() {
    vec2 corner = vec2(gl_VertexIndex & 1, gl_VertexIndex >> 1) * 2.0 - 1.0;
    gl_Position = vec4(rect.center + corner * 0.25, 0.5, 1.0);
}
"""
ROW_VERT = """#version 450
void main() {
    vec2 corner = vec2(gl_VertexIndex & 1, gl_VertexIndex >> 1) * 2.0 - 1.0;
    gl_Position = vec4(vec2(-0.75 + 0.3 * float(gl_InstanceIndex), 0.0) + corner * 0.1,
                       0.5, 1.0);
}
"""
FULL_VERT = """#version 450
void main() {
    vec2 p = vec2((gl_VertexIndex << 1) & 2, gl_VertexIndex & 2);
    gl_Position = vec4(p * 2.0 - 1.0, 0.5, 1.0);
}
"""
WHITE_FRAG = """#version 450
layout(location = 0) out vec4 o;
void main() { o = vec4(1.0); }
"""

class Scene:
    """A forward offscreen target (64 x 48) and its renderer on ``context``."""

    def __init__(self, context=None, stencil=True):
        self.ctx = context or ctx
        self.m = BufferManager(self.ctx)
        self.b = ResourceBinder(self.ctx)
        self.target = render.OffscreenTarget(self.ctx, 64, 48, layout="forward",
                                             stencil=stencil)
        self.ctx.add_close_hook(self.target.destroy)
        self.r = render.Renderer(self.m, self.target)
        self.ctx.add_close_hook(self.r.destroy)

    def pipeline(self, name, vs, fs=WHITE_FRAG, **options):
        return render.DrawPipeline(self.b, self.r, name,
                                   vertex_shader=compile_glsl_source(vs, "vert"),
                                   fragment_shader=compile_glsl_source(fs, "frag"),
                                   phase="forward", depth_test=False, **options)

    def frame(self, shot=False):
        self.m.begin_frame()
        try:
            self.m.submit_uploads()
            if shot:
                self.r.request_screenshot()
            self.r.render(self.m.frame_index)
        finally:
            self.m.end_frame()
        return self.r.read_screenshot() if shot else None

    def refused(self, record, label):
        """``record(dc)`` as the only pass of one frame must raise an EngineError."""
        name = self.r.add_pass(record, phase="forward", name="refused")
        try:
            self.frame()
        except EngineError:
            return
        finally:
            self.r.remove_pass(name)
        raise CaseFailed(label + ": no EngineError was raised")

def px(img, x, y=0.0):
    h, w = img.shape[:2]
    return img[int((y + 1) / 2 * h), int((x + 1) / 2 * w), :3].tolist()

def row_lit(img):
    return [px(img, -0.75 + 0.3 * i) == [255, 255, 255] for i in range(6)]

def row_args(m):
    plain = np.zeros((6, 4), np.uint32)
    plain[:, 0], plain[:, 1], plain[:, 3] = 4, 1, np.arange(6)
    args = m.create_and_upload("row.args", plain, usage=BufferUsage.INDIRECT)
    count = m.create_and_upload("row.count", np.array([3], np.uint32),
                                usage=BufferUsage.INDIRECT)
    return args, count

BAD = [None, True, np.bool_(True), 3.0, np.float32(3), -1, np.int64(-5), 2**70, "3", b"3",
       [3], object()]
'''


def _case(cls: int, name: str, body: str, **options: object) -> Case:
    return Case(cls, name, _RIG + textwrap.dedent(body), **options)  # type: ignore[arg-type]


CASES = [
    _case(4, "stencil-face-numbers", """
        for t in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
            f = render.StencilFace(reference=getattr(np, t)(5), compare_mask=getattr(np, t)(15),
                                   write_mask=getattr(np, t)(0))
            check(type(f.reference) is int and f.reference == 5, f"np.{t} reference")
            check(type(f.compare_mask) is int and type(f.write_mask) is int, f"np.{t} masks")
        for bad in BAD + [256, np.uint64(2**64 - 1), np.int8(-1)]:
            for option in ("reference", "compare_mask", "write_mask"):
                with raises(InvalidStencilStateError):
                    render.StencilFace(**{option: bad})
        for bad in BAD + ["KEEP", "replace ", ""]:
            for option in ("pass_op", "fail_op", "depth_fail_op", "compare"):
                with raises(InvalidStencilStateError):
                    render.StencilFace(**{option: bad})
    """),
    _case(12, "stencil-pipeline-and-target-options", """
        s = Scene()
        for bad in BAD[1:] + [(render.StencilFace(),), "replace", (render.StencilFace(), None)]:
            with raises(InvalidStencilStateError):
                s.pipeline("bad", FULL_VERT, stencil=bad)
        for bad in [None, 1, "no", (True, True), [np.bool_(True), 0], object()]:
            with raises(InvalidOptionError):
                s.pipeline("bad", FULL_VERT, color_write=bad)
        for bad in [None, 1, "yes", 1.0, object()]:
            with raises(InvalidOptionError):
                render.OffscreenTarget(ctx, 8, 8, layout="forward", stencil=bad)
        with raises(StencilUnavailableError):
            render.OffscreenTarget(ctx, 8, 8, layout="deferred", stencil=np.bool_(True))
        t = render.OffscreenTarget(ctx, 8, 8, layout="forward", stencil=np.bool_(True))
        check(t.has_stencil, "np.bool_(True) is a flag")
        t.destroy()
        plain = Scene(stencil=False)
        with raises(StencilUnavailableError):
            plain.pipeline("no-aspect", FULL_VERT, stencil=render.StencilFace())
        check(s.b.pipeline_ids() == [] and plain.b.pipeline_ids() == [],
              "refused pipelines leave nothing registered")
    """),
    _case(4, "stencil-reference-hostile-values", """
        s = Scene()
        mark = s.pipeline("mark", RECT_VERT, topology="triangle_strip", color_write=False,
                          stencil=render.StencilFace(pass_op="replace", reference=1))
        fill = s.pipeline("fill", FULL_VERT,
                          stencil=render.StencilFace(compare="equal", reference=9,
                                                     write_mask=0))
        for bad in BAD + [256, np.uint16(256)]:
            s.refused(lambda dc, b=bad: (dc.bind_pipeline(mark), dc.set_stencil_reference(b)),
                      f"reference {bad!r}")
        for bad in BAD + ["FRONT", "front_and_back", ""]:
            s.refused(lambda dc, b=bad: (dc.bind_pipeline(mark),
                                         dc.set_stencil_reference(1, face=b)), f"face {bad!r}")
        def record(dc):
            dc.bind_pipeline(mark)
            dc.set_stencil_reference(np.uint8(9))
            dc.push_constants("Rect", {"center": (0.5, 0.0)})
            dc.draw(4)
            dc.bind_pipeline(fill)
            dc.draw(3)
        s.r.add_pass(record, phase="forward", name="draw")
        img = s.frame(shot=True)
        check(px(img, 0.5) == [255, 255, 255], f"marked 9, tested EQUAL 9: {px(img, 0.5)}")
        check(px(img, -0.5) == [0, 0, 0] and px(img, 0.0) == [0, 0, 0], "only the square")
    """, wrong_data=True),
    _case(10, "stencil-and-count-calls-outside-their-pass", """
        s = Scene()
        pipe = s.pipeline("mark", RECT_VERT, topology="triangle_strip",
                          stencil=render.StencilFace(pass_op="replace", reference=1))
        args, count = row_args(s.m)
        kept = []
        s.r.add_pass(lambda dc: kept.append(dc), phase="compute", name="keep")
        s.r.add_pass(lambda dc: (dc.bind_pipeline(pipe),
                                 dc.push_constants("Rect", {"center": (0.0, 0.0)}),
                                 dc.draw(4)), phase="forward", name="draw")
        s.frame()
        dc = kept[0]
        with raises(DrawStateError):
            dc.set_stencil_reference(1)
        with raises(DrawStateError):
            dc.draw_indirect_count(args, count, 6)
        s.r.remove_pass("keep")
        def in_compute(dc):
            with raises(DrawStateError):
                dc.set_stencil_reference(1)      # no pipeline in the compute phase
            with raises(DrawStateError):
                dc.draw_indirect_count(args, count, 6)
        s.r.add_pass(in_compute, phase="compute", name="compute")
        s.frame()
        s.frame()
    """),
    _case(4, "draw-count-hostile-arguments", """
        s = Scene(stencil=False)
        row = s.pipeline("row", ROW_VERT, topology="triangle_strip")
        args, count = row_args(s.m)
        check(s.r.draw_context.draw_indirect_count_supported, "lavapipe has drawIndirectCount")
        for bad in BAD:
            s.refused(lambda dc, b=bad: (dc.bind_pipeline(row),
                                         dc.draw_indirect_count(b, count, 6)), f"buffer {bad!r}")
            s.refused(lambda dc, b=bad: (dc.bind_pipeline(row),
                                         dc.draw_indirect_count(args, b, 6)), f"count {bad!r}")
            s.refused(lambda dc, b=bad: (dc.bind_pipeline(row),
                                         dc.draw_indirect_count(args, count, b)), f"max {bad!r}")
            for option in ("offset", "count_offset", "stride"):
                if bad is None and option == "stride":
                    continue
                s.refused(lambda dc, b=bad, o=option: (dc.bind_pipeline(row),
                          dc.draw_indirect_count(args, count, 6, **{o: b})), f"{option} {bad!r}")
        for n in (7, 2**32, 2**64):
            s.refused(lambda dc, n=n: (dc.bind_pipeline(row), dc.draw_indirect_count(
                args, count, n)), f"max_draw_count {n} past the 6 records")
        s.refused(lambda dc: (dc.bind_pipeline(row), dc.draw_indirect_count(
            args, count, 1, offset=np.uint64(96))), "offset at the end")
        s.refused(lambda dc: (dc.bind_pipeline(row), dc.draw_indirect_count(
            args, count, 1, count_offset=np.int16(4))), "count past its 4 bytes")
        s.refused(lambda dc: (dc.bind_pipeline(row), dc.draw_indexed_indirect_count(
            args, count, 1)), "no index buffer")
        s.r.add_pass(lambda dc: (dc.bind_pipeline(row), dc.draw_indirect_count(
            args, count, np.uint8(6), offset=np.int32(0), count_offset=np.uint64(0),
            stride=np.int16(16))), phase="forward", name="ok")
        img = s.frame(shot=True)
        check(row_lit(img) == [True] * 3 + [False] * 3, f"3 of 6 drawn: {row_lit(img)}")
    """, wrong_data=True),
    _case(1, "draw-count-buffers-destroyed-and-replaced", """
        s = Scene(stencil=False)
        row = s.pipeline("row", ROW_VERT, topology="triangle_strip")
        args, count = row_args(s.m)
        s.r.add_pass(lambda dc: (dc.bind_pipeline(row), dc.draw_indirect_count(
            args, count, 6)), phase="forward", name="row")
        check(row_lit(s.frame(shot=True)) == [True] * 3 + [False] * 3, "3 drawn")
        s.m.resize_buffer(count, 64)                     # a new VkBuffer (generation + 1)
        s.m.update_buffer(count, np.array([5], np.uint32))
        check(row_lit(s.frame(shot=True)) == [True] * 5 + [False], "the new buffer's count")
        s.m.destroy_buffer(count)
        with raises(BufferDestroyedError):
            s.frame()
        s.r.remove_pass("row")
        s.m.destroy_buffer(args)
        count2 = s.m.create_and_upload("count2", np.array([1], np.uint32),
                                       usage=BufferUsage.INDIRECT)
        s.refused(lambda dc: (dc.bind_pipeline(row), dc.draw_indirect_count(args, count2, 1)),
                  "destroyed argument buffer")
        other = BufferManager(ctx)
        foreign = other.create_and_upload("foreign", np.array([1], np.uint32),
                                          usage=BufferUsage.INDIRECT)
        s.refused(lambda dc: (dc.bind_pipeline(row), dc.draw_indirect_count(
            count2, foreign, 1)), "foreign count buffer")
        s.frame()
    """, wrong_data=True),
    _case(12, "draw-count-feature-left-off", """
        ctx2 = GraphicsContext.create(validation=True, sync_validation=True,
                                      disable_features=("draw_indirect_count",))
        try:
            check(ctx2.features.draw_indirect_count is False, "the feature is off")
            s = Scene(ctx2, stencil=False)
            row = s.pipeline("row", ROW_VERT, topology="triangle_strip")
            args, count = row_args(s.m)
            name = s.r.add_pass(lambda dc: (dc.bind_pipeline(row), dc.draw_indirect_count(
                args, count, 6)), phase="forward", name="row")
            with raises(DrawIndirectCountUnsupportedError, match=ctx2.device_name):
                s.frame()
            s.r.remove_pass(name)
            s.r.add_pass(lambda dc: (dc.bind_pipeline(row), dc.draw_indirect(args, 0, 2)),
                         phase="forward", name="fallback")
            check(row_lit(s.frame(shot=True)) == [True] * 2 + [False] * 4, "CPU count")
        finally:
            ctx2.close()
        for bad in ("draw_indirect_count", ["warp"], [None], 5, None):
            with raises(InvalidOptionError):
                GraphicsContext.create(validation=False, disable_features=bad)
    """, wrong_data=True),
    _case(1, "stencil-target-resized-and-destroyed", """
        s = Scene()
        fmt = s.target.depth_format
        mark = s.pipeline("mark", RECT_VERT, topology="triangle_strip", color_write=False,
                          stencil=render.StencilFace(pass_op="replace", reference=1))
        fill = s.pipeline("fill", FULL_VERT,
                          stencil=render.StencilFace(compare="equal", reference=1,
                                                     write_mask=0))
        s.r.add_pass(lambda dc: (dc.bind_pipeline(mark),
                                 dc.push_constants("Rect", {"center": (-0.5, 0.0)}),
                                 dc.draw(4), dc.bind_pipeline(fill), dc.draw(3)),
                     phase="forward", name="draw")
        img = s.frame(shot=True)
        check(px(img, -0.5) == [255, 255, 255] and px(img, 0.5) == [0, 0, 0], "masked")
        s.target.resize(np.int64(96), np.uint16(80))
        check(s.target.depth_format == fmt and s.target.has_stencil, "stencil kept")
        img = s.frame(shot=True)
        check(img.shape[:2] == (80, 96), f"resized picture {img.shape}")
        check(px(img, -0.5) == [255, 255, 255] and px(img, 0.5) == [0, 0, 0],
              "masked after the resize")
        s.target.destroy()
        with raises(InvalidOptionError):
            s.pipeline("late", FULL_VERT, stencil=render.StencilFace())
    """, wrong_data=True),
]
