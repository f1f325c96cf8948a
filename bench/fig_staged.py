"""Device-local staged upload per frame vs the raw Vulkan staging copy vs numpy memcpy.

Per frame, for ``size`` bytes (1 MiB, 16 MiB) from the same float32 source:

- ``ours``: ``begin_frame``, ``update_buffer`` (copy into the staging ring + a CopyOp),
  ``submit_uploads`` (record the copy with its barriers, submit), ``end_frame``, then wait for
  the frame's fence: one complete upload (update, record, submit, fence).
- ``raw``: :class:`bench.raw_vulkan.RawStagingCopy.upload_fenced`: the same steps written
  minimally against the ``vulkan`` package.
- ``numpy``: ``np.copyto`` of the same bytes (memcpy bandwidth, the bar's reference).
- ``ours_pipelined`` / ``raw_pipelined`` (information, no bar): 3 frames in flight, the fence
  is waited only when a slot comes round again (how the engine runs a game loop); each batch
  drains its pipeline untimed at the end.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine import BufferConfig, BufferManager, BufferStrategy, BufferUsage, ManagedBuffer

from . import data
from .figure import Bar, build
from .raw_vulkan import RawStagingCopy
from .session import Session
from .timing import Runner, measure, timed_call

SIZES = (1 << 20, 16 << 20)
BARS = {16 << 20: (
    Bar("device-local staged upload of 16 MiB in a frame at least 0.5x memcpy (lavapipe); "
        "fenced: update, record, submit, fence wait", "numpy", "ours", ">=", 0.5,
        bound="numpy/raw"),
    Bar("the same, pipelined as the engine runs frames (3 in flight)", "numpy",
        "ours_pipelined", ">=", 0.5, bound="numpy/raw_pipelined"))}


def ours_fenced(manager: BufferManager, buf: ManagedBuffer, src: Any) -> Runner:
    def run(n: int) -> float:
        begin, update, submit, end = (manager.begin_frame, manager.update_buffer,
                                      manager.submit_uploads, manager.end_frame)
        wait = manager.frames.wait_idle_and_recycle
        start = time.perf_counter()
        for _ in range(n):
            begin()
            update(buf, src)
            submit()
            end()
            wait(what="bench")
        return time.perf_counter() - start

    return run


def ours_pipelined(manager: BufferManager, buf: ManagedBuffer, src: Any) -> Runner:
    def run(n: int) -> float:
        begin, update, submit, end = (manager.begin_frame, manager.update_buffer,
                                      manager.submit_uploads, manager.end_frame)
        start = time.perf_counter()
        for _ in range(n):
            begin()
            update(buf, src)
            submit()
            end()
        elapsed = time.perf_counter() - start
        manager.frames.wait_idle_and_recycle(what="bench drain")
        return elapsed

    return run


def raw_pipelined(raw: RawStagingCopy, src: Any) -> Runner:
    def run(n: int) -> float:
        upload = raw.upload_pipelined
        start = time.perf_counter()
        for _ in range(n):
            upload(src)
        elapsed = time.perf_counter() - start
        raw.drain()
        return elapsed

    return run


def run(session: Session) -> list[dict[str, Any]]:
    figures = []
    manager = session.manager(frames_in_flight=3)
    try:
        for size in SIZES:
            buf = manager.create_buffer(BufferConfig(
                f"bench-staged-{size}", size, BufferStrategy.DEVICE_LOCAL, BufferUsage.STORAGE))
            src = data.source(size, seed=size + 1)
            dst = data.destination(size)
            raw = RawStagingCopy(session.ctx, size, slots=1)
            raw3 = RawStagingCopy(session.ctx, size, slots=3)
            try:
                runners: dict[str, Runner] = {
                    "ours": ours_fenced(manager, buf, src),
                    "raw": timed_call(raw.upload_fenced, src),
                    "numpy": timed_call(np.copyto, dst, src),
                    "ours_pipelined": ours_pipelined(manager, buf, src),
                    "raw_pipelined": raw_pipelined(raw3, src),
                }
                session.log(f"staged device_local {data.fmt_size(size)}")
                m = measure(runners, session.settings)
                ok_ours = np.array_equal(manager.read_array(buf, np.float32), src)
                ok_raw = raw.read_back_matches(src)
                if not (ok_ours and ok_raw):
                    raise AssertionError(f"staged {size} B: content wrong (ours {ok_ours}, "
                                         f"raw {ok_raw})")
                extra = {"memory_types": {
                    "ours_device_local": f"{buf.memory_type_index} ({hex(buf.memory_flags)})",
                    "raw_dst": raw.dst_type, "raw_staging": raw.src_type},
                    "frames_in_flight": manager.frames_in_flight}
            finally:
                raw.close()
                raw3.close()
            figures.append(build(
                f"staged/device_local/{data.fmt_size(size).replace(' ', '')}", "staged",
                f"device-local staged upload, {data.fmt_size(size)} per frame", measurement=m,
                nbytes=size, per="frame",
                ratios=(("ours", "raw"), ("numpy", "ours"), ("numpy", "raw"),
                        ("ours_pipelined", "raw_pipelined"), ("numpy", "ours_pipelined"),
                        ("numpy", "raw_pipelined")),
                bars=BARS.get(size, ()),
                params={"size": data.fmt_size(size), "strategy": "device_local"},
                extra=extra))
            manager.destroy_buffer(buf)
    finally:
        session.release(manager)
    return figures
