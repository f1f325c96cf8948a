"""Class 12, raw exceptions and messages: bad input anywhere in the public API raises an
EngineError subclass whose message names the call and the fix (never ZeroDivisionError,
ValueError, TypeError, OverflowError or KeyError), and every C-contiguous buffer-protocol
object is accepted as data."""

from case_snippets import NEIGHBOURS, RIG, setup
from hostile_harness import Case

CASES: list[Case] = []


def add(name: str, prelude: str, code: str) -> None:
    CASES.append(Case(12, name, setup(prelude, code), wrong_data=True))


add("read-array-bad-dtypes", NEIGHBOURS, """
    for dtype in (np.dtype([]), "not a dtype", object, np.dtype("O"), 3.5, "V0"):
        with raises(InvalidDataError, match="read_array"):
            m.read_array(left, dtype)
    for count in (1.5, -1, True, "4", np.float32(2)):
        with raises(InvalidSizeError, match="read_array"):
            m.read_array(left, np.float32, 0, count)
    with raises(OutOfBoundsError, match="read_array"):
        m.read_array(left, np.float32, 0, 65)
    check(m.read_array(left, np.uint8, 250).tolist() == [0xA5] * 6, "rest of the buffer")
    still_fine("read_array")
""")

add("read-buffer-past-end-message", NEIGHBOURS, """
    x = m.create_buffer(BufferConfig("buf64", 64, H))
    with raises(OutOfBoundsError, match="offset 100") as _:
        m.read_buffer(x, 100)
    try:
        m.read_buffer(x, 100)
    except OutOfBoundsError as exc:
        check("-36" not in str(exc) and "read_buffer" in str(exc), str(exc))
    check(m.read_buffer(x, 64) == b"", "reading at the end gives nothing")
    still_fine("read past the end")
""")

add("manager-constructor-arguments", NEIGHBOURS, """
    for bad in (None, "ctx", 3, m):
        with raises(InvalidOptionError, match="BufferManager"):
            BufferManager(bad)
    for kw, err in ((dict(discrete_like="no"), InvalidOptionError),
                    (dict(discrete_like=1), InvalidOptionError),
                    (dict(hazard_checks="yes"), InvalidOptionError),
                    (dict(hazard_checks=0), InvalidOptionError),
                    (dict(staging_bytes=0), InvalidSizeError),
                    (dict(staging_bytes=-1), InvalidSizeError),
                    (dict(staging_bytes=2.5), InvalidSizeError),
                    (dict(staging_bytes=2**70), InvalidSizeError),
                    (dict(frames_in_flight=0), InvalidFrameIndexError),
                    (dict(frames_in_flight="3"), InvalidFrameIndexError),
                    (dict(frames_in_flight=3.0), InvalidFrameIndexError)):
        with raises(err, match="BufferManager"):
            BufferManager(ctx, **kw)
    ok = BufferManager(ctx, discrete_like=np.bool_(True), hazard_checks=None)
    check(ok.discrete_like is True, "numpy bool flag")
    ok.close()
    still_fine("BufferManager arguments")
""")

add("frame-commands-after-close", RIG, """
    dispatch_ok("before")
    m.begin_frame()
    cmd = cmds.begin()
    cmds.submit(cmd)
    with raises(FrameStateError, match="FrameCommands.submit"):
        cmds.submit(cmd)  # twice
    for bad in (None, 0, "cmd", object()):
        with raises(FrameStateError):
            cmds.submit(bad)
    m.end_frame()
    with raises(FrameStateError):
        cmds.submit(cmd)  # no frame open
    cmds.close()
    cmds.close()
    m.begin_frame()
    with raises(ManagerClosedError, match="FrameCommands"):
        cmds.begin()
    with raises(ManagerClosedError, match="FrameCommands"):
        cmds.submit(cmd)
    m.end_frame()
    with raises(InvalidOptionError):
        FrameCommands(None)
    cmds = FrameCommands(m)
    dispatch_ok("after a closed FrameCommands")
""")

add("record-bad-command-buffer", RIG, """
    m.begin_frame()
    binder.update_frame(pid, m.frame_index)
    for bad in (None, 0, "cmd", b"", object()):
        with raises(InvalidDataError, match="record"):
            pipe.record(bad, m.frame_index, 1)
    cmd = cmds.begin()
    with raises(InvalidOptionError):
        pipe.record(cmd, m.frame_index, 1, barrier="no")
    pipe.record(cmd, m.frame_index, 1, push_constants=np.array([0.5], np.float32))
    cmds.submit(cmd)
    m.end_frame()
    dispatch_ok("after bad command buffers")
""")

add("record-push-constants", RIG, """
    import array, ctypes
    m.begin_frame()
    binder.update_frame(pid, m.frame_index)
    m.submit_uploads()
    cmd = cmds.begin()
    for bad in ("abcd", 1.5, object(), [1.0], np.array([object()]), b"abc",
                np.zeros(2, np.float32), b"", memoryview(np.zeros(8, np.uint8))[::2]):
        with raises(InvalidDataError, match="push constants"):
            pipe.record(cmd, m.frame_index, 1, push_constants=bad)
    for good in (array.array("f", [0.5]), (ctypes.c_float * 1)(0.5), np.float32(0.5),
                 memoryview(np.array([0.5], np.float32)), np.array([0.5], np.float32).tobytes()):
        pipe.record(cmd, m.frame_index, pipe.groups_for(64), push_constants=good)
    cmds.submit(cmd)
    m.end_frame()
    want = np.arange(64, dtype=np.float32) * 2 + 1.5
    check(np.array_equal(m.read_array(outs, np.float32), want), "push constants arrived")
    dispatch_ok("after push constants")
""")

add("buffer-protocol-data-accepted", NEIGHBOURS, """
    import array, ctypes, mmap
    x = m.create_buffer(BufferConfig("x", 64, H))
    y = m.create_buffer(BufferConfig("y", 64, D))
    a = array.array("I", range(16))
    c = (ctypes.c_uint32 * 16)(*range(16))
    mm = mmap.mmap(-1, 64)
    mm.write(np.arange(16, dtype=np.uint32).tobytes())
    two_d = memoryview(np.arange(16, dtype=np.uint32).reshape(4, 4))
    for data in (a, c, mm, two_d, memoryview(a)):
        for target in (x, y):
            m.update_buffer(target, bytes(64))
            m.update_buffer(target, data)
            check(m.read_array(target, np.uint32).tolist() == list(range(16)),
                  f"{type(data).__name__} into {target.name}")
    z = m.create_and_upload("z", array.array("I", range(16)), usage=BufferUsage.STORAGE)
    check(z.size == 64 and m.read_array(z, np.uint32).tolist() == list(range(16)), "upload")
    s = BufferSet(m, 64, name="s")
    s.update_all(array.array("I", range(16)))
    check(m.read_array(s.buffers[1], np.uint32).tolist() == list(range(16)), "update_all")
    m.write_when_slot_begins(x, (ctypes.c_uint8 * 4)(9, 9, 9, 9), 1)
    mm.close()
    still_fine("buffer-protocol data")
""")

add("not-bytes-like-refused", NEIGHBOURS, """
    import mmap
    mm = mmap.mmap(-1, 64)
    mm.close()
    strided = memoryview(np.arange(32, dtype=np.uint8))[::2]
    for bad in ("text", None, 5, 1.5, [1, 2], {"a": 1}, object(), mm, strided):
        with raises(InvalidDataError, match="update_buffer"):
            m.update_buffer(left, bad)
        with raises(InvalidDataError):
            m.update_buffer(dev, bad)
        with raises(InvalidDataError):
            m.create_and_upload("bad", bad)
    still_fine("non-bytes data")
""")

add("context-create-options", NEIGHBOURS, """
    for kw in (dict(instance_extensions="VK_KHR_surface"), dict(instance_extensions=[5]),
               dict(instance_extensions=b"VK_KHR_surface"), dict(instance_extensions=None),
               dict(instance_extensions=[""]), dict(validation="no"), dict(validation=1),
               dict(sync_validation="off"), dict(device=True), dict(device=1.5),
               dict(device=[0]), dict(app_name=5)):
        with raises(InvalidOptionError, match="GraphicsContext.create"):
            GraphicsContext.create(**kw)
    with raises(EngineError, match="VK_KHR_not_a_thing"):
        GraphicsContext.create(validation=False, instance_extensions=["VK_KHR_not_a_thing"])
    with raises(DeviceNotFoundError):
        GraphicsContext.create(validation=False, device=np.int64(99))
    other = GraphicsContext.create(validation=False, device=np.uint8(0))
    other.close()
    still_fine("context options")
""")

add("bufferset-arguments", NEIGHBOURS, """
    for bad, err in (("not a dtype", InvalidDataError), (1.5, InvalidSizeError),
                     (True, InvalidSizeError), (None, InvalidSizeError), (0, InvalidSizeError),
                     (-4, InvalidSizeError), (np.dtype([]), InvalidDataError)):
        with raises(err):
            BufferSet(m, bad, name="s")
    with raises(InvalidNameError):
        BufferSet(m, 64, name=5)
    with raises(InvalidOptionError):
        BufferSet(None, 64, name="s")
    with raises(InvalidOptionError):
        GlobalUboSet("m", 64)
    check(len(m.live_buffers()) == 3, "a refused BufferSet left buffers behind")
    s = BufferSet(m, np.dtype("<f4"), name="s")
    with raises(InvalidDataError):
        s.update(b"abcd")
    s.update(np.array([1.5], "<f4"))
    still_fine("BufferSet arguments")
""")

add("binder-arguments", RIG, """
    for bad in (None, "ctx", m):
        with raises(InvalidOptionError, match="ResourceBinder"):
            ResourceBinder(bad)
    for bad in (0, 5, 2.0, True):
        with raises(InvalidFrameIndexError):
            ResourceBinder(ctx, frames_in_flight=bad)
    for bad in (5, None, 1.5, "source", [5]):
        with raises(ReflectionError):
            binder.register_pipeline("bad", bad)
    with raises(UnknownPipelineError):
        binder.update_frame("nope", 0)
    with raises(UnknownBindingError):
        binder.bind_storage_buffer_named(pid, 5, ins)
    with raises(InvalidDataError):
        binder.bind_storage_buffer_named(pid, "inBuf", ins, dtype="not a dtype")
    with raises(InvalidDataError):
        binder.bind_storage_buffer_named(pid, "inBuf", "handle")
    dispatch_ok("after bad binder arguments")
""")

add("priority-arguments", NEIGHBOURS, """
    for order in (-1, 100, 1.5, True, "3", None):
        with raises(InvalidPriorityError, match="priority"):
            priority(Phase.SIMULATE, order)
    for phase in ("SIMULATE", 99, None, 1.0):
        with raises(InvalidPriorityError):
            priority(phase)
    check(isinstance(InvalidPriorityError("x"), ValueError), "still a ValueError")
    check(priority(Phase.SIMULATE, np.int8(5)) == priority(Phase.SIMULATE, 5), "numpy order")
    still_fine("priority")
""")

add("descriptor-info-ranges", NEIGHBOURS, """
    check(tuple(left.descriptor_info())[1:] == (0, 256), "default")
    check(tuple(left.descriptor_info(np.uint16(64), np.int64(64)))[1:] == (64, 64), "numpy")
    for off in (-1, 257, 1.5, True):
        with raises(InvalidOffsetError, match="descriptor_info"):
            left.descriptor_info(off)
    for rng in (-1, 257, 2.5, False):
        with raises(InvalidSizeError, match="descriptor_info"):
            left.descriptor_info(0, rng)
    still_fine("descriptor_info")
""")

add("config-bad-fields", NEIGHBOURS, """
    for kw, err in ((dict(name=""), InvalidNameError), (dict(name=5), InvalidNameError),
                    (dict(strategy="nope"), InvalidStrategyError),
                    (dict(usage=0), InvalidUsageError), (dict(usage=1.5), InvalidUsageError),
                    (dict(usage=True), InvalidUsageError),
                    (dict(dtype="not a dtype"), InvalidDataError),
                    (dict(dtype=np.dtype("O")), InvalidDataError)):
        args = dict(name="c", size=64, strategy=H, usage=BufferUsage.STORAGE)
        args.update(kw)
        with raises(err, match="create_buffer"):
            m.create_buffer(BufferConfig(**args))
    with raises(InvalidDataError):
        m.create_buffer("not a config")
    still_fine("config fields")
""")

add("statistics-after-refusals", NEIGHBOURS, """
    import json
    for bad in (np.uint8(0), -1, 2.5):
        with raises(InvalidSizeError):
            m.create_buffer(BufferConfig("bad", bad, H))
    stats = m.statistics()
    check(stats.live_buffers == 3 and stats.buffers_created_total == 3, "counters")
    data = json.loads(stats.to_json())
    check(data["live_bytes"] == 768, "live bytes")
    check("live" in stats.format_table().lower(), "table")
    still_fine("statistics")
""")

add("closed-manager-calls", NEIGHBOURS, """
    other = BufferManager(ctx)
    b = other.create_buffer(BufferConfig("b", 64, H))
    other.close()
    for call in (lambda: other.create_buffer(BufferConfig("c", 64, H)),
                 lambda: other.read_buffer(b), lambda: other.read_array(b, np.float32),
                 lambda: other.resize_buffer(b, 128), lambda: other.destroy_buffer(b),
                 lambda: other.begin_frame(), lambda: other.end_frame()):
        with raises(EngineError):
            call()
    with raises(ForeignBufferError):
        m.update_buffer(b, b"x")
    with raises(ForeignBufferError):
        m.read_array(b)
    still_fine("closed manager")
""")
