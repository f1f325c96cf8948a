"""Ctrl-C is delivered between public calls, never in the middle of one.

A ``KeyboardInterrupt`` normally appears between any two Python bytecodes, for example right
after ``vkQueueSubmit`` returned and before the submission was recorded, or between two
updates of the allocator's free lists. Either would leave the engine inconsistent (a command
buffer submitted twice, a corrupted block pool, an orphaned allocation).

So the engine installs its own ``SIGINT`` handler (:func:`install`, called when a
GraphicsContext is created on the main thread, only while Python's default handler is in
place: a handler of your own is never replaced). Outside engine calls it does what the
default does: raise ``KeyboardInterrupt``. Inside a call marked :func:`defers_interrupts`
(every public call that changes engine state, except the per-write ``update_buffer`` whose
single copy cannot be left half done) it only notes the Ctrl-C, and the call raises
``KeyboardInterrupt`` when it ends, after its work is complete. Cost: two integer updates
and a ``try``/``finally`` per call (well under a microsecond).

A result the call returns at that moment is lost to the caller (a buffer created then stays
live until ``destroy_buffer`` or ``close``), exactly as when Ctrl-C lands right after any
Python function returns.
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class _Guard:
    __slots__ = ("depth", "pending")

    def __init__(self) -> None:
        self.depth = 0
        self.pending = False


_GUARD = _Guard()


def _on_sigint(signum: int, frame: Any) -> None:
    if _GUARD.depth:
        _GUARD.pending = True
        return
    raise KeyboardInterrupt


def install() -> None:
    """Use the deferring ``SIGINT`` handler (main thread only; keeps a handler of yours)."""
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGINT)
    if current is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)


class interrupts_deferred:  # noqa: N801 - used as a statement: ``with interrupts_deferred():``
    """Context manager form of :func:`defers_interrupts` (reentrant)."""

    __slots__ = ()

    def __enter__(self) -> None:
        _GUARD.depth += 1

    def __exit__(self, *exc: Any) -> None:
        guard = _GUARD
        guard.depth -= 1
        if guard.pending and not guard.depth:
            guard.pending = False
            raise KeyboardInterrupt


def defers_interrupts(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` whole: a Ctrl-C during it is raised when it returns (or raises)."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        guard = _GUARD
        guard.depth += 1
        try:
            return fn(*args, **kwargs)
        finally:
            guard.depth -= 1
            if guard.pending and not guard.depth:
                guard.pending = False
                raise KeyboardInterrupt

    return call
