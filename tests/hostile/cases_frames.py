"""Classes 7, 8, 9 and 10: hazards within a frame, deferred writes, Ctrl-C, use without frames.

7: a host-visible buffer written, read by a submitted dispatch, then written again in the same
   frame must raise HostWriteHazardError (the dispatch must read the first value).
8: deferred writes (``write_when_slot_begins``, ``BufferSet.update_all``) raise at the call
   exactly as ``update_buffer`` would, and queue nothing when they raise.
9: a Ctrl-C arriving inside the library (a simulated SIGINT, ``_thread.interrupt_main``, at
   the Nth line event of ``sys.settrace``, N from a seeded range) leaves objects usable and
   leaks nothing.
10: without frames, repeated calls keep memory (command buffers, staging, retired buffers)
    bounded.
"""

import textwrap

from hostile_harness import Case
from hostile_rigs import rigged


def case(cls, name, body, **kw):
    return Case(cls, name, rigged(textwrap.dedent(body)), **kw)


# --- class 7 ---------------------------------------------------------------------------------

HAZARD = """
m = BufferManager(ctx{mopts})
r = Rig(m, kind="{kind}", strategy=BufferStrategy.{strategy})
m.begin_frame()
m.update_buffer(r.src, u4(1, 1, 1, 1))
r.dispatch(spin=20000, groups=16)
with raises(HostWriteHazardError):
    m.update_buffer(r.src, u4(2, 2, 2, 2){wopts})
m.end_frame()
check(r.result() == [1, 1, 1, 1], "the dispatch must read the value written before it")
check(m.read_array(r.src, np.uint32).tolist()[:4] == [1, 1, 1, 1],
      "the rejected write must change nothing")
"""


def hazard(name, kind="uniform", strategy="HOST_VISIBLE", mopts="", wopts=""):
    return case(7, name, HAZARD.format(kind=kind, strategy=strategy, mopts=mopts, wopts=wopts),
                wrong_data=True)


C7 = [
    hazard("uniform-host-visible-write-dispatch-write"),
    hazard("storage-host-visible-write-dispatch-write", kind="storage"),
    hazard("storage-host-cached-write-dispatch-write", kind="storage", strategy="HOST_CACHED"),
    hazard("uniform-host-cached-discrete-like-write-dispatch-write", strategy="HOST_CACHED",
           mopts=", discrete_like=True"),
    hazard("write-dispatch-write-explicit-frame-index", wopts=", m.frame_index"),
    case(7, "write-dispatch-write-disjoint-range-of-bound-buffer", """
        m = BufferManager(ctx)
        src = m.create_buffer(BufferConfig("src", 32, BufferStrategy.HOST_VISIBLE,
                                           BufferUsage.UNIFORM))
        r = Rig(m, kind="uniform", src=src)
        m.begin_frame()
        m.update_buffer(src, u4(1, 1, 1, 1))
        r.dispatch(spin=20000, groups=16)
        with raises(HostWriteHazardError):
            m.update_buffer(src, u4(9, 9, 9, 9), offset=16)   # bound: the whole buffer
        m.end_frame()
        check(m.read_array(src, np.uint32).tolist() == [1] * 4 + [0] * 4, "nothing written")
    """, wrong_data=True),
    case(7, "bufferset-update-after-dispatch-same-frame", """
        m = BufferManager(ctx)
        s = BufferSet(m, 16, name="s", usage=BufferUsage.UNIFORM)
        r = Rig(m, kind="uniform", src=s)
        m.begin_frame()
        s.update(u4(1, 1, 1, 1))
        r.dispatch(spin=20000, groups=16)
        with raises(HostWriteHazardError):
            s.update(u4(2, 2, 2, 2))
        m.end_frame()
        check(r.result() == [1, 1, 1, 1], "the dispatch read the first value")
    """, wrong_data=True),
    case(7, "globaluboset-update-after-dispatch-same-frame", """
        m = BufferManager(ctx)
        s = GlobalUboSet(m, 16)
        r = Rig(m, kind="uniform", src=s)
        m.begin_frame()
        s.update(u4(1, 1, 1, 1))
        r.dispatch(spin=20000, groups=16)
        with raises(HostWriteHazardError):
            s.update(u4(2, 2, 2, 2), m.frame_index)
        m.end_frame()
        check(r.result() == [1, 1, 1, 1], "the dispatch read the first value")
    """, wrong_data=True),
    case(7, "bufferset-update-all-after-dispatch-same-frame", """
        m = BufferManager(ctx)
        s = BufferSet(m, 16, name="s", usage=BufferUsage.UNIFORM)
        r = Rig(m, kind="uniform", src=s)
        m.begin_frame()
        s.update(u4(1, 1, 1, 1))
        r.dispatch(spin=20000, groups=16)
        with raises(HostWriteHazardError):
            s.update_all(u4(2, 2, 2, 2))
        m.end_frame()
        check(r.result() == [1, 1, 1, 1], "the dispatch read the first value")
        for _ in range(3):
            m.begin_frame()
            m.end_frame()
        check(all(m.read_array(b, np.uint32).tolist() != [2, 2, 2, 2] for b in s),
              "a rejected update_all queued nothing for the other slots")
    """, wrong_data=True),
    case(7, "create-and-upload-host-visible-dispatch-write", """
        m = BufferManager(ctx)
        m.begin_frame()
        src = m.create_and_upload("src", u4(1, 1, 1, 1), usage=BufferUsage.UNIFORM,
                                  strategy=BufferStrategy.HOST_VISIBLE)
        r = Rig(m, kind="uniform", src=src)
        r.dispatch(spin=20000, groups=16)
        with raises(HostWriteHazardError):
            m.update_buffer(src, u4(2, 2, 2, 2))
        m.end_frame()
        check(r.result() == [1, 1, 1, 1], "the dispatch read the first value")
    """, wrong_data=True),
    case(7, "other-manager-dispatch-reads-host-buffer-then-owner-writes", """
        A = BufferManager(ctx)
        B = BufferManager(ctx)
        src = A.create_buffer(BufferConfig("a-ubo", 16, BufferStrategy.HOST_VISIBLE,
                                           BufferUsage.UNIFORM))
        A.update_buffer(src, u4(1, 1, 1, 1))
        r = Rig(B, kind="uniform", src=src)
        B.begin_frame()
        r.dispatch(spin=20000, groups=16)
        with raises(HostWriteHazardError):
            A.update_buffer(src, u4(2, 2, 2, 2))
        B.end_frame()
        check(r.result(B) == [1, 1, 1, 1], "B's dispatch read A's first value")
    """, wrong_data=True),
    case(7, "deferred-write-to-current-slot-waits-for-the-slots-next-frame", """
        m = BufferManager(ctx)
        s = BufferSet(m, 16, name="s", usage=BufferUsage.UNIFORM)
        r = Rig(m, kind="uniform", src=s)
        m.begin_frame()
        s.update(u4(1, 1, 1, 1))
        r.dispatch(spin=20000, groups=16)
        m.write_when_slot_begins(s.get_buffer(0), u4(2, 2, 2, 2), 0)   # slot 0's NEXT frame
        m.end_frame()
        check(r.result() == [1, 1, 1, 1], "the dispatch read the first value")
        check(m.read_array(s.get_buffer(0), np.uint32).tolist() == [1, 1, 1, 1],
              "applied in the frame that was still using the slot")
        for _ in range(3):
            m.begin_frame()
            m.end_frame()
        check(m.read_array(s.get_buffer(0), np.uint32).tolist() == [2, 2, 2, 2],
              "applied by slot 0's next frame")
    """, wrong_data=True),
    case(7, "next-frame-write-while-previous-frame-in-flight", """
        m = BufferManager(ctx)
        r = Rig(m, kind="uniform")
        m.begin_frame()
        m.update_buffer(r.src, u4(1, 1, 1, 1))
        r.dispatch(spin=20000, groups=16)
        m.end_frame()
        m.begin_frame()
        with raises(HostWriteHazardError):
            m.update_buffer(r.src, u4(2, 2, 2, 2))
        m.end_frame()
        check(r.result() == [1, 1, 1, 1], "the dispatch read the first value")
    """, wrong_data=True),
    case(7, "two-writes-before-the-dispatch-are-fine", """
        m = BufferManager(ctx)
        r = Rig(m, kind="uniform")
        m.begin_frame()
        m.update_buffer(r.src, u4(1, 1, 1, 1))
        m.update_buffer(r.src, u4(2, 2, 2, 2))
        r.dispatch()
        m.end_frame()
        check(r.result() == [2, 2, 2, 2], "the dispatch reads the last write before it")
    """, wrong_data=True),
    case(7, "one-frame-in-flight-next-frame-write-is-fine", """
        m = BufferManager(ctx, frames_in_flight=1)
        r = Rig(m, kind="uniform")
        for value in (1, 2, 3):
            m.begin_frame()
            m.update_buffer(r.src, u4(value, value, value, value))
            r.dispatch()
            m.end_frame()
            check(r.result() == [value] * 4, f"frame with value {value}")
    """, wrong_data=True),
    case(7, "write-after-read-buffer-waited-is-fine", """
        m = BufferManager(ctx)
        r = Rig(m, kind="uniform")
        m.begin_frame()
        m.update_buffer(r.src, u4(1, 1, 1, 1))
        r.dispatch()
        check(r.result() == [1, 1, 1, 1], "first dispatch")   # waits for every submission
        m.update_buffer(r.src, u4(2, 2, 2, 2))                # nothing in flight reads it now
        r.dispatch()
        m.end_frame()
        check(r.result() == [2, 2, 2, 2], "second dispatch")
    """, wrong_data=True),
    case(7, "resize-after-dispatch-then-write-the-new-buffer-is-fine", """
        m = BufferManager(ctx)
        r = Rig(m, kind="uniform")
        m.begin_frame()
        m.update_buffer(r.src, u4(1, 1, 1, 1))
        r.dispatch(spin=20000, groups=16)
        m.resize_buffer(r.src, 32)                 # a new VkBuffer nobody reads yet
        m.update_buffer(r.src, u4(2, 2, 2, 2))
        check(r.result() == [1, 1, 1, 1], "the dispatch read the old buffer's value")
        r.dispatch()
        m.end_frame()
        check(r.result() == [2, 2, 2, 2], "the second dispatch reads the new buffer")
    """, wrong_data=True),
]

# --- class 8 ---------------------------------------------------------------------------------

DEFER = """
m = BufferManager(ctx)
hvt = m.create_buffer(BufferConfig("hvt", 64, BufferStrategy.HOST_VISIBLE, BufferUsage.STORAGE,
                                   np.float32))
dlt = m.create_buffer(BufferConfig("dlt", 64, BufferStrategy.DEVICE_LOCAL, BufferUsage.STORAGE,
                                   np.float32))
raw = m.create_buffer(BufferConfig("raw", 64, BufferStrategy.HOST_VISIBLE, BufferUsage.STORAGE))
draw = m.create_buffer(BufferConfig("draw", 64, BufferStrategy.DEVICE_LOCAL, BufferUsage.STORAGE))
SEVEN = {b.name: (np.full(16, 7, np.float32).tobytes() if b.dtype is not None else b"\\x07" * 64)
         for b in (hvt, dlt, raw, draw)}
for b in (hvt, dlt):
    m.update_buffer(b, np.full(16, 7, np.float32))
for b in (raw, draw):
    m.update_buffer(b, b"\\x07" * 64)
m.begin_frame()
m.end_frame()
m.begin_frame()                       # frame 1 (slot 1) is open

def unchanged():
    \"\"\"A call that raised queued nothing: frames run cleanly and nothing changed.\"\"\"
    m.end_frame()
    for _ in range(4):
        m.begin_frame()
        m.end_frame()
    for b in (hvt, dlt, raw, draw):
        check(m.read_buffer(b) == SEVEN[b.name], f"{b.name} changed after a rejected write")
    m.begin_frame()

def both(error, buffer, data, slot=2, offset=0):
    \"\"\"update_buffer raises ``error``; write_when_slot_begins must too, at the call.\"\"\"
    with raises(error):
        m.update_buffer(buffer, data, offset=offset)
    with raises(error):
        m.write_when_slot_begins(buffer, data, slot, offset=offset)
    unchanged()
"""

OBJ = "np.array([object()] * 16, dtype=object)"
OBJ8 = "np.array([object()] * 8, dtype=object)"  # 64 bytes: fits the untyped buffers


def deferred(name, body, **kw):
    return case(8, name, DEFER + textwrap.dedent(body), wrong_data=True, **kw)


SET = """
m = BufferManager(ctx)
REC = np.dtype([("a", "<f4", 4)])
ts = BufferSet(m, REC, name="typed", usage=BufferUsage.STORAGE)
us = BufferSet(m, 64, name="untyped", usage=BufferUsage.STORAGE)
seven = np.zeros((), REC)
seven["a"] = 7
ts.update_all(seven)
us.update_all(b"\\x07" * 64)
m.begin_frame()
m.end_frame()
m.begin_frame()

def unchanged_sets():
    m.end_frame()
    for _ in range(4):
        m.begin_frame()
        m.end_frame()
    for b in ts:
        check(m.read_buffer(b) == seven.tobytes(), f"{b.name} changed after a rejected write")
    for b in us:
        check(m.read_buffer(b) == b"\\x07" * 64, f"{b.name} changed after a rejected write")
    m.begin_frame()
"""


def set_case(name, body, **kw):
    return case(8, name, SET + textwrap.dedent(body), wrong_data=True, **kw)


C8 = [
    deferred("object-array-into-typed-host-buffer", f"both(InvalidDataError, hvt, {OBJ})"),
    deferred("object-array-into-untyped-host-buffer", f"both(InvalidDataError, raw, {OBJ8})"),
    deferred("object-array-into-untyped-device-buffer", f"both(InvalidDataError, draw, {OBJ8})"),
    deferred("raw-bytes-into-typed-host-buffer", "both(InvalidDataError, hvt, b'\\x01' * 16)"),
    deferred("raw-bytes-into-typed-device-buffer", "both(InvalidDataError, dlt, b'\\x01' * 16)"),
    deferred("bytearray-into-typed-device-buffer",
             "both(InvalidDataError, dlt, bytearray(16))"),
    deferred("misaligned-offset-typed-host-buffer",
             "both(InvalidOffsetError, hvt, np.ones(2, np.float32), offset=2)"),
    deferred("misaligned-offset-typed-device-buffer",
             "both(InvalidOffsetError, dlt, np.ones(2, np.float32), offset=6)"),
    deferred("out-of-bounds-host-buffer", "both(OutOfBoundsError, raw, b'x' * 60, offset=8)"),
    deferred("out-of-bounds-device-buffer",
             "both(OutOfBoundsError, dlt, np.ones(17, np.float32))"),
    deferred("wrong-dtype-typed-buffers", """
        both(InvalidDataError, hvt, np.ones(4, np.float64))
        both(InvalidDataError, dlt, np.ones(4, np.int32))
    """),
    deferred("bad-offsets", """
        for off in (-4, True, 1.0, "4", None, 1 << 64):
            both(InvalidOffsetError, raw, b"ab", offset=off)
    """),
    deferred("not-bytes-like-data", """
        for data in ([1, 2, 3], "text", None, {"a": 1}, 3.5, object()):
            both(InvalidDataError, raw, data)
    """),
    deferred("non-contiguous-memoryview", """
        mv = memoryview(bytes(range(32)))[::2]
        both(InvalidDataError, raw, mv)
    """),
    deferred("bad-slots", """
        for slot in (3, -1, True, 1.5, "0", None):
            with raises(InvalidFrameIndexError):
                m.write_when_slot_begins(raw, b"ab", slot)
        unchanged()
    """),
    deferred("destroyed-foreign-and-non-buffers", """
        other = BufferManager(ctx)
        foreign = other.create_buffer(BufferConfig("foreign", 64, BufferStrategy.HOST_VISIBLE))
        gone = m.create_buffer(BufferConfig("gone", 64, BufferStrategy.HOST_VISIBLE))
        m.destroy_buffer(gone)
        both(BufferDestroyedError, gone, b"ab")
        both(ForeignBufferError, foreign, b"ab")
        both(InvalidDataError, "not a buffer", b"ab")
    """),
    deferred("closed-manager", """
        m.end_frame()
        m.close()
        with raises(EngineError):
            m.write_when_slot_begins(raw, b"ab", 0)
        with raises(EngineError):
            m.update_buffer(raw, b"ab")
        m.begin_frame = lambda: None
        m.end_frame = lambda: None
    """.replace("m.begin_frame = lambda: None\n        m.end_frame = lambda: None\n", "")),
    deferred("rejected-write-does-not-drop-a-valid-one-queued-after-it", """
        with raises(InvalidDataError):
            m.write_when_slot_begins(dlt, b"\\x01" * 16, 2)        # raw bytes, typed buffer
        m.write_when_slot_begins(raw, b"\\x02" * 64, 2)
        m.write_when_slot_begins(draw, b"\\x03" * 64, 2)
        m.end_frame()
        for _ in range(4):
            m.begin_frame()
            m.end_frame()
        check(m.read_buffer(raw) == b"\\x02" * 64, "the valid host write was applied")
        check(m.read_buffer(draw) == b"\\x03" * 64, "the valid staged write was applied")
        m.begin_frame()
    """),
    deferred("numpy-scalar-and-0d-accepted-like-update-buffer", """
        m.update_buffer(hvt, np.float32(3), offset=4)
        m.write_when_slot_begins(hvt, np.float32(5), 2, offset=8)
        m.write_when_slot_begins(dlt, np.array(6, np.float32), 2, offset=12)
        m.end_frame()
        for _ in range(4):
            m.begin_frame()
            m.end_frame()
        check(m.read_array(hvt, np.float32)[:3].tolist() == [7, 3, 5], "scalar writes applied")
        check(m.read_array(dlt, np.float32)[3] == 6, "0-d array write applied")
        m.begin_frame()
    """),
    set_case("update-all-object-array", f"""
        with raises(InvalidDataError):
            us.update_all({OBJ8})
        with raises(InvalidDataError):
            ts.update_all(np.array([object()], dtype=object))
        unchanged_sets()
    """),
    set_case("update-all-raw-bytes-into-typed-set", """
        with raises(InvalidDataError):
            ts.update_all(b"\\x01" * 16)
        unchanged_sets()
    """),
    set_case("update-all-wrong-dtype-and-out-of-bounds", """
        with raises(InvalidDataError):
            ts.update_all(np.ones(4, np.float32))
        with raises(OutOfBoundsError):
            us.update_all(b"x" * 65)
        with raises(OutOfBoundsError):
            us.update_all(b"x" * 8, offset=60)
        with raises(InvalidOffsetError):
            us.update_all(b"x", offset=-1)
        unchanged_sets()
    """),
    set_case("update-all-not-bytes-like", """
        for data in ([1, 2], "text", None, 2.5):
            with raises(InvalidDataError):
                us.update_all(data)
        unchanged_sets()
    """),
    case(8, "update-all-in-set-up-rejected-changes-no-slot", """
        m = BufferManager(ctx)
        REC = np.dtype([("a", "<f4", 4)])
        ts = BufferSet(m, REC, name="typed", usage=BufferUsage.STORAGE)
        good = np.zeros((), REC)
        good["a"] = 7
        ts.update_all(good)
        for bad in (b"\\x01" * 16, np.ones(4, np.float32), np.array([object()], dtype=object)):
            with raises(InvalidDataError):
                ts.update_all(bad)
        for b in ts:
            check(m.read_buffer(b) == good.tobytes(), f"{b.name} changed")
    """, wrong_data=True),
    set_case("update-all-then-slot-buffer-shrunk-does-not-fail-later-frames", """
        us.update_all(b"\\x05" * 64)
        other = us.get_buffer((m.frame_index + 1) % 3)
        shrink = either(lambda: m.resize_buffer(other, 16))
        m.end_frame()
        for _ in range(4):
            m.begin_frame()          # must not raise for the earlier, accepted update_all
            m.end_frame()
        m.begin_frame()
    """),
    set_case("update-all-copies-its-data", """
        data = bytearray(b"\\x05" * 64)
        arr = np.full(1, 0, REC)
        arr["a"] = 6
        us.update_all(data)
        ts.update_all(arr[0])
        data[:] = b"\\xff" * 64
        arr["a"] = -1
        m.end_frame()
        for _ in range(4):
            m.begin_frame()
            m.end_frame()
        for b in us:
            check(m.read_buffer(b) == b"\\x05" * 64, f"{b.name}: later mutation leaked in")
        for b in ts:
            check(m.read_array(b, np.float32).tolist() == [6] * 4, f"{b.name}: record copy")
        m.begin_frame()
    """),
]

# --- class 9 ---------------------------------------------------------------------------------

INTERRUPT = """
def interrupt_at(n, fn):
    \"\"\"Run fn with a Ctrl-C arriving at the n-th line event inside engine/: the signal is
    simulated (``_thread.interrupt_main``), so it reaches Python's SIGINT handler exactly
    as a real Ctrl-C does, and the KeyboardInterrupt appears wherever that handler raises
    it.\"\"\"
    import _thread
    count = [0]
    def local(frame, event, arg):
        if event == "line":
            count[0] += 1
            if count[0] == n:
                _thread.interrupt_main()
        return local
    def tracer(frame, event, arg):
        return local if "/engine/" in frame.f_code.co_filename else None
    sys.settrace(tracer)
    try:
        fn()
        return False, count[0]
    except KeyboardInterrupt:
        return True, count[0]
    finally:
        sys.settrace(None)

def storm(op, seed, points, recover=lambda: None):
    \"\"\"Interrupt ``op`` at ``points`` seeded line numbers (of one uninterrupted run).\"\"\"
    _, total = interrupt_at(1 << 60, op)
    recover()
    rng = np.random.default_rng(seed)
    hits = 0
    for n in sorted(set(rng.integers(1, total + 1, points).tolist())):
        hit, _ = interrupt_at(n, op)
        hits += hit
        recover()
    check(hits > 0, f"no interrupt landed (total {total} lines)")
    return hits

def settle(m):
    \"\"\"Close any frame an interrupt left open, then run clean frames.\"\"\"
    either(m.end_frame)
    for _ in range(m.frames_in_flight + 1):
        m.begin_frame()
        m.end_frame()

def verify(m, canary, baseline=None, keep=()):
    \"\"\"The manager still works and holds nothing it should not.\"\"\"
    settle(m)
    m.update_buffer(canary, np.arange(64, dtype=np.uint32))
    check(np.array_equal(m.read_array(canary, np.uint32), np.arange(64, dtype=np.uint32)),
          "canary round trip after the interrupts")
    for b in m.live_buffers():
        if b is not canary and b not in keep:
            m.destroy_buffer(b)
    settle(m)
    s = m.statistics()
    check(s.pending_destroy_count == 0, f"{s.pending_destroy_count} retired buffers not freed")
    if baseline is not None:
        check(s.live_allocations <= baseline,
              f"{s.live_allocations - baseline} allocations leaked by interrupted calls")

def start(frames_in_flight=3):
    m = BufferManager(ctx, frames_in_flight=frames_in_flight)
    canary = m.create_buffer(BufferConfig("canary", 256))
    return m, canary

def baseline_of(m, warm):
    # Allocations after warm() and a staged write ran in every frame slot and between frames
    # (the staging ring of each slot then holds its chunk, as verify()'s canary write needs),
    # with everything retired freed.
    def staged():
        warm()
        t = m.create_buffer(BufferConfig("staging-warm-up", 256))
        m.update_buffer(t, bytes(256))
        m.destroy_buffer(t)
    for _ in range(m.frames_in_flight + 1):
        m.begin_frame()
        staged()
        m.end_frame()
        staged()
    settle(m)
    return m.statistics().live_allocations
"""


def kbi(name, body, **kw):
    return case(9, name, INTERRUPT + textwrap.dedent(body), **kw)


C9 = [
    kbi("read-buffer-256mib-device-local", """
        m, canary = start()
        big = m.create_buffer(BufferConfig("big", 256 << 20))
        op = lambda: m.read_buffer(big, 0, 256 << 20)
        base = baseline_of(m, lambda: m.read_buffer(big, 0, 4096))
        storm(op, seed=9001, points=6)
        verify(m, canary, base + 1, keep=(big,))
    """, timeout=240.0),
    kbi("read-buffer-small-device-and-host", """
        m, canary = start()
        dl = m.create_and_upload("dl", np.arange(256, dtype=np.uint32), usage=BufferUsage.STORAGE)
        hv = m.create_and_upload("hv", np.arange(256, dtype=np.uint32), usage=BufferUsage.STORAGE,
                                 strategy=BufferStrategy.HOST_CACHED)
        base = baseline_of(m, lambda: (m.read_buffer(dl), m.read_buffer(hv)))
        def op():
            check(m.read_array(dl, np.uint32).tolist() == list(range(256)), "dl read")
            check(m.read_array(hv, np.uint32).tolist() == list(range(256)), "hv read")
        storm(op, seed=9002, points=40)
        verify(m, canary, base + 2, keep=(dl, hv))
    """),
    kbi("create-buffer", """
        m, canary = start()
        base = baseline_of(m, lambda: m.destroy_buffer(m.create_buffer(BufferConfig("w", 64))))
        made = []
        def op():
            made.append(m.create_buffer(BufferConfig("d", 1024)))
            made.append(m.create_buffer(BufferConfig("h", 1024, BufferStrategy.HOST_VISIBLE)))
        storm(op, seed=9003, points=40)
        verify(m, canary, base)
    """),
    kbi("create-and-upload", """
        m, canary = start()
        base = baseline_of(m, lambda: m.destroy_buffer(m.create_and_upload("w", b"x" * 64)))
        storm(lambda: m.create_and_upload("u", np.arange(512, dtype=np.uint32)), seed=9004,
              points=40)
        verify(m, canary, base)
    """),
    kbi("update-buffer-device-local-in-frame", """
        m, canary = start()
        b = m.create_buffer(BufferConfig("b", 1 << 16))
        m.begin_frame()
        storm(lambda: m.update_buffer(b, np.full(1 << 14, 3, np.uint32)), seed=9005, points=30)
        m.update_buffer(b, np.full(1 << 14, 4, np.uint32))
        m.end_frame()
        check(np.all(m.read_array(b, np.uint32) == 4), "last write wins after the storm")
        verify(m, canary, keep=(b,))
    """),
    kbi("update-buffer-host-visible-in-frame", """
        m, canary = start()
        b = m.create_buffer(BufferConfig("b", 1 << 16, BufferStrategy.HOST_CACHED))
        m2 = BufferManager(ctx, discrete_like=True)
        c = m2.create_buffer(BufferConfig("c", 1 << 16, BufferStrategy.HOST_CACHED))
        m.begin_frame()
        storm(lambda: (m.update_buffer(b, np.full(1 << 14, 3, np.uint32)),
                       m2.update_buffer(c, np.full(1 << 14, 3, np.uint32))), seed=9006, points=30)
        m.end_frame()
        check(np.all(m.read_array(b, np.uint32) == 3), "host write")
        check(np.all(m2.read_array(c, np.uint32) == 3), "non-coherent host write")
        verify(m, canary, keep=(b,))
    """),
    kbi("begin-frame-with-pending-work", """
        m, canary = start()
        b = m.create_buffer(BufferConfig("b", 4096))
        def prepare():
            either(m.end_frame)
            m.update_buffer(b, np.full(1024, 5, np.uint32))
            m.destroy_buffer(m.create_buffer(BufferConfig("victim", 4096)))
        prepare()
        storm(m.begin_frame, seed=9007, points=40, recover=prepare)
        check(np.all(m.read_array(b, np.uint32) == 5), "uploads survived the storm")
        verify(m, canary, keep=(b,))
    """),
    kbi("end-frame-with-late-uploads", """
        m, canary = start()
        b = m.create_buffer(BufferConfig("b", 4096))
        def prepare():
            either(m.end_frame)
            m.begin_frame()
            m.update_buffer(b, np.full(1024, 6, np.uint32))
        prepare()
        storm(m.end_frame, seed=9008, points=40, recover=prepare)
        either(m.end_frame)
        check(np.all(m.read_array(b, np.uint32) == 6), "late uploads survived the storm")
        verify(m, canary, keep=(b,))
    """),
    kbi("submit-uploads", """
        m, canary = start()
        b = m.create_buffer(BufferConfig("b", 4096))
        m.begin_frame()
        def prepare():
            m.update_buffer(b, np.full(1024, 8, np.uint32))
        prepare()
        storm(m.submit_uploads, seed=9009, points=40, recover=prepare)
        m.end_frame()
        check(np.all(m.read_array(b, np.uint32) == 8), "uploads survived the storm")
        verify(m, canary, keep=(b,))
    """),
    kbi("resize-buffer-device-and-host", """
        m, canary = start()
        d = m.create_and_upload("d", np.arange(1024, dtype=np.uint32), usage=BufferUsage.STORAGE)
        h = m.create_and_upload("h", np.arange(1024, dtype=np.uint32), usage=BufferUsage.STORAGE,
                                strategy=BufferStrategy.HOST_VISIBLE)
        sizes = iter([4096 + 256 * (i % 5 + 1) for i in range(1000)])
        def op():
            n = next(sizes)
            m.resize_buffer(d, n)
            m.resize_buffer(h, n)
        m.begin_frame()
        storm(op, seed=9010, points=40)
        m.end_frame()
        for b in (d, h):
            check(m.read_array(b, np.uint32, count=1024).tolist() == list(range(1024)),
                  f"{b.name}: resize kept the data")
        verify(m, canary, keep=(d, h))
    """, wrong_data=True),
    kbi("destroy-buffer", """
        m, canary = start()
        base = baseline_of(m, lambda: None)
        pool = [m.create_buffer(BufferConfig(f"p{i}", 512)) for i in range(200)]
        it = iter(pool)
        def op():
            m.destroy_buffer(next(it))
        storm(op, seed=9011, points=40)
        for b in pool:
            if b.alive:
                m.destroy_buffer(b)
        verify(m, canary, base)
    """),
    kbi("dispatch-update-frame-record-submit", """
        m, canary = start()
        r = Rig(m, kind="storage")
        m.update_buffer(r.src, u4(4, 3, 2, 1))
        m.begin_frame()
        def recover():
            either(m.end_frame)
            m.begin_frame()
        storm(lambda: r.dispatch(), seed=9012, points=40, recover=recover)
        r.dispatch()
        m.end_frame()
        check(r.result() == [4, 3, 2, 1], "a dispatch after the storm")
        verify(m, canary, keep=(r.src, r.dst))
    """, wrong_data=True),
    kbi("bufferset-update-all", """
        m, canary = start()
        s = BufferSet(m, 64, name="s", usage=BufferUsage.STORAGE)
        m.begin_frame()
        def recover():
            either(m.end_frame)
            m.begin_frame()
        storm(lambda: s.update_all(np.full(16, 9, np.uint32)), seed=9013, points=40,
              recover=recover)
        s.update_all(np.full(16, 10, np.uint32))
        settle(m)
        for b in s:
            check(m.read_array(b, np.uint32).tolist() == [10] * 16, f"{b.name} holds the last")
        verify(m, canary, keep=tuple(s))
    """, wrong_data=True),
    kbi("register-and-release-pipeline", """
        m, canary = start()
        binder = ResourceBinder(ctx, frames_in_flight=3)
        code = compile_glsl_source("#version 450\\nlayout(local_size_x = 1) in;\\n"
                                   "layout(std430, binding = 0) buffer B { uint v[]; } b;\\n"
                                   "void main() { b.v[0] = 1u; }", "comp", name="kbi.comp")
        def op():
            pid = binder.register_pipeline("p", code)
            ComputePipeline(binder, pid)
            binder.release_pipeline(pid)
        storm(op, seed=9014, points=40)
        for pid in list(binder):
            binder.release_pipeline(pid)
        verify(m, canary)
    """),
    kbi("manager-close-then-close-again", """
        import random
        rnd = random.Random(9015)
        for n in sorted(rnd.sample(range(1, 400), 12)):
            m, canary = start()
            b = m.create_buffer(BufferConfig("b", 4096))
            m.begin_frame()
            m.update_buffer(b, bytes(4096))
            m.destroy_buffer(m.create_buffer(BufferConfig("victim", 64)))
            interrupt_at(n, m.close)
            m.close()
            check(m.closed, "closed after the second close()")
    """),
]

# --- class 10 --------------------------------------------------------------------------------

C10 = [
    case(10, "6000-update-read-pairs-device-local-without-frames", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("b", 64))
        for i in range(6000):
            m.update_buffer(b, np.full(16, i, np.uint32))
            check(m.read_array(b, np.uint32)[0] == i, f"round trip {i}")
            if i == 1000:
                start_rss = rss_mib()
        grown = rss_mib() - start_rss
        check(grown < 48, f"memory grew {grown:.0f} MiB over 5000 update/read pairs")
        check(m.statistics().staging_capacity <= 16 << 20, "staging stayed small")
    """, wrong_data=True, timeout=240.0),
    case(10, "6000-update-read-pairs-host-visible-without-frames", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("b", 64, BufferStrategy.HOST_CACHED))
        for i in range(6000):
            m.update_buffer(b, np.full(16, i, np.uint32))
            check(m.read_array(b, np.uint32)[0] == i, f"round trip {i}")
            if i == 1000:
                start_rss = rss_mib()
        grown = rss_mib() - start_rss
        check(grown < 48, f"memory grew {grown:.0f} MiB over 5000 update/read pairs")
    """, wrong_data=True, timeout=240.0),
    case(10, "reupload-16mib-device-local-before-first-frame", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("b", 16 << 20))
        data = np.zeros(4 << 20, np.uint32)
        for i in range(40):
            data[:] = i
            m.update_buffer(b, data)
            cap = m.statistics().staging_capacity
            check(cap < 64 << 20, f"staging grew to {cap >> 20} MiB after {i + 1} re-uploads")
        check(np.all(m.read_array(b, np.uint32) == 39), "the last upload wins")
    """, wrong_data=True),
    case(10, "reupload-16mib-with-reads-before-first-frame", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("b", 16 << 20))
        data = np.zeros(4 << 20, np.uint32)
        for i in range(12):
            data[:] = i
            m.update_buffer(b, data)
            check(m.read_array(b, np.uint32, count=1)[0] == i, f"upload {i}")
            cap = m.statistics().staging_capacity
            check(cap < 64 << 20, f"staging grew to {cap >> 20} MiB after {i + 1} round trips")
    """, wrong_data=True),
    case(10, "submit-uploads-3000-times-without-frames", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("b", 64))
        for i in range(3000):
            m.update_buffer(b, np.full(16, i, np.uint32))
            m.submit_uploads()
            if i == 500:
                start_rss = rss_mib()
        grown = rss_mib() - start_rss
        check(grown < 48, f"memory grew {grown:.0f} MiB over 2500 submit_uploads")
        check(m.read_array(b, np.uint32)[0] == 2999, "last upload wins")
    """, wrong_data=True, timeout=240.0),
    case(10, "create-destroy-256kib-without-frames", """
        m = BufferManager(ctx)
        for i in range(400):
            b = m.create_buffer(BufferConfig(f"b{i}", 256 << 10))
            m.update_buffer(b, bytes(16))
            m.destroy_buffer(b)
            if i % 50 == 49:
                m.read_buffer(m.create_buffer(BufferConfig("probe", 16)))
        s = m.statistics()
        check(s.pending_destroy_bytes < 32 << 20,
              f"{s.pending_destroy_bytes >> 20} MiB of destroyed buffers still held")
    """),
    case(10, "resize-300-times-without-frames", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("b", 128 << 10))
        for i in range(300):
            m.resize_buffer(b, (128 << 10) + (i % 2) * (64 << 10))
            if i % 50 == 49:
                m.read_buffer(b, 0, 16)
        s = m.statistics()
        check(s.pending_destroy_bytes < 32 << 20,
              f"{s.pending_destroy_bytes >> 20} MiB of replaced buffers still held")
    """),
    case(10, "create-and-upload-destroy-2000-small-without-frames", """
        m = BufferManager(ctx)
        for i in range(2000):
            m.destroy_buffer(m.create_and_upload(f"u{i}", np.full(16, i, np.uint32)))
            if i == 300:
                start_rss = rss_mib()
        s = m.statistics()
        check(s.pending_destroy_count < 1000, f"{s.pending_destroy_count} buffers never freed")
        grown = rss_mib() - start_rss
        check(grown < 48, f"memory grew {grown:.0f} MiB")
    """),
    case(10, "bufferset-update-all-3000-in-set-up", """
        m = BufferManager(ctx)
        s = BufferSet(m, 64, name="s", usage=BufferUsage.STORAGE)
        for i in range(3000):
            s.update_all(np.full(16, i, np.uint32))
        for b in s:
            check(m.read_array(b, np.uint32).tolist() == [2999] * 16, b.name)
        check(m.statistics().staging_capacity <= 16 << 20, "no staging for host writes")
    """, wrong_data=True),
]

CASES = C7 + C8 + C9 + C10
