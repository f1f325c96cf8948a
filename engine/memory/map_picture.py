"""A picture of device memory: one row per block, used ranges coloured by strategy, as a PNG.

Layout (pixels): a legend strip at the top (``LEGEND_HEIGHT`` high, one swatch per entry
of :data:`COLOURS`, in that order, no text), a gap, then one row per ``VkDeviceMemory``:
memory types in index order, each type's blocks by id, then its dedicated allocations. Every row
is ``row_height`` high plus a ``ROW_GAP`` white gap, and spans the full ``width`` for its
own block (x = offset * width / block size), so small blocks stay readable. A used range is at
least 1 pixel wide; one at least 3 pixels wide gets a darker first column to show where it
begins. Free ranges are light grey.

Colours come from the strategy of the buffer when a BufferManager is given (retired buffers
are ``pending_destroy``, staging-ring chunks ``staging``); given only an allocator, mapped
allocations are drawn as ``host_visible`` and unmapped ones as ``device_local``.

Written with the standard library (zlib + struct; no Pillow): 8-bit RGB, no interlace.
Usage: ``save_memory_map(manager, "memory.png")`` (the game's ``--memory-map out.png``).
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from engine.memory.stats import describe_allocations, info_of, resolve

COLOURS: dict[str, tuple[int, int, int]] = {
    "device_local": (66, 120, 225),
    "host_visible": (240, 165, 40),
    "host_cached": (60, 175, 90),
    "staging": (165, 90, 200),
    "pending_destroy": (215, 55, 55),
    "other": (45, 45, 45),
    "free": (205, 205, 205),
}
"""Legend order, left to right: strategy (or kind) -> RGB."""
LEGEND_HEIGHT = 12
SWATCH_WIDTH = 24
ROW_GAP = 2
BACKGROUND = (255, 255, 255)

Image = np.ndarray[Any, np.dtype[np.uint8]]


def _rows(source: Any) -> list[tuple[int, list[tuple[int, int, str]]]]:
    """(block size, [(offset, size, kind) of used ranges]) for every block, in map order."""
    allocator = resolve(source)
    described = describe_allocations(source)
    rows: list[tuple[int, list[tuple[int, int, str]]]] = []
    for mtype in allocator.ctx.memory_types:
        pool = allocator.pools.get(mtype.index)
        if pool is not None:
            for _, block in sorted(pool.blocks.items()):
                used = [(o, s, info_of(a, described).strategy)
                        for o, s, a in block.ranges() if a is not None]
                rows.append((block.size, used))
        for allocation in allocator.dedicated_allocations(mtype.index):
            kind = info_of(allocation, described).strategy
            rows.append((allocation.reserved, [(0, allocation.reserved, kind)]))
    return rows


def image_size(rows: int, *, width: int = 1024, row_height: int = 16) -> tuple[int, int]:
    """(width, height) in pixels of a map with ``rows`` blocks."""
    return width, LEGEND_HEIGHT + ROW_GAP + rows * (row_height + ROW_GAP)


def render_memory_map(source: Any, *, width: int = 1024, row_height: int = 16) -> Image:
    """The map as an ``(height, width, 3)`` uint8 RGB array (``source``: manager/allocator)."""
    if width < len(COLOURS) * (SWATCH_WIDTH + 4) or row_height < 1:
        raise ValueError(f"render_memory_map: width must be >= {len(COLOURS) * 28} and "
                         "row_height >= 1 pixels.")
    rows = _rows(source)
    w, h = image_size(len(rows), width=width, row_height=row_height)
    image = np.empty((h, w, 3), np.uint8)
    image[:] = BACKGROUND
    for i, colour in enumerate(COLOURS.values()):
        x = 2 + i * (SWATCH_WIDTH + 4)
        image[1:LEGEND_HEIGHT - 1, x:x + SWATCH_WIDTH] = colour
    palette = {k: np.array(c, np.uint8) for k, c in COLOURS.items()}
    edge = {k: (np.array(c) * 0.6).astype(np.uint8) for k, c in COLOURS.items()}
    y = LEGEND_HEIGHT + ROW_GAP
    for block_size, used in rows:
        line = np.empty((w, 3), np.uint8)
        line[:] = palette["free"]
        scale = w / block_size
        for offset, size, kind in used:
            key = kind if kind in palette else "other"
            x0 = int(offset * scale)
            x1 = max(x0 + 1, min(w, math.ceil((offset + size) * scale)))
            line[x0:x1] = palette[key]
            if x1 - x0 >= 3:
                line[x0] = edge[key]
        image[y:y + row_height] = line
        y += row_height + ROW_GAP
    return image


def write_png(path: str | Path, rgb: Image) -> None:
    """Write an ``(h, w, 3)`` uint8 array as an 8-bit RGB PNG (stdlib zlib + struct)."""
    h, w, channels = rgb.shape
    if channels != 3 or rgb.dtype != np.uint8:
        raise ValueError("write_png: expected an (h, w, 3) uint8 array.")
    raw = np.hstack([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)]).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    Path(path).write_bytes(png)


def save_memory_map(source: Any, path: str | Path, *, width: int = 1024,
                    row_height: int = 16) -> tuple[int, int]:
    """Draw every block of ``source`` (a BufferManager or MemoryAllocator) into a PNG.

    Returns:
        (width, height) of the image in pixels (see :func:`image_size`).
    """
    image = render_memory_map(source, width=width, row_height=row_height)
    write_png(path, image)
    return image.shape[1], image.shape[0]
