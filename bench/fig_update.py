"""Host-visible ``update_buffer`` vs numpy ``np.copyto`` (the limit) vs wgpu-py vs moderngl.

What each variant times, per call, for the same float32 source array of ``size`` bytes:

- ``ours``: ``manager.update_buffer(buf, src)`` on a HOST_VISIBLE buffer, inside an open frame
  (hazard checks on, the default): argument checks plus one copy into the mapped memory.
- ``numpy``: ``np.copyto(dst, src)`` into a page-aligned plain-RAM array: the limit.
- ``wgpu``: ``queue.write_buffer(buf, 0, src)``. wgpu copies into its staging memory now and
  copies to the buffer at the next submit; the submit is *not* timed (it runs untimed after
  each chunk), which favours wgpu.
- ``moderngl``: ``Buffer.write(src)`` (``glBufferSubData`` on a GL_DYNAMIC_DRAW buffer).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine import BufferConfig, BufferStrategy, BufferUsage

from . import data
from .figure import Bar, build
from .session import Session
from .timing import Runner, measure, timed_call

FULL_SIZES = (256, 4 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20)
QUICK_SIZES = (256, 64 << 10, 1 << 20, 16 << 20)

BARS: dict[int, tuple[Bar, ...]] = {
    256: (Bar("update_buffer 256 B at most 4x a numpy copy of 256 B", "ours", "numpy", "<=", 4.0),
          Bar("update_buffer 256 B at least 3x faster than wgpu-py write_buffer",
              "wgpu", "ours", ">=", 3.0)),
    16 << 20: (Bar("update_buffer 16 MiB at least 0.9x numpy memcpy bandwidth",
                   "numpy", "ours", ">=", 0.9),),
}


def chunked(write: Any, args: tuple[Any, ...], flush: Any, chunk: int) -> Runner:
    """Time ``write(*args)`` in chunks of ``chunk`` calls, with ``flush()`` untimed between."""

    def run(n: int) -> float:
        total = 0.0
        done = 0
        while done < n:
            k = min(chunk, n - done)
            start = time.perf_counter()
            for _ in range(k):
                write(*args)
            total += time.perf_counter() - start
            done += k
            flush()
        return total

    return run


def peer_chunk(size: int) -> int:
    """Calls between untimed flushes: at most ~4 MiB of peer staging memory pending."""
    return max(1, min(1000, (4 << 20) // size))


def run(session: Session) -> list[dict[str, Any]]:
    sizes = QUICK_SIZES if session.quick else FULL_SIZES
    manager = session.manager(frames_in_flight=3)
    wgpu, mgl = session.wgpu, session.moderngl
    wgpu.open()
    mgl.open()
    figures = []
    manager.begin_frame()
    try:
        for size in sizes:
            usage = BufferUsage.UNIFORM if size <= 64 << 10 else BufferUsage.STORAGE
            buf = manager.create_buffer(BufferConfig(
                f"bench-update-{size}", size, BufferStrategy.HOST_VISIBLE, usage))
            src = data.source(size, seed=size)
            dst = data.destination(size)
            runners: dict[str, Runner] = {
                "ours": timed_call(manager.update_buffer, buf, src),
                "numpy": timed_call(np.copyto, dst, src),
            }
            skipped: dict[str, str] = {}
            peer_objects: list[Any] = []
            if wgpu.available:
                wbuf = wgpu.buffer(size, "uniform" if usage == BufferUsage.UNIFORM else "storage")
                peer_objects.append(wbuf)
                runners["wgpu"] = chunked(wgpu.queue.write_buffer, (wbuf, 0, src), wgpu.flush,
                                          peer_chunk(size))
            else:
                skipped["wgpu"] = wgpu.skipped()["skipped"]
            if mgl.available:
                mbuf = mgl.buffer(size)
                peer_objects.append(mbuf)
                runners["moderngl"] = chunked(mbuf.write, (src,), mgl.flush, peer_chunk(size))
            else:
                skipped["moderngl"] = mgl.skipped()["skipped"]
            session.log(f"update host_visible {data.fmt_size(size)}: {list(runners)}")
            m = measure(runners, session.settings)
            if not np.array_equal(manager.read_array(buf, np.float32), src):
                raise AssertionError(f"update_buffer {size} B: buffer content is wrong")
            figures.append(build(
                f"update/host_visible/{data.fmt_size(size).replace(' ', '')}", "update",
                f"host-visible update_buffer, {data.fmt_size(size)}", measurement=m,
                skipped=skipped, nbytes=size,
                ratios=(("ours", "numpy"), ("wgpu", "ours"), ("moderngl", "ours"),
                        ("numpy", "ours")),
                bars=BARS.get(size, ()),
                params={"size": data.fmt_size(size), "strategy": "host_visible",
                        "hazard_checks": manager.hazard_checks},
                extra={"memory_type_index": buf.memory_type_index,
                       "memory_flags": hex(buf.memory_flags),
                       "page_offset": {"src": data.page_offset(src), "dst_numpy":
                                       data.page_offset(dst),
                                       "dst_mapped": data.page_offset(buf.allocation.view)}}))
            manager.destroy_buffer(buf)
            for obj in peer_objects:
                if hasattr(obj, "release"):
                    obj.release()
                elif hasattr(obj, "destroy"):
                    obj.destroy()
    finally:
        manager.end_frame()
        session.release(manager)
    return figures
