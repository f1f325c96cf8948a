"""The frame loop (docs/ARCHITECTURE.md, "One frame"), as code.

One iteration is one ``esper.process(dt)`` of a world whose systems were added at their
phases (:mod:`engine.schedule`)::

    BEGIN     BufferSystem: begin_frame (waits for this slot's previous frame), cleanup
    INPUT     InputSystem: window events -> Player components, actions
    SIMULATE  game rules, ParticleSystem, LightingSystem, CameraSystem -> update_buffer calls
    UPLOADS   BufferSystem: the frame's staged copies, with barriers, submitted
    BINDINGS  BindingSystem: ResourceBinder.update_frame for this slot
    RENDER    RenderSystem: compute, scene, light volumes, particles; submit; present
    END       BufferSystem: end_frame

:class:`FrameLoop` runs it with a fixed time step (headless: deterministic) or the measured
one (clamped), paces it with a :class:`FrameLimiter` (FIFO present is not throttled under Xvfb),
and keeps :class:`FrameTimes` (wall time per frame, in milliseconds).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import esper
import numpy as np


class FrameLimiter:
    """Sleep so that frames start at most ``fps`` times per second (0 or None: no limit).

    Deadlines advance by exactly one period, so the average rate holds even when sleeps
    overshoot; after a long stall the schedule restarts instead of racing to catch up.
    """

    def __init__(self, fps: float | None) -> None:
        self.period = 1.0 / fps if fps else 0.0
        self._next = 0.0

    def wait(self) -> None:
        if not self.period:
            return
        now = time.perf_counter()
        if self._next == 0.0 or now - self._next > self.period * 4:
            self._next = now + self.period
            return
        delay = self._next - now
        if delay > 0.0015:
            time.sleep(delay - 0.001)
        while time.perf_counter() < self._next:
            pass
        self._next += self.period


@dataclass
class FrameTimes:
    """Wall-clock duration of each frame's ``esper.process`` (ms): its Python work plus any
    wait for the GPU (``begin_frame`` waits for the slot's previous frame), limiter sleep
    excluded. In steady state this is the frame time the GPU and CPU sustain together."""

    ms: list[float] = field(default_factory=list)

    def add(self, milliseconds: float) -> None:
        self.ms.append(milliseconds)

    def summary(self, skip: int = 0) -> dict[str, float]:
        """Median, p95, mean and max (ms) and FPS, ignoring the first ``skip`` frames."""
        data = np.asarray(self.ms[skip:] or [0.0])
        median = float(np.median(data))
        return {"frames": float(len(data)), "median_ms": median,
                "p95_ms": float(np.percentile(data, 95)), "mean_ms": float(data.mean()),
                "max_ms": float(data.max()),
                "fps": 1000.0 / float(data.mean()) if data.mean() > 0 else 0.0}


class FrameLoop:
    """Drive the current esper world frame by frame.

    Args:
        fixed_dt: seconds per frame for a deterministic run (headless); None measures the
            real frame time, clamped to ``max_dt``.
        limiter: paces windowed runs (None: as fast as possible).
        sim_scale: a callable returning the factor applied to dt (0 while paused).
    """

    def __init__(self, *, fixed_dt: float | None = None, max_dt: float = 0.05,
                 limiter: FrameLimiter | None = None,
                 sim_scale: Callable[[], float] | None = None) -> None:
        self.fixed_dt = fixed_dt
        self.max_dt = max_dt
        self.limiter = limiter
        self.sim_scale = sim_scale
        self.times = FrameTimes()
        self.frames = 0

    def step(self, dt: float) -> None:
        """One frame of every phase with simulation step ``dt`` (seconds)."""
        scale = self.sim_scale() if self.sim_scale is not None else 1.0
        esper.process(dt * scale)
        self.frames += 1

    def run(self, frames: int | None = None,
            should_stop: Callable[[], bool] | None = None,
            on_frame: Callable[[int], None] | None = None) -> FrameTimes:
        """Run ``frames`` frames (None: until ``should_stop()``); returns the frame times.

        Everything allocated before the loop (the world, the managers, cffi structs) is moved
        out of the garbage collector's generations (``gc.freeze``), so its occasional full
        collections no longer walk it in the middle of a frame (undone when the loop ends).
        """
        gc.freeze()
        try:
            self._run(frames, should_stop, on_frame)
        finally:
            gc.unfreeze()
        return self.times

    def _run(self, frames: int | None, should_stop: Callable[[], bool] | None,
             on_frame: Callable[[int], None] | None) -> None:
        last = time.perf_counter()
        done = 0
        while frames is None or done < frames:
            if should_stop is not None and should_stop():
                break
            start = time.perf_counter()
            dt = self.fixed_dt if self.fixed_dt is not None else min(start - last, self.max_dt)
            last = start
            if on_frame is not None:
                on_frame(done)
            self.step(dt)
            self.times.add((time.perf_counter() - start) * 1000.0)
            done += 1
            if self.limiter is not None:
                self.limiter.wait()
