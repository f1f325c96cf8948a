"""A GLFW window for Vulkan (no client API): events, size, title, surface.

GLFW is initialised by the first window and terminated when the last one closes. Without a
display ``glfw.init()`` fails: :class:`Window` then raises
:class:`~engine.errors.WindowError`, and :func:`display_available` lets callers fall back to
headless. Input is delivered to listeners registered with :meth:`Window.on_key` (and
``on_mouse_button`` / ``on_cursor``); the callbacks are kept as bound methods on the window so
GLFW's references stay alive. Sizes are in framebuffer pixels.

X errors: Xlib's default error handler ends the process (``exit(1)``, no traceback). The
driver's window-system code shares GLFW's X connection, and on Xvfb an unchecked request it
sends can fail with BadRequest (seen: request 138.5 while swapchains were recreated); Xlib then
reports it whenever GLFW next reads events. ``_install_x_error_handler()`` replaces that
handler with one that logs the error (logger ``engine.window``) and goes on; GLFW still
installs its own handler around the calls whose errors it checks.
"""

from __future__ import annotations

import ctypes
import logging
import os
import warnings
from collections.abc import Callable
from typing import Any

import glfw

from engine.device.context import GraphicsContext
from engine.device.vk import ffi, vk
from engine.errors import WindowError

KeyListener = Callable[[int, int, int, int], None]
"""``listener(key, scancode, action, mods)`` with GLFW constants."""

_glfw_users = 0
log = logging.getLogger("engine.window")


class _XErrorEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("display", ctypes.c_void_p),
                ("resourceid", ctypes.c_ulong), ("serial", ctypes.c_ulong),
                ("error_code", ctypes.c_ubyte), ("request_code", ctypes.c_ubyte),
                ("minor_code", ctypes.c_ubyte)]


_X_ERROR_HANDLER_TYPE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p,
                                         ctypes.POINTER(_XErrorEvent))
_x_error_handler: Any = None  # kept alive for the life of the process
x_errors_seen = 0
"""X errors logged (instead of ending the process) so far."""


def _log_x_error(_display: Any, event: Any) -> int:
    global x_errors_seen
    x_errors_seen += 1
    e = event.contents
    log.warning("X error ignored: code %d, request %d.%d, resource %#x", e.error_code,
                e.request_code, e.minor_code, e.resourceid)
    return 0


def _install_x_error_handler() -> None:
    """Make X errors logged warnings instead of ``exit(1)`` (see the module docstring)."""
    global _x_error_handler
    if _x_error_handler is not None or not os.environ.get("DISPLAY"):
        return
    try:
        x11 = ctypes.CDLL("libX11.so.6")
    except OSError:
        return
    _x_error_handler = _X_ERROR_HANDLER_TYPE(_log_x_error)
    x11.XSetErrorHandler.restype = ctypes.c_void_p
    x11.XSetErrorHandler(_x_error_handler)


def _init_glfw() -> None:
    global _glfw_users
    if _glfw_users == 0:
        _install_x_error_handler()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ok = glfw.init()
        if not ok:
            raise WindowError(
                "Window: glfw.init() failed (no display? DISPLAY="
                f"{os.environ.get('DISPLAY')!r}); run under X11/Xvfb or use --headless.")
    _glfw_users += 1


def _release_glfw() -> None:
    global _glfw_users
    _glfw_users -= 1
    if _glfw_users == 0:
        glfw.terminate()


def display_available() -> bool:
    """True if a window could be opened here (DISPLAY or WAYLAND_DISPLAY set and GLFW starts)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        _init_glfw()
    except WindowError:
        return False
    _release_glfw()
    return True


def required_instance_extensions() -> list[str]:
    """The instance extensions a window surface needs (pass to ``GraphicsContext.create``)."""
    _init_glfw()
    try:
        names = glfw.get_required_instance_extensions()
    finally:
        _release_glfw()
    if not names:
        raise WindowError("Window: GLFW found no Vulkan surface support (glfw.vulkan_supported()"
                          " is False); install a Vulkan loader and driver.")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


class Window:
    """A resizable GLFW window.

    Attributes:
        resized: set when the framebuffer size changed; the swapchain clears it on recreate.
    """

    def __init__(self, width: int, height: int, title: str, *, resizable: bool = True) -> None:
        _init_glfw()
        self.handle: Any = None
        try:
            glfw.window_hint(glfw.CLIENT_API, glfw.NO_API)
            glfw.window_hint(glfw.RESIZABLE, glfw.TRUE if resizable else glfw.FALSE)
            handle = glfw.create_window(width, height, title, None, None)
            if not handle:
                raise WindowError(f"Window: glfw.create_window({width}x{height}) failed.")
        except BaseException:
            _release_glfw()
            raise
        self.handle = handle
        self.title = title
        self.resized = False
        self._key_listeners: list[KeyListener] = []
        self._button_listeners: list[Callable[[int, int, int], None]] = []
        self._cursor_listeners: list[Callable[[float, float], None]] = []
        glfw.set_framebuffer_size_callback(handle, self._on_framebuffer_size)
        glfw.set_key_callback(handle, self._on_key)
        glfw.set_mouse_button_callback(handle, self._on_mouse_button)
        glfw.set_cursor_pos_callback(handle, self._on_cursor)

    # --- callbacks -------------------------------------------------------------------------

    def _on_framebuffer_size(self, _w: Any, width: int, height: int) -> None:
        self.resized = True

    def _on_key(self, _w: Any, key: int, scancode: int, action: int, mods: int) -> None:
        for listener in self._key_listeners:
            listener(key, scancode, action, mods)

    def _on_mouse_button(self, _w: Any, button: int, action: int, mods: int) -> None:
        for listener in self._button_listeners:
            listener(button, action, mods)

    def _on_cursor(self, _w: Any, x: float, y: float) -> None:
        for listener in self._cursor_listeners:
            listener(x, y)

    def on_key(self, listener: KeyListener) -> None:
        """Call ``listener(key, scancode, action, mods)`` for every key event."""
        self._key_listeners.append(listener)

    def on_mouse_button(self, listener: Callable[[int, int, int], None]) -> None:
        """Call ``listener(button, action, mods)`` for every mouse-button event."""
        self._button_listeners.append(listener)

    def on_cursor(self, listener: Callable[[float, float], None]) -> None:
        """Call ``listener(x, y)`` (window pixels) when the cursor moves."""
        self._cursor_listeners.append(listener)

    # --- queries and actions ---------------------------------------------------------------

    def framebuffer_size(self) -> tuple[int, int]:
        w, h = glfw.get_framebuffer_size(self.handle)
        return int(w), int(h)

    def window_size(self) -> tuple[int, int]:
        w, h = glfw.get_window_size(self.handle)
        return int(w), int(h)

    @property
    def minimised(self) -> bool:
        w, h = self.framebuffer_size()
        return w == 0 or h == 0 or bool(glfw.get_window_attrib(self.handle, glfw.ICONIFIED))

    def should_close(self) -> bool:
        return bool(glfw.window_should_close(self.handle))

    def request_close(self) -> None:
        glfw.set_window_should_close(self.handle, True)

    def poll_events(self) -> None:
        glfw.poll_events()

    def wait_events(self, timeout_s: float) -> None:
        """Block up to ``timeout_s`` seconds for an event (used while minimised)."""
        glfw.wait_events_timeout(timeout_s)

    def set_title(self, title: str) -> None:
        if title != self.title:
            self.title = title
            glfw.set_window_title(self.handle, title)

    def cursor_pos(self) -> tuple[float, float]:
        x, y = glfw.get_cursor_pos(self.handle)
        return float(x), float(y)

    def create_surface(self, ctx: GraphicsContext) -> Any:
        """A ``VkSurfaceKHR`` for this window; destroy it with ``vkDestroySurfaceKHR``."""
        if "VK_KHR_surface" not in ctx.instance_extensions:
            raise WindowError(
                "Window.create_surface: the context was created without surface extensions; "
                "pass instance_extensions=required_instance_extensions() to "
                "GraphicsContext.create.")
        out = ffi.new("VkSurfaceKHR*")
        result = glfw.create_window_surface(ctx.instance, self.handle, None, out)
        if result != vk.VK_SUCCESS:
            raise WindowError(f"Window.create_surface: glfw.create_window_surface returned "
                              f"{result}.")
        return out[0]

    def close(self) -> None:
        """Destroy the window (idempotent); GLFW terminates with the last window."""
        if self.handle is not None:
            glfw.destroy_window(self.handle)
            self.handle = None
            _release_glfw()

    def __enter__(self) -> Window:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
