"""Snippets shared by the hostile cases of classes 4, 5 and 12 (prepended to a case's code).

``NEIGHBOURS`` makes a manager ``m`` with three patterned buffers (two host-visible, one
device-local) and ``still_fine(where)``, which checks that their bytes are intact and that an
ordinary create / update / read / destroy still works after a refused call.
``RIG`` adds the binder test's compute pipeline (``binder``, ``pid``, ``pipe``, ``cmds``).
"""

NEIGHBOURS = '''
H, D, C = BufferStrategy.HOST_VISIBLE, BufferStrategy.DEVICE_LOCAL, BufferStrategy.HOST_CACHED
m = BufferManager(ctx)
left = m.create_buffer(BufferConfig("left", 256, H))
right = m.create_buffer(BufferConfig("right", 256, H))
dev = m.create_buffer(BufferConfig("dev", 256, D))
m.update_buffer(left, bytes([0xA5]) * 256)
m.update_buffer(right, bytes([0x5A]) * 256)
m.update_buffer(dev, bytes([0x3C]) * 256)

def still_fine(where):
    check(m.read_buffer(left) == bytes([0xA5]) * 256, f"{where}: left neighbour changed")
    check(m.read_buffer(right) == bytes([0x5A]) * 256, f"{where}: right neighbour changed")
    check(m.read_buffer(dev) == bytes([0x3C]) * 256, f"{where}: device-local neighbour changed")
    for strategy in (H, D):
        probe = m.create_buffer(BufferConfig("probe", 100, strategy))
        check(type(probe.size) is int and probe.capacity >= 100, f"{where}: probe sizes")
        m.update_buffer(probe, bytes(range(100)))
        check(m.read_buffer(probe) == bytes(range(100)), f"{where}: probe round trip")
        m.destroy_buffer(probe)
'''

RIG = NEIGHBOURS + '''
from pathlib import Path
from engine.shaders.compiler import compile_glsl
binder = ResourceBinder(ctx)
pid = binder.register_pipeline("scale", [compile_glsl(
    Path("tests/shaders/binder/scale.comp"))])
pipe = ComputePipeline(binder, pid)
cmds = FrameCommands(m)
PARAMS = np.dtype([("scale", "<f4"), ("bias", "<f4"), ("count", "<u4"), ("_pad", "<u4")])
params = m.create_buffer(BufferConfig("params", 16, D, BufferUsage.UNIFORM, PARAMS))
m.update_buffer(params, np.array([(2.0, 1.0, 64, 0)], PARAMS))
ins = m.create_and_upload("in", np.arange(64, dtype=np.float32), usage=BufferUsage.STORAGE)
outs = m.create_buffer(BufferConfig("out", 256, D, BufferUsage.STORAGE))
binder.bind_uniform_buffer_named(pid, "Params", params)
binder.bind_storage_buffer_named(pid, "inBuf", ins)
binder.bind_storage_buffer_named(pid, "OutBuf", outs)

def dispatch_ok(where, add=0.5):
    m.begin_frame()
    binder.update_frame(pid, m.frame_index)
    m.submit_uploads()
    cmd = cmds.begin()
    pipe.record(cmd, m.frame_index, pipe.groups_for(64), push_constants=np.array([add],
                                                                                 np.float32))
    cmds.submit(cmd)
    m.end_frame()
    want = np.arange(64, dtype=np.float32) * 2 + 1 + add
    check(np.array_equal(m.read_array(outs, np.float32), want), f"{where}: dispatch result")
'''

INT_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
"""Every numpy integer width, signed and unsigned."""

NOT_INTEGERS = ("True", "False", "np.bool_(True)", "1.0", "2.5", "np.float32(8)",
                "np.float64(64)", "'8'", "b'8'", "1j", "[8]", "object()")
"""Values that are not integers (as source text): bools, floats, strings, containers."""


def setup(prelude: str, code: str) -> str:
    """``prelude`` followed by the dedented case ``code`` (both at the same indentation)."""
    import textwrap

    return textwrap.dedent(prelude).strip() + "\n" + textwrap.dedent(code).strip() + "\n"
