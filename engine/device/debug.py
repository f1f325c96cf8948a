"""The process-wide validation/debug message sink.

The ``vulkan`` bindings keep one Python debug callback per process, so every context shares one
:class:`DebugSink`. Messages go to :mod:`logging` (logger ``engine.vulkan``) and are kept in
:attr:`DebugSink.messages` so that tests can fail on any validation message. The callback only
appends (an exception inside a cffi callback is swallowed by cffi) and decodes with
``errors="replace"`` (drivers may send invalid UTF-8).

Pass names: a message that arrives while the renderer records a pass ends with
``[in pass: NAME]``. The layer checks most rules (descriptor validity, synchronisation hazards
inside one command buffer, draw state) inside the ``vkCmd*`` call that breaks them, on the
calling thread, so the renderer announces each pass here (:meth:`DebugSink.enter_pass`, done
by :class:`~engine.render.gpu_timing.DebugLabels` with each debug-utils label, i.e. whenever
the context names objects: validation on, or ``ENGINE_OBJECT_NAMES=1``). The layer itself
attaches command-buffer labels only to messages whose object list holds the command buffer
(not, e.g., a hazard reported on a ``VkBuffer``); where it does, its innermost label is used.
Messages that arrive outside recording (at ``vkQueueSubmit``: hazards against an earlier
submission; at ``close``: leaks) name no pass.
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
        self._recording = threading.local()

    def enter_pass(self, name: str) -> None:
        """The calling thread now records the pass ``name``: messages it causes until
        :meth:`leave_pass` end with ``[in pass: NAME]`` (unless the layer names a label)."""
        self._recording.name = name

    def leave_pass(self) -> None:
        """The calling thread recorded the end of its pass (or abandoned it); idempotent."""
        self._recording.name = None

    @property
    def current_pass(self) -> str | None:
        """The pass the calling thread is recording (None outside passes)."""
        name: str | None = getattr(self._recording, "name", None)
        return name

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
            labels = _labels(data)  # the renderer labels each pass (never nested)
            where = labels[-1] if labels else getattr(self._recording, "name", None)
            if where:
                text = f"{text} [in pass: {where}]"
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
