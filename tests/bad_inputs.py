"""The bad-input table: every public call, each bad input, the error it must raise.

Used by ``tests/test_bad_inputs.py`` (each row is a test: right class, a message naming the call,
state unchanged) and by ``python tests/bad_inputs.py`` which prints the Markdown table of
RELIABILITY.md with the real messages.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine import (
    BufferConfig,
    BufferManager,
    BufferSet,
    BufferStrategy,
    BufferUsage,
    GraphicsContext,
    ResourceBinder,
    UniformRing,
    errors,
)
from engine.shaders.compiler import compile_glsl, compile_glsl_source
from engine.shaders.reflect import reflect_spirv

SCALE_COMP = Path(__file__).parent / "shaders" / "binder" / "scale.comp"
S = BufferStrategy


class World:
    """One context with the objects the bad calls are made against."""

    def __init__(self) -> None:
        self.ctx = GraphicsContext.create(validation=True)
        self.m = BufferManager(self.ctx)
        self.other = BufferManager(self.ctx)
        self.binder = ResourceBinder(self.ctx)
        self.host = self.m.create_buffer(BufferConfig("host", 64, S.HOST_VISIBLE,
                                                      BufferUsage.UNIFORM | BufferUsage.STORAGE))
        self.dev = self.m.create_buffer(BufferConfig("dev", 64, S.DEVICE_LOCAL,
                                                     BufferUsage.STORAGE))
        self.typed = self.m.create_buffer(BufferConfig("typed", 64, S.HOST_VISIBLE,
                                                       BufferUsage.STORAGE, np.dtype("<f4")))
        self.dead = self.m.create_buffer(BufferConfig("dead", 64, S.HOST_VISIBLE))
        self.m.destroy_buffer(self.dead)
        self.foreign = self.other.create_buffer(BufferConfig("foreign", 64, S.HOST_VISIBLE))
        self.tiny = self.m.create_buffer(BufferConfig("tiny", 4, S.HOST_VISIBLE,
                                                      BufferUsage.UNIFORM))
        self.set = BufferSet(self.m, 64, name="per_frame")
        self.pid = self.binder.register_pipeline("scale", [compile_glsl(SCALE_COMP)])
        self.m.update_buffer(self.host, bytes(range(64)))
        self.ring = UniformRing(self.m, 16, 4, name="ring")
        self.closed = BufferManager(self.ctx)
        self.closed_buf = self.closed.create_buffer(BufferConfig("gone", 16, S.HOST_VISIBLE))
        self.closed.close()

    def state(self) -> tuple[Any, ...]:
        """What a failed call must not change (read first: a blocking read-back between
        frames also frees what completed retirements left, which is not the call's doing)."""
        contents = bytes(self.m.read_buffer(self.host))
        s = self.m.statistics()
        return (s.live_buffers, s.live_bytes, s.pending_destroy_count, s.uploads_total,
                s.host_writes_this_frame, s.allocate_memory_calls, s.live_allocations,
                self.m.frame_number, self.host.generation, self.host.size,
                contents, self.binder.binding_names(self.pid),
                self.binder.missing_bindings(self.pid))

    def close(self) -> None:
        self.ctx.close()


@dataclass(frozen=True)
class Row:
    call: str
    bad_input: str
    error: type[Exception]
    act: Callable[[World], Any]


def _heap(w: World) -> int:
    return max(size for size, _ in w.ctx.memory_heaps)


ROWS: list[Row] = [
    # --- create_buffer ---------------------------------------------------------------------
    Row("create_buffer", "size 0", errors.InvalidSizeError,
        lambda w: w.m.create_buffer(BufferConfig("x", 0))),
    Row("create_buffer", "negative size", errors.InvalidSizeError,
        lambda w: w.m.create_buffer(BufferConfig("x", -1))),
    Row("create_buffer", "float size 1.5", errors.InvalidSizeError,
        lambda w: w.m.create_buffer(BufferConfig("x", 1.5))),  # type: ignore[arg-type]
    Row("create_buffer", "NaN size", errors.InvalidSizeError,
        lambda w: w.m.create_buffer(BufferConfig("x", math.nan))),  # type: ignore[arg-type]
    Row("create_buffer", "size 2**70", errors.InvalidSizeError,
        lambda w: w.m.create_buffer(BufferConfig("x", 1 << 70))),
    Row("create_buffer", "larger than the memory heap", errors.OutOfDeviceMemoryError,
        lambda w: w.m.create_buffer(BufferConfig("x", _heap(w) + 4096))),
    Row("create_buffer", "unknown strategy 'fastest'", errors.InvalidStrategyError,
        lambda w: w.m.create_buffer(BufferConfig("x", 16, "fastest"))),  # type: ignore[arg-type]
    Row("create_buffer", "empty usage", errors.InvalidUsageError,
        lambda w: w.m.create_buffer(BufferConfig("x", 16, S.HOST_VISIBLE, 0))),  # type: ignore[arg-type]
    Row("create_buffer", "unknown usage bits", errors.InvalidUsageError,
        lambda w: w.m.create_buffer(BufferConfig("x", 16, S.HOST_VISIBLE, 1 << 30))),  # type: ignore[arg-type]
    Row("create_buffer", "empty name", errors.InvalidNameError,
        lambda w: w.m.create_buffer(BufferConfig("", 16))),
    Row("create_buffer", "a dict instead of BufferConfig", errors.InvalidDataError,
        lambda w: w.m.create_buffer({"name": "x", "size": 16})),  # type: ignore[arg-type]
    Row("create_buffer", "object dtype", errors.InvalidDataError,
        lambda w: w.m.create_buffer(BufferConfig("x", 16, dtype=np.dtype(object)))),
    Row("create_buffer", "frame index 7", errors.InvalidFrameIndexError,
        lambda w: w.m.create_buffer(BufferConfig("x", 16), 7)),
    Row("create_buffer", "on a closed manager", errors.ManagerClosedError,
        lambda w: w.closed.create_buffer(BufferConfig("x", 16))),
    # --- update_buffer -----------------------------------------------------------------------
    Row("update_buffer", "65 bytes into 64", errors.OutOfBoundsError,
        lambda w: w.m.update_buffer(w.host, b"x" * 65)),
    Row("update_buffer", "8 bytes at offset 60", errors.OutOfBoundsError,
        lambda w: w.m.update_buffer(w.dev, b"x" * 8, offset=60)),
    Row("update_buffer", "negative offset", errors.InvalidOffsetError,
        lambda w: w.m.update_buffer(w.host, b"x", offset=-1)),
    Row("update_buffer", "offset 2**64", errors.InvalidOffsetError,
        lambda w: w.m.update_buffer(w.host, b"x", offset=1 << 64)),
    Row("update_buffer", "NaN offset", errors.InvalidOffsetError,
        lambda w: w.m.update_buffer(w.host, b"x", offset=math.nan)),  # type: ignore[arg-type]
    Row("update_buffer", "a Python list", errors.InvalidDataError,
        lambda w: w.m.update_buffer(w.host, [1, 2, 3])),
    Row("update_buffer", "a str", errors.InvalidDataError,
        lambda w: w.m.update_buffer(w.host, "abc")),
    Row("update_buffer", "an object array", errors.InvalidDataError,
        lambda w: w.m.update_buffer(w.host, np.array([object()]))),
    Row("update_buffer", "float64 array into a float32 buffer", errors.InvalidDataError,
        lambda w: w.m.update_buffer(w.typed, np.zeros(4))),
    Row("update_buffer", "raw bytes into a typed buffer", errors.InvalidDataError,
        lambda w: w.m.update_buffer(w.typed, b"\0" * 4)),
    Row("update_buffer", "offset 2 in a float32 buffer", errors.InvalidOffsetError,
        lambda w: w.m.update_buffer(w.typed, np.zeros(1, "<f4"), offset=2)),
    Row("update_buffer", "destroyed buffer", errors.BufferDestroyedError,
        lambda w: w.m.update_buffer(w.dead, b"x")),
    Row("update_buffer", "buffer of another manager", errors.ForeignBufferError,
        lambda w: w.m.update_buffer(w.foreign, b"x")),
    Row("update_buffer", "not a buffer", errors.InvalidDataError,
        lambda w: w.m.update_buffer("host", b"x")),  # type: ignore[arg-type]
    Row("update_buffer", "frame index 3 of 3", errors.InvalidFrameIndexError,
        lambda w: w.m.update_buffer(w.host, b"x", 3)),
    Row("update_buffer", "buffer of a closed manager", errors.BufferDestroyedError,
        lambda w: w.closed.update_buffer(w.closed_buf, b"x")),
    # --- resize / destroy / read ------------------------------------------------------------
    Row("resize_buffer", "size 0", errors.InvalidSizeError,
        lambda w: w.m.resize_buffer(w.host, 0)),
    Row("resize_buffer", "size '8' (a string)", errors.InvalidSizeError,
        lambda w: w.m.resize_buffer(w.host, "8")),  # type: ignore[arg-type]
    Row("resize_buffer", "larger than the heap", errors.OutOfDeviceMemoryError,
        lambda w: w.m.resize_buffer(w.host, _heap(w) + 4096)),
    Row("resize_buffer", "destroyed buffer", errors.BufferDestroyedError,
        lambda w: w.m.resize_buffer(w.dead, 128)),
    Row("destroy_buffer", "destroyed twice", errors.BufferDestroyedError,
        lambda w: w.m.destroy_buffer(w.dead)),
    Row("destroy_buffer", "buffer of another manager", errors.ForeignBufferError,
        lambda w: w.m.destroy_buffer(w.foreign)),
    Row("read_buffer", "size past the end", errors.OutOfBoundsError,
        lambda w: w.m.read_buffer(w.host, 32, 64)),
    Row("read_buffer", "negative size", errors.InvalidSizeError,
        lambda w: w.m.read_buffer(w.host, 0, -1)),
    Row("read_buffer", "destroyed buffer", errors.BufferDestroyedError,
        lambda w: w.m.read_buffer(w.dead)),
    # --- frames -------------------------------------------------------------------------------
    Row("begin_frame", "slot 1 when slot 0 is next", errors.InvalidFrameIndexError,
        lambda w: w.m.begin_frame(1)),
    Row("begin_frame", "slot -1", errors.InvalidFrameIndexError,
        lambda w: w.m.begin_frame(-1)),
    Row("end_frame", "no frame open", errors.FrameStateError,
        lambda w: w.m.end_frame()),
    Row("BufferManager", "frames_in_flight=5", errors.InvalidFrameIndexError,
        lambda w: BufferManager(w.ctx, frames_in_flight=5)),
    Row("BufferSet.update", "slot 3 of 3", errors.InvalidFrameIndexError,
        lambda w: w.set.update(b"x" * 64, 3)),
    Row("BufferSet.update_all", "65 bytes into 64", errors.OutOfBoundsError,
        lambda w: w.set.update_all(b"x" * 65)),
    # --- binding --------------------------------------------------------------------------------
    Row("bind_uniform_buffer_named", "unknown name 'Params2'", errors.UnknownBindingError,
        lambda w: w.binder.bind_uniform_buffer_named(w.pid, "Params2", w.host)),
    Row("bind_storage_buffer_named", "a uniform block's name", errors.BindingTypeMismatchError,
        lambda w: w.binder.bind_storage_buffer_named(w.pid, "Params", w.host)),
    Row("bind_uniform_buffer_named", "4-byte buffer for a 12-byte block", errors.BindingSizeError,
        lambda w: w.binder.bind_uniform_buffer_named(w.pid, "Params", w.tiny)),
    Row("bind_uniform_buffer_named", "2 buffers for 3 frame slots", errors.BindingCountError,
        lambda w: w.binder.bind_uniform_buffer_named(w.pid, "Params", [w.host, w.host])),
    Row("bind_uniform_buffer_named", "destroyed buffer", errors.BufferDestroyedError,
        lambda w: w.binder.bind_uniform_buffer_named(w.pid, "Params", w.dead)),
    Row("bind_uniform_buffer_named", "dtype with scale at offset 4", errors.LayoutMismatchError,
        lambda w: w.binder.bind_uniform_buffer_named(
            w.pid, "Params", w.host,
            dtype=np.dtype({"names": ["scale", "bias", "count"], "formats": ["<f4", "<f4", "<u4"],
                            "offsets": [4, 0, 8], "itemsize": 12}))),
    Row("bind_uniform_buffer_named", "a raw VkBuffer handle", errors.InvalidDataError,
        lambda w: w.binder.bind_uniform_buffer_named(w.pid, "Params", w.host.handle)),
    Row("update_frame", "frame index 9", errors.InvalidFrameIndexError,
        lambda w: w.binder.update_frame(w.pid, 9)),
    Row("register_pipeline", "malformed SPIR-V (wrong magic)", errors.ReflectionError,
        lambda w: w.binder.register_pipeline("bad", [b"\x00" * 64])),
    Row("reflect_spirv", "truncated module", errors.ReflectionError,
        lambda w: reflect_spirv(compile_glsl(SCALE_COMP)[:37])),
    Row("compile_glsl_source", "GLSL with an undeclared identifier", errors.ShaderCompileError,
        lambda w: compile_glsl_source("#version 450\nvoid main() { x = 1; }\n", "comp",
                                      name="broken.comp")),
    # --- uniform ring and dynamic offsets -------------------------------------------------------
    Row("UniformRing", "capacity 0", errors.InvalidSizeError,
        lambda w: UniformRing(w.m, 16, 0, name="empty")),
    Row("UniformRing.push", "outside a frame", errors.RingFrameError,
        lambda w: w.ring.push(bytes(16))),
    Row("bind_ring_named", "a ring on a binding not declared dynamic", errors.DynamicBindingError,
        lambda w: w.binder.bind_ring_named(w.pid, "Params", w.ring)),
    Row("register_pipeline", "dynamic='Params' (one string)", errors.InvalidOptionError,
        lambda w: w.binder.register_pipeline("dyn", [compile_glsl(SCALE_COMP)],
                                             dynamic="Params")),
    Row("dynamic_offset_array", "1 offset for a pipeline without dynamic bindings",
        errors.DynamicOffsetError, lambda w: w.binder.dynamic_offset_array(w.pid, 0, [0])),
]


def run_row(world: World, row: Row) -> Exception:
    """Run one row; return the exception it raised (AssertionError if none)."""
    try:
        row.act(world)
    except Exception as exc:
        return exc
    raise AssertionError(f"{row.call} with {row.bad_input}: nothing raised")


def markdown() -> str:
    world = World()
    try:
        lines = ["| # | call | bad input | error | message |", "|---|---|---|---|---|"]
        for i, row in enumerate(ROWS, start=1):
            exc = run_row(world, row)
            message = str(exc).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {i} | `{row.call}` | {row.bad_input} | `{type(exc).__name__}` | "
                         f"{message} |")
        return "\n".join(lines)
    finally:
        world.close()


if __name__ == "__main__":
    print(markdown())
