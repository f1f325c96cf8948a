"""Number and flag arguments, normalised once at the public boundary.

Every size, offset, count and index a public call takes goes through :func:`as_int` before
any arithmetic: a numpy integer of any width becomes a Python ``int`` (so nothing wraps in
``uint8`` or overflows in ``int64``), while ``bool``, floats, numpy bools/floats, strings and
``None`` are not integers at all (the caller raises its own error class). Yes/no options go
through :func:`as_flag`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import InvalidOptionError


def as_int(value: Any) -> int | None:
    """``value`` as a Python ``int`` if it is an integer (``int`` or numpy integer), else None.

    ``bool`` and ``numpy.bool_`` are refused (``True`` is not a size), as are floats even when
    whole (``2.0``), strings and every other type.
    """
    if value.__class__ is int:
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    return None


def as_flag(value: Any, what: str, name: str, *, allow_none: bool = False) -> bool | None:
    """``value`` as a ``bool``: only ``True``/``False`` (Python or numpy), ``None`` if allowed.

    A string such as ``"no"`` is truthy, so treating it as a flag would turn the option on;
    it raises :class:`~engine.errors.InvalidOptionError` instead.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    allowed = "True, False or None" if allow_none else "True or False"
    raise InvalidOptionError(f"{what}: {name}={value!r} is not a flag; pass {allowed}.")
