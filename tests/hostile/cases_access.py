"""Hostile cases for buffer access: ``map_write`` views, ``read_async``/Readback and the
scatter writes (``update_rows``/``update_ranges``), across the defect classes: numbers (4),
lifetimes (1), threads (2), identity (5), Ctrl-C (9) and raw exceptions (12). A view kept
past its buffer's life must never write into another buffer's bytes (checked through the
neighbours and new buffers made on the freed memory)."""

from case_snippets import INT_TYPES, NEIGHBOURS, NOT_INTEGERS, setup
from hostile_harness import Case

CASES: list[Case] = []

for t in INT_TYPES:
    CASES.append(Case(4, f"map-write-offset-count-np-{t}", setup(NEIGHBOURS, f"""
        x = m.create_buffer(BufferConfig("x", 256, H))
        with m.map_write(x, np.uint8, offset=np.{t}(16), count=np.{t}(8)) as view:
            check(view.shape == (8,), "count from a numpy integer")
            view[:] = 7
        check(m.read_buffer(x, 12, 16) == bytes(4) + bytes([7]) * 8 + bytes(4), "the range")
        y = m.create_buffer(BufferConfig("y", 256, D))
        with m.map_write(y, np.uint8, offset=np.{t}(100), count=np.{t}(20)) as view:
            view[:] = 9
        check(m.read_buffer(y, 100, 20) == bytes([9]) * 20, "staged range")
        small = m.create_buffer(BufferConfig("small", 64, H))
        with raises(OutOfBoundsError):
            m.map_write(small, np.uint8, offset=np.{t}(50), count=np.{t}(20))
        still_fine("after numpy map_write arguments")
    """), wrong_data=True))
    CASES.append(Case(4, f"update-rows-indices-np-{t}", setup(NEIGHBOURS, f"""
        R = np.dtype([("a", "<u4"), ("b", "<u4")])
        for s in (H, D):
            x = m.create_buffer(BufferConfig("rows", 100 * 8, s, BufferUsage.STORAGE, R))
            rows = np.zeros(3, R); rows["a"] = [1, 2, 3]
            m.update_rows(x, np.array([5, 6, 90], dtype=np.{t}), rows)
            got = m.read_array(x)
            check(list(got["a"][[5, 6, 90]]) == [1, 2, 3], "rows written")
            check(int(got["a"].sum()) == 6, "nothing else written")
            with raises(InvalidRowsError):
                m.update_rows(x, np.array([100], dtype=np.{t}), rows[:1])
        still_fine("after numpy row indices")
    """), wrong_data=True))

for i, bad in enumerate(NOT_INTEGERS):
    CASES.append(Case(4, f"access-not-integer-{i}", setup(NEIGHBOURS, f"""
        x = m.create_buffer(BufferConfig("x", 256, D))
        for call in (lambda: m.map_write(x, offset={bad}), lambda: m.map_write(x, count={bad}),
                     lambda: m.read_async(x, offset={bad}), lambda: m.read_async(x, size={bad})):
            try:
                call()
            except engine.EngineError:
                pass
            else:
                raise CaseFailed("{bad} accepted as an integer")
        with raises(InvalidRowsError):
            m.update_ranges(x, [({bad}, b"abcd")])
        check(m.statistics().readbacks_started_total == 0, "a refused read started")
        still_fine("after {bad}")
    """)))

CASES.append(Case(1, "view-kept-past-destroy-and-reuse", setup(NEIGHBOURS, """
    for s in (H, C, D):
        victim = m.create_buffer(BufferConfig("victim", 4096, s))
        with m.map_write(victim) as kept:
            kept[:] = 1
        m.destroy_buffer(victim)
        made = []
        for f in range(8):
            m.begin_frame()
            new = m.create_buffer(BufferConfig("new", 4096, s))
            m.update_buffer(new, bytes([f + 10]) * 4096)
            made.append((new, f + 10))
            kept[:] = 0xEE
            m.end_frame()
        for new, value in made:
            check(m.read_buffer(new) == bytes([value]) * 4096, "a stale view wrote in")
        del kept
    still_fine("after stale views")
"""), wrong_data=True))

CASES.append(Case(1, "view-and-readback-past-context-close", """
    H = BufferStrategy.HOST_VISIBLE
    m = BufferManager(ctx)
    x = m.create_buffer(BufferConfig("x", 1 << 20, H))
    with m.map_write(x) as view:
        view[:] = 3
    rb = m.read_async(x)
    got = rb.wait()
    late = m.read_async(x)
    ctx.close()
    view[:] = 4  # kept memory: no crash
    check(int(got[0]) == 3 and int(got[-1]) == 3, "result after close")
    with raises(ReadbackCancelledError):
        late.result()
    with raises(ManagerClosedError):
        m.map_write(x)
    del view, got
    gc.collect()
    check(ctx.device is not None, "the readback's result (rb holds it) lost its memory")
    del rb
    gc.collect()
    check(ctx.device is None, "the device outlived its last view")
"""))

CASES.append(Case(1, "resize-inside-a-map-write-block", setup(NEIGHBOURS, """
    x = m.create_buffer(BufferConfig("x", 256, D))
    with raises(MappedBufferChangedError):
        with m.map_write(x) as view:
            view[:] = 1
            m.resize_buffer(x, 512)
    check(m.read_buffer(x, 0, 256) == bytes(256), "a lost write still arrived")
    y = m.create_buffer(BufferConfig("y", 256, H))
    block = m.map_write(y)
    m.destroy_buffer(y)
    with raises(MappedBufferChangedError):
        block.__enter__()
    still_fine("after buffers changed under map_write")
"""), wrong_data=True))

CASES.append(Case(1, "foreign-and-destroyed-buffers", setup(NEIGHBOURS, """
    other = BufferManager(ctx)
    theirs = other.create_buffer(BufferConfig("theirs", 256, H))
    R = np.dtype([("a", "<u4")])
    typed = other.create_buffer(BufferConfig("typed", 64, D, BufferUsage.STORAGE, R))
    with raises(ForeignBufferError):
        m.map_write(theirs)
    with raises(ForeignBufferError):
        m.read_async(theirs)
    with raises(ForeignBufferError):
        m.update_rows(typed, [0], np.zeros(1, R))
    with raises(ForeignBufferError):
        m.update_ranges(theirs, [(0, b"x")])
    other.destroy_buffer(typed)
    with raises(BufferDestroyedError):
        other.update_rows(typed, [0], np.zeros(1, R))
    with raises(BufferDestroyedError):
        other.read_async(typed)
    other.close()
    still_fine("after foreign buffers")
""")))

CASES.append(Case(2, "access-from-another-thread", setup(NEIGHBOURS, """
    import threading
    x = m.create_buffer(BufferConfig("x", 256, D))
    rb = m.read_async(x)
    errors = []
    def worker():
        for call in (lambda: m.map_write(x), lambda: m.read_async(x), lambda: rb.ready,
                     lambda: m.update_ranges(x, [(0, b"ab")])):
            try:
                call()
                errors.append("no error")
            except WrongThreadError:
                errors.append("ok")
            except BaseException as exc:
                errors.append(repr(exc))
    t = threading.Thread(target=worker); t.start(); t.join()
    check(errors == ["ok"] * 4, f"other thread: {errors}")
    check(rb.wait().nbytes == 256, "the read still arrives")
    still_fine("after another thread")
""")))

CASES.append(Case(5, "copied-blocks-and-readbacks", setup(NEIGHBOURS, """
    import copy, pickle
    x = m.create_buffer(BufferConfig("x", 64, H))
    block = m.map_write(x)
    check(copy.copy(block) is block and copy.deepcopy(block) is block, "copy of a block")
    rb = m.read_async(x)
    check(copy.copy(rb) is rb, "copy of a readback")
    with raises(NotCopyableError):
        pickle.dumps(rb)
    with block as view:
        view[:] = 5
    with raises(MappedWriteStateError):
        with block:
            pass
    rb.wait()
    still_fine("after copies")
""")))

CASES.append(Case(9, "ctrl-c-inside-a-device-local-block", setup(NEIGHBOURS, """
    x = m.create_buffer(BufferConfig("x", 256, D))
    m.update_buffer(x, bytes([1]) * 256)
    m.begin_frame()
    try:
        with m.map_write(x) as view:
            view[:] = 2
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    m.end_frame()
    check(m.read_buffer(x) == bytes([1]) * 256, "an interrupted block was delivered")
    still_fine("after Ctrl-C in a block")
"""), wrong_data=True))

CASES.append(Case(12, "scatter-odd-arguments", setup(NEIGHBOURS, """
    R = np.dtype([("a", "<u4"), ("b", "<f4")])
    x = m.create_buffer(BufferConfig("x", 80, D, BufferUsage.STORAGE, R))
    rows = np.zeros(2, R)
    for indices in (None, "01", {0: 1}, [[0, 1]], np.array([0.0, 1.0]), np.array([True, False]),
                    [0, 1, 2], np.array([0, 1], dtype=object)):
        with raises(InvalidRowsError):
            m.update_rows(x, indices, rows)
    for r in (None, rows.tolist(), rows.view(np.uint8), np.zeros((2, 1), R), b"12345678"):
        with raises(InvalidRowsError):
            m.update_rows(x, [0, 1], r)
    raw = m.create_buffer(BufferConfig("raw", 64, H))
    for ranges in (None, 5, [5], [(0,)], [(0, b"a", 1)], [(-1, b"a")], [(0, b"ab"), (1, b"c")]):
        with raises(InvalidRowsError):
            m.update_ranges(raw, ranges)
    for data in (None, "text", 3.5, object()):
        with raises(InvalidDataError):
            m.update_ranges(raw, [(0, data)])
    m.update_rows(x, np.array([], dtype=np.int64), np.zeros(0, R))
    m.update_ranges(raw, [])
    check(m.read_buffer(x) == bytes(80), "a refused scatter wrote")
    still_fine("after odd scatter arguments")
"""), wrong_data=True))

CASES.append(Case(12, "map-write-odd-dtypes", setup(NEIGHBOURS, """
    x = m.create_buffer(BufferConfig("x", 64, H))
    for dtype in ("no such", object, np.dtype([]), 3, [("a", object)]):
        with raises(InvalidDataError):
            m.map_write(x, dtype)
    with m.map_write(x, np.dtype([("a", "<f4", 3)])) as view:
        check(view.shape == (5,), f"as many whole rows as fit: {view.shape}")
    still_fine("after odd dtypes")
""")))
