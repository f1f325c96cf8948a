"""Argument checks of the BufferManager: one function per rule, each raising its own error.

Kept out of :mod:`engine.buffers.manager` so the hot paths there read as the happy path; the
``raise_*`` helpers build the message (call, buffer, rule, fix) only when a rule is broken.
"""

from __future__ import annotations

import os
from typing import Any, NoReturn

import numpy as np

from engine.buffers.types import ALL_USAGE, BufferConfig, BufferStrategy, ManagedBuffer
from engine.device.context import GraphicsContext
from engine.device.vk import vk
from engine.errors import (
    BufferDestroyedError,
    ForeignBufferError,
    HostWriteHazardError,
    InvalidDataError,
    InvalidFrameIndexError,
    InvalidNameError,
    InvalidOffsetError,
    InvalidOptionError,
    InvalidSizeError,
    InvalidStrategyError,
    InvalidUsageError,
    ManagerClosedError,
    OutOfBoundsError,
)
from engine.numbers import as_flag, as_int

MAX_DEVICE_SIZE = (1 << 63) - 1
"""Largest size or offset we accept (VkDeviceSize is 64-bit; beyond this nothing can fit)."""


def _is_int(value: Any) -> bool:
    return as_int(value) is not None


def check_frames_in_flight(n: Any, what: str = "BufferManager") -> int:
    """``n`` as an int from 1 to 4, or InvalidFrameIndexError."""
    value = as_int(n)
    if value is None or not 1 <= value <= 4:
        raise InvalidFrameIndexError(
            f"{what}(frames_in_flight={n!r}): must be an integer from 1 to 4; "
            "3 is the usual choice.")
    return value


MAX_STAGING_BYTES = 1 << 40
"""Largest initial staging ring per frame slot we accept (the ring grows on demand anyway)."""


def check_manager_args(context: Any, frames_in_flight: Any, staging_bytes: Any,
                       discrete_like: Any, hazard_checks: Any
                       ) -> tuple[int, int, bool, bool | None]:
    """The BufferManager() arguments, normalised: ``(frames, staging, discrete, hazards)``."""
    if not isinstance(context, GraphicsContext):
        raise InvalidOptionError(
            f"BufferManager(context={type(context).__name__}): expected a GraphicsContext; "
            "create one with GraphicsContext.create().")
    frames = check_frames_in_flight(frames_in_flight)
    staging = as_int(staging_bytes)
    if staging is None or not 1 <= staging <= MAX_STAGING_BYTES:
        raise InvalidSizeError(
            f"BufferManager(staging_bytes={staging_bytes!r}): must be an integer number of "
            f"bytes from 1 to {MAX_STAGING_BYTES}; the default is 4 MiB (the ring grows).")
    discrete = as_flag(discrete_like, "BufferManager()", "discrete_like")
    hazards = as_flag(hazard_checks, "BufferManager()", "hazard_checks", allow_none=True)
    assert discrete is not None
    return frames, staging, discrete, hazards


def check_size(size: Any, what: str) -> int:
    """``size`` as an int from 1 to 2**63 - 1, or InvalidSizeError."""
    if as_int(size) is None:
        raise InvalidSizeError(f"{what}: size {size!r} is not an integer number of bytes.")
    size = int(size)
    if size <= 0:
        raise InvalidSizeError(
            f"{what}: size {size} bytes must be positive; a buffer holds at least 1 byte.")
    if size > MAX_DEVICE_SIZE:
        raise InvalidSizeError(
            f"{what}: size {size} bytes overflows a 64-bit device size; split the data.")
    return size


def coerce_strategy(strategy: Any, what: str) -> BufferStrategy:
    if isinstance(strategy, BufferStrategy):
        return strategy
    if isinstance(strategy, str):
        for member in BufferStrategy:
            if strategy.lower() in (member.value, member.name.lower()):
                return member
    names = ", ".join(f"BufferStrategy.{m.name}" for m in BufferStrategy)
    raise InvalidStrategyError(f"{what}: unknown strategy {strategy!r}; use one of {names}.")


def check_usage(usage: Any, what: str) -> None:
    if not _is_int(usage):
        raise InvalidUsageError(f"{what}: usage {usage!r} is not BufferUsage flags.")
    value = int(usage)
    if value <= 0:
        raise InvalidUsageError(
            f"{what}: usage is empty; say what the GPU does with it, e.g. BufferUsage.STORAGE.")
    if value & ~ALL_USAGE:
        raise InvalidUsageError(
            f"{what}: usage {value:#x} has unknown bits {value & ~ALL_USAGE:#x}; combine "
            "BufferUsage members.")


def check_config(config: Any, what: str) -> BufferConfig:
    """``config`` checked, with a Python-int size (a config built around __post_init__)."""
    if not isinstance(config, BufferConfig):
        raise InvalidDataError(f"{what}: expected a BufferConfig, got {type(config).__name__}.")
    if not isinstance(config.name, str) or not config.name:
        raise InvalidNameError(f"{what}: the name must be a non-empty string, got "
                               f"{config.name!r}.")
    size = check_size(config.size, what)
    if size.__class__ is not config.size.__class__:
        object.__setattr__(config, "size", size)
    coerce_strategy(config.strategy, what)
    check_usage(config.usage, what)
    if config.dtype is not None:
        try:
            dt = np.dtype(config.dtype)
        except TypeError:
            raise InvalidDataError(f"{what}: dtype {config.dtype!r} is not a numpy dtype.") \
                from None
        if dt.hasobject or dt.itemsize == 0:
            raise InvalidDataError(f"{what}: dtype {dt} cannot live in GPU memory; use "
                                   "numeric fields only.")
    return config


def check_slot(frame_index: Any, frames_in_flight: int, what: str) -> int:
    """``frame_index`` as an int slot ``0 .. frames_in_flight - 1``, or InvalidFrameIndexError."""
    slot = as_int(frame_index)
    if slot is None or not 0 <= slot < frames_in_flight:
        raise InvalidFrameIndexError(
            f"{what}: frame index {frame_index!r} is not a frame slot; use 0 to "
            f"{frames_in_flight - 1} (frames_in_flight={frames_in_flight}).")
    return slot


def misordered(frame_index: int, expected: int, what: str) -> InvalidFrameIndexError:
    return InvalidFrameIndexError(
        f"{what}: frame index {frame_index} is not the current/next slot {expected}; pass "
        "frame_number % frames_in_flight, or None to let the manager count.")


def coerce_offset(offset: Any, buffer: ManagedBuffer, call: str) -> int:
    value = as_int(offset)
    if value is None:
        raise InvalidOffsetError(
            f"{call}({buffer.name!r}): offset {offset!r} is not an integer number of bytes.")
    offset = value
    if offset < 0:
        raise InvalidOffsetError(
            f"{call}({buffer.name!r}): offset {offset} is negative; offsets count bytes from "
            "the start of the buffer.")
    if offset > MAX_DEVICE_SIZE:
        raise InvalidOffsetError(
            f"{call}({buffer.name!r}): offset {offset} overflows a 64-bit device size.")
    return offset


def data_nbytes(data: Any, what: str) -> int:
    if isinstance(data, np.ndarray):
        if data.dtype.hasobject:
            raise InvalidDataError(f"{what}: arrays of Python objects cannot be uploaded.")
        return int(data.nbytes)
    if isinstance(data, bytes | bytearray):
        return len(data)
    if isinstance(data, np.generic):
        return data_nbytes(np.asarray(data), what)
    return int(_contiguous_view(data, what).nbytes)


def _contiguous_view(data: Any, what: str) -> memoryview:
    """A flat byte memoryview of any C-contiguous buffer-protocol object (array.array, ctypes
    arrays, mmap, memoryview...), or InvalidDataError."""
    try:
        view = memoryview(data)
    except TypeError:
        raise InvalidDataError(
            f"{what}: data of type {type(data).__name__} is not bytes-like or a numpy array; "
            "pass bytes, bytearray, memoryview, np.ndarray or another object with the buffer "
            "protocol.") from None
    except (ValueError, BufferError) as exc:  # a closed mmap, a released view
        raise InvalidDataError(f"{what}: the {type(data).__name__} cannot be read ({exc}); "
                               "pass open, readable data.") from None
    if not view.c_contiguous:
        raise InvalidDataError(
            f"{what}: this {type(data).__name__} is not C-contiguous; pass bytes(...) or a "
            "contiguous array.")
    try:
        return view.cast("B")
    except (TypeError, ValueError):  # ctypes formats memoryview cannot cast: copy via numpy
        try:
            return np.frombuffer(view, dtype=np.uint8).data
        except (TypeError, ValueError, BufferError):
            return memoryview(view.tobytes())


def as_bytes_view(data: Any, buffer: ManagedBuffer, call: str) -> Any:
    """A flat, C-contiguous uint8 numpy view of bytes-like ``data`` (no copy if possible)."""
    if isinstance(data, np.generic):  # a numpy scalar or structured record (np.void)
        data = np.asarray(data)
    if isinstance(data, np.ndarray):  # ndarray subclasses
        if data.dtype.hasobject:
            raise_object_dtype(buffer, call)
        if buffer.dtype is not None and data.dtype != buffer.dtype:
            raise_dtype(buffer, data, call)
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    if isinstance(data, str) or data is None:
        raise InvalidDataError(
            f"{call}({buffer.name!r}): data of type {type(data).__name__} is not bytes-like or "
            "a numpy array; pass bytes, bytearray, memoryview, np.ndarray or another object "
            "with the buffer protocol (encode text first).")
    view = _contiguous_view(data, f"{call}({buffer.name!r})")
    if buffer.dtype is not None:
        raise InvalidDataError(
            f"{call}({buffer.name!r}): the buffer holds dtype {buffer.dtype}; pass a numpy "
            "array of that dtype, not raw bytes.")
    return np.frombuffer(view, dtype=np.uint8)


def check_read_range(buffer: ManagedBuffer, offset: int, size: Any, call: str) -> int:
    """The byte count to read at ``offset`` (None = the rest), or an error naming the range."""
    if size is None:
        if offset > buffer.size:
            raise OutOfBoundsError(
                f"{call}({buffer.name!r}): offset {offset} is past the end of the buffer's "
                f"{buffer.size} bytes; read at an offset from 0 to {buffer.size}.")
        return int(buffer.size - offset)
    value = as_int(size)
    if value is None or value < 0:
        raise InvalidSizeError(
            f"{call}({buffer.name!r}): size {size!r} must be a non-negative integer of bytes "
            "(or None for the rest of the buffer).")
    if offset + value > buffer.size:
        raise OutOfBoundsError(
            f"{call}({buffer.name!r}): {value} bytes at offset {offset} exceed the buffer's "
            f"{buffer.size} bytes; read less, or at a smaller offset.")
    return value


def element_dtype(buffer: ManagedBuffer, dtype: Any, what: str) -> np.dtype[Any]:
    """``dtype`` as a numpy dtype of fixed-size numeric elements (None: the buffer's dtype,
    else bytes), or InvalidDataError naming ``what``."""
    try:
        dt = np.dtype(dtype if dtype is not None else (buffer.dtype or np.uint8))
    except (TypeError, ValueError):
        raise InvalidDataError(f"{what}: dtype {dtype!r} is not a numpy dtype; pass e.g. "
                               "np.float32 or a structured dtype.") from None
    if dt.hasobject or dt.itemsize == 0:
        raise InvalidDataError(f"{what}: dtype {dt} has no fixed-size numeric elements; use "
                               "numeric fields only.")
    return dt


def check_read_array(buffer: ManagedBuffer, dtype: Any, offset: Any, count: Any
                     ) -> tuple[np.dtype[Any], int | None]:
    """``read_array``'s dtype and element count (the caller checked the buffer is live)."""
    what = f"read_array({buffer.name!r})"
    dt = element_dtype(buffer, dtype, what)
    if count is None:
        return dt, None
    value = as_int(count)
    if value is None or value < 0:
        raise InvalidSizeError(
            f"{what}: count {count!r} must be a non-negative integer number of elements (or "
            "None for the whole buffer).")
    start = coerce_offset(offset, buffer, "read_array")
    if start + value * dt.itemsize > buffer.size:
        raise OutOfBoundsError(
            f"{what}: {value} elements of {dt.itemsize} bytes at offset {start} exceed the "
            f"buffer's {buffer.size} bytes; read fewer elements.")
    return dt, value


def raise_out_of_bounds(buffer: ManagedBuffer, offset: int, nbytes: int, call: str) -> NoReturn:
    raise OutOfBoundsError(
        f"{call}({buffer.name!r}): {nbytes} bytes at offset {offset} exceed the buffer's "
        f"{buffer.size} bytes; write less, or call resize_buffer() first.")


def raise_misaligned(buffer: ManagedBuffer, offset: int, call: str) -> NoReturn:
    assert buffer.dtype is not None
    raise InvalidOffsetError(
        f"{call}({buffer.name!r}): offset {offset} is not a multiple of the element size "
        f"{buffer.dtype.itemsize} of dtype {buffer.dtype}; write whole elements.")


def raise_dtype(buffer: ManagedBuffer, data: np.ndarray[Any, Any], call: str) -> NoReturn:
    raise InvalidDataError(
        f"{call}({buffer.name!r}): array dtype {data.dtype} differs from the buffer's dtype "
        f"{buffer.dtype}; convert with arr.astype(buffer.dtype).")


def raise_object_dtype(buffer: ManagedBuffer, call: str) -> NoReturn:
    raise InvalidDataError(
        f"{call}({buffer.name!r}): arrays of Python objects cannot be uploaded; use a numeric "
        "dtype.")


def raise_destroyed(buffer: ManagedBuffer, call: str) -> NoReturn:
    raise BufferDestroyedError(
        f"{call}({buffer.name!r}): buffer #{buffer.buffer_id} was destroyed; create a new "
        "buffer (a destroyed one cannot be used or destroyed again).")


def raise_foreign(buffer: Any, manager: Any, call: str) -> NoReturn:
    if not isinstance(buffer, ManagedBuffer):
        raise InvalidDataError(
            f"{call}: expected a ManagedBuffer, got {type(buffer).__name__}; pass the object "
            "create_buffer() returned.")
    raise ForeignBufferError(
        f"{call}({buffer.name!r}): this buffer belongs to another BufferManager; use the "
        "manager that created it.")


def raise_hazard(buffer: ManagedBuffer, last: int, now: int, frames_in_flight: int,
                 call: str = "update_buffer") -> NoReturn:
    raise HostWriteHazardError(
        f"{call}({buffer.name!r}): host-visible buffer written in frame {last} is "
        f"written again for frame {now} while frame {last} may still be read by the GPU "
        f"(frames_in_flight={frames_in_flight}). Use one buffer per frame slot "
        "(BufferSet / GlobalUboSet) for per-frame data, or the DEVICE_LOCAL strategy.")


def raise_submitted_hazard(buffer: ManagedBuffer, frame: int, call: str = "update_buffer"
                           ) -> NoReturn:
    raise HostWriteHazardError(
        f"{call}({buffer.name!r}): host-visible buffer written in frame {frame} is "
        "written again after GPU work that may read it was submitted in the same frame and "
        "has not completed, so that work could read the new bytes. Write it before the "
        "submission, use one buffer per use (or a BufferSet), or the DEVICE_LOCAL strategy.")


def raise_closed(what: str) -> NoReturn:
    raise ManagerClosedError(f"{what}: the BufferManager is closed; create a new one.")


def check_typed_range(buffer: ManagedBuffer, dtype: Any, offset: Any, count: Any, call: str
                      ) -> tuple[np.dtype[Any], int, int]:
    """``(dtype, offset, count)`` of ``count`` elements of ``dtype`` (default: the buffer's
    dtype, else bytes) at byte ``offset``; ``count=None`` means as many whole elements as fit.
    For a typed buffer the offset is a multiple of its element size (as for writes)."""
    what = f"{call}({buffer.name!r})"
    dt = element_dtype(buffer, dtype, what)
    start = coerce_offset(offset, buffer, call)
    if buffer.dtype is not None and start % buffer.dtype.itemsize:
        raise_misaligned(buffer, start, call)
    if count is None:
        return dt, start, (buffer.size - start) // dt.itemsize
    value = as_int(count)
    if value is None or value < 0:
        raise InvalidSizeError(
            f"{what}: count {count!r} must be a non-negative integer number of elements (or "
            "None for as many as fit).")
    if start + value * dt.itemsize > buffer.size:
        raise OutOfBoundsError(
            f"{what}: {value} elements of {dt.itemsize} bytes at offset {start} exceed the "
            f"buffer's {buffer.size} bytes; ask for fewer elements, or resize_buffer() first.")
    return dt, start, value


def check_direct_writes(context: Any, direct_writes: Any) -> bool:
    """``BufferManager(direct_writes=...)``: a bool, or None for the default (on for GPUs with
    DEVICE_LOCAL|HOST_VISIBLE memory, off on CPU devices; ``ENGINE_DIRECT_WRITES`` overrides)."""
    flag = as_flag(direct_writes, "BufferManager()", "direct_writes", allow_none=True)
    if flag is None:
        env = os.environ.get("ENGINE_DIRECT_WRITES")
        if env is not None:
            return env not in ("0", "false", "")
        bar = vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
        return not context.is_software and any(
            t.flags & bar == bar for t in context.memory_types)
    return flag

# --- append_blocks (linear allocators such as the UniformRing) ------------------------------


def raise_not_host(buffer: ManagedBuffer, call: str) -> NoReturn:
    raise InvalidStrategyError(
        f"{call}({buffer.name!r}): the buffer is {buffer.strategy.value}, not mapped; "
        "append_blocks writes host-visible buffers only: create it HOST_VISIBLE or HOST_CACHED, "
        "or use update_buffer().")


def raise_bad_rows(buffer: ManagedBuffer, rows: Any, call: str) -> NoReturn:
    if not isinstance(rows, np.ndarray):
        got = f"a {type(rows).__name__}"
    elif rows.dtype.hasobject:
        got = "an array of Python objects"
    elif rows.ndim == 0:
        got = "a 0-d array"
    else:
        got = "a non-contiguous array"
    raise InvalidDataError(
        f"{call}({buffer.name!r}): rows must be a C-contiguous numpy array with one row per "
        f"block along its first axis, got {got}; pass np.ascontiguousarray(rows).")


def coerce_stride(stride: Any, call: str) -> int:
    value = as_int(stride)
    if value is None or not 0 < value <= MAX_DEVICE_SIZE:
        raise InvalidSizeError(
            f"{call}: stride {stride!r} is not a positive integer number of bytes.")
    return value


def raise_bad_stride(buffer: ManagedBuffer, offset: int, stride: int, row_bytes: int,
                     call: str) -> NoReturn:
    if offset < 0:
        raise InvalidOffsetError(f"{call}({buffer.name!r}): offset {offset} is negative.")
    raise InvalidSizeError(
        f"{call}({buffer.name!r}): stride {stride} bytes is smaller than one row of "
        f"{row_bytes} bytes, so rows would overlap; pass a stride of at least {row_bytes}.")
