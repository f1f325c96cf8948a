"""Scatter updates: many rows or byte ranges of one buffer in one call.

``update_rows(buffer, indices, rows)`` writes ``rows[i]`` at row ``indices[i]`` of a typed
buffer; ``update_ranges(buffer, [(offset, data), ...])`` writes byte ranges. Both check
everything first, so a bad index or range changes nothing.

- Host strategies: rows are written with one vectorised numpy assignment into the mapping
  (``typed[indices] = rows``), ranges with one copy each; one flush covers the span when the
  memory is not coherent.
- DEVICE_LOCAL: the rows are sorted by index and packed into ONE staging allocation, and ONE
  ``vkCmdCopyBuffer`` with many regions is recorded; rows with consecutive indices become one
  region (so a contiguous block of rows is one region whatever its length). The regions array
  is built by numpy straight into ``VkBufferCopy`` layout (three ``uint64`` per region).

Duplicate indices: the last row given for an index wins (as numpy's assignment), and only that
row is copied (Vulkan forbids overlapping destination regions in one copy). Overlapping byte
ranges are refused.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from engine.errors import InvalidRowsError

REGION_DTYPE = np.dtype([("src", "<u8"), ("dst", "<u8"), ("size", "<u8")])
"""``VkBufferCopy``: srcOffset, dstOffset, size (VkDeviceSize each, 24 bytes)."""


def check_rows(name: str, dtype: np.dtype[Any] | None, size: int, indices: Any, rows: Any
               ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """``(indices as int64, rows)`` after the checks of ``update_rows`` on a buffer ``name``
    of ``size`` bytes and element ``dtype``."""
    what = f"update_rows({name!r})"
    if dtype is None:
        raise InvalidRowsError(
            f"{what}: the buffer has no dtype, so it has no rows; create it with "
            "BufferConfig(dtype=...) or write bytes with update_ranges().")
    index_array = np.asarray(indices) if not isinstance(indices, np.ndarray) else indices
    if index_array.dtype.kind not in "iu" or index_array.ndim != 1:
        raise InvalidRowsError(
            f"{what}: indices must be a 1-D sequence of integers (got "
            f"{type(indices).__name__} of {index_array.dtype}, {index_array.ndim}-D).")
    if not isinstance(rows, np.ndarray) or rows.dtype != dtype:
        got = rows.dtype if isinstance(rows, np.ndarray) else type(rows).__name__
        raise InvalidRowsError(
            f"{what}: rows must be a numpy array of the buffer's dtype {dtype} (got {got}).")
    if rows.ndim != 1 or len(rows) != len(index_array):
        raise InvalidRowsError(
            f"{what}: {rows.shape} rows for {len(index_array)} indices; pass one row per index "
            "(a 1-D array of the buffer's dtype).")
    count = size // dtype.itemsize
    if len(index_array):
        low, high = int(index_array.min()), int(index_array.max())
        if low < 0 or high >= count:
            raise InvalidRowsError(
                f"{what}: index {low if low < 0 else high} is outside the buffer's {count} rows "
                "(0 to count - 1); resize_buffer() first to grow it.")
    return index_array.astype(np.int64, copy=False), rows


SMALL = 48
"""Up to this many rows, the sort and the regions are built in plain Python (a few numpy
calls cost more than the loop for a handful of rows)."""


def small_plan(indices: np.ndarray[Any, Any], itemsize: int, staged_offset: int
               ) -> tuple[list[int], np.ndarray[Any, Any]]:
    """:func:`last_wins_sorted` and :func:`row_regions` for a few rows, in Python: the
    positions to pack (ascending index, last of duplicates) and the regions."""
    values = indices.tolist()
    last = {v: i for i, v in enumerate(values)}  # a repeated index keeps its last position
    ordered = sorted(last)
    keep = [last[v] for v in ordered]
    regions: list[list[int]] = []
    previous = -2
    for k, v in enumerate(ordered):
        if v == previous + 1:
            regions[-1][2] += itemsize
        else:
            regions.append([staged_offset + k * itemsize, v * itemsize, itemsize])
        previous = v
    return keep, np.array([tuple(r) for r in regions], dtype=REGION_DTYPE)


def unique_bounds(indices: np.ndarray[Any, Any]) -> tuple[int, int] | None:
    """``(lowest, highest)`` of ``indices`` when no index repeats, else None (one sort of a
    copy: cheaper than the stable argsort that ordering the rows would take)."""
    ordered = np.sort(indices)
    if len(ordered) > 1 and bool((ordered[1:] == ordered[:-1]).any()):
        return None
    return int(ordered[0]), int(ordered[-1])


def last_wins_sorted(indices: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Positions into ``indices`` that sort them ascending, keeping the last of duplicates."""
    order = np.argsort(indices, kind="stable")
    ordered = indices[order]
    keep = np.ones(len(order), dtype=bool)
    keep[:-1] = ordered[1:] != ordered[:-1]  # a run of equal indices keeps its last (stable)
    return order[keep]


def row_regions(sorted_indices: np.ndarray[Any, Any], itemsize: int, staged_offset: int
                ) -> np.ndarray[Any, Any]:
    """Copy regions for unique ascending row indices packed in that order at
    ``staged_offset`` of a staging buffer: one region per run of consecutive indices."""
    n = len(sorted_indices)
    starts = np.flatnonzero(np.diff(sorted_indices) != 1) + 1
    first = np.concatenate(([0], starts))
    lengths = np.diff(np.concatenate((first, [n])))
    regions = np.empty(len(first), dtype=REGION_DTYPE)
    regions["src"] = staged_offset + first * itemsize
    regions["dst"] = sorted_indices[first] * itemsize
    regions["size"] = lengths * itemsize
    return regions


def check_ranges(name: str, size: int, ranges: Any, as_bytes: Any
                 ) -> list[tuple[int, Any, int]]:
    """``[(offset, bytes view, nbytes)]`` sorted by offset, after the checks of
    ``update_ranges`` (``as_bytes(data)`` turns one item's data into a bytes view)."""
    what = f"update_ranges({name!r})"
    try:
        items = list(ranges)
    except TypeError:
        raise InvalidRowsError(
            f"{what}: ranges must be an iterable of (offset, data) pairs (got "
            f"{type(ranges).__name__}).") from None
    checked = []
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            raise InvalidRowsError(f"{what}: each range must be an (offset, data) pair, got "
                                   f"{item!r:.60}.")
        offset, data = item
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)):
            raise InvalidRowsError(f"{what}: offset {offset!r} must be an integer byte offset.")
        view = as_bytes(data)
        start, nbytes = int(offset), view.nbytes
        if start < 0 or start + nbytes > size:
            raise InvalidRowsError(
                f"{what}: {nbytes} bytes at offset {start} are outside the buffer's {size} "
                "bytes; write less, or resize_buffer() first.")
        checked.append((start, view, nbytes))
    checked.sort(key=lambda r: r[0])
    for (a, _, an), (b, _, _) in itertools.pairwise(checked):
        if a + an > b:
            raise InvalidRowsError(
                f"{what}: the ranges at offsets {a} ({an} bytes) and {b} overlap; merge them "
                "into one range, or write them in two calls.")
    return checked
