"""The process-wide validation/debug message sink.

The ``vulkan`` bindings keep one Python debug callback per process, so every context shares one
:class:`DebugSink`. Messages go to :mod:`logging` (logger ``engine.vulkan``) and are kept in
:attr:`DebugSink.messages` so that tests can fail on any validation message. The callback only
appends (an exception inside a cffi callback is swallowed by cffi) and decodes with
``errors="replace"`` (drivers may send invalid UTF-8). A message about a command buffer with
debug-utils labels open (the renderer opens one per pass) ends with ``[in pass: NAME]``.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

from engine.device.vk import ffi, vk

log = logging.getLogger("engine.vulkan")

SEVERITY_ALL = (
    vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_VERBOSE_BIT_EXT
    | vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_INFO_BIT_EXT
    | vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT
    | vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT
)
SEVERITY_REPORTED = (
    vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT
    | vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT
)
TYPES_ALL = (
    vk.VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT
    | vk.VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT
    | vk.VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT
)

_VUID = re.compile(r"\[ (\S+) \]|(VUID-[\w-]+|SYNC-[\w-]+|UNASSIGNED-[\w-]+)")


@dataclass(frozen=True, slots=True)
class DebugMessage:
    """One message from the validation layer or the driver."""

    severity: int
    types: int
    message_id: str
    text: str

    @property
    def is_error(self) -> bool:
        return bool(self.severity & vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)

    @property
    def is_validation(self) -> bool:
        return bool(self.types & vk.VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT)

    def __str__(self) -> str:
        return f"[{self.message_id}] {self.text}"


# Messages that are not about this program: the loader and layers chatting at start-up.
_BENIGN_IDS = {"Loader Message", "UNASSIGNED-khronos-validation-createinstance-status-message"}
_BENIGN_TEXT = ("Khronos Validation Layer Active",)


def _labels(data: Any) -> list[str]:
    """The debug-utils labels the layer reports for the command buffer the message is about,
    outermost first. The renderer opens one per pass and never nests them; the layer applies
    label ends lazily, so only the innermost (last) one is the pass being recorded."""
    count = int(data.cmdBufLabelCount)
    if not count or data.pCmdBufLabels == ffi.NULL:
        return []
    out = []
    for i in range(min(count, 16)):
        name = data.pCmdBufLabels[i].pLabelName
        if name != ffi.NULL:
            out.append(ffi.string(name).decode("utf-8", errors="replace"))
    return out


class DebugSink:
    """Collects messages from every messenger in the process; thread-safe append only."""

    def __init__(self) -> None:
        self.messages: list[DebugMessage] = []
        self.lock = threading.Lock()
        """Held while ``messages`` is appended to or replaced; a reader that swaps or edits
        the list (the test plugin's log) holds it too."""

    def callback(self, severity: int, types: int, data: Any, _user: Any) -> int:
        """The cffi callback. Must only append and return ``VK_FALSE`` (cffi swallows exceptions
        raised in a callback)."""
        try:
            text = ffi.string(data.pMessage).decode("utf-8", errors="replace")
            mid = (
                ffi.string(data.pMessageIdName).decode("utf-8", errors="replace")
                if data.pMessageIdName != ffi.NULL
                else ""
            )
            if not mid:
                m = _VUID.search(text)
                mid = (m.group(1) or m.group(2)) if m else ""
            labels = _labels(data)
            if labels:  # the renderer labels each pass (never nested): name the innermost
                text = f"{text} [in pass: {labels[-1]}]"
            message = DebugMessage(int(severity), int(types), mid, text)
            if mid in _BENIGN_IDS or any(b in text for b in _BENIGN_TEXT):
                log.debug("%s", message)
                return 0
            with self.lock:
                self.messages.append(message)
            level = logging.ERROR if message.is_error else logging.WARNING
            log.log(level, "%s", message)
        except Exception:  # pragma: no cover - never let anything escape a cffi callback
            pass
        return 0

    def take(self) -> list[DebugMessage]:
        """Return and clear the collected messages."""
        with self.lock:
            out, self.messages = self.messages, []
        return out

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


SINK = DebugSink()
"""The single process-wide sink (messengers of every instance report here)."""


def _raw_callback(severity: int, types: int, data: Any, user: Any) -> int:
    return SINK.callback(severity, types, data, user)
