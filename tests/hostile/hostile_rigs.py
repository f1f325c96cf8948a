"""Snippets shared by the hostile case modules (prepended to a case's code, so every case stays
one self-contained program that uses public names only)."""

import textwrap

COMPUTE = '''
import threading, time, sys
from engine.shaders.compiler import compile_glsl_source
from engine.device.vk import ffi, lib, vk

_COPY_SRC = {
    "uniform": "layout(std140, set = 0, binding = 0) uniform Src { uvec4 v; } src;",
    "storage": "layout(std430, set = 0, binding = 0) readonly buffer Src { uvec4 v; } src;",
}
_COPY_BODY = """
layout(std430, set = 0, binding = 1) buffer Dst { uvec4 v; } dst;
layout(push_constant) uniform Push { uint spin; } pc;
void main() {
    uvec4 acc = uvec4(0);
    for (uint i = 0u; i < pc.spin; ++i) { acc += uvec4(i); }
    if (gl_GlobalInvocationID.x == 0u) { dst.v = src.v + acc * 0u; }
}
"""

class Rig:
    """A compute dispatch that copies the uvec4 of Src (uniform or storage) into Dst."""

    def __init__(self, m, kind="uniform", strategy=BufferStrategy.HOST_VISIBLE, binder=None,
                 src=None, dst=None, commands=None):
        self.m = m
        self.binder = binder or ResourceBinder(ctx, frames_in_flight=m.frames_in_flight)
        code = compile_glsl_source("#version 450\\nlayout(local_size_x = 64) in;\\n"
                                   + _COPY_SRC[kind] + _COPY_BODY, "comp",
                                   name=kind + "_copy.comp")
        self.pid = self.binder.register_pipeline(kind + "_copy", code)
        self.pipe = ComputePipeline(self.binder, self.pid)
        self.cmds = commands or FrameCommands(m)
        usage = BufferUsage.UNIFORM if kind == "uniform" else BufferUsage.STORAGE
        self.src = src if src is not None else m.create_buffer(
            BufferConfig("src", 16, strategy, usage))
        self.dst = dst if dst is not None else m.create_buffer(
            BufferConfig("dst", 16, BufferStrategy.DEVICE_LOCAL, BufferUsage.STORAGE))
        bind = (self.binder.bind_uniform_buffer_named if kind == "uniform"
                else self.binder.bind_storage_buffer_named)
        bind(self.pid, "Src", self.src)
        self.binder.bind_storage_buffer_named(self.pid, "Dst", self.dst)

    def dispatch(self, spin=0, groups=1, manager=None):
        m = manager or self.m
        self.binder.update_frame(self.pid, m.frame_index)
        m.submit_uploads()
        cmd = self.cmds.begin()
        self.pipe.record(cmd, m.frame_index, groups,
                         push_constants=np.array([spin], np.uint32))
        self.cmds.submit(cmd)

    def result(self, manager=None):
        return (manager or self.m).read_array(self.dst, np.uint32).tolist()

def u4(*values):
    return np.array(values, np.uint32)

def in_thread(fn, timeout=120.0):
    """Run ``fn`` in another thread; a raw exception there fails the case, an EngineError is
    returned (policy: owner thread), a value is returned as ("ok", value)."""
    box = {}
    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: B036
            box["error"] = exc
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    check(not t.is_alive(), "the thread did not finish within the timeout")
    err = box.get("error")
    if err is not None:
        if not isinstance(err, EngineError):
            raise err  # a raw exception from the thread: the case reports raw_exception
        return ("error", err)
    return ("ok", box.get("value"))

def either(fn):
    """A call that may work or raise an EngineError (never anything else)."""
    try:
        return ("ok", fn())
    except EngineError as exc:
        return ("error", exc)

def closed_call(label, fn):
    """``fn()`` must raise an EngineError (a raw exception propagates as one)."""
    try:
        fn()
    except EngineError:
        return
    raise CaseFailed(label + ": no EngineError was raised")

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
'''


def rigged(body: str) -> str:
    """A case body with the shared helpers above in front of it."""
    return COMPUTE + textwrap.dedent(body)
