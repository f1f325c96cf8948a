"""UniformRing: many small per-object blocks in one buffer per frame slot, bound by dynamic offset.

Instead of one uniform buffer (and one descriptor) per object, a frame pushes every object's
block into the ring and binds one ``UNIFORM_BUFFER_DYNAMIC`` (or ``STORAGE_BUFFER_DYNAMIC``)
descriptor with a per-draw/per-dispatch offset. The name says how it cycles: frame ``n`` writes
the buffer of slot ``n % frames_in_flight``, and inside that buffer it is a *linear* (bump)
allocator that starts again at offset 0 when the slot's next frame begins.

Layout and units:

- ``block_size`` bytes (the dtype's itemsize, or the size given) per block; each block starts at
  a multiple of ``stride = align_up(block_size, alignment)`` bytes, where ``alignment`` is the
  device's ``minUniformBufferOffsetAlignment`` (``minStorageBufferOffsetAlignment`` with
  ``storage=True``). The padding bytes between blocks are never written.
- ``capacity`` blocks per frame: each slot's buffer is ``capacity * stride`` bytes,
  ``HOST_VISIBLE`` (persistently mapped), created by the BufferManager (so statistics and the
  memory map show them as ``name[k]``) and never resized: its generation stays 1 and the
  binder writes its descriptors once per slot.
- Offsets are bytes from the start of the slot's buffer, as ``vkCmdBindDescriptorSets`` takes
  them (``uint32``); they are the same in every slot, so an object pushed in the same order
  each frame gets the same offset each frame.

Hazard safety: pushes are allowed only inside an open frame (between ``begin_frame`` and
``end_frame``). ``begin_frame`` waited for the slot's previous frame, so the GPU no longer reads
the slot's buffer; the ring resets that slot's cursor at its first push of the new frame (a lazy
reset: rings not used in a frame cost nothing). Within a frame every byte is written at most once
and only *before* its offset is handed out; the binder accepts only offsets of blocks already
pushed into the slot in the current frame, so GPU work never reads a block that is written after
it was recorded. Writes go through
:meth:`~engine.buffers.manager.BufferManager.append_blocks` (one strided numpy copy, flushed
where the memory is not coherent).

Lifetime: :meth:`UniformRing.close` retires the per-slot buffers frame-safely (they are freed
once the GPU finished the frame that retired them); a closed ring raises
:class:`~engine.errors.RingClosedError`, as does a ring whose manager was closed.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from engine.buffers.manager import BufferManager
from engine.buffers.types import BufferConfig, BufferStrategy, BufferUsage, ManagedBuffer
from engine.device.interrupts import defers_interrupts
from engine.errors import (
    EngineError,
    InvalidFrameIndexError,
    InvalidNameError,
    InvalidOptionError,
    InvalidSizeError,
    OutOfDeviceMemoryError,
    ReadOnlyFieldError,
    RingClosedError,
    RingDataError,
    RingFrameError,
    RingFullError,
)
from engine.identity import Unshareable
from engine.memory.blocks import align_up
from engine.numbers import as_flag, as_int

_get_ident = threading.get_ident
MAX_DYNAMIC_OFFSET = (1 << 32) - 1
"""Dynamic offsets are ``uint32``: no block may start beyond this byte."""


def _fixed(field_name: str, doc: str) -> Any:
    """A read-only property over ``_<field_name>``: assigning raises ReadOnlyFieldError (a
    changed stride or capacity would make pushes and offset checks disagree with the
    buffers)."""
    private = "_" + field_name

    def get(self: UniformRing) -> Any:
        return getattr(self, private)

    def refuse(self: UniformRing, value: Any = None) -> None:
        raise ReadOnlyFieldError(
            f"UniformRing({self._name!r}).{field_name} = {value!r}: {field_name} is fixed when "
            "the ring is created; create another UniformRing with the value you want.")

    return property(get, refuse, refuse, doc)


class UniformRing(Unshareable):
    """A per-frame-slot linear allocator of uniform (or storage) blocks (not copyable).

    Args:
        manager: the BufferManager that creates (and frees) the per-slot buffers.
        block_dtype_or_size: a numpy dtype (``push`` then takes values of exactly that dtype,
            e.g. a std140 dtype from :mod:`engine.shaders.std_layout`) or a block size in bytes
            (``push`` takes that many bytes).
        capacity: blocks per frame (each slot holds this many).
        name: base label; slot ``k``'s buffer is ``f"{name}[{k}]"``.
        storage: a storage-buffer ring (std430 blocks, ``STORAGE_BUFFER_DYNAMIC``,
            ``minStorageBufferOffsetAlignment``) instead of a uniform one.

    Raises (nothing is created): InvalidOptionError, InvalidNameError, InvalidSizeError,
    RingDataError (a dtype that cannot live in GPU memory), OutOfDeviceMemoryError.
    """

    def __init__(self, manager: BufferManager, block_dtype_or_size: Any, capacity: Any, *,
                 name: str, storage: bool = False) -> None:
        what = f"UniformRing({name!r})"
        if not isinstance(manager, BufferManager):
            raise InvalidOptionError(f"{what}: manager {type(manager).__name__} is not a "
                                     "BufferManager.")
        if not isinstance(name, str) or not name:
            raise InvalidNameError(f"{what}: the name must be a non-empty string.")
        storage_flag = bool(as_flag(storage, what, "storage"))
        manager.require_open(what)
        dtype, block_size = _block(block_dtype_or_size, what)
        limits = manager.context.limits
        if storage_flag:
            alignment = limits.min_storage_buffer_offset_alignment
            max_range, kind = limits.max_storage_buffer_range, "maxStorageBufferRange"
        else:
            alignment = limits.min_uniform_buffer_offset_alignment
            max_range, kind = limits.max_uniform_buffer_range, "maxUniformBufferRange"
        if block_size > max_range:
            raise InvalidSizeError(
                f"{what}: a block of {block_size} bytes exceeds the device's {kind} of "
                f"{max_range} bytes (one descriptor covers one block); use smaller blocks"
                + ("." if storage_flag else ", or storage=True."))
        stride = align_up(block_size, alignment)
        count = as_int(capacity)
        if count is None or count < 1:
            raise InvalidSizeError(
                f"{what}: capacity {capacity!r} must be a positive integer number of blocks "
                "per frame.")
        if (count - 1) * stride > MAX_DYNAMIC_OFFSET:
            raise InvalidSizeError(
                f"{what}: capacity {count} blocks of stride {stride} bytes puts blocks beyond "
                f"byte {MAX_DYNAMIC_OFFSET}, which a uint32 dynamic offset cannot reach; use "
                f"at most {MAX_DYNAMIC_OFFSET // stride + 1} blocks (or several rings).")
        self._manager = manager
        self._name = name
        self._dtype: np.dtype[Any] | None = dtype
        self._block_size = block_size
        self._alignment = alignment
        self._stride = stride
        self._capacity = count
        self._storage = storage_flag
        self._frames_in_flight = manager.frames_in_flight
        self._what = what
        self._owner = manager.context.owner_thread
        self._frames = manager.frames
        self._closed = False
        self._slot_frame = [-(1 << 62)] * self._frames_in_flight
        """Per slot, the frame whose blocks its cursor counts."""
        self._slot_used = [0] * self._frames_in_flight
        """Per slot, blocks pushed in that frame."""
        self._buffers: tuple[ManagedBuffer, ...] = ()
        usage = BufferUsage.STORAGE if storage_flag else BufferUsage.UNIFORM
        made: list[ManagedBuffer] = []
        try:
            for f in range(self._frames_in_flight):
                made.append(manager.create_buffer(BufferConfig(
                    f"{name}[{f}]", count * stride, BufferStrategy.HOST_VISIBLE, usage)))
            try:  # every block's offset, once (push_many returns views of it)
                offsets = np.arange(count, dtype=np.uint32) * np.uint32(stride)
            except MemoryError:
                raise OutOfDeviceMemoryError(
                    f"{what}: no host memory for the offsets of {count} blocks; use a smaller "
                    "capacity.") from None
            offsets.flags.writeable = False
            self._offsets = offsets
            self._last_offsets: tuple[int, int, np.ndarray[Any, Any]] = (0, 0, offsets[:0])
            self._appenders = tuple(manager.block_appender(b, stride, block_size,
                                                           "UniformRing.push_many")
                                    for b in made)
            """Per slot, the manager's append_blocks bound to that buffer at this stride
            (the hot path's copy with its checks, looked up once)."""
        except BaseException:
            for buffer in made:
                if buffer.alive:
                    manager.destroy_buffer(buffer)
            raise
        self._buffers = tuple(made)

    # --- state ---------------------------------------------------------------------------

    manager = _fixed("manager", "The BufferManager that owns the per-slot buffers.")
    name = _fixed("name", "The base label (slot k's buffer is name[k]).")
    dtype = _fixed("dtype", "The block's numpy dtype, or None for a ring of raw blocks.")
    block_size = _fixed("block_size", "Bytes of one block (what a descriptor's range covers).")
    alignment = _fixed("alignment", "The device's minimum dynamic-offset alignment for this "
                       "descriptor type, in bytes.")
    stride = _fixed("stride", "Bytes from one block's start to the next (block_size rounded "
                    "up to the alignment).")
    capacity = _fixed("capacity", "Blocks per frame (per slot).")
    storage = _fixed("storage", "True for a storage-buffer ring (std430, "
                     "STORAGE_BUFFER_DYNAMIC).")
    frames_in_flight = _fixed("frames_in_flight", "Frame slots (one buffer each): the "
                              "manager's value.")

    @property
    def buffers(self) -> tuple[ManagedBuffer, ...]:
        """The per-slot buffers, slot 0 first (empty once closed)."""
        return self._buffers

    @property
    def closed(self) -> bool:
        """True after :meth:`close`, or once the manager closed."""
        return self._closed or self._manager.closed

    def buffer(self, frame_index: int | None = None) -> ManagedBuffer:
        """The buffer of slot ``frame_index`` (default: the current slot)."""
        self._require_open("UniformRing.buffer")
        return self._buffers[self._slot(frame_index, "UniformRing.buffer")]

    def used_in(self, frame_index: int) -> int:
        """Blocks pushed into slot ``frame_index`` during the current frame (0 when that slot
        is not the current frame's, or nothing was pushed yet)."""
        slot = self._slot(frame_index, "UniformRing.used_in")
        number = self._frames.frame_number
        return self._slot_used[slot] if self._slot_frame[slot] == number else 0

    def pushed_bytes(self, frame_index: int) -> int:
        """``used_in(frame_index) * stride``: every valid dynamic offset for that slot is
        below this (the binder checks each bind against it)."""
        if frame_index.__class__ is not int or not 0 <= frame_index < self._frames_in_flight:
            frame_index = self._slot(frame_index, "UniformRing.pushed_bytes")
        if self._slot_frame[frame_index] != self._frames.frame_number:
            return 0
        return self._slot_used[frame_index] * self._stride

    @property
    def used(self) -> int:
        """Blocks pushed in the current frame (the last frame's count between frames)."""
        number = self._frames.frame_number
        slot = number % self._frames_in_flight
        return self._slot_used[slot] if self._slot_frame[slot] == number else 0

    @property
    def free(self) -> int:
        """Blocks that may still be pushed in the current frame."""
        return self._capacity - self.used

    def offsets(self) -> np.ndarray[Any, Any]:
        """The offsets of every block pushed in the current frame, in push order (uint32,
        read-only)."""
        return self._offsets[:self.used]

    def _slot(self, frame_index: Any, what: str) -> int:
        if frame_index is None:
            return self._manager.frame_index
        n = self._frames_in_flight
        slot = as_int(frame_index)
        if slot is None or not 0 <= slot < n:
            raise InvalidFrameIndexError(
                f"{what}({self._name!r}): frame index {frame_index!r} is not a slot 0..{n - 1}.")
        return slot

    # --- pushes --------------------------------------------------------------------------

    @defers_interrupts
    def push(self, value: Any) -> int:
        """Write one block into the current frame's slot; returns its offset in bytes.

        ``value``: a numpy structured scalar (``arr[i]``), a 0-d or one-element array of the
        ring's dtype, or ``block_size`` bytes (bytes, bytearray, memoryview or a contiguous
        numpy array of that many bytes in a raw ring).

        Raises (nothing is written): RingDataError, RingFullError, RingFrameError,
        RingClosedError, HostWriteHazardError, WrongThreadError.
        """
        frames = self._frames
        if self._closed or not frames.frame_open or _get_ident() != self._owner:
            self._refuse("push")
        number = frames.frame_number
        slot = number % self._frames_in_flight
        used = self._slot_used[slot] if self._slot_frame[slot] == number else 0
        row = self._one_row(value)
        if used >= self._capacity:
            self._raise_full("push", used, 1)
        try:
            self._manager.append_blocks(self._buffers[slot], row, used * self._stride,
                                       self._stride, what="UniformRing.push")
        except EngineError as exc:
            raise self._renamed(exc, "push") from None
        self._slot_frame[slot] = number
        self._slot_used[slot] = used + 1
        return used * self._stride

    def push_many(self, array: Any) -> np.ndarray[Any, Any]:
        """Write one block per row of ``array``, in ONE vectorised copy; returns their offsets
        (a read-only ``uint32`` array, bytes, one per row, increasing by ``stride``).

        ``array``: a 1-D numpy array of the ring's dtype; in a raw ring (a size was given), a
        ``(n, block_size)`` ``uint8`` array or a 1-D array whose itemsize is ``block_size``.
        All rows fit, or nothing is written (RingFullError).

        Raises (nothing is written): RingDataError, RingFullError, RingFrameError,
        RingClosedError, HostWriteHazardError, WrongThreadError.

        The hot path of the ring, so (like ``update_buffer``) not wrapped to defer a Ctrl-C:
        the count moves only after the copy, so an interrupt can at worst lose blocks that were
        written (they are written again by the next push), never count unwritten ones.
        """
        frames = self._frames
        if self._closed or not frames.frame_open:
            self._refuse("push_many")
        number = frames.frame_number
        slot = number % self._frames_in_flight
        used = self._slot_used[slot] if self._slot_frame[slot] == number else 0
        if array.__class__ is not np.ndarray or (array.dtype is not self._dtype
                                                 and array.dtype != self._dtype) \
                or array.ndim != 1 or not array.flags.c_contiguous:
            array = self._rows(array)
        n = len(array)
        if used + n > self._capacity:
            self._raise_full("push_many", used, n)
        if n:  # append_blocks checks the thread, the buffer and the hazard rule
            stride = self._stride
            try:
                self._appenders[slot](array, used * stride)
            except EngineError as exc:
                raise self._renamed(exc, "push_many") from None
        elif _get_ident() != self._owner:
            self._refuse("push_many")
        self._slot_frame[slot] = number
        self._slot_used[slot] = used + n
        last = self._last_offsets  # the same slice most frames: reuse its (read-only) view
        if last[0] == used and last[1] == n:
            return last[2]
        offsets = self._offsets[used:used + n]
        self._last_offsets = (used, n, offsets)
        return offsets

    def _one_row(self, value: Any) -> np.ndarray[Any, Any]:
        """``value`` as a (1, ...) array of one block; RingDataError otherwise."""
        what = f"UniformRing.push({self._name!r})"
        dtype = self._dtype
        if isinstance(value, np.generic | np.ndarray):
            arr = np.asarray(value)
            if dtype is not None and arr.dtype == dtype:
                if arr.size != 1:
                    raise RingDataError(
                        f"{what}: an array of {arr.size} blocks; push() takes one block, "
                        "push_many() takes many.")
                return np.ascontiguousarray(arr).reshape(1)
            if dtype is not None and (arr.dtype.names is not None or arr.dtype != np.uint8):
                raise RingDataError(
                    f"{what}: a value of dtype {arr.dtype}; the ring's blocks are {dtype}. "
                    "Convert it (np.array(value, dtype=ring.dtype)) or pass "
                    f"{self._block_size} bytes.")
            if arr.dtype.hasobject:
                raise RingDataError(f"{what}: an array of Python objects cannot be uploaded.")
            if arr.nbytes != self._block_size:
                raise RingDataError(
                    f"{what}: {arr.nbytes} bytes (dtype {arr.dtype}, shape {arr.shape}); a "
                    f"block is exactly {self._block_size} bytes.")
            return np.ascontiguousarray(arr).reshape(1, -1).view(np.uint8)
        if isinstance(value, bytes | bytearray | memoryview):
            try:
                raw = memoryview(value).cast("B")
            except (TypeError, ValueError):
                raise RingDataError(f"{what}: a non-contiguous memoryview; pass bytes(...)."
                                    ) from None
            if raw.nbytes != self._block_size:
                raise RingDataError(
                    f"{what}: {raw.nbytes} bytes; a block is exactly {self._block_size} bytes.")
            return np.frombuffer(raw, dtype=np.uint8).reshape(1, -1)
        kind = f"of dtype {dtype}" if dtype is not None else f"of {self._block_size} bytes"
        raise RingDataError(f"{what}: a {type(value).__name__} is not a block; pass a numpy "
                            f"value {kind}, or {self._block_size} bytes.")

    def _rows(self, array: Any) -> np.ndarray[Any, Any]:
        """``array`` as rows of one block each; RingDataError otherwise."""
        what = f"UniformRing.push_many({self._name!r})"
        dtype = self._dtype
        if not isinstance(array, np.ndarray):
            raise RingDataError(
                f"{what}: a {type(array).__name__} is not an array of blocks; pass a 1-D numpy "
                + (f"array of dtype {dtype}." if dtype is not None else
                   f"(n, {self._block_size}) uint8 array."))
        if array.dtype.hasobject:
            raise RingDataError(f"{what}: an array of Python objects cannot be uploaded.")
        if dtype is not None:
            if array.dtype != dtype:
                raise RingDataError(
                    f"{what}: array dtype {array.dtype}; the ring's blocks are {dtype}. Build "
                    "the array with dtype=ring.dtype.")
            if array.ndim != 1:
                raise RingDataError(
                    f"{what}: array of shape {array.shape}; pass a 1-D array, one block per "
                    "element.")
            return np.ascontiguousarray(array)
        if array.ndim == 2 and array.dtype == np.uint8 and array.shape[1] == self._block_size:
            return np.ascontiguousarray(array)
        if array.ndim == 1 and array.dtype.itemsize == self._block_size:
            return np.ascontiguousarray(array)
        raise RingDataError(
            f"{what}: array of shape {array.shape} and dtype {array.dtype}; pass an "
            f"(n, {self._block_size}) uint8 array or a 1-D array whose itemsize is "
            f"{self._block_size} bytes.")

    def _raise_full(self, call: str, used: int, n: int) -> None:
        raise RingFullError(
            f"UniformRing.{call}({self._name!r}): {n} more block(s) do not fit: {used} of "
            f"{self._capacity} blocks are used in frame {self._frames.frame_number}; nothing "
            f"was written. Create the ring with a larger capacity (at least {used + n} blocks "
            "per frame), or use a second ring.")

    def _refuse(self, call: str) -> None:
        """Why a push cannot run: closed, wrong thread, or outside a frame."""
        what = f"UniformRing.{call}({self._name!r})"
        self._require_open(what)
        raise RingFrameError(
            f"{what}: no frame is open; push blocks between begin_frame() and end_frame() "
            "(outside a frame the slot's buffer may still be read by the GPU).")

    def _require_open(self, what: str) -> None:
        if self._closed:
            raise RingClosedError(f"{what}: the ring was closed; create a new UniformRing.")
        if self._manager.closed:
            raise RingClosedError(f"{what}: the ring's BufferManager was closed (its buffers "
                                  "are freed); create a new manager and ring.")
        self._manager.require_open(what)

    def _renamed(self, exc: EngineError, call: str) -> EngineError:
        return type(exc)(f"UniformRing.{call}({self._name!r}) -> {exc}")

    # --- lifetime ------------------------------------------------------------------------

    @defers_interrupts
    def close(self) -> None:
        """Retire the per-slot buffers (frame-safe: freed once the GPU finished the current
        frame); later pushes raise RingClosedError. Safe to call twice."""
        if self._closed:
            return
        manager = self._manager
        if not manager.closed:
            manager.require_open(f"UniformRing.close({self._name!r})")
            for buffer in self._buffers:
                if buffer.alive:
                    manager.destroy_buffer(buffer)
        self._closed = True
        self._buffers = ()

    destroy = close

    def __enter__(self) -> UniformRing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.used}/{self._capacity} used"
        return (f"<UniformRing {self._name!r} {self._block_size} B blocks, stride {self._stride}, "
                f"{self._frames_in_flight} slots, {state}>")


def _block(block_dtype_or_size: Any, what: str) -> tuple[np.dtype[Any] | None, int]:
    """``(dtype or None, block size in bytes)``; InvalidSizeError/RingDataError otherwise."""
    size = as_int(block_dtype_or_size)
    if size is not None:
        if size < 1:
            raise InvalidSizeError(f"{what}: block size {size} must be at least 1 byte.")
        return None, size
    if isinstance(block_dtype_or_size, bool | float | np.bool_ | np.floating) \
            or block_dtype_or_size is None:
        raise InvalidSizeError(
            f"{what}: {block_dtype_or_size!r} is neither a block size (an integer number of "
            "bytes) nor a numpy dtype.")
    try:
        dtype = np.dtype(block_dtype_or_size)
    except (TypeError, ValueError):
        raise RingDataError(f"{what}: {block_dtype_or_size!r} is neither a block size in bytes "
                            "nor a numpy dtype.") from None
    if dtype.hasobject or dtype.itemsize == 0:
        raise RingDataError(f"{what}: dtype {dtype} cannot live in GPU memory; use numeric "
                            "fields only.")
    if dtype.subdtype is not None:
        raise RingDataError(f"{what}: dtype {dtype} is a sub-array dtype; wrap it in a "
                            "structured dtype (np.dtype([('m', '<f4', (4, 4))])).")
    return dtype, dtype.itemsize
