"""BufferSet and GlobalUboSet: one host-visible buffer per frame slot, for per-frame data.

Host-visible memory is read by the GPU *when the frame executes*, so data that changes every
frame needs one buffer per frame in flight: frame slot ``f`` writes only buffer ``f``, which the
GPU finished reading when ``begin_frame`` waited for the slot. The buffers are created once and
never replaced, so their generation stays 1 and bindings never need rewriting.

Two ways to write:

- :meth:`BufferSet.update` writes one slot (data that is rewritten every frame: camera, time).
- :meth:`BufferSet.update_all` sets the value from now on: the current slot at once, every other
  slot when its next frame begins (``begin_frame``, after the slot's previous use completed):
  data that changes now and then (a material, an emitter). Each write is a direct copy into
  mapped memory; nothing is staged or submitted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.buffers.manager import BufferManager
from engine.buffers.mapped import MappedWrite
from engine.buffers.types import BufferConfig, BufferStrategy, BufferUsage, ManagedBuffer
from engine.device.interrupts import defers_interrupts
from engine.errors import (
    EngineError,
    InvalidDataError,
    InvalidFrameIndexError,
    InvalidNameError,
    InvalidOptionError,
    InvalidSizeError,
)
from engine.identity import Unshareable
from engine.numbers import as_int


def _renamed(exc: EngineError, call: str, name: str) -> EngineError:
    """The same error class, with the BufferSet call named first."""
    return type(exc)(f"{call}({name!r}) -> {exc}")


class BufferSet(Unshareable):
    """``frames_in_flight`` buffers of one size: one per frame slot (not copyable).

    Args:
        buffer_manager: the owner.
        dtype_or_size: a numpy dtype (size = its itemsize, and writes must use it) or a size
            in bytes.
        name: base label; buffer ``f`` is named ``f"{name}[{f}]"``.
        usage: what the GPU does with them (default UNIFORM).
        strategy: HOST_VISIBLE (default) or HOST_CACHED.
    """

    def __init__(self, buffer_manager: BufferManager, dtype_or_size: Any, *, name: str,
                 usage: BufferUsage = BufferUsage.UNIFORM,
                 strategy: BufferStrategy = BufferStrategy.HOST_VISIBLE) -> None:
        what = f"BufferSet({name!r})"
        if not isinstance(buffer_manager, BufferManager):
            raise InvalidOptionError(f"{what}: buffer_manager {type(buffer_manager).__name__} "
                                     "is not a BufferManager.")
        if not isinstance(name, str) or not name:
            raise InvalidNameError(f"{what}: the name must be a non-empty string.")
        size = as_int(dtype_or_size)
        if size is not None:
            dtype = None
        elif isinstance(dtype_or_size, bool | float | np.bool_ | np.floating) \
                or dtype_or_size is None:
            raise InvalidSizeError(
                f"{what}: {dtype_or_size!r} is neither a size (an integer number of bytes) nor "
                "a numpy dtype.")
        else:
            try:
                dtype = np.dtype(dtype_or_size)
            except (TypeError, ValueError):
                raise InvalidDataError(
                    f"{what}: {dtype_or_size!r} is neither a size in bytes nor a numpy dtype."
                ) from None
            if dtype.hasobject or dtype.itemsize == 0:
                raise InvalidDataError(f"{what}: dtype {dtype} cannot live in GPU memory; use "
                                       "numeric fields only.")
            size = dtype.itemsize
        self.manager = buffer_manager
        self.name = name
        self.dtype = dtype
        self.buffers: list[ManagedBuffer] = []
        try:
            for f in range(buffer_manager.frames_in_flight):
                self.buffers.append(buffer_manager.create_buffer(
                    BufferConfig(f"{name}[{f}]", size, strategy, usage, dtype)))
        except BaseException:
            self.destroy()
            raise

    @property
    def size(self) -> int:
        return self.buffers[0].size

    def _slot(self, frame_index: int | None, what: str) -> int:
        if frame_index is None:
            return self.manager.frame_index
        n = len(self.buffers)
        slot = as_int(frame_index)
        if slot is None or not 0 <= slot < n:
            raise InvalidFrameIndexError(
                f"{what}({self.name!r}): frame index {frame_index!r} is not a slot 0..{n - 1}.")
        return slot

    def update(self, data: Any, frame_index: int | None = None, *, offset: int = 0) -> None:
        """Write ``data`` into the buffer of ``frame_index`` (default: the current slot)."""
        slot = self._slot(frame_index, "BufferSet.update")
        try:  # no context manager: this runs every frame, and try costs nothing
            self.manager.update_buffer(self.buffers[slot], data, offset=offset)
        except EngineError as exc:
            raise _renamed(exc, "BufferSet.update", self.name) from None

    @defers_interrupts
    def update_all(self, data: Any, *, offset: int = 0) -> None:
        """Make ``data`` (at byte ``offset``) the contents of every slot from now on.

        The current slot is written at once (all slots during set-up, before the first frame);
        the others when their next frame begins (``begin_frame`` applies them, in call order,
        once the slot's previous frame completed).
        Checks happen now, so a bad call raises here and queues nothing.
        """
        if isinstance(data, np.generic):
            data = np.asarray(data)
        manager = self.manager
        current = manager.frame_index
        try:
            manager.update_buffer(self.buffers[current], data, offset=offset)
        except EngineError as exc:
            raise _renamed(exc, "BufferSet.update_all", self.name) from None
        if manager.frame_number < 0:
            for slot, buffer in enumerate(self.buffers):
                if slot != current:
                    manager.update_buffer(buffer, data, offset=offset)
            return
        # Checked again per slot at the call; the same bytes go to the other slots later.
        copy = np.array(data, copy=True, order="C") if isinstance(data, np.ndarray) \
            else bytes(memoryview(data).cast("B"))
        try:
            for slot, buffer in enumerate(self.buffers):
                if slot != current:
                    manager.write_when_slot_begins(buffer, copy, slot, offset=offset)
        except EngineError as exc:
            raise _renamed(exc, "BufferSet.update_all", self.name) from None

    def map_write(self, dtype: Any = None, *, offset: int = 0, count: int | None = None,
                  frame_index: int | None = None) -> MappedWrite:
        """A zero-copy write into the buffer of ``frame_index`` (default: the current slot):
        ``with uniforms.map_write() as view: view["time"] = t`` (see
        :meth:`~engine.buffers.manager.BufferManager.map_write`; the set's dtype is the default)."""
        slot = self._slot(frame_index, "BufferSet.map_write")
        try:
            return self.manager.map_write(self.buffers[slot], dtype, offset=offset, count=count)
        except EngineError as exc:
            raise _renamed(exc, "BufferSet.map_write", self.name) from None

    def get_buffer(self, frame_index: int | None = None) -> ManagedBuffer:
        """The buffer of ``frame_index`` (default: the current slot)."""
        return self.buffers[self._slot(frame_index, "BufferSet.get_buffer")]

    @defers_interrupts
    def destroy(self) -> None:
        """Retire every buffer (frame-safe)."""
        for buffer in self.buffers:
            if buffer.alive and not self.manager.closed:
                self.manager.destroy_buffer(buffer)
        self.buffers = []

    def __len__(self) -> int:
        return len(self.buffers)

    def __iter__(self) -> Any:
        return iter(self.buffers)


class GlobalUboSet(BufferSet):
    """The per-frame global uniform buffer (camera, time, light count): a UNIFORM BufferSet."""

    def __init__(self, buffer_manager: BufferManager, dtype_or_size: Any, *,
                 name: str = "GlobalUBO") -> None:
        super().__init__(buffer_manager, dtype_or_size, name=name, usage=BufferUsage.UNIFORM)
