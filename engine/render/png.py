"""A stdlib-only PNG writer and reader for 8-bit RGBA images (screenshots and tests).

``save_png`` writes filter type 0 (none) with zlib level 6; ``load_png`` reads back what
``save_png`` writes (8-bit RGBA, non-interlaced, any filter type), which is all the tests need.
Arrays are ``uint8`` of shape ``(height, width, 4)``, rows top to bottom.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import Any

import numpy as np

from engine.errors import EngineError

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode_png(rgba: np.ndarray[Any, Any]) -> bytes:
    """The PNG file bytes of ``rgba`` (uint8, (h, w, 4))."""
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise EngineError(f"encode_png: need a uint8 (h, w, 4) array, got {rgba.dtype} "
                          f"{rgba.shape}; convert with np.asarray(..., np.uint8).")
    h, w, _ = rgba.shape
    raw = np.hstack([np.zeros((h, 1), np.uint8),
                     np.ascontiguousarray(rgba).reshape(h, w * 4)]).tobytes()
    return (_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b""))


def save_png(path: str | os.PathLike[str], rgba: np.ndarray[Any, Any]) -> None:
    """Write ``rgba`` to ``path`` (parent folders are created)."""
    folder = os.path.dirname(os.fspath(path))
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "wb") as f:
        f.write(encode_png(rgba))


def _unfilter(data: bytes, h: int, w: int) -> np.ndarray[Any, Any]:
    bpp, stride = 4, w * 4
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    pos = 0
    for y in range(h):
        ftype = data[pos]
        line = np.frombuffer(data, np.uint8, stride, pos + 1).astype(np.int32)
        pos += 1 + stride
        if ftype == 0:
            cur = line
        elif ftype == 2:
            cur = (line + prev) & 0xFF
        else:  # 1 (sub), 3 (average), 4 (paeth): sequential along the row
            cur = np.zeros(stride, np.int32)
            for x in range(stride):
                a = cur[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                if ftype == 1:
                    pred = a
                elif ftype == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + pred) & 0xFF
        out[y] = cur
        prev = cur
    return out.reshape(h, w, 4)


def load_png(path: str | os.PathLike[str]) -> np.ndarray[Any, Any]:
    """Read an 8-bit RGBA PNG (as written by :func:`save_png`) into (h, w, 4) uint8."""
    with open(path, "rb") as f:
        blob = f.read()
    if not blob.startswith(_SIGNATURE):
        raise EngineError(f"load_png({os.fspath(path)!r}): not a PNG file.")
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos:pos + 4])
        kind = blob[pos + 4:pos + 8]
        data = blob[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data)
            if (depth, colour, interlace) != (8, 6, 0):
                raise EngineError(f"load_png({os.fspath(path)!r}): only 8-bit RGBA, "
                                  "non-interlaced PNGs are supported.")
        elif kind == b"IDAT":
            idat += data
        elif kind == b"IEND":
            break
    return _unfilter(zlib.decompress(idat), h, w)
