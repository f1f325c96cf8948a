"""Argument checks of the BufferManager: one function per rule, each raising its own error.

Kept out of :mod:`engine.buffers.manager` so the hot paths there read as the happy path; the
``raise_*`` helpers build the message (call, buffer, rule, fix) only when a rule is broken.
"""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np

from engine.buffers.types import ALL_USAGE, BufferConfig, BufferStrategy, ManagedBuffer
from engine.errors import (
    BufferDestroyedError,
    ForeignBufferError,
    HostWriteHazardError,
    InvalidDataError,
    InvalidFrameIndexError,
    InvalidNameError,
    InvalidOffsetError,
    InvalidSizeError,
    InvalidStrategyError,
    InvalidUsageError,
    ManagerClosedError,
    OutOfBoundsError,
)

MAX_DEVICE_SIZE = (1 << 63) - 1
"""Largest size or offset we accept (VkDeviceSize is 64-bit; beyond this nothing can fit)."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_frames_in_flight(n: Any) -> None:
    if not _is_int(n) or not 1 <= int(n) <= 4:
        raise InvalidFrameIndexError(
            f"BufferManager(frames_in_flight={n!r}): must be an integer from 1 to 4; "
            "3 is the usual choice.")


def check_size(size: Any, what: str) -> None:
    if not _is_int(size):
        raise InvalidSizeError(f"{what}: size {size!r} is not an integer number of bytes.")
    if size <= 0:
        raise InvalidSizeError(
            f"{what}: size {size} bytes must be positive; a buffer holds at least 1 byte.")
    if size > MAX_DEVICE_SIZE:
        raise InvalidSizeError(
            f"{what}: size {size} bytes overflows a 64-bit device size; split the data.")


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


def check_config(config: Any, what: str) -> None:
    if not isinstance(config, BufferConfig):
        raise InvalidDataError(f"{what}: expected a BufferConfig, got {type(config).__name__}.")
    if not isinstance(config.name, str) or not config.name:
        raise InvalidNameError(f"{what}: the name must be a non-empty string, got "
                               f"{config.name!r}.")
    check_size(config.size, what)
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


def check_slot(frame_index: Any, frames_in_flight: int, what: str) -> None:
    if not _is_int(frame_index) or not 0 <= int(frame_index) < frames_in_flight:
        raise InvalidFrameIndexError(
            f"{what}: frame index {frame_index!r} is not a frame slot; use 0 to "
            f"{frames_in_flight - 1} (frames_in_flight={frames_in_flight}).")


def misordered(frame_index: int, expected: int, what: str) -> InvalidFrameIndexError:
    return InvalidFrameIndexError(
        f"{what}: frame index {frame_index} is not the current/next slot {expected}; pass "
        "frame_number % frames_in_flight, or None to let the manager count.")


def coerce_offset(offset: Any, buffer: ManagedBuffer, call: str) -> int:
    if not _is_int(offset):
        raise InvalidOffsetError(
            f"{call}({buffer.name!r}): offset {offset!r} is not an integer number of bytes.")
    offset = int(offset)
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
    if isinstance(data, memoryview):
        return data.nbytes
    raise InvalidDataError(
        f"{what}: data of type {type(data).__name__} is not bytes-like or a numpy array.")


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
    if isinstance(data, bytes | bytearray | memoryview):
        if buffer.dtype is not None:
            raise InvalidDataError(
                f"{call}({buffer.name!r}): the buffer holds dtype {buffer.dtype}; pass a numpy "
                "array of that dtype, not raw bytes.")
        try:
            return np.frombuffer(data, dtype=np.uint8)
        except (ValueError, TypeError, BufferError):
            raise InvalidDataError(
                f"{call}({buffer.name!r}): this memoryview is not C-contiguous; pass "
                "bytes(...) or a contiguous array.") from None
    raise InvalidDataError(
        f"{call}({buffer.name!r}): data of type {type(data).__name__} is not bytes-like or a "
        "numpy array; pass bytes, bytearray, memoryview or np.ndarray.")


def check_read_range(buffer: ManagedBuffer, offset: int, size: Any, call: str) -> None:
    if not _is_int(size) or size < 0:
        raise InvalidSizeError(
            f"{call}({buffer.name!r}): size {size!r} must be a non-negative integer of bytes.")
    if offset + int(size) > buffer.size:
        raise_out_of_bounds(buffer, offset, int(size), call)


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


def raise_hazard(buffer: ManagedBuffer, last: int, now: int, frames_in_flight: int
                 ) -> NoReturn:
    raise HostWriteHazardError(
        f"update_buffer({buffer.name!r}): host-visible buffer written in frame {last} is "
        f"written again for frame {now} while frame {last} may still be read by the GPU "
        f"(frames_in_flight={frames_in_flight}). Use one buffer per frame slot "
        "(BufferSet / GlobalUboSet) for per-frame data, or the DEVICE_LOCAL strategy.")


def raise_submitted_hazard(buffer: ManagedBuffer, frame: int) -> NoReturn:
    raise HostWriteHazardError(
        f"update_buffer({buffer.name!r}): host-visible buffer written in frame {frame} is "
        "written again after GPU work that may read it was submitted in the same frame and "
        "has not completed, so that work could read the new bytes. Write it before the "
        "submission, use one buffer per use (or a BufferSet), or the DEVICE_LOCAL strategy.")


def raise_closed(what: str) -> NoReturn:
    raise ManagerClosedError(f"{what}: the BufferManager is closed; create a new one.")
