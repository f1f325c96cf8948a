"""UniformRing and dynamic offsets, hostile: numpy-scalar capacities and offsets, values of the
wrong dtype or size, pushes outside frames, after close or from another thread, ring buffers
resized or destroyed behind the ring's back, tampered fields, and dynamic offsets that are out
of range, misaligned or from another frame passed to a dispatch.

Expected everywhere: an EngineError, nothing written outside the ring's buffers (the
neighbouring buffers and the blocks already pushed keep their bytes), no validation message,
no leak; a normal frame (push, bind by dynamic offset, dispatch, read back) still works after.
"""

import textwrap

from case_snippets import INT_TYPES, NEIGHBOURS, NOT_INTEGERS, setup
from cases_frames import INTERRUPT
from hostile_harness import Case

RING = NEIGHBOURS + '''
from pathlib import Path
from engine.shaders.compiler import compile_glsl
OBJ = np.dtype([("color", "<f4", 4), ("id", "<u4"), ("scale", "<f4")])
binder = ResourceBinder(ctx)
pid = binder.register_pipeline("copy", [compile_glsl(
    Path("tests/shaders/ring/copy_block.comp"))], dynamic={"Object"})
pipe = ComputePipeline(binder, pid)
cmds = FrameCommands(m)
ring = UniformRing(m, OBJ, 16, name="objs")
outs = m.create_buffer(BufferConfig("out", 32 * 16, D, BufferUsage.STORAGE))
binder.bind_ring_named(pid, "Object", ring)
binder.bind_storage_buffer_named(pid, "Out", outs)

def blocks(n, k):
    arr = np.zeros(n, OBJ)
    arr["color"] = np.arange(4 * n, dtype=np.float32).reshape(n, 4) + k
    arr["id"] = np.arange(n) + 1000 * k
    arr["scale"] = k
    return arr

def record(cmd, offsets):
    for i, off in enumerate(offsets):
        pipe.record(cmd, m.frame_index, 1, push_constants=np.array([i], np.uint32),
                    dynamic_offsets=[off])

def seen(n):
    words = m.read_array(outs, np.uint32, count=8 * n).reshape(n, 8)
    check((words[:, 6] == 0xC0FFEE).all(), "the shader ran for every dispatch")
    return np.ascontiguousarray(words[:, :6]).view(OBJ).reshape(n)

def ffi_null():
    from engine.device.vk import ffi
    return ffi.cast("VkCommandBuffer", 0)

def frame_ok(where, r=None, k=7):
    r = ring if r is None else r
    m.begin_frame()
    data = blocks(5, k)
    offsets = r.push_many(data)
    binder.update_all(m.frame_index)
    cmd = cmds.begin()
    record(cmd, offsets[::-1])
    cmds.submit(cmd)
    m.end_frame()
    check(seen(5).tobytes() == data[::-1].tobytes(), f"{where}: the GPU read the wrong blocks")
    still_fine(where)
'''


def ring_case(cls, name, code, **kw):
    return Case(cls, f"ring-{name}", setup(RING, code), wrong_data=True, **kw)


CASES: list[Case] = []

CASES.append(ring_case(4, "capacity-np-every-width", f"""
    for t in {INT_TYPES!r}:
        r = UniformRing(m, OBJ, getattr(np, t)(5), name="np")
        check(type(r.capacity) is int and r.capacity == 5, f"{{t}}: capacity normalised to int")
        check(all(type(b.size) is int for b in r.buffers), f"{{t}}: buffer sizes are ints")
        m.begin_frame()
        offs = r.push_many(blocks(4, 1))
        check(offs.dtype == np.uint32 and offs.tolist() == [i * r.stride for i in range(4)],
              f"{{t}}: offsets")
        r.push(blocks(1, 2)[0])
        with raises(RingFullError, match="larger capacity"):
            r.push(blocks(1, 3)[0])
        m.end_frame()
        r.close()
    frame_ok("after numpy capacities")
"""))

CASES.append(ring_case(4, "dynamic-offset-np-every-width", f"""
    for t in {INT_TYPES!r}:
        kind = getattr(np, t)
        m.begin_frame()
        offs = ring.push_many(blocks(3, 4))
        binder.update_all(m.frame_index)
        cmd = cmds.begin()
        value = kind(ring.stride) if np.iinfo(kind).max >= ring.stride else ring.stride
        pipe.record(cmd, m.frame_index, 1, push_constants=np.array([0], np.uint32),
                    dynamic_offsets=[value])
        if np.iinfo(kind).min < 0:
            with raises(DynamicOffsetError, match="multiple"):
                pipe.record(cmd, m.frame_index, 1, push_constants=np.array([0], np.uint32),
                            dynamic_offsets=[kind(-16)])
        cmds.submit(cmd)
        m.end_frame()
        check(seen(1).tobytes() == blocks(3, 4)[1:2].tobytes(), f"{{t}} offset chose block 1")
    frame_ok("after numpy offsets")
"""))

CASES.append(ring_case(4, "capacity-and-size-not-integers", f"""
    for bad in ({", ".join(NOT_INTEGERS)}, None, -1, 0, 1 << 80, np.int64(-5)):
        with raises(EngineError):
            UniformRing(m, OBJ, bad, name="bad")
    for bad in (True, 1.5, np.float32(8), None, 0, -4, object(), "not a dtype",
                np.dtype(object), np.dtype((np.float32, 4)), 1 << 80):
        with raises(EngineError):
            UniformRing(m, bad, 4, name="bad")
    with raises(EngineError):
        UniformRing(m, OBJ, 4, name="")
    with raises(EngineError):
        UniformRing(m, OBJ, 4, name=None)
    with raises(EngineError):
        UniformRing("m", OBJ, 4, name="x")
    with raises(EngineError):
        UniformRing(m, OBJ, 4, name="x", storage=np.float32(1))
    check(len(m.live_buffers()) == 3 + 3 + 1, "nothing was created by refused calls")
    frame_ok("after refused rings")
"""))

CASES.append(ring_case(4, "dynamic-offsets-out-of-range", f"""
    m.begin_frame()
    offs = ring.push_many(blocks(4, 5))
    binder.update_all(m.frame_index)
    cmd = cmds.begin()
    push = np.array([0], np.uint32)
    size = ring.buffer().size
    for bad in (4 * ring.stride, 15 * ring.stride, size, size + ring.stride, (1 << 32),
                (1 << 32) - ring.stride, 1 << 64, 1 << 200, -ring.stride, ring.stride + 1,
                np.uint64((1 << 64) - 1), np.int64(-(1 << 63))):
        with raises(DynamicOffsetError):
            pipe.record(cmd, m.frame_index, 1, push_constants=push, dynamic_offsets=[bad])
    for bad in ({", ".join(NOT_INTEGERS)}, None):
        with raises(DynamicOffsetError):
            pipe.record(cmd, m.frame_index, 1, push_constants=push, dynamic_offsets=[bad])
    for bad in ([], [0, 0], 0, "0", b"0", {{0: 1}}, np.zeros((2,), np.uint32),
                np.array([0.0]), iter([0])):
        with raises(DynamicOffsetError):
            pipe.record(cmd, m.frame_index, 1, push_constants=push, dynamic_offsets=bad)
    with raises(DynamicOffsetError, match="slot"):
        pipe.record(cmd, (m.frame_index + 1) % 3, 1, push_constants=push,
                    dynamic_offsets=[0])
    for bad in (4 * ring.stride, -1, 1 << 64, 1.0, None):
        with raises(DynamicOffsetError):
            binder.bind_sets(cmd, pid, m.frame_index, graphics=False, dynamic_offsets=[bad])
    for bad_cmd in (None, 0, "cmd", ffi_null()):
        with raises(EngineError):
            binder.bind_sets(bad_cmd, pid, m.frame_index, graphics=False, dynamic_offsets=[0])
    for bad_slot in (3, -1, 1.0, None, np.uint8(9)):
        with raises(EngineError):
            binder.bind_sets(cmd, pid, bad_slot, graphics=False, dynamic_offsets=[0])
    record(cmd, offs)
    cmds.submit(cmd)
    m.end_frame()
    check(seen(4).tobytes() == blocks(4, 5).tobytes(), "the valid dispatches read their blocks")
    m.begin_frame()  # offsets of the last frame are not blocks of this one
    binder.update_all(m.frame_index)
    cmd = cmds.begin()
    with raises(DynamicOffsetError, match="0 block"):
        pipe.record(cmd, m.frame_index, 1, push_constants=push, dynamic_offsets=[0])
    cmds.submit(cmd)
    m.end_frame()
    frame_ok("after bad offsets")
"""))

CASES.append(ring_case(12, "push-wrong-values", """
    m.begin_frame()
    kept = blocks(2, 9)
    ring.push_many(kept)
    before = m.read_buffer(ring.buffer(), 0, ring.buffer().size)
    other = np.zeros(3, [("color", "<f4", 4), ("id", "<i4"), ("scale", "<f4")])
    for bad in (other[0], other, np.zeros(6, np.float64), np.zeros(24, np.int8), bytes(23),
                bytes(25), bytearray(0), memoryview(bytes(48))[::2], "x" * 24, None, 24, 1.5,
                [0] * 24, np.array([None] * 24, dtype=object), object(), blocks(2, 0),
                np.float32(1), np.zeros((), [("a", "<f8", 3)])):
        with raises(RingDataError):
            ring.push(bad)
    for bad in (other, blocks(4, 0).reshape(2, 2), blocks(2, 0).tolist(), bytes(48), None,
                np.zeros((2, 24), np.uint8), np.zeros(2, np.float32), "blocks",
                np.array([None, None], dtype=object), blocks(1, 0)[0]):
        with raises(RingDataError):
            ring.push_many(bad)
    check(ring.used == 2, "refused pushes took no room")
    check(m.read_buffer(ring.buffer(), 0, ring.buffer().size) == before, "nothing written")
    check(ring.push(bytes(24)) == 2 * ring.stride, "bytes of the block size are accepted")
    check(ring.push(np.zeros(24, np.uint8)) == 3 * ring.stride, "uint8 bytes accepted")
    check(ring.push(blocks(1, 1)) == 4 * ring.stride, "a one-element array is one block")
    m.end_frame()
    frame_ok("after wrong values")
"""))

CASES.append(ring_case(10, "push-outside-frames", """
    with raises(RingFrameError, match="begin_frame"):
        ring.push(blocks(1, 0)[0])
    with raises(RingFrameError):
        ring.push_many(blocks(3, 0))
    check(ring.used == 0, "nothing was pushed before the first frame")
    frame_ok("first frame")
    with raises(RingFrameError):  # between frames: the GPU may read the slot's buffer
        ring.push(blocks(1, 0)[0])
    check(ring.used == 5, "the last frame's count stays between frames")
    frame_ok("after a push between frames", k=8)
"""))

CASES.append(ring_case(1, "use-after-close", """
    frame_ok("before close")
    extra = UniformRing(m, 64, 4, name="extra")
    m.begin_frame()
    extra.push(bytes(64))
    ring.close()  # bound, and last frame's dispatch may still read it
    ring.close()
    with raises(RingClosedError):
        ring.push(blocks(1, 0)[0])
    with raises(RingClosedError):
        ring.push_many(blocks(2, 0))
    with raises(RingClosedError):
        ring.buffer()
    with raises(RingClosedError):
        binder.bind_ring_named(pid, "Object", ring)
    check(ring.buffers == () and ring.closed, "a closed ring holds no buffers")
    with raises(BufferDestroyedError):
        binder.update_all(m.frame_index)
    m.end_frame()
    binder.unbind(pid, "Object")
    fresh = UniformRing(m, OBJ, 16, name="fresh")
    binder.bind_ring_named(pid, "Object", fresh)
    frame_ok("a new ring after close", fresh)
    m.close()
    with raises(RingClosedError, match="BufferManager was closed"):
        fresh.push(blocks(1, 0)[0])
    with raises(RingClosedError):
        extra.push_many(np.zeros((1, 64), np.uint8))
    fresh.close()
    check(fresh.closed, "closing after the manager closed is fine")
"""))

CASES.append(ring_case(1, "context-closed-under-a-ring", """
    frame_ok("before")
    m.begin_frame()
    ring.push_many(blocks(2, 1))
    ctx.close()
    for call in (lambda: ring.push(blocks(1, 0)[0]), lambda: ring.push_many(blocks(1, 0)),
                 lambda: ring.buffer(), lambda: ring.close(),
                 lambda: binder.bind_ring_named(pid, "Object", ring),
                 lambda: pipe.record(None, 0, 1, dynamic_offsets=[0])):
        try:
            call()
        except EngineError:
            pass
    check(ring.closed, "the ring is closed with its manager")
"""))

CASES.append(ring_case(7, "buffers-changed-behind-its-back", """
    frame_ok("before")
    m.begin_frame()
    ring.push_many(blocks(2, 2))
    cmd = cmds.begin()
    binder.update_all(m.frame_index)
    record(cmd, [0, ring.stride])
    cmds.submit(cmd)
    with raises(HostWriteHazardError):  # the dispatch may read block 0
        m.update_buffer(ring.buffer(), bytes(24))
    with raises(HostWriteHazardError):
        m.append_blocks(ring.buffer(), blocks(1, 3), 0, ring.stride)
    ring.push(blocks(1, 3)[0])  # fresh bytes after the submission are fine
    with raises(HostWriteHazardError):
        m.update_buffer(ring.buffer(), bytes(24), offset=2 * ring.stride)
    m.end_frame()
    check(seen(2).tobytes() == blocks(2, 2).tobytes(), "the dispatch read the blocks pushed")
    # a slot's buffer shrunk by hand after blocks were pushed: offsets past its new end are
    # refused at the bind, the blocks it still holds are read
    while True:
        m.begin_frame()
        if m.frame_index == 0:
            break
        m.end_frame()
    kept = blocks(4, 6)
    offs = ring.push_many(kept)
    m.resize_buffer(ring.buffers[0], 2 * ring.stride)
    binder.update_all(m.frame_index)
    cmd = cmds.begin()
    with raises(DynamicOffsetError, match="resized"):
        record(cmd, [offs[3]])
    record(cmd, [offs[1]])
    cmds.submit(cmd)
    m.end_frame()
    check(seen(1).tobytes() == kept[1:2].tobytes(), "the kept block is read after the shrink")
    # pushes past its end are refused, not written
    for _ in range(3):
        m.begin_frame()
        if m.frame_index == 0:
            ring.push_many(blocks(2, 4))
            with raises(OutOfBoundsError):
                ring.push(blocks(1, 5)[0])
            check(ring.used == 2, "the refused push took no room")
        m.end_frame()
    m.resize_buffer(ring.buffers[0], 16 * ring.stride)
    still_fine("after resizes")
    frame_ok("after the buffer grew back")
    m.destroy_buffer(ring.buffers[1])
    for _ in range(3):
        m.begin_frame()
        if m.frame_index == 1:
            with raises(BufferDestroyedError):
                ring.push(blocks(1, 6)[0])
        m.end_frame()
    binder.unbind(pid, "Object")
    ring.close()
    still_fine("after a destroyed ring buffer")
"""))

CASES.append(ring_case(5, "tampered-fields-and-copies", """
    import copy, pickle
    for field, value in (("capacity", 10 ** 9), ("stride", 1), ("block_size", 4),
                         ("dtype", None), ("alignment", 1), ("manager", None),
                         ("frames_in_flight", 1), ("storage", True), ("name", "x")):
        with raises(ReadOnlyFieldError):
            setattr(ring, field, value)
    for fn in (copy.copy, copy.deepcopy, pickle.dumps):
        with raises(NotCopyableError):
            fn(ring)
    check(ring.capacity == 16 and ring.block_size == 24, "fields unchanged")
    frame_ok("after tampering")
"""))

CASES.append(ring_case(2, "push-from-another-thread", """
    import threading
    m.begin_frame()
    errors = []
    def worker():
        for call in (lambda: ring.push(blocks(1, 0)[0]), lambda: ring.push_many(blocks(2, 0)),
                     lambda: ring.push_many(blocks(0, 0)), lambda: ring.close()):
            try:
                call()
                errors.append("no error")
            except WrongThreadError:
                errors.append("ok")
            except BaseException as exc:
                errors.append(type(exc).__name__)
    def offsets():
        try:
            binder.dynamic_offset_array(pid, 0, [0])
            errors.append("no error")
        except WrongThreadError:
            errors.append("ok")
        except BaseException as exc:
            errors.append(type(exc).__name__)
    t = threading.Thread(target=lambda: (worker(), offsets()))
    t.start()
    t.join(120)
    check(errors == ["ok"] * 5, f"other threads are refused: {errors}")
    check(ring.used == 0 and not ring.closed, "nothing changed")
    m.end_frame()
    frame_ok("after another thread")
"""))

CASES.append(ring_case(12, "bind-mismatches", """
    plain = binder.register_pipeline("plain", [compile_glsl(
        Path("tests/shaders/ring/copy_block.comp"))])
    ubo = m.create_buffer(BufferConfig("u", 32, H, BufferUsage.UNIFORM))
    for call, error in (
            (lambda: binder.bind_ring_named(plain, "Object", ring), DynamicBindingError),
            (lambda: binder.bind_uniform_buffer_named(pid, "Object", ubo), DynamicBindingError),
            (lambda: binder.bind_buffer_named(pid, "obj", ubo), DynamicBindingError),
            (lambda: binder.bind_ring_named(pid, "Out", ring), BindingTypeMismatchError),
            (lambda: binder.bind_ring_named(pid, "Nope", ring), UnknownBindingError),
            (lambda: binder.bind_ring_named(pid, "Object", ubo), InvalidDataError),
            (lambda: binder.bind_ring_named(pid, "Object", None), InvalidDataError),
            (lambda: binder.bind_ring_named(pid, "Object", UniformRing(m, 8, 2, name="s")),
             BindingSizeError),
            (lambda: binder.bind_ring_named(pid, "Object", ring, dtype=np.float32),
             LayoutMismatchError),
            (lambda: binder.register_pipeline("d", [compile_glsl(
                Path("tests/shaders/ring/copy_block.comp"))], dynamic="Object"),
             InvalidOptionError),
            (lambda: binder.register_pipeline("d", [compile_glsl(
                Path("tests/shaders/ring/copy_block.comp"))], dynamic=[3]),
             UnknownBindingError),
            (lambda: binder.register_pipeline("d", [compile_glsl(
                Path("tests/shaders/ring/copy_block.comp"))], dynamic=5),
             InvalidOptionError)):
        with raises(error):
            call()
    frame_ok("after refused binds")
"""))

CASES.append(Case(9, "ring-ctrl-c-inside-push", setup(RING, INTERRUPT + textwrap.dedent("""
    big = UniformRing(m, OBJ, 256, name="big")
    m.begin_frame()
    data = blocks(2, 3)
    storm(lambda: big.push_many(data), seed=9401, points=25)
    storm(lambda: big.push(data[0]), seed=9402, points=10)
    n = big.used
    raw = np.frombuffer(m.read_buffer(big.buffer(), 0, n * big.stride), np.uint8)
    rows = np.ascontiguousarray(raw.reshape(n, big.stride)[:, :24]).view(OBJ).reshape(n)
    pairs = [i for i in range(n) if rows[i].tobytes() == data[1].tobytes()]
    check(all(rows[i - 1].tobytes() == data[0].tobytes() for i in pairs),
          "every counted push_many wrote both of its blocks")
    check(all(r.tobytes() in (data[0].tobytes(), data[1].tobytes()) for r in rows),
          "every counted block holds a whole pushed value")
    m.end_frame()
    big.close()
    frame_ok("after Ctrl-C storms")
""")), wrong_data=True))
