"""Helpers shared by the render, particle, lighting and game tests (not a test module)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import esper
import numpy as np

from components.camera import Camera
from engine.binding.binder import ResourceBinder
from engine.buffers.manager import BufferManager
from engine.render import meshes
from engine.render.targets import OffscreenTarget
from systems.render_stack import RenderStack


class MiniScene:
    """A ground plane, a camera and the full RenderStack, offscreen, in the current world."""

    def __init__(self, manager: BufferManager, *, width: int = 160, height: int = 96,
                 particles: int = 512, light_capacity: int = 4, vertices: Any = None,
                 particles_path: str = "sprites", surface_clear: str = "auto",
                 color_storage: bool | None = None, **stack_options: Any) -> None:
        self.manager = manager
        self.binder = ResourceBinder(manager.context, frames_in_flight=manager.frames_in_flight)
        self.target = OffscreenTarget(manager.context, width, height,
                                      surface_clear=surface_clear, color_storage=color_storage)
        if vertices is None:
            vertices = meshes.ground(30.0, (0.6, 0.6, 0.6, 0.0))
        self.stack = RenderStack(manager, self.binder, self.target, vertices,
                                 particles=particles, light_capacity=light_capacity,
                                 ambient=(0.02, 0.02, 0.02), particles_path=particles_path,
                                 **stack_options)
        self.camera = esper.create_entity(Camera(eye=(0.0, 14.0, 10.0), target=(0.0, 0.0, 0.0)))

    def step(self, frames: int = 1, dt: float = 1 / 60) -> None:
        for _ in range(frames):
            esper.process(dt)

    def screenshot(self) -> np.ndarray[Any, Any]:
        self.stack.renderer.request_screenshot()
        self.step()
        return self.stack.renderer.read_screenshot()

    def close(self) -> None:
        self.stack.close()
        self.binder.close()
        self.target.destroy()


def luminance(rgba: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return rgba[:, :, :3].astype(np.float32).mean(axis=2)


def box_blur(img: np.ndarray[Any, Any], r: int) -> np.ndarray[Any, Any]:
    """Mean over a (2r+1)^2 window (edges clamped), via summed-area tables."""
    pad = np.pad(img, r + 1, mode="edge").astype(np.float64)
    s = pad.cumsum(0).cumsum(1)
    k = 2 * r + 1
    h, w = img.shape
    total = s[k:k + h, k:k + w] - s[0:h, k:k + w] - s[k:k + h, 0:w] + s[0:h, 0:w]
    return total / (k * k)


def bright_spots(rgba: np.ndarray[Any, Any], *, above: float = 40.0) -> int:
    """Pixels much brighter than their 7x7 neighbourhood: small sprites, not light pools."""
    lum = luminance(rgba)
    return int(np.count_nonzero(lum - box_blur(lum, 3) > above))


@contextmanager
def xvfb() -> Iterator[str | None]:
    """Start a private Xvfb and set DISPLAY; yields the display, or None without Xvfb."""
    exe = shutil.which("Xvfb")
    if exe is None:
        yield None
        return
    # -displayfd: Xvfb picks a free display itself and writes its number once it accepts
    # connections (two suites on one machine can no longer pick the same number).
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([exe, "-displayfd", str(write_fd), "-screen", "0", "1024x768x24",
                             "-nolisten", "tcp"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    old = os.environ.get("DISPLAY")
    try:
        with os.fdopen(read_fd) as numbers:
            number = numbers.readline().strip()  # blocks until the server is up (or exits)
        if not number:
            raise RuntimeError("Xvfb exited without a display")
        display = f":{number}"
        os.environ["DISPLAY"] = display
        yield display
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
