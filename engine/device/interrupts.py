"""Ctrl-C held back across the few lines that must not be split.

A ``KeyboardInterrupt`` is raised between Python bytecodes, including right after a C call
such as ``vkQueueSubmit`` returns and before its result is recorded. Between those two points
an interrupt would leave a command buffer submitted but still marked as queued (and submitted
a second time at shutdown). :class:`interrupts_deferred` blocks ``SIGINT`` for the calling
thread (``pthread_sigmask``: two system calls, well under a microsecond each) while such a
block runs; a Ctrl-C that arrives meanwhile is delivered, as a ``KeyboardInterrupt``, right
after the block.
"""

from __future__ import annotations

import signal
from typing import Any

_SIGINT = {signal.SIGINT}
_CAN_MASK = hasattr(signal, "pthread_sigmask")


class interrupts_deferred:  # noqa: N801 - used as a statement: ``with interrupts_deferred():``
    """Context manager: no ``SIGINT`` delivery for the calling thread inside the block."""

    __slots__ = ("_old",)

    def __enter__(self) -> None:
        self._old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGINT) if _CAN_MASK else None

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old)
