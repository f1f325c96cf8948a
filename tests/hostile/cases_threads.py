"""Class 2: threads.

The library adopts ONE documented policy: an owner thread (calls from another thread raise a
clear EngineError) or real locks (calls from any thread work). These cases pass under either:
a call from another thread either works correctly or raises an EngineError; never a signal, a
validation message (UNASSIGNED-Threading-*) or wrong data. Threads are joined with a bounded
timeout (``in_thread``), their exceptions recorded, and a raw one fails the case.
"""

import textwrap

from hostile_harness import Case
from hostile_rigs import rigged

# A worker that loops ``step(i)`` until ``stop`` is set or an EngineError (owner-thread policy)
# ends it; records the last i that completed and any exception.
LOOPER = """
class Looper:
    def __init__(self, step, limit=100000):
        self.step, self.limit = step, limit
        self.stop = threading.Event()
        self.done = -1
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for i in range(self.limit):
                if self.stop.is_set():
                    return
                self.step(i)
                self.done = i
        except BaseException as exc:  # noqa: B036
            self.error = exc

    def join(self, timeout=120.0):
        self.stop.set()
        self.thread.join(timeout)
        check(not self.thread.is_alive(), "the worker thread did not stop within the timeout")
        if self.error is not None and not isinstance(self.error, EngineError):
            raise self.error
        return self.error
"""


def case(name, body, **kw):
    return Case(2, name, rigged(LOOPER + textwrap.dedent(body)), **kw)


CASES = [
    case("update-device-local-loop-while-main-runs-frames", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("dl", 4096))
        def step(i):
            m.update_buffer(b, np.full(1024, i, np.uint32))
        w = Looper(step, limit=20000)
        for _ in range(150):
            m.begin_frame()
            m.submit_uploads()
            m.end_frame()
        w.join()
        got = m.read_array(b, np.uint32)
        if w.done >= 0:
            check(np.all(got == w.done), f"last write {w.done} not what the buffer holds: "
                  f"{sorted(set(got.tolist()))[:8]}")
    """, wrong_data=True, timeout=90.0),
    case("update-host-visible-bufferset-from-thread-while-main-runs-frames", """
        m = BufferManager(ctx)
        s = BufferSet(m, 4096, name="hv", usage=BufferUsage.STORAGE)
        def step(i):
            s.update(np.full(1024, i, np.uint32))
        w = Looper(step)
        for _ in range(150):
            m.begin_frame()
            m.end_frame()
        w.join()
    """),
    case("read-buffer-device-local-from-second-thread", """
        m = BufferManager(ctx)
        b = m.create_and_upload("dl", np.arange(4096, dtype=np.uint32), usage=BufferUsage.STORAGE)
        status, value = in_thread(lambda: m.read_array(b, np.uint32))
        if status == "ok":
            check(np.array_equal(value, np.arange(4096, dtype=np.uint32)), "read in a thread")
        check(np.array_equal(m.read_array(b, np.uint32), np.arange(4096, dtype=np.uint32)),
              "read in the main thread afterwards")
    """, wrong_data=True),
    case("read-buffer-concurrently-in-two-threads", """
        m = BufferManager(ctx)
        b = m.create_and_upload("dl", np.arange(4096, dtype=np.uint32), usage=BufferUsage.STORAGE)
        want = np.arange(4096, dtype=np.uint32)
        bad = []
        def step(i):
            if not np.array_equal(m.read_array(b, np.uint32), want):
                bad.append(i)
        w = Looper(step, limit=60)
        for _ in range(60):
            check(np.array_equal(m.read_array(b, np.uint32), want), "main thread read")
        w.join()
        check(not bad, f"reads in the thread returned wrong data: {bad[:5]}")
    """, wrong_data=True),
    case("read-buffer-from-thread-while-main-runs-frames", """
        m = BufferManager(ctx)
        b = m.create_and_upload("dl", np.arange(256, dtype=np.uint32), usage=BufferUsage.STORAGE)
        want = np.arange(256, dtype=np.uint32)
        bad = []
        def step(i):
            if not np.array_equal(m.read_array(b, np.uint32), want):
                bad.append(i)
        w = Looper(step, limit=200)
        for _ in range(100):
            m.begin_frame()
            m.end_frame()
        w.join()
        check(not bad, f"reads in the thread returned wrong data: {bad[:5]}")
    """, wrong_data=True),
    case("create-destroy-from-thread-while-main-runs-frames", """
        m = BufferManager(ctx)
        def step(i):
            x = m.create_buffer(BufferConfig(f"t{i}", 256 + 16 * (i % 7)))
            m.update_buffer(x, bytes(16))
            m.destroy_buffer(x)
        w = Looper(step, limit=400)
        for _ in range(150):
            m.begin_frame()
            m.end_frame()
        w.join()
        for _ in range(4):
            m.begin_frame()
            m.end_frame()
        check(m.statistics().pending_destroy_count == 0, "everything retired was freed")
    """),
    case("begin-end-frame-from-another-thread", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("dl", 64))
        def frames():
            for i in range(10):
                m.begin_frame()
                m.update_buffer(b, np.full(16, i, np.uint32))
                m.end_frame()
        status, _ = in_thread(frames)
        either(m.end_frame)
        for i in range(5):
            m.begin_frame()
            m.update_buffer(b, np.full(16, 100 + i, np.uint32))
            m.end_frame()
        check(m.read_array(b, np.uint32).tolist() == [104] * 16, "main thread frames after")
    """, wrong_data=True),
    case("frames-in-thread-and-main-at-once", """
        m = BufferManager(ctx)
        def step(i):
            try:
                m.begin_frame()
            except FrameStateError:
                return
            either(m.end_frame)
        w = Looper(step, limit=300)
        for _ in range(100):
            try:
                m.begin_frame()
            except FrameStateError:
                continue
            either(m.end_frame)
        w.join()
        either(m.end_frame)
        m.begin_frame()
        m.end_frame()
    """),
    case("statistics-from-thread-while-main-creates-and-destroys", """
        m = BufferManager(ctx)
        def step(i):
            s = m.statistics()
            check(s.live_buffers >= 0 and s.pending_destroy_count >= 0, "sane statistics")
            s.to_json()
        w = Looper(step, limit=2000)
        for i in range(300):
            x = m.create_buffer(BufferConfig(f"m{i}", 128))
            if i % 3 == 0:
                m.begin_frame()
                m.end_frame()
            m.destroy_buffer(x)
        w.join()
    """),
    case("bind-and-update-frame-from-thread-while-main-resizes", """
        m = BufferManager(ctx)
        r = Rig(m, kind="storage")
        m.update_buffer(r.src, u4(1, 2, 3, 4))
        def step(i):
            r.binder.bind_storage_buffer_named(r.pid, "Src", r.src)
            r.binder.update_frame(r.pid, i % 3)
        w = Looper(step, limit=500)
        for i in range(60):
            m.begin_frame()
            m.resize_buffer(r.src, 16 + 16 * (i % 2 + 1))
            m.end_frame()
        w.join()
        m.update_buffer(r.src, u4(5, 6, 7, 8))
        m.begin_frame()
        r.dispatch()
        m.end_frame()
        check(r.result() == [5, 6, 7, 8], "dispatch after the thread bound/updated")
    """, wrong_data=True),
    case("resize-from-thread-while-main-updates", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("dl", 1024))
        def step(i):
            m.resize_buffer(b, 1024 + 256 * (i % 4))
        w = Looper(step, limit=300)
        for i in range(300):
            m.update_buffer(b, np.full(256, i, np.uint32))
            if i % 10 == 0:
                m.begin_frame()
                m.end_frame()
        w.join()
        m.update_buffer(b, np.full(256, 7, np.uint32))
        check(m.read_array(b, np.uint32, count=256).tolist() == [7] * 256, "last write kept")
    """, wrong_data=True),
    case("submit-uploads-from-thread-while-main-updates", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("dl", 4096))
        m.begin_frame()
        w = Looper(lambda i: m.submit_uploads(), limit=3000)
        for i in range(2000):
            m.update_buffer(b, np.full(1024, i, np.uint32))
        w.join()
        m.end_frame()
        check(np.all(m.read_array(b, np.uint32) == 1999), "last update wins")
    """, wrong_data=True),
    case("close-manager-from-thread-while-main-uses-it", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("dl", 4096))
        started = threading.Event()
        def closer():
            started.wait(30)
            m.close()
        t = threading.Thread(target=closer, daemon=True)
        t.start()
        errors = []
        for i in range(300):
            if i == 20:
                started.set()
            try:
                m.begin_frame()
                m.update_buffer(b, np.full(1024, i, np.uint32))
                m.end_frame()
            except EngineError as exc:
                errors.append(exc)
        t.join(60)
        check(not t.is_alive(), "closer thread finished")
    """),
    case("close-context-from-thread-while-main-uses-manager", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("dl", 4096))
        status, _ = ("none", None)
        def closer():
            time.sleep(0.05)
            ctx.close()
        t = threading.Thread(target=closer, daemon=True)
        t.start()
        for i in range(400):
            try:
                m.begin_frame()
                m.update_buffer(b, np.full(1024, i, np.uint32))
                m.read_buffer(b, 0, 16)
                m.end_frame()
            except EngineError:
                pass
        t.join(60)
        check(not t.is_alive(), "closer thread finished")
    """),
    case("bufferset-update-all-from-thread-while-main-runs-frames", """
        m = BufferManager(ctx)
        s = BufferSet(m, 64, name="s", usage=BufferUsage.STORAGE)
        m.begin_frame()
        m.end_frame()
        w = Looper(lambda i: s.update_all(np.full(16, i, np.uint32)), limit=2000)
        for _ in range(100):
            m.begin_frame()
            m.end_frame()
        err = w.join()
        for _ in range(4):
            m.begin_frame()
            m.end_frame()
        if w.done >= 0:
            for k in range(3):
                got = m.read_array(s.get_buffer(k), np.uint32).tolist()
                check(got == [w.done] * 16, f"slot {k} holds {got[:2]}, not the last value")
    """, wrong_data=True),
    case("dispatch-recorded-and-submitted-from-thread", """
        m = BufferManager(ctx)
        r = Rig(m, kind="uniform", strategy=BufferStrategy.HOST_VISIBLE)
        m.update_buffer(r.src, u4(3, 1, 4, 1))
        m.begin_frame()
        status, _ = in_thread(lambda: r.dispatch())
        m.end_frame()
        if status == "ok":
            check(r.result() == [3, 1, 4, 1], "dispatch from the thread")
    """, wrong_data=True),
    case("manager-created-in-thread-used-by-main", """
        status, m = in_thread(lambda: BufferManager(ctx))
        if status == "ok":
            b = either(lambda: m.create_buffer(BufferConfig("dl", 64)))
            if b[0] == "ok":
                either(lambda: m.update_buffer(b[1], bytes(range(64))))
                got = either(lambda: m.read_buffer(b[1]))
                if got[0] == "ok":
                    check(got[1] == bytes(range(64)), "round trip")
            either(m.close)
    """, wrong_data=True),
    case("four-threads-update-their-own-device-local-buffers", """
        m = BufferManager(ctx)
        bufs = [m.create_buffer(BufferConfig(f"b{k}", 4096)) for k in range(4)]
        workers = [Looper((lambda k: lambda i: m.update_buffer(
            bufs[k], np.full(1024, i * 4 + k, np.uint32)))(k), limit=1500) for k in range(4)]
        for _ in range(100):
            m.begin_frame()
            m.end_frame()
        for k, w in enumerate(workers):
            w.join()
        for k, w in enumerate(workers):
            if w.done >= 0:
                got = m.read_array(bufs[k], np.uint32)
                check(np.all(got == w.done * 4 + k), f"buffer {k} lost its last write")
    """, wrong_data=True),
    case("destroy-from-thread-while-main-reads", """
        m = BufferManager(ctx)
        bufs = [m.create_and_upload(f"b{k}", np.full(64, k, np.uint32), usage=BufferUsage.STORAGE)
                for k in range(50)]
        def step(i):
            if i < len(bufs):
                m.destroy_buffer(bufs[i])
        w = Looper(step, limit=50)
        for k, b in enumerate(bufs):
            try:
                got = m.read_array(b, np.uint32)
                check(np.all(got == k), f"buffer {k} read wrong data")
            except BufferDestroyedError:
                pass
        w.join()
    """, wrong_data=True),
    case("write-when-slot-begins-from-thread-while-main-runs-frames", """
        m = BufferManager(ctx)
        s = BufferSet(m, 64, name="s", usage=BufferUsage.STORAGE)
        m.begin_frame()
        m.end_frame()
        def step(i):
            m.write_when_slot_begins(s.get_buffer(i % 3), np.full(16, i, np.uint32), i % 3)
        w = Looper(step, limit=3000)
        for _ in range(100):
            m.begin_frame()
            m.end_frame()
        w.join()
    """),
]
