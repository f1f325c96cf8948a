"""Page-aligned benchmark data, skewed so that no copy suffers 4K aliasing.

Measured: numpy->numpy 64 KiB copies ran 10x slower when source and
destination were a few bytes apart modulo 4096 (a load that aliases a pending store's page
offset waits for it). Vulkan mappings here start on a page boundary, so every destination in
the benchmarks is page-aligned (``offset % 4096 == 0``) and every source starts
:data:`SOURCE_SKEW` bytes past a page boundary: the same skew for us, the limit and the peers,
64-byte aligned (a whole cache line) and half a page away from any destination.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PAGE = 4096
SOURCE_SKEW = 2048 + 64
"""Bytes past a page boundary where every source array starts."""


def aligned_empty(nbytes: int, dtype: Any = np.uint8, *, skew: int = 0) -> np.ndarray[Any, Any]:
    """An array of ``nbytes`` starting ``skew`` bytes past a page boundary, filled (touched)."""
    dt = np.dtype(dtype)
    raw = np.empty(nbytes + 2 * PAGE, dtype=np.uint8)
    start = (-raw.ctypes.data) % PAGE + skew
    out = raw[start:start + nbytes].view(dt)
    out.view(np.uint8)[:] = 1  # touch every page before timing
    return out


def source(nbytes: int, seed: int = 0) -> np.ndarray[Any, Any]:
    """A float32 source array of ``nbytes`` (multiple of 4) at the source skew, random data."""
    arr = aligned_empty(nbytes, np.float32, skew=SOURCE_SKEW)
    arr[:] = np.random.default_rng(seed).random(arr.size, dtype=np.float32)
    return arr


def destination(nbytes: int) -> np.ndarray[Any, Any]:
    """A page-aligned float32 destination array of ``nbytes`` (plain RAM, touched)."""
    return aligned_empty(nbytes, np.float32)


def page_offset(arr: Any) -> int:
    """Address of ``arr``'s first byte modulo the page size (recorded in the JSON)."""
    return int(np.asarray(arr).ctypes.data % PAGE)


def fmt_size(nbytes: int) -> str:
    """``256 B``, ``64 KiB``, ``16 MiB``."""
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= factor and nbytes % factor == 0:
            return f"{nbytes // factor} {unit}"
    return f"{nbytes} B"
