"""Class 4, numbers: numpy integers of every width at every size, offset, count and index
argument are normalised to Python ints before any arithmetic; bools, floats, strings, None
(where None is not a default), negative and huge values are refused with an EngineError; a
refused call changes nothing (neighbouring buffers' bytes are checked)."""

from case_snippets import INT_TYPES, NEIGHBOURS, NOT_INTEGERS, RIG, setup
from hostile_harness import Case

# a value of each width that fits it and is not a multiple of the buffer alignment
FIT = {"int8": 100, "int16": 1000, "int32": 3000, "int64": 3000, "uint8": 200,
       "uint16": 60000, "uint32": 3000, "uint64": 3000}
SIGNED = ("int8", "int16", "int32", "int64")

CASES: list[Case] = []

for t in INT_TYPES:
    n = FIT[t]
    for strategy in ("H", "D"):
        CASES.append(Case(4, f"create-size-np-{t}-{strategy.lower()}", setup(NEIGHBOURS, f"""
            cfg = BufferConfig("x", np.{t}({n}), {strategy})
            check(type(cfg.size) is int and cfg.size == {n}, "BufferConfig keeps a numpy size")
            x = m.create_buffer(cfg)
            check(type(x.size) is int and type(x.capacity) is int, "numpy size reached buffer")
            check(x.size == {n} and x.capacity >= {n}, f"capacity {{x.capacity}} < {n}")
            pattern = bytes((i * 7 + 3) & 255 for i in range({n}))
            m.update_buffer(x, pattern)
            check(m.read_buffer(x) == pattern, "round trip")
            with raises(OutOfBoundsError):
                m.update_buffer(x, bytes({n} + 1))
            still_fine("after a np.{t} size")
        """), wrong_data=True))

    CASES.append(Case(4, f"update-offset-np-{t}", setup(NEIGHBOURS, f"""
        x = m.create_buffer(BufferConfig("x", 256, H))
        m.update_buffer(x, b"abcd", offset=np.{t}(100))
        check(m.read_buffer(x, 96, 12) == bytes(4) + b"abcd" + bytes(4), "offset write")
        y = m.create_buffer(BufferConfig("y", 256, D))
        m.update_buffer(y, b"wxyz", offset=np.{t}(120))
        check(m.read_buffer(y, 120, 4) == b"wxyz", "staged offset write")
        with raises(OutOfBoundsError):
            m.update_buffer(x, bytes(200), offset=np.{t}(100))
        still_fine("after np.{t} offsets")
    """), wrong_data=True))

    CASES.append(Case(4, f"read-offset-size-count-np-{t}", setup(NEIGHBOURS, f"""
        data = m.read_buffer(left, np.{t}(10), np.{t}(20))
        check(data == bytes([0xA5]) * 20, "read_buffer with numpy offset and size")
        arr = m.read_array(dev, np.uint8, np.{t}(8), np.{t}(16))
        check(arr.tolist() == [0x3C] * 16, "read_array with numpy offset and count")
        small = m.create_buffer(BufferConfig("small", 64, H))
        with raises(OutOfBoundsError):
            m.read_buffer(small, np.{t}(50), np.{t}(20))
        with raises(OutOfBoundsError):
            m.read_buffer(small, np.{t}(65))
        with raises(OutOfBoundsError):
            m.read_array(small, np.uint32, np.{t}(4), np.{t}(16))
        still_fine("after np.{t} reads")
    """), wrong_data=True))

    CASES.append(Case(4, f"resize-np-{t}", setup(NEIGHBOURS, f"""
        x = m.create_buffer(BufferConfig("x", 64, H))
        m.update_buffer(x, bytes(range(64)))
        m.resize_buffer(x, np.{t}({n}))
        check(type(x.size) is int and x.size == {n} and x.generation == 2, "resized")
        check(m.read_buffer(x, 0, 64) == bytes(range(64)), "kept bytes")
        m.update_buffer(x, bytes([9]) * {n})
        still_fine("after a np.{t} resize")
    """), wrong_data=True))

    CASES.append(Case(4, f"frame-indices-np-{t}", setup(NEIGHBOURS, f"""
        x = m.create_buffer(BufferConfig("x", 64, D), np.{t}(0))
        m.update_buffer(x, bytes(64), np.{t}(0))
        for frame in range(5):
            slot = np.{t}(frame % 3)
            check(m.begin_frame(slot) == frame, "frame number")
            m.update_buffer(x, bytes([frame]) * 64, slot)
            m.write_when_slot_begins(left, bytes([0xA5]) * 4, np.{t}((frame + 1) % 3),
                                     offset=np.{t}(4))
            m.end_frame()
        check(m.read_buffer(x) == bytes([4]) * 64, "last frame's write")
        with raises(InvalidFrameIndexError):
            m.begin_frame(np.{t}(3))
        s = BufferSet(m, np.{t}(64), name="s")
        check(type(s.size) is int and s.size == 64, "BufferSet size")
        s.update(bytes([1]) * 64, np.{t}(2))
        check(s.get_buffer(np.{t}(2)) is s.buffers[2], "get_buffer")
        check(m.read_buffer(s.buffers[2]) == bytes([1]) * 64, "BufferSet.update slot")
        with raises(InvalidFrameIndexError):
            s.update(bytes(64), np.{t}(3))
        still_fine("after np.{t} frame indices")
    """), wrong_data=True))

    CASES.append(Case(4, f"manager-args-np-{t}", setup(NEIGHBOURS, f"""
        other = BufferManager(ctx, frames_in_flight=np.{t}(2), staging_bytes=np.{t}(100))
        check(type(other.frames_in_flight) is int and other.frames_in_flight == 2, "frames")
        b = other.create_buffer(BufferConfig("big", 5000, D))
        other.update_buffer(b, bytes([7]) * 5000)  # larger than the ring: it grows
        check(other.read_buffer(b) == bytes([7]) * 5000, "staged through a grown ring")
        other.close()
        binder = ResourceBinder(ctx, frames_in_flight=np.{t}(3))
        check(type(binder.frames_in_flight) is int, "binder frames")
        binder.close()
        still_fine("after np.{t} manager arguments")
    """), wrong_data=True))

for t in SIGNED:
    CASES.append(Case(4, f"negative-np-{t}", setup(NEIGHBOURS, f"""
        with raises(InvalidSizeError):
            m.create_buffer(BufferConfig("neg", np.{t}(-100), H))
        with raises(InvalidOffsetError):
            m.update_buffer(left, b"zz", offset=np.{t}(-1))
        with raises(InvalidOffsetError):
            m.read_buffer(left, np.{t}(-4))
        with raises(InvalidSizeError):
            m.read_buffer(left, 0, np.{t}(-4))
        with raises(InvalidSizeError):
            m.read_array(left, np.uint8, 0, np.{t}(-4))
        with raises(InvalidSizeError):
            m.resize_buffer(left, np.{t}(-64))
        with raises(InvalidFrameIndexError):
            m.begin_frame(np.{t}(-1))
        with raises(InvalidFrameIndexError):
            BufferManager(ctx, frames_in_flight=np.{t}(-3))
        with raises(InvalidSizeError):
            BufferManager(ctx, staging_bytes=np.{t}(-1))
        with raises(InvalidSizeError):
            BufferSet(m, np.{t}(-16), name="neg")
        mx = m.create_buffer(BufferConfig("max", np.{t}(min(int(np.iinfo(np.{t}).max), 70000)),
                                          H))
        m.update_buffer(mx, bytes(mx.size))
        still_fine("after negative np.{t}")
    """), wrong_data=True))

HUGE = ("2**63", "2**64", "np.uint64(2**64 - 1)", "np.int64(2**63 - 1)", "10**30")
for i, v in enumerate(HUGE):
    CASES.append(Case(4, f"huge-{i}", setup(NEIGHBOURS, f"""
        value = {v}
        with raises(EngineError):
            m.create_buffer(BufferConfig("huge", value, H))
        with raises(EngineError):
            m.create_buffer(BufferConfig("huge", value, D))
        with raises(EngineError):
            m.update_buffer(left, b"x", offset=value)
        with raises(EngineError):
            m.update_buffer(dev, b"x", offset=value)
        with raises(EngineError):
            m.read_buffer(left, value)
        with raises(EngineError):
            m.read_buffer(left, 0, value)
        with raises(EngineError):
            m.read_array(left, np.float64, 0, value)
        with raises(EngineError):
            m.resize_buffer(right, value)
        with raises(EngineError):
            left.descriptor_info(value)
        with raises(InvalidFrameIndexError):
            m.begin_frame(value)
        with raises(EngineError):
            BufferManager(ctx, staging_bytes=value)
        still_fine("after {v}")
    """), wrong_data=True))

# every non-integer at every buffer-manager size / offset / index argument
SITES = {
    "create-size": ("InvalidSizeError", "m.create_buffer(BufferConfig('bad', V, H))"),
    "update-offset": ("InvalidOffsetError", "m.update_buffer(left, b'zz', offset=V)"),
    "update-frame-index": ("InvalidFrameIndexError", "m.update_buffer(left, b'zz', V)"),
    "create-frame-index": ("InvalidFrameIndexError",
                           "m.create_buffer(BufferConfig('bad', 8, H), V)"),
    "read-offset": ("InvalidOffsetError", "m.read_buffer(left, V)"),
    "read-size": ("InvalidSizeError", "m.read_buffer(left, 0, V)"),
    "read-array-count": ("InvalidSizeError", "m.read_array(left, np.uint8, 0, V)"),
    "resize": ("InvalidSizeError", "m.resize_buffer(right, V)"),
    "begin-frame": ("InvalidFrameIndexError", "m.begin_frame(V)"),
    "slot-begins-index": ("InvalidFrameIndexError", "m.write_when_slot_begins(left, b'zz', V)"),
    "slot-begins-offset": ("InvalidOffsetError",
                           "m.write_when_slot_begins(left, b'zz', 1, offset=V)"),
    "frames-in-flight": ("InvalidFrameIndexError", "BufferManager(ctx, frames_in_flight=V)"),
    "staging-bytes": ("InvalidSizeError", "BufferManager(ctx, staging_bytes=V)"),
    "bufferset-slot": ("InvalidFrameIndexError", "bset.update(bytes(16), V)"),
    "bufferset-get": ("InvalidFrameIndexError", "bset.get_buffer(V)"),
    "descriptor-info": ("InvalidOffsetError", "left.descriptor_info(V)"),
    "descriptor-range": ("InvalidSizeError", "left.descriptor_info(0, V)"),
    "binder-frames": ("InvalidFrameIndexError", "ResourceBinder(ctx, frames_in_flight=V)"),
    "priority-order": ("InvalidPriorityError", "priority(Phase.SIMULATE, V)"),
}
for site, (error, call) in SITES.items():
    bad = [v for v in NOT_INTEGERS if not (site == "bufferset-slot" and v in ("'8'", "b'8'"))]
    values = ", ".join(bad)
    extra = "" if site not in ("create-size", "read-offset", "resize", "frames-in-flight",
                               "staging-bytes", "descriptor-info") else ", None"
    CASES.append(Case(4, f"not-integer-{site}", setup(NEIGHBOURS, f"""
        bset = BufferSet(m, 16, name="bset")
        for V in ({values}{extra}):
            with raises({error}):
                {call}
        check(m.frame_number == -1, "a refused call started a frame")
        still_fine("after non-integers at {site}")
    """), wrong_data=True))

for t in INT_TYPES:
    CASES.append(Case(4, f"dispatch-np-{t}", setup(RIG, f"""
        dispatch_ok("before")
        m.begin_frame()
        binder.update_frame(pid, np.{t}(m.frame_index))
        binder.update_all(np.{t}(m.frame_index))
        check(binder.descriptor_sets(pid, np.{t}(0)) is not None, "descriptor_sets")
        check(pipe.groups_for(np.{t}(100)) == (2, 1, 1), "groups_for")
        cmd = cmds.begin()
        pipe.record(cmd, np.{t}(m.frame_index), (np.{t}(1), np.{t}(1), np.{t}(1)),
                    push_constants=np.array([0.5], np.float32))
        pipe.record(cmd, np.{t}(m.frame_index), np.{t}(1),
                    push_constants=np.array([0.5], np.float32))
        cmds.submit(cmd)
        m.end_frame()
        binder.bind_storage_buffer_named(pid, "inBuf", ins, offset=np.{t}(0),
                                         range=np.{t}(64), array_element=np.{t}(0))
        binder.unbind(pid, "inBuf", array_element=np.{t}(0))
        binder.bind_storage_buffer_named(pid, "inBuf", ins)
        dispatch_ok("after np.{t} dispatch arguments")
        still_fine("after np.{t} dispatch arguments")
    """), wrong_data=True))

CASES.append(Case(4, "dispatch-bad-group-counts", setup(RIG, """
    limit = pipe.max_group_count
    m.begin_frame()
    binder.update_frame(pid, m.frame_index)
    cmd = cmds.begin()
    for groups in (-1, (1, -1, 1), 1.5, (1.0, 1, 1), True, (1, 1), "4", None,
                   (limit[0] + 1, 1, 1), (1, limit[1] + 1, 1), (1, 1, limit[2] + 1),
                   np.int64(-2), np.float32(2), 2**64):
        with raises(InvalidGroupCountError):
            pipe.record(cmd, m.frame_index, groups, push_constants=np.array([0.5], np.float32))
    for x in (-1, 1.5, True, None, "64"):
        with raises(InvalidGroupCountError):
            pipe.groups_for(x)
    with raises(InvalidFrameIndexError):
        pipe.record(cmd, 5, 1)
    with raises(InvalidFrameIndexError):
        pipe.record(cmd, True, 1)
    for bad in (2.0, True, np.bool_(False), -1, 3, "0"):
        with raises(InvalidFrameIndexError):
            binder.update_frame(pid, bad)
        with raises(InvalidFrameIndexError):
            binder.update_all(bad)
        with raises(InvalidFrameIndexError):
            binder.descriptor_set_array(pid, bad)
    for bad in (1.5, True, -16, "0"):
        with raises(InvalidOffsetError):
            binder.bind_storage_buffer_named(pid, "inBuf", ins, offset=bad)
        with raises(BindingSizeError):
            binder.bind_storage_buffer_named(pid, "inBuf", ins, range=bad)
        with raises(BindingCountError):
            binder.bind_storage_buffer_named(pid, "inBuf", ins, array_element=bad)
    pipe.record(cmd, m.frame_index, 1, push_constants=np.array([0.5], np.float32))
    cmds.submit(cmd)
    m.end_frame()
    dispatch_ok("after refused group counts")
"""), wrong_data=True))
