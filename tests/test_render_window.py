"""A windowed run under a private Xvfb: present, resize, minimise/restore, input, close.

The test starts and stops its own Xvfb on a free display number; it is skipped only when Xvfb
is not installed. Validation and synchronisation validation are on, and the context is closed
inside the test, so leaked objects (swapchain, surface, semaphores...) are reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import glfw
import pytest

from components.player import Player
from components.transform import Transform
from engine.device.context import GraphicsContext
from engine.render.window import Window, display_available, required_instance_extensions
from games.wisp.app import WispApp, parse_args

try:  # tests/ may or may not be a package
    from render_helpers import luminance, xvfb
except ImportError:
    from tests.render_helpers import luminance, xvfb

pytestmark = pytest.mark.window


@pytest.fixture
def display():
    with xvfb() as name:
        if name is None:
            pytest.skip("Xvfb is not installed (apt-get install xvfb); the window tests need "
                        "their own X server")
        yield name


@contextmanager
def windowed_app(particles: int, lights: int, particles_path: str = "auto",
                 lighting: str = "auto") -> Iterator[WispApp]:
    """Wisp in a 320x200 window on its own validated context; both closed afterwards, inside
    the test, so leaked objects are reported there."""
    ctx = GraphicsContext.create(validation=True, sync_validation=True,
                                 instance_extensions=required_instance_extensions())
    try:
        args = parse_args(["--width", "320", "--height", "200", "--particles", str(particles),
                           "--lights", str(lights), "--fps", "0",
                           "--particles-path", particles_path, "--lighting", lighting])
        app = WispApp(args, context=ctx)
        try:
            yield app
        finally:
            app.close()
    finally:
        ctx.close()


def test_window_presents_survives_resize_and_minimise_and_closes_cleanly(display, validation):
    assert display_available()
    with windowed_app(1500, 12) as app:
        target, window, renderer = app.target, app.window, app.renderer
        assert window is not None
        app.step(20)
        # (an X server may report the first size late: a skipped frame is allowed)
        assert renderer.frames_rendered + renderer.frames_skipped == 20
        assert renderer.frames_rendered >= 15 and target.presented == renderer.frames_rendered
        assert (target.width, target.height) == (320, 200)

        # Resize: the framebuffer callback marks it, the next acquire recreates.
        recreations = target.recreations
        glfw.set_window_size(window.handle, 400, 260)
        for _ in range(40):
            app.step(1)
            if (target.width, target.height) == (400, 260):
                break
        assert (target.width, target.height) == (400, 260)
        assert target.recreations > recreations
        app.step(5)

        # Minimise and restore through GLFW (Xvfb has no window manager, so the request
        # may not take effect), then a minimise the target must see: a 0x0 framebuffer.
        glfw.iconify_window(window.handle)
        app.step(5)
        glfw.restore_window(window.handle)
        app.step(5)
        skipped = renderer.frames_skipped
        real_size = window.framebuffer_size
        window.framebuffer_size = lambda: (0, 0)  # type: ignore[method-assign]
        window.resized = True
        app.step(5)
        assert renderer.frames_skipped == skipped + 5  # nothing acquired or presented
        window.framebuffer_size = real_size  # type: ignore[method-assign]
        window.resized = True
        before = target.recreations
        rendered = renderer.frames_rendered
        app.step(5)
        assert target.recreations == before + 1 and renderer.frames_rendered == rendered + 5

        # A screenshot of the swapchain image: the lit scene, not a blank frame.
        renderer.request_screenshot()
        app.step(1)
        shot = renderer.read_screenshot()
        assert shot.shape == (260, 400, 4)
        assert luminance(shot).max() > 100 and luminance(shot).std() > 5

        # Keys through the window's GLFW callback move the player (autopilot is off).
        app.loop.fixed_dt = 1 / 60  # half a second of game time, however fast frames are
        x0 = _player_pos(app)[0]
        window._on_key(window.handle, glfw.KEY_D, 0, glfw.PRESS, 0)
        app.step(30)
        window._on_key(window.handle, glfw.KEY_D, 0, glfw.RELEASE, 0)
        assert _player_pos(app)[0] > x0 + 1.5
        assert "score" in window.title


def _player_pos(app: WispApp) -> tuple[float, float, float]:
    import esper
    for _ent, (_p, tr) in esper.get_components(Player, Transform):
        return tr.position
    raise AssertionError("no player")


def test_window_without_display_raises_a_clear_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert not display_available()
    from engine.errors import WindowError
    with pytest.raises(WindowError, match="headless"):
        Window(64, 64, "nothing")


@pytest.mark.parametrize(("path", "lighting", "surface_clear"), [
    ("sprites", "volumes", "auto"), ("compute", "volumes", "auto"),
    ("sprites", "compute", "auto"), ("compute", "compute", "compute")])
def test_windowed_run_survives_repeated_resizes_and_minimise_restore(display, validation,
                                                                     monkeypatch, path,
                                                                     lighting, surface_clear):
    """Many resize and minimise/restore cycles (12 in CI, 200 under ``make soak``): every
    cycle recreates the swapchain, frames keep presenting, nothing leaks or warns. Both
    particle paths and the compute lighting path: their buffers follow the swapchain's
    size. The last case clears the G-buffer surface in compute (the GPU default) on this
    device too: its SurfaceClear is rebuilt with every new G-buffer."""
    import os

    import engine.render.swapchain as swapchain

    if surface_clear == "compute":
        monkeypatch.setattr(swapchain, "surface_clear_in_compute", lambda *args: True)

    cycles = 200 if os.environ.get("ENGINE_SOAK") == "1" else 12
    with windowed_app(500, 8, path, lighting) as app:
        target, window, renderer = app.target, app.window, app.renderer
        assert window is not None
        assert target.surface_cleared_in_compute is (surface_clear == "compute"
                                                     or not app.ctx.is_software)
        app.step(5)
        sizes = [(400, 260), (240, 160), (320, 200), (512, 288)]
        for i in range(cycles):
            w, h = sizes[i % len(sizes)]
            recreations = target.recreations
            glfw.set_window_size(window.handle, w, h)
            for _ in range(40):
                app.step(1)
                if (target.width, target.height) == (w, h):
                    break
            assert (target.width, target.height) == (w, h), f"cycle {i}"
            assert target.recreations > recreations
            real_size = window.framebuffer_size
            window.framebuffer_size = lambda: (0, 0)  # type: ignore[method-assign]
            window.resized = True
            skipped = renderer.frames_skipped
            app.step(2)  # minimised: nothing acquired or presented
            assert renderer.frames_skipped == skipped + 2
            window.framebuffer_size = real_size  # type: ignore[method-assign]
            window.resized = True
            presented = target.presented
            app.step(3)
            assert target.presented > presented, f"cycle {i}: restored window presents"
            assert not validation.messages, [str(m) for m in validation.messages[:3]]
            splat = app.stack.splat_pass
            assert (splat is not None) == (path == "compute")
            if splat is not None:
                assert splat.size == (w, h) and splat.accum is not None
                assert splat.accum.size == w * h * splat.accum_bytes_per_pixel
            tiled = app.stack.tiled_lighting
            assert (tiled is not None) == (lighting == "compute")
            if tiled is not None:
                assert tiled.size == (w, h) and tiled.accum is not None
                assert tiled.accum.size == w * h * 4
    validation.assert_clean("after repeated resizes and minimise/restore")


def test_suboptimal_acquire_still_presents_the_image_then_recreates(display, validation,
                                                                     monkeypatch):
    """The driver says VK_SUBOPTIMAL_KHR (here: injected after a real acquire): the acquired
    image is drawn and presented, then the swapchain is recreated (as the spec allows)."""
    import engine.render.swapchain as swapchain_module
    from engine.device.vk import vk

    real = swapchain_module.lib
    state = {"calls": 0}

    class SuboptimalOnce:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def vkAcquireNextImageKHR(self, *args: object) -> int:
            result = real.vkAcquireNextImageKHR(*args)
            state["calls"] += 1
            if state["calls"] == 6 and result == vk.VK_SUCCESS:
                return vk.VK_SUBOPTIMAL_KHR
            return result

    monkeypatch.setattr(swapchain_module, "lib", SuboptimalOnce())
    with windowed_app(300, 4) as app:
        target = app.target
        app.step(5)
        recreations, presented = target.recreations, target.presented
        app.step(1)  # acquire says SUBOPTIMAL
        assert target.suboptimal_seen == 1
        assert target.presented == presented + 1, "the suboptimal image was still presented"
        app.step(2)
        assert target.recreations == recreations + 1, "recreated once, before the next acquire"
        assert target.presented == presented + 3
    validation.assert_clean("after a suboptimal acquire")


def test_an_x_error_is_logged_instead_of_ending_the_process(display, caplog):
    """Xlib's default handler would exit(1) (no traceback) on any X error; ours logs it."""
    import ctypes

    import engine.render.window as window_module

    x11 = ctypes.CDLL("libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XDestroyWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    with Window(64, 64, "x errors"):
        before = window_module.x_errors_seen
        dpy = x11.XOpenDisplay(display.encode())
        assert dpy
        x11.XDestroyWindow(dpy, 0x7FFFFF)  # no such window: BadWindow
        x11.XSync(dpy, 0)
        x11.XCloseDisplay(dpy)
        assert window_module.x_errors_seen == before + 1
    assert "X error ignored" in caplog.text


def test_a_pass_that_raises_mid_frame_leaves_the_swapchain_usable(display, validation):
    """A system's pass raises while the frame is recorded: the acquired image is still
    presented (its semaphore waited on), the half-recorded command buffer is never submitted,
    and later frames run clean."""

    class PassBugError(Exception):
        pass

    class RaisesOnce:
        def __init__(self) -> None:
            self.armed = True

        def record_compute(self, cmd: object, slot: int) -> None:
            pass

        def record_scene(self, cmd: object, slot: int) -> None:
            if self.armed:
                self.armed = False
                raise PassBugError("a bug in a pass")

        def record_light(self, cmd: object, slot: int) -> None:
            pass

    with windowed_app(300, 4) as app:
        app.step(3)
        target = app.target
        presented = target.presented
        app.renderer.passes.append(RaisesOnce())
        with pytest.raises(PassBugError):
            app.step(1)
        assert target.presented == presented + 1, "the acquired image was presented anyway"
        app.step(6)  # every slot comes round again, the interrupted frame recovered
        assert target.presented == presented + 7
        assert not validation.messages, [str(m) for m in validation.messages[:3]]
    validation.assert_clean("after a pass raised mid-frame")
