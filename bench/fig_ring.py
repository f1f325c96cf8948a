"""The uniform ring: 1,000 per-object blocks of 256 B per frame, bound by dynamic offset.

Variants (timed per frame; ``begin_frame``/``end_frame`` run untimed around each):

- ``ours`` (the bar is judged on it): ``UniformRing.push_many`` of the 1,000 blocks (one
  copy into this slot's mapped buffer: a memmove, the 256 B blocks being packed at the
  device's alignment). ``ResourceBinder.update_all`` of the slot runs after it, untimed
  (the ring's descriptors were written once per slot, so it writes 0 per frame: recorded).
- ``ours_bound`` (information): ``push_many``, ``update_all`` and recording 1,000
  dispatches that each bind the pipeline's set with one object's dynamic offset
  (``ComputePipeline.record`` with ``dynamic_offsets=[offset]`` and an empty dispatch, no
  barrier), all timed: the cost of binding per object from Python, checks included. The
  command buffer is begun and submitted untimed.
- ``buffers`` (information): the same 1,000 blocks written the way one buffer per object
  would be: 1,000 HOST_VISIBLE per-object buffers per frame slot (3,000 buffers), one
  ``update_buffer`` call each into the current slot's buffer.
- ``numpy`` (the floor): one numpy copy of the same 256,000 bytes into one of 3 plain
  destinations (rotating like the slots); ``numpy_1dst`` (information) copies into one.

Descriptor writes per frame of ``ours`` are recorded after a settling frame per slot (the bar:
zero). The destinations' page offsets are recorded too (4K aliasing, see :mod:`bench.data`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine import BufferConfig, BufferStrategy, BufferUsage

from . import data
from .figure import Bar, build, skipped_figure
from .session import Session
from .timing import Runner, measure

N_OBJECTS, BLOCK_BYTES = 1000, 256
BLOCK = np.dtype([("model", "<f4", (BLOCK_BYTES // 4,))])
SHADER = """#version 450
layout(local_size_x = 1) in;
layout(set = 0, binding = 0, std140) uniform Object { vec4 model[16]; } obj;
layout(set = 0, binding = 1, std430) buffer Out { vec4 v[]; } outbuf;
void main() { outbuf.v[0] = obj.model[0]; }
"""
BARS = (
    Bar("uniform ring: 1,000 blocks of 256 B per frame via push_many at most 1.2x one numpy "
        "copy of the same bytes", "ours", "numpy", "<=", 1.2),
)
TITLE = "uniform ring: 1,000 blocks of 256 B per frame (push_many, dynamic offsets)"


class Ours:
    """A UniformRing bound by dynamic offset to a compute pipeline, on its own manager."""

    def __init__(self, session: Session, src: Any) -> None:
        from engine import ComputePipeline, FrameCommands, ResourceBinder, UniformRing
        from engine.shaders.compiler import compile_glsl_source

        self.manager = m = session.manager(frames_in_flight=3)
        self.binder = ResourceBinder(session.ctx, frames_in_flight=3)
        spirv = compile_glsl_source(SHADER, "comp", name="bench_ring.comp")
        self.pid = self.binder.register_pipeline("ring", [spirv], dynamic={"Object"})
        self.pipeline = ComputePipeline(self.binder, self.pid)
        self.commands = FrameCommands(m)
        self.ring = UniformRing(m, BLOCK, N_OBJECTS, name="objects")
        self.out = m.create_buffer(BufferConfig("out", 16, BufferStrategy.DEVICE_LOCAL,
                                                BufferUsage.STORAGE))
        self.binder.bind_ring_named(self.pid, "Object", self.ring)
        self.binder.bind_storage_buffer_named(self.pid, "Out", self.out)
        self.src = src
        self.writes: list[int] = []
        for _ in range(m.frames_in_flight):  # settle: each slot's descriptors written once
            m.begin_frame()
            self.binder.update_all(m.frame_index)
            m.end_frame()

    def runner(self, *, bound: bool) -> Runner:
        m, ring, binder, src = self.manager, self.ring, self.binder, self.src
        begin, end, push_many, update_all = m.begin_frame, m.end_frame, ring.push_many, \
            binder.update_all
        record, cmds, writes = self.pipeline.record, self.commands, self.writes
        empty = (0, 0, 0)

        def run(n: int) -> float:
            total = 0.0
            clock = time.perf_counter
            for _ in range(n):
                begin()
                slot = m.frame_index
                cmd = cmds.begin() if bound else None
                t0 = clock()
                offsets = push_many(src)
                if bound:
                    written = update_all(slot)
                    for offset in offsets.tolist():
                        record(cmd, slot, empty, dynamic_offsets=[offset], barrier=False)
                total += clock() - t0
                if not bound:
                    written = update_all(slot)  # untimed here: the bar is on push_many
                if bound:
                    cmds.submit(cmd, what="bench ring")
                writes.append(written)
                end()
            return total

        return run

    def check(self) -> bool:
        """The last frame's slot holds the blocks at the ring's stride."""
        m, ring = self.manager, self.ring
        raw = np.frombuffer(m.read_buffer(ring.buffer(), 0, N_OBJECTS * ring.stride), np.uint8)
        rows = raw.reshape(N_OBJECTS, ring.stride)[:, :BLOCK_BYTES]
        return bool(np.array_equal(rows, self.src.view(np.uint8).reshape(N_OBJECTS, -1)))

    def close(self, session: Session) -> None:
        self.binder.close()
        session.release(self.manager)


class PerObject:
    """1,000 host-visible buffers per frame slot, one update_buffer each per frame."""

    def __init__(self, session: Session, src: Any) -> None:
        self.manager = m = session.manager(frames_in_flight=3)
        self.slots = [[m.create_buffer(BufferConfig(
            f"obj{i}[{f}]", BLOCK_BYTES, BufferStrategy.HOST_VISIBLE, BufferUsage.UNIFORM))
            for i in range(N_OBJECTS)] for f in range(m.frames_in_flight)]
        self.rows = [src[i:i + 1] for i in range(N_OBJECTS)]

    def runner(self) -> Runner:
        m = self.manager
        begin, end, update = m.begin_frame, m.end_frame, m.update_buffer
        slots, rows = self.slots, self.rows
        count = range(N_OBJECTS)

        def run(n: int) -> float:
            total = 0.0
            clock = time.perf_counter
            for _ in range(n):
                begin()
                buffers = slots[m.frame_index]
                t0 = clock()
                for i in count:
                    update(buffers[i], rows[i])
                total += clock() - t0
                end()
            return total

        return run

    def check(self) -> bool:
        m = self.manager
        buf = self.slots[m.frame_index][N_OBJECTS - 1]
        return m.read_buffer(buf) == self.rows[-1].tobytes()


def numpy_runner(src: Any, slots: int) -> Runner:
    raw = src.view(np.uint8).reshape(-1)
    dsts = [data.destination(raw.nbytes).view(np.uint8) for _ in range(slots)]
    cp = np.copyto
    state = {"frame": 0}

    def run(n: int) -> float:
        total = 0.0
        clock = time.perf_counter
        for _ in range(n):
            f = state["frame"]
            state["frame"] = f + 1
            dst = dsts[f % slots]
            t0 = clock()
            cp(dst, raw)
            total += clock() - t0
        return total

    return run


def run(session: Session) -> list[dict[str, Any]]:
    try:
        from engine import UniformRing  # noqa: F401
    except ImportError as exc:
        return [skipped_figure("ring/push_many_1000x256B", "ring", TITLE,
                               f"UniformRing not available here: {exc}"[:300], BARS)]
    src = data.source(N_OBJECTS * BLOCK_BYTES, seed=13).view(BLOCK).reshape(N_OBJECTS)
    session.log("ring: a UniformRing of 1,000 blocks, 3,000 per-object buffers")
    ours = Ours(session, src)
    per_object = PerObject(session, src)
    try:
        runners: dict[str, Runner] = {
            "ours": ours.runner(bound=False), "ours_bound": ours.runner(bound=True),
            "buffers": per_object.runner(), "numpy": numpy_runner(src, 3),
            "numpy_1dst": numpy_runner(src, 1)}
        m = measure(runners, session.settings)
        checks = {"ours": ours.check(), "buffers": per_object.check()}
        if not all(checks.values()):
            raise AssertionError(f"ring: wrong buffer contents {checks}")
        writes = ours.writes
        stats = ours.manager.statistics()
        extra = {
            "descriptor_writes": {"max": max(writes), "frames": len(writes)},
            "zero_writes": max(writes) == 0,
            "stride": ours.ring.stride,
            "alignment": ours.ring.alignment,
            "page_offsets": {"ring": [data.page_offset(b.allocation.view)
                                      for b in ours.ring.buffers],
                             "source": data.page_offset(src)},
            "buffers_per_variant": {"ours": len(ours.ring.buffers),
                                    "buffers": N_OBJECTS * per_object.manager.frames_in_flight},
            "allocate_memory_calls": stats.allocate_memory_calls,
        }
        fig = build("ring/push_many_1000x256B", "ring", TITLE, measurement=m, per="frame",
                    nbytes=N_OBJECTS * BLOCK_BYTES,
                    ratios=(("ours", "numpy"), ("ours", "numpy_1dst"), ("buffers", "ours"),
                            ("ours_bound", "ours")),
                    bars=BARS,
                    params={"objects": N_OBJECTS, "block_bytes": BLOCK_BYTES,
                            "frames_in_flight": 3},
                    extra=extra)
        fig["bars"].append({"text": "uniform ring: zero descriptor writes per frame",
                            "ratio": "max writes per frame", "op": "==", "threshold": 0,
                            "value": max(writes), "met": max(writes) == 0})
        return [fig]
    finally:
        ours.close(session)
        session.release(per_object.manager)
