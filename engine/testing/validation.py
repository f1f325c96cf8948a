"""ValidationLog: the validation messages of one test, each with where and why it arrived.

Every message of the Khronos layer (or the driver) reaches the process-wide
:data:`engine.device.debug.SINK` (one per process) synchronously, inside the Vulkan call that caused
it. While
a :class:`ValidationLog` is active it records, for each message:

- ``when``: the test phase (``setup``, ``call``, ``teardown``) or the innermost labelled block
  (:meth:`ValidationLog.during`; the frame driver labels every system of every frame, e.g.
  ``frame 3, RENDER phase, RenderSystem.process``);
- ``call``: the Python line that made the Vulkan call (inside the engine, usually);
- ``origin``: the innermost line of *your* code on the stack (a test or a game system).

A test fails on any message it did not consume with :meth:`ValidationLog.expect`: at the end of
its body (the plugin's ``pytest_runtest_call`` hook), at the end of a frame (the frame driver),
or at teardown (leaks are reported when the device is destroyed). The failure's first line
counts the messages and lists their ids; then every message follows with those three lines
(``origin`` only where it differs from ``call``). pytest's one-line summaries (``-rf``,
``--tb=line``) show the first line only; the FAILURES section shows all of it.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import sysconfig
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.device.debug import SINK, DebugMessage

_PROJECT = Path(__file__).resolve().parents[2]
_HERE = str(Path(__file__).resolve())
_SINK_FILE = str(Path(sys.modules[SINK.__module__].__file__ or "").resolve())
_LIBRARY_DIRS = tuple(str(_PROJECT / name) + "/" for name in ("engine", "systems", "components"))
_STDLIB = sysconfig.get_paths()["stdlib"] + "/"
_SKIPPED_PACKAGES = ("esper", "_pytest", "pluggy", "pytest")
_MAX_REPORTED = 20


@dataclass(frozen=True, slots=True)
class MessageOrigin:
    """Where a message arrived: ``when`` (phase or labelled block), ``call`` (the line that
    called Vulkan) and ``origin`` (the innermost line outside the engine and test machinery);
    ``call``/``origin`` are ``""`` when unknown."""

    when: str
    call: str
    origin: str


def _frame_text(frame: traceback.FrameSummary) -> str:
    line = (frame.line or "").strip()
    return f"{frame.filename}:{frame.lineno} in {frame.name}" + (f": {line}" if line else "")


def _is_library(filename: str) -> bool:
    """The engine, its systems and components, the test machinery, the stdlib, esper."""
    return (filename.startswith(_LIBRARY_DIRS) or filename.startswith(_STDLIB)
            or filename.startswith("<")
            or any(part in _SKIPPED_PACKAGES for part in Path(filename).parts[-4:-1]))


def _locate(stack: list[traceback.FrameSummary]) -> tuple[str, str]:
    """``(call, origin)`` from a stack captured inside the debug callback (innermost last)."""
    frames = [f for f in stack if f.filename not in (_HERE, _SINK_FILE)
              and Path(f.filename).parent.name != "vulkan"]  # the binding's callback wrapper
    call = _frame_text(frames[-1]) if frames else ""
    for frame in reversed(frames):
        if not _is_library(frame.filename):
            return call, _frame_text(frame)
    return call, ""


class _CapturingList(list[DebugMessage]):
    """The sink's message list while a log is active: records each message's origin."""

    def __init__(self, log: ValidationLog) -> None:
        super().__init__()
        self.log = log

    def append(self, message: DebugMessage) -> None:
        super().append(message)
        self.log._arrived(message)


class ValidationLog:
    """The validation messages of one test (the ``validation`` fixture).

    Creating it clears the sink; :meth:`close` stops recording. ``expect(fragment)`` consumes
    messages you provoke on purpose; :meth:`assert_clean` fails on any other.
    """

    phase = "setup"
    """The pytest phase now running (set by the plugin's hooks)."""

    def __init__(self) -> None:
        self._labels: list[str] = []
        self._origins: dict[int, tuple[DebugMessage, MessageOrigin]] = {}
        self._capture = _CapturingList(self)
        with SINK.lock:
            SINK.messages = self._capture

    # --- recording -------------------------------------------------------------------------

    def _arrived(self, message: DebugMessage) -> None:
        """Called (under the sink's lock) for every message while this log is active."""
        when = self._labels[-1] if self._labels else f"test {ValidationLog.phase}"
        try:
            frame = inspect.currentframe()
            call, origin = _locate(traceback.extract_stack(frame.f_back if frame else None))
        except Exception:  # pragma: no cover - never let anything escape the debug callback
            call, origin = "", ""
        self._origins[id(message)] = (message, MessageOrigin(when, call, origin))

    def _ensure_capturing(self) -> None:
        """Re-attach if someone replaced the sink's list (``SINK.take()``)."""
        with SINK.lock:
            if SINK.messages is not self._capture:
                self._capture.extend(m for m in SINK.messages if m not in self._capture)
                SINK.messages = self._capture

    @contextlib.contextmanager
    def during(self, label: str) -> Iterator[None]:
        """Label the messages that arrive inside the block (innermost label wins)."""
        self._labels.append(label)
        try:
            yield
        finally:
            self._labels.pop()

    def origin(self, message: DebugMessage) -> MessageOrigin:
        """Where ``message`` arrived (``when="unknown"`` if it came while not recording)."""
        entry = self._origins.get(id(message))
        return entry[1] if entry is not None and entry[0] is message \
            else MessageOrigin("unknown", "", "")

    def close(self) -> None:
        """Stop recording; the sink keeps a plain list of what is left."""
        with SINK.lock:
            if SINK.messages is self._capture:
                SINK.messages = list(self._capture)

    # --- queries ---------------------------------------------------------------------------

    @property
    def messages(self) -> list[DebugMessage]:
        """The messages not consumed yet, oldest first."""
        return list(SINK.messages)

    def ids(self) -> list[str]:
        """Message ids (``VUID-...``, ``SYNC-...``) of :attr:`messages`."""
        return [m.message_id for m in SINK.messages]

    def count(self) -> int:
        """How many messages are waiting (a cheap check for frame loops)."""
        return len(SINK.messages)

    def expect(self, fragment: str) -> list[DebugMessage]:
        """Consume the messages whose id or text contains ``fragment``; fail if none came."""
        self._ensure_capturing()
        with SINK.lock:
            hits = [m for m in self._capture if fragment in m.message_id or fragment in m.text]
            if hits:
                kept = [m for m in self._capture if all(m is not h for h in hits)]
                self._capture[:] = kept
        if not hits:
            pytest.fail(f"expected a validation message containing {fragment!r}; got "
                        f"{self.format(self.messages) or 'none'}", pytrace=False)
        return hits

    def take(self) -> list[DebugMessage]:
        """Return and consume every waiting message."""
        self._ensure_capturing()
        with SINK.lock:
            out = list(self._capture)
            self._capture.clear()
        return out

    # --- failing ---------------------------------------------------------------------------

    @staticmethod
    def summary(messages: list[DebugMessage]) -> str:
        """The message ids, each once in arrival order with a count when repeated (the
        failure's first line: pytest's one-line summaries, ``-rf`` or ``--tb=line``, show only
        that line)."""
        counts: dict[str, int] = {}
        for m in messages:
            key = m.message_id or "(no id)"
            counts[key] = counts.get(key, 0) + 1
        return ", ".join(k if n == 1 else f"{k} x{n}" for k, n in counts.items())

    def format(self, messages: list[DebugMessage]) -> str:
        """The report of ``messages``: each with its id, text, when, call and origin."""
        lines: list[str] = []
        for m in messages[:_MAX_REPORTED]:
            o = self.origin(m)
            lines.append(f"  {m}")
            lines.append(f"      when:   {o.when}")
            if o.call:
                lines.append(f"      call:   {o.call}")
            if o.origin and o.origin != o.call:
                lines.append(f"      origin: {o.origin}")
        if len(messages) > _MAX_REPORTED:
            lines.append(f"  ... and {len(messages) - _MAX_REPORTED} more")
        return "\n".join(lines)

    def assert_clean(self, when: str) -> None:
        """Fail the test if any message is waiting, listing each with where it arrived.

        ``when`` says what just ran, e.g. ``"after spawning the emitters"``.
        """
        left = self.take()
        if left:
            pytest.fail(f"{len(left)} validation message(s) {when}: {self.summary(left)}\n"
                        f"{self.format(left)}", pytrace=False)
