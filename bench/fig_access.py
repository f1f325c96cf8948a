"""Buffer access: zero-copy compute-and-upload, scatter updates, non-blocking read-back.

``access/compute_upload`` (per frame): 10 of 1,000 per-object blocks of 256 B change, and a
100,000 x 32 B particle array is recomputed by a numpy expression (``base * f + drift``, two
ufuncs with ``out=``). Floor (``numpy``): the same expression into plain RAM (a ring of three
destinations, as per-frame data needs) and 10 row copies. ``ours``: the expression written
straight into a ``map_write`` view of this slot's HOST_CACHED particle buffer (a BufferSet: one
buffer per frame slot; the expression reads back what it wrote, which write-combined
HOST_VISIBLE memory makes slow: ``ours_wc``, for information), and the 10 blocks with one
``update_rows`` on a DEVICE_LOCAL 1,000-row buffer. Information, to say where a gap to the
floor comes from: ``ours_view_only`` (only the expression into the view: the mapped memory and
the pin) and ``numpy_in_frames`` (the floor's own work timed inside an empty engine frame).
``ours_update`` (today's way): the expression into a temporary, then ``update_buffer``, and 10
``update_buffer`` calls on DEVICE_LOCAL blocks. Peers: moderngl (the expression into a
temporary, ``Buffer.write`` into a ring of 3 GL buffers, 10 ``Buffer.write``), wgpu-py (the
expression into a temporary, ``queue.write_buffer``, 10 more, ``queue.submit``). Timed: the
writes and ``submit_uploads`` (begin/end and the peers' waits are outside).

``access/scatter``: 10,000 random rows of a 1,000,000 x 32 B DEVICE_LOCAL buffer; each op is
one whole frame including the GPU copy (begin, the writes, end, wait for the queue): ``ours``
one ``update_rows``; ``ours_calls`` 10,000 ``update_buffer`` calls; ``ours_whole`` one
``update_buffer`` of the whole 32 MB (the alternative without scatter).

``access/readback``: a 16 MiB DEVICE_LOCAL buffer read back every frame with 3 frames in
flight. Per frame: a 256 B upload, ``read_async`` of the 16 MiB, and each arrived result's
first and last 8 bytes read (``ours``); ``ours_noread`` is the same loop without the read
(the bar's pair: an otherwise empty frame); ``ours_work`` / ``ours_work_noread``
(information) the same two with CPU work in each frame (the compute-and-upload expression
over 3.2 MB), as a game frame has: there the GPU copy runs while the CPU works;
``wgpu`` copies into a MAP_READ buffer, maps it, reads it and unmaps it (``queue.read_buffer``,
the blocking call wgpu-py offers). The frame includes ``begin_frame`` (its fence wait) and
``end_frame``. The read-back's fence waits on the frame path are counted (the bar: 0).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine import BufferConfig, BufferSet, BufferStrategy, BufferUsage

from . import data
from .figure import Bar, build
from .session import Session
from .timing import Runner, measure

N_BLOCKS, BLOCK_BYTES, CHANGED = 1000, 256, 10
N_PARTICLES, PARTICLE_FLOATS = 100_000, 8
PARTICLE_BYTES = N_PARTICLES * PARTICLE_FLOATS * 4
BLOCK = np.dtype([("data", "<f4", BLOCK_BYTES // 4)])

SCATTER_ROWS, SCATTER_BUFFER_ROWS = 10_000, 1_000_000
ROW = np.dtype([("v", "<f4", 8)])
READBACK_BYTES = 16 * 1024 * 1024

UPLOAD_BARS = (
    Bar("compute-and-upload frame at most 1.1x the numpy floor", "ours", "numpy", "<=", 1.1),
    Bar("compute-and-upload faster than moderngl", "moderngl", "ours", ">=", 1.0),
    Bar("compute-and-upload faster than wgpu-py", "wgpu", "ours", ">=", 1.0),
)
SCATTER_BARS = (
    Bar("scatter at least 10x faster than 10,000 update_buffer calls", "ours_calls", "ours",
        ">=", 10.0),
    Bar("scatter at least 5x faster than rewriting the whole buffer", "ours_whole", "ours",
        ">=", 5.0),
)
READBACK_BARS = (
    Bar("16 MiB read-back per frame costs at most 1.15x the frame without it", "ours",
        "ours_noread", "<=", 1.15),
    Bar("read-back faster than wgpu-py", "wgpu", "ours", ">=", 1.0),
)


def _plan(frames: int = 100) -> list[np.ndarray[Any, Any]]:
    return [np.array([(f * CHANGED + k * 97) % N_BLOCKS for k in range(CHANGED)])
            for f in range(frames)]


def _expression(base: Any, drift: Any, frame: int, out: Any) -> None:
    np.multiply(base, np.float32(1.0 + 0.001 * (frame % 100)), out=out)
    np.add(out, drift, out=out)


def _frames(write: Any, untimed: Any = None) -> Runner:
    state = {"f": 0}

    def run(n: int) -> float:
        total = 0.0
        clock = time.perf_counter
        for _ in range(n):
            f = state["f"]
            state["f"] = f + 1
            t0 = clock()
            write(f)
            total += clock() - t0
            if untimed is not None:
                untimed()
        return total

    return run


def compute_upload(session: Session) -> dict[str, Any]:
    base = data.source(PARTICLE_BYTES, seed=3).view(np.float32).reshape(N_PARTICLES, 8)
    drift = data.source(PARTICLE_BYTES, seed=4).view(np.float32).reshape(N_PARTICLES, 8)
    block_src = np.zeros(CHANGED, BLOCK)
    block_src["data"] = data.source(CHANGED * BLOCK_BYTES, seed=5).view(np.float32).reshape(
        CHANGED, -1)
    plan = _plan()
    m = session.manager(frames_in_flight=3)
    # The expression reads what it wrote (np.add(out, ..., out=out)): HOST_CACHED memory, as
    # the how-to says; ours_wc is the same in write-combined HOST_VISIBLE memory.
    particles = BufferSet(m, PARTICLE_BYTES, name="particles",
                          usage=BufferUsage.STORAGE | BufferUsage.VERTEX,
                          strategy=BufferStrategy.HOST_CACHED)
    particles_wc = BufferSet(m, PARTICLE_BYTES, name="particles_wc",
                             usage=BufferUsage.STORAGE | BufferUsage.VERTEX)
    blocks = m.create_buffer(BufferConfig("blocks", N_BLOCKS * BLOCK_BYTES,
                                          BufferStrategy.DEVICE_LOCAL, BufferUsage.UNIFORM,
                                          BLOCK))
    block_bufs = [m.create_buffer(BufferConfig(f"b{i}", BLOCK_BYTES, BufferStrategy.DEVICE_LOCAL,
                                               BufferUsage.UNIFORM)) for i in range(N_BLOCKS)]
    temp = np.empty((N_PARTICLES, 8), np.float32)

    def mapped(target: BufferSet) -> Any:
        """A frame of the expression written into ``target``'s slot by ``map_write``."""
        def frame(f: int) -> None:
            m.begin_frame()
            t0 = time.perf_counter()
            with target.map_write(np.float32) as view:
                _expression(base, drift, f, view.reshape(N_PARTICLES, 8))
            m.update_rows(blocks, plan[f % len(plan)], block_src)
            m.submit_uploads()
            spent[0] += time.perf_counter() - t0
            m.end_frame()

        return frame

    ours, ours_wc = mapped(particles), mapped(particles_wc)

    def view_only(f: int) -> None:
        """Information: only the expression into the map_write view (no blocks, no submit)."""
        m.begin_frame()
        t0 = time.perf_counter()
        with particles.map_write(np.float32) as view:
            _expression(base, drift, f, view.reshape(N_PARTICLES, 8))
        spent[0] += time.perf_counter() - t0
        m.end_frame()

    def ours_update(f: int) -> None:
        m.begin_frame()
        t0 = time.perf_counter()
        _expression(base, drift, f, temp)
        particles.update(temp)
        for k, i in enumerate(plan[f % len(plan)]):
            m.update_buffer(block_bufs[i], block_src["data"][k])
        m.submit_uploads()
        spent[0] += time.perf_counter() - t0
        m.end_frame()

    spent = [0.0]

    def own(write: Any) -> Runner:
        state = {"f": 0}

        def run(n: int) -> float:
            spent[0] = 0.0
            for _ in range(n):
                write(state["f"])
                state["f"] += 1
            return spent[0]

        return run

    ring = [data.destination(PARTICLE_BYTES).view(np.float32).reshape(N_PARTICLES, 8)
            for _ in range(3)]
    floor_blocks = np.zeros(N_BLOCKS, BLOCK)

    def floor(f: int) -> None:
        _expression(base, drift, f, ring[f % 3])
        floor_blocks[plan[f % len(plan)]] = block_src

    def floor_in_frames(f: int) -> None:
        """Information: the floor's work timed inside an (empty) engine frame."""
        m.begin_frame()
        t0 = time.perf_counter()
        floor(f)
        spent[0] += time.perf_counter() - t0
        m.end_frame()

    runners: dict[str, Runner] = {"ours": own(ours), "ours_wc": own(ours_wc),
                                  "ours_update": own(ours_update),
                                  "ours_view_only": own(view_only),
                                  "numpy": _frames(floor),
                                  "numpy_in_frames": own(floor_in_frames)}
    skipped: dict[str, str] = {}
    peer_objects: list[Any] = []
    if session.moderngl.open():
        peer = session.moderngl
        gl_particles = [peer.buffer(PARTICLE_BYTES) for _ in range(3)]
        gl_blocks = [peer.buffer(BLOCK_BYTES) for _ in range(N_BLOCKS)]
        peer_objects += gl_particles + gl_blocks

        def gl(f: int) -> None:
            _expression(base, drift, f, temp)
            gl_particles[f % 3].write(temp)
            for k, i in enumerate(plan[f % len(plan)]):
                gl_blocks[i].write(block_src[k].tobytes())

        runners["moderngl"] = _frames(gl, peer.ctx.finish)
    else:
        skipped["moderngl"] = session.moderngl.skipped()["skipped"]
    if session.wgpu.open():
        peer = session.wgpu
        wg_particles = peer.buffer(PARTICLE_BYTES, "storage")
        wg_blocks = [peer.buffer(BLOCK_BYTES, "uniform") for _ in range(N_BLOCKS)]
        peer_objects += [wg_particles, *wg_blocks]
        write, submit = peer.queue.write_buffer, peer.queue.submit

        def wg(f: int) -> None:
            _expression(base, drift, f, temp)
            write(wg_particles, 0, temp)
            for k, i in enumerate(plan[f % len(plan)]):
                write(wg_blocks[i], 0, block_src[k].tobytes())
            submit([])

        runners["wgpu"] = _frames(wg, peer.device._poll_wait)
    else:
        skipped["wgpu"] = session.wgpu.skipped()["skipped"]
    session.log(f"access/compute_upload: {list(runners)}")
    measured = measure(runners, session.settings)
    # Check: the last frame's particles and blocks hold what the expression produced.
    expected = np.empty_like(temp)
    m.begin_frame()
    f = 10_000
    with particles.map_write(np.float32) as view:
        _expression(base, drift, f, view.reshape(N_PARTICLES, 8))
    m.update_rows(blocks, plan[0], block_src)
    m.end_frame()
    _expression(base, drift, f, expected)
    ok = (np.array_equal(m.read_array(particles.get_buffer(m.frame_index), np.float32),
                         expected.reshape(-1))
          and np.array_equal(m.read_array(blocks)[plan[0]], block_src))
    if not ok:
        raise AssertionError("access/compute_upload: wrong buffer contents")
    extra = {"memory_types": {"particles": hex(particles.buffers[0].memory_flags),
                              "particles_wc": hex(particles_wc.buffers[0].memory_flags),
                              "blocks": hex(blocks.memory_flags)},
             "mapped_writes": m.statistics().mapped_writes_total}
    for obj in peer_objects:
        (getattr(obj, "release", None) or getattr(obj, "destroy", lambda: None))()
    session.release(m)
    return build("access/compute_upload", "access",
                 "compute-and-upload frame (expression into 3.2 MB + 10 of 1,000 blocks)",
                 measurement=measured, skipped=skipped, per="frame",
                 nbytes=PARTICLE_BYTES + CHANGED * BLOCK_BYTES,
                 ratios=(("ours", "numpy"), ("ours_wc", "numpy"), ("ours_update", "numpy"),
                         ("ours_view_only", "numpy"), ("numpy_in_frames", "numpy"),
                         ("ours", "numpy_in_frames"), ("moderngl", "ours"),
                         ("wgpu", "ours"), ("ours_update", "ours")),
                 bars=UPLOAD_BARS,
                 params={"particles": N_PARTICLES, "particle_bytes": 32, "blocks": N_BLOCKS,
                         "block_bytes": BLOCK_BYTES, "changed_per_frame": CHANGED,
                         "particle_strategy": "host_cached BufferSet + map_write",
                         "block_strategy": "device_local + update_rows"},
                 extra=extra)


def scatter(session: Session) -> dict[str, Any]:
    m = session.manager(frames_in_flight=3)
    buf = m.create_buffer(BufferConfig("rows", SCATTER_BUFFER_ROWS * ROW.itemsize,
                                       BufferStrategy.DEVICE_LOCAL, BufferUsage.STORAGE, ROW))
    rng = np.random.default_rng(11)
    index_sets = [rng.choice(SCATTER_BUFFER_ROWS, SCATTER_ROWS, replace=False)
                  for _ in range(4)]
    rows = np.zeros(SCATTER_ROWS, ROW)
    rows["v"] = rng.random((SCATTER_ROWS, 8), dtype=np.float32)
    whole = np.zeros(SCATTER_BUFFER_ROWS, ROW)
    row_bytes = [rows[i:i + 1] for i in range(SCATTER_ROWS)]

    def frame(write: Any) -> Runner:
        state = {"f": 0}

        def run(n: int) -> float:
            start = time.perf_counter()
            for _ in range(n):
                m.begin_frame()
                write(state["f"])
                m.end_frame()
                m.frames.wait_idle_and_recycle(what="bench scatter")
                state["f"] += 1
            return time.perf_counter() - start

        return run

    def ours(f: int) -> None:
        m.update_rows(buf, index_sets[f % 4], rows)

    def calls(f: int) -> None:
        update = m.update_buffer
        for k, i in enumerate(index_sets[f % 4].tolist()):
            update(buf, row_bytes[k], offset=i * 32)

    def rewrite(f: int) -> None:
        whole[index_sets[f % 4]] = rows
        m.update_buffer(buf, whole)

    runners = {"ours": frame(ours), "ours_calls": frame(calls), "ours_whole": frame(rewrite)}
    session.log("access/scatter: 10,000 of 1,000,000 rows")
    settings = session.settings
    measured = measure(runners, settings, rounds=max(5, settings.rounds // 4))
    m.update_buffer(buf, np.zeros(SCATTER_BUFFER_ROWS, ROW))
    m.update_rows(buf, index_sets[0], rows)
    got = m.read_array(buf)
    if not np.array_equal(got[index_sets[0]], rows):
        raise AssertionError("access/scatter: wrong rows")
    regions = m.statistics().scatter_regions_total
    session.release(m)
    return build("access/scatter", "access",
                 "scatter: 10,000 random rows of a 1,000,000 x 32 B DEVICE_LOCAL buffer",
                 measurement=measured, per="frame",
                 ratios=(("ours_calls", "ours"), ("ours_whole", "ours")), bars=SCATTER_BARS,
                 params={"rows": SCATTER_ROWS, "buffer_rows": SCATTER_BUFFER_ROWS,
                         "row_bytes": 32, "timed": "begin, writes, end, wait for the GPU"},
                 extra={"regions_total": regions})


def readback(session: Session) -> dict[str, Any]:
    m = session.manager(frames_in_flight=3)
    buf = m.create_buffer(BufferConfig("big", READBACK_BYTES, BufferStrategy.DEVICE_LOCAL,
                                       BufferUsage.STORAGE))
    m.update_buffer(buf, data.source(READBACK_BYTES, seed=9))
    small = m.create_buffer(BufferConfig("small", 256, BufferStrategy.DEVICE_LOCAL,
                                         BufferUsage.UNIFORM))
    payload = data.source(256, seed=10)
    pending: list[Any] = []
    seen = [0]
    base = data.source(PARTICLE_BYTES, seed=11).view(np.float32)
    drift = data.source(PARTICLE_BYTES, seed=12).view(np.float32)
    out = np.empty_like(base)

    def loop(read: bool, work: bool = False) -> Runner:
        def run(n: int) -> float:
            start = time.perf_counter()
            for f in range(n):
                m.begin_frame()
                m.update_buffer(small, payload)
                if work:  # a frame with CPU work: the compute-and-upload expression
                    _expression(base, drift, f, out)
                if read:
                    while pending and pending[0].ready:
                        result = pending.pop(0).result()
                        seen[0] += int(result[0]) + int(result[-1])
                    pending.append(m.read_async(buf))
                m.end_frame()
            return time.perf_counter() - start

        return run

    runners: dict[str, Runner] = {"ours": loop(True), "ours_noread": loop(False),
                                  "ours_work": loop(True, True),
                                  "ours_work_noread": loop(False, True)}
    skipped: dict[str, str] = {}
    if session.wgpu.open():
        peer = session.wgpu
        wgpu = peer.wgpu
        src = peer.device.create_buffer(size=READBACK_BYTES,
                                        usage=wgpu.BufferUsage.COPY_SRC
                                        | wgpu.BufferUsage.COPY_DST
                                        | wgpu.BufferUsage.STORAGE)
        peer.queue.write_buffer(src, 0, data.source(READBACK_BYTES, seed=9))
        ubo = peer.buffer(256, "uniform")

        def wg(n: int) -> float:
            start = time.perf_counter()
            for _ in range(n):
                peer.queue.write_buffer(ubo, 0, payload)
                got = peer.queue.read_buffer(src)
                seen[0] += got[0] + got[-1]
            return time.perf_counter() - start

        runners["wgpu"] = wg
    else:
        skipped["wgpu"] = session.wgpu.skipped()["skipped"]
    session.log("access/readback: 16 MiB per frame")
    settings = session.settings
    measured = measure(runners, settings, rounds=max(5, settings.rounds // 4))
    stats = m.statistics()
    while pending:
        pending.pop(0).wait()
    extra = {"readback_fence_waits_on_frame_path": stats.readback_fence_waits,
             "readbacks": stats.readbacks_started_total}
    session.release(m)
    return build("access/readback", "access",
                 "16 MiB DEVICE_LOCAL read back every frame, 3 frames in flight",
                 measurement=measured, skipped=skipped, per="frame", nbytes=READBACK_BYTES,
                 ratios=(("ours", "ours_noread"), ("wgpu", "ours"),
                         ("ours_work", "ours_work_noread")), bars=READBACK_BARS,
                 params={"bytes": READBACK_BYTES, "frames_in_flight": 3},
                 extra=extra)


REBAR_SIZES = (4096, 65536, 1 << 20, 16 << 20)


def rebar(session: Session) -> list[dict[str, Any]]:
    """Direct (in place, DEVICE_LOCAL|HOST_VISIBLE memory) vs staged writes of a DEVICE_LOCAL
    buffer when nothing is in flight: each op is one ``update_buffer`` and everything needed
    until the GPU has the bytes (staged: submit the copy and wait for it)."""
    from engine.buffers.manager import DIRECT_MAX_BYTES
    from engine.errors import EngineError

    direct = session.manager(frames_in_flight=3, direct_writes=True)
    staged = session.manager(frames_in_flight=3, direct_writes=False)
    probe = session.manager(frames_in_flight=3)
    default = probe.direct_writes
    session.release(probe)
    figures = []
    for size in REBAR_SIZES:
        payload = data.source(size, seed=12)
        try:
            bufs = {name: m.create_buffer(BufferConfig(f"rebar{size}", size,
                                                       BufferStrategy.DEVICE_LOCAL))
                    for name, m in (("ours_direct", direct), ("ours_staged", staged))}
        except EngineError as exc:
            figures.append(build(f"access/rebar/{data.fmt_size(size)}", "access",
                                 f"direct vs staged DEVICE_LOCAL write, {data.fmt_size(size)}",
                                 measurement=None, skipped={"ours_direct": str(exc)}))
            continue
        if direct.statistics().direct_buffers == 0:
            reason = ("no DEVICE_LOCAL|HOST_VISIBLE memory type with room here"
                      if size <= DIRECT_MAX_BYTES else "above DIRECT_MAX_BYTES")
            figures.append(build(f"access/rebar/{data.fmt_size(size)}", "access",
                                 f"direct vs staged DEVICE_LOCAL write, {data.fmt_size(size)}",
                                 measurement=None, skipped={"ours_direct": reason}))
            for name, m in (("ours_direct", direct), ("ours_staged", staged)):
                m.destroy_buffer(bufs[name])
            continue

        def op(m: Any, buf: Any, payload: Any = payload) -> Runner:
            def run(n: int) -> float:
                start = time.perf_counter()
                for _ in range(n):
                    m.update_buffer(buf, payload)
                    m.submit_uploads()
                    m.frames.wait_idle_and_recycle(what="bench rebar")
                return time.perf_counter() - start

            return run

        runners = {"ours_direct": op(direct, bufs["ours_direct"]),
                   "ours_staged": op(staged, bufs["ours_staged"])}
        before = direct.statistics().direct_writes_total
        measured = measure(runners, session.settings)
        direct_count = direct.statistics().direct_writes_total - before
        ok = all(m.read_buffer(bufs[name]) == payload.tobytes()
                 for name, m in (("ours_direct", direct), ("ours_staged", staged)))
        if not ok:
            raise AssertionError("access/rebar: wrong contents")
        figures.append(build(
            f"access/rebar/{data.fmt_size(size)}", "access",
            f"direct vs staged DEVICE_LOCAL write, {data.fmt_size(size)}, nothing in flight",
            measurement=measured, per="write", nbytes=size,
            ratios=(("ours_staged", "ours_direct"),),
            params={"size": size},
            extra={"direct_writes_made": direct_count,
                   "direct_memory_flags": hex(bufs["ours_direct"].memory_flags),
                   "staged_memory_flags": hex(bufs["ours_staged"].memory_flags),
                   "default_direct_writes_here": default}))
        for name, m in (("ours_direct", direct), ("ours_staged", staged)):
            m.destroy_buffer(bufs[name])
    for m in (direct, staged):
        session.release(m)
    return figures


def run(session: Session) -> list[dict[str, Any]]:
    return [compute_upload(session), scatter(session), readback(session), *rebar(session)]
