"""Helpers shared by the render, particle, lighting and game tests (not a test module)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
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
                 particles: int = 512, light_capacity: int = 4) -> None:
        self.manager = manager
        self.binder = ResourceBinder(manager.context, frames_in_flight=manager.frames_in_flight)
        self.target = OffscreenTarget(manager.context, width, height)
        ground = meshes.ground(30.0, (0.6, 0.6, 0.6, 0.0))
        self.stack = RenderStack(manager, self.binder, self.target, ground,
                                 particles=particles, light_capacity=light_capacity,
                                 ambient=(0.02, 0.02, 0.02))
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


def _free_display() -> int:
    for n in range(90, 200):
        if os.path.exists(f"/tmp/.X11-unix/X{n}") or os.path.exists(f"/tmp/.X{n}-lock"):
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            if s.connect_ex(("127.0.0.1", 6000 + n)) == 0:
                continue
        return n
    raise RuntimeError("no free X display number in 90..199")


@contextmanager
def xvfb() -> Iterator[str | None]:
    """Start a private Xvfb and set DISPLAY; yields the display, or None without Xvfb."""
    exe = shutil.which("Xvfb")
    if exe is None:
        yield None
        return
    display = f":{_free_display()}"
    proc = subprocess.Popen([exe, display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    old = os.environ.get("DISPLAY")
    try:
        socket_path = f"/tmp/.X11-unix/X{display[1:]}"
        for _ in range(1200):  # until the server is up (a safety bound of a minute, not a pace)
            if os.path.exists(socket_path) or proc.poll() is not None:
                break
            time.sleep(0.05)
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
