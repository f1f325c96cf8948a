"""The frame workload: 1,000 uniform buffers of 256 B (10 change per frame) plus a
100,000 x 32 B particle buffer rewritten every frame; the *update part* of each frame.

Strategies: ``ours`` (the bars are judged on it): the UBOs are DEVICE_LOCAL and each changed
UBO is one staged ``update_buffer`` (one copy into the staging ring; one GPU copy each, in one
command buffer and one submit per frame). ``ours_sets`` (information): each UBO is a
host-visible :class:`~engine.BufferSet` (one buffer per frame slot) written with
``BufferSet.update_all``, which writes the current slot at once and the other slots in the
upload phase of their next frames (three host copies per change, no GPU copy). The
particle buffer is rewritten every frame, so it is a HOST_VISIBLE BufferSet (the hazard check
would rightly reject rewriting one buffer the GPU may still read). Timed per frame: the 11
updates plus ``submit_uploads`` (which applies deferred set writes and records the staged
copies into one command buffer). The engine sends that command buffer in the frame's next
``vkQueueSubmit``, ahead of the render batch, or at ``end_frame`` when nothing else is
submitted, as here; like ``begin_frame``'s fence wait, that submit is outside the timed part.

Variants: ``ours_sets`` and ``ours`` (hazard checks on, the default), ``ours_off``
(``hazard_checks=False``), ``ours_staged`` (information: particles DEVICE_LOCAL through the
staging ring), ``numpy`` (the same 11 copies into plain arrays: the floor), ``wgpu`` (11
``queue.write_buffer`` + the ``queue.submit`` that executes them; its wait for completion runs
untimed), ``moderngl`` (11 ``Buffer.write``; the particle data goes to a ring of 3 GL buffers,
as a GL program streaming per-frame data does so that a write never waits for the GPU reading
the previous frame's).
For information: ``numpy_in_frames`` is the floor's copies timed inside an engine frame that
submits one empty command buffer (untimed), to tell the effect of a frame's submission on the
CPU side (on lavapipe, its queue thread) from our per-call work; ``numpy_1dst`` and
``moderngl_1buf`` write the particles into one single destination every frame, which is only
correct when nothing reads the buffer on the GPU (as in this benchmark, but not in a game); it
stays warmer in the CPU caches, so it is faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from engine import (
    BufferConfig,
    BufferManager,
    BufferSet,
    BufferStrategy,
    BufferUsage,
    ManagedBuffer,
)

from . import data
from .figure import Bar, build
from .session import Session
from .timing import Runner, measure

N_UBOS, UBO_BYTES, CHANGED = 1000, 256, 10
N_PARTICLES, PARTICLE_BYTES = 100_000, 32
PARTICLE_TOTAL = N_PARTICLES * PARTICLE_BYTES

BARS = (
    Bar("frame workload at most 1.3x the numpy floor", "ours", "numpy", "<=", 1.3),
    Bar("frame workload faster than moderngl", "moderngl", "ours", ">=", 1.0),
    Bar("frame workload faster than wgpu-py", "wgpu", "ours", ">=", 1.0),
)


def schedule(frames: int = 100) -> list[list[int]]:
    """Which 10 UBOs change in each frame (cycled)."""
    return [[(f * CHANGED + k * 97) % N_UBOS for k in range(CHANGED)] for f in range(frames)]


class OursFrame:
    """1,000 device-local UBOs + a host-visible particle BufferSet on one manager."""

    def __init__(self, session: Session, *, hazard_checks: bool, particles_staged: bool,
                 ubo_src: list[Any], particles: Any, ubo_sets: bool = False) -> None:
        self.manager: BufferManager = session.manager(frames_in_flight=3,
                                                      hazard_checks=hazard_checks)
        m = self.manager
        self.ubo_sets = ubo_sets
        if ubo_sets:  # one host-visible buffer per slot, written with BufferSet.update_all
            self.sets = [BufferSet(m, UBO_BYTES, name=f"ubo{i}") for i in range(N_UBOS)]
            self.ubos: list[ManagedBuffer] = [s.buffers[0] for s in self.sets]
        else:
            self.ubos = [m.create_buffer(BufferConfig(
                f"ubo{i}", UBO_BYTES, BufferStrategy.DEVICE_LOCAL, BufferUsage.UNIFORM))
                for i in range(N_UBOS)]
        self.staged = particles_staged
        if particles_staged:
            self.particle_buffer = m.create_buffer(BufferConfig(
                "particles", PARTICLE_TOTAL, BufferStrategy.DEVICE_LOCAL,
                BufferUsage.STORAGE | BufferUsage.VERTEX))
        else:
            self.pset = BufferSet(m, PARTICLE_TOTAL, name="particles",
                                  usage=BufferUsage.STORAGE | BufferUsage.VERTEX)
        self.ubo_src, self.particles = ubo_src, particles
        self.plan = schedule()
        self.frame = 0

    def runner(self) -> Runner:
        m = self.manager
        begin, end, update, submit = m.begin_frame, m.end_frame, m.update_buffer, \
            m.submit_uploads
        ubos, srcs, particles, plan = self.ubos, self.ubo_src, self.particles, self.plan
        staged = self.staged
        pbuf = self.particle_buffer if staged else None
        pupdate = None if staged else self.pset.update
        if self.ubo_sets:
            set_writes = [s.update_all for s in self.sets]

            def update_ubo(index: int, src: Any) -> None:
                set_writes[index](src)
        else:
            def update_ubo(index: int, src: Any) -> None:
                update(ubos[index], src)

        def run(n: int) -> float:
            total = 0.0
            clock = time.perf_counter
            for _ in range(n):
                changed = plan[self.frame % len(plan)]
                self.frame += 1
                begin()
                t0 = clock()
                for k in range(CHANGED):
                    update_ubo(changed[k], srcs[k])
                if staged:
                    update(pbuf, particles)
                else:
                    pupdate(particles)
                submit()
                total += clock() - t0
                end()
            return total

        return run

    def check(self) -> bool:
        """The last frame's particles and one changed UBO hold what was written."""
        m = self.manager
        last = self.plan[(self.frame - 1) % len(self.plan)]
        target = self.particle_buffer if self.staged else self.pset.buffers[m.frame_index]
        ok_p = np.array_equal(m.read_array(target, np.float32), self.particles.reshape(-1))
        ubo = (self.sets[last[0]].buffers[m.frame_index] if self.ubo_sets
               else self.ubos[last[0]])
        ok_u = np.array_equal(m.read_array(ubo, np.float32), self.ubo_src[0])
        return ok_p and ok_u


def frame_runner(write_frame: Callable[[int, list[int]], None],
                 untimed: Callable[[], None] | None = None,
                 before: Callable[[], None] | None = None) -> Runner:
    """A runner of ``n`` frames: ``write_frame(frame, changed_ubos)`` is timed; ``before()``
    runs before it and ``untimed()`` (a peer's wait for its GPU) after it, outside the time."""
    plan = schedule()
    state = {"frame": 0}

    def run(n: int) -> float:
        total = 0.0
        clock = time.perf_counter
        for _ in range(n):
            f = state["frame"]
            state["frame"] = f + 1
            if before is not None:
                before()
            t0 = clock()
            write_frame(f, plan[f % len(plan)])
            total += clock() - t0
            if untimed is not None:
                untimed()
        return total

    return run


def numpy_runner(ubo_src: list[Any], particles: Any, slots: int = 3,
                 frames: BufferManager | None = None) -> Runner:
    """The floor: the same copies into plain arrays. ``frames`` (information,
    ``numpy_in_frames``): each frame's copies run after that manager's ``begin_frame`` and one
    empty command buffer submitted (untimed), before its ``end_frame``: a frame as ours runs
    it (on lavapipe any submission makes the next large memcpy slower: its queue thread)."""
    ubo_dst = data.destination(N_UBOS * UBO_BYTES).reshape(N_UBOS, UBO_BYTES // 4)
    rows = [ubo_dst[i] for i in range(N_UBOS)]
    pdst = [data.destination(PARTICLE_TOTAL).reshape(particles.shape) for _ in range(slots)]
    cp = np.copyto

    def write_frame(f: int, changed: list[int]) -> None:
        for k in range(CHANGED):
            cp(rows[changed[k]], ubo_src[k])
        cp(pdst[f % slots], particles)

    if frames is None:
        return frame_runner(write_frame)
    from engine import FrameCommands

    commands = FrameCommands(frames)

    def begin() -> None:
        frames.begin_frame()
        commands.submit(commands.begin())  # a frame submits work, as ours does

    return frame_runner(write_frame, frames.end_frame, begin)


def wgpu_runner(peer: Any, ubo_src: list[Any], particles: Any) -> tuple[Runner, list[Any]]:
    bufs = [peer.buffer(UBO_BYTES, "uniform") for _ in range(N_UBOS)]
    pbuf = peer.buffer(PARTICLE_TOTAL, "storage")
    write, submit = peer.queue.write_buffer, peer.queue.submit

    def write_frame(f: int, changed: list[int]) -> None:
        for k in range(CHANGED):
            write(bufs[changed[k]], 0, ubo_src[k])
        write(pbuf, 0, particles)
        submit([])

    return frame_runner(write_frame, peer.device._poll_wait), [*bufs, pbuf]


def moderngl_runner(peer: Any, ubo_src: list[Any], particles: Any, slots: int = 3
                    ) -> tuple[Runner, list[Any]]:
    bufs = [peer.buffer(UBO_BYTES) for _ in range(N_UBOS)]
    pbufs = [peer.buffer(PARTICLE_TOTAL) for _ in range(slots)]

    def write_frame(f: int, changed: list[int]) -> None:
        for k in range(CHANGED):
            bufs[changed[k]].write(ubo_src[k])
        pbufs[f % slots].write(particles)

    return frame_runner(write_frame, peer.ctx.finish), [*bufs, *pbufs]


def run(session: Session) -> list[dict[str, Any]]:
    pool = data.source(CHANGED * UBO_BYTES, seed=7)
    ubo_src = [pool[k * 64:(k + 1) * 64] for k in range(CHANGED)]
    particles = data.source(PARTICLE_TOTAL, seed=8).reshape(N_PARTICLES, PARTICLE_BYTES // 4)
    session.log("frame workload: creating 3 x 1,000 UBOs and the particle buffers")
    ours = OursFrame(session, hazard_checks=True, particles_staged=False, ubo_src=ubo_src,
                     particles=particles)
    ours_off = OursFrame(session, hazard_checks=False, particles_staged=False, ubo_src=ubo_src,
                         particles=particles)
    ours_staged = OursFrame(session, hazard_checks=True, particles_staged=True, ubo_src=ubo_src,
                            particles=particles)
    ours_sets = OursFrame(session, hazard_checks=True, particles_staged=False, ubo_src=ubo_src,
                          particles=particles, ubo_sets=True)
    runners: dict[str, Runner] = {
        "ours": ours.runner(), "ours_off": ours_off.runner(), "ours_staged": ours_staged.runner(),
        "ours_sets": ours_sets.runner(),
        "numpy": numpy_runner(ubo_src, particles),
        "numpy_1dst": numpy_runner(ubo_src, particles, slots=1)}
    empty = session.manager(frames_in_flight=3)
    runners["numpy_in_frames"] = numpy_runner(ubo_src, particles, frames=empty)
    skipped: dict[str, str] = {}
    peer_objects: list[Any] = []
    for name, peer, make in (("wgpu", session.wgpu, wgpu_runner),
                             ("moderngl", session.moderngl, moderngl_runner)):
        if peer.open():
            runners[name], objs = make(peer, ubo_src, particles)
            peer_objects += objs
            if name == "moderngl":
                runners["moderngl_1buf"], objs = moderngl_runner(peer, ubo_src, particles, 1)
                peer_objects += objs
        else:
            skipped[name] = peer.skipped()["skipped"]
    session.log(f"frame workload: {list(runners)}")
    m = measure(runners, session.settings)
    checks = {"ours": ours.check(), "ours_off": ours_off.check(),
              "ours_staged": ours_staged.check(), "ours_sets": ours_sets.check()}
    if not all(checks.values()):
        raise AssertionError(f"frame workload: wrong buffer contents {checks}")
    stats = ours.manager.statistics()
    extra = {
        "memory_types": {"ubo_device_local": hex(ours.ubos[0].memory_flags),
                         "particles_host_visible": hex(ours.pset.buffers[0].memory_flags)},
        "per_frame": {"staged_uploads": CHANGED, "host_writes": 1,
                      "bytes": CHANGED * UBO_BYTES + PARTICLE_TOTAL},
        "allocate_memory_calls": stats.allocate_memory_calls,
    }
    for obj in peer_objects:
        if hasattr(obj, "release"):
            obj.release()
        elif hasattr(obj, "destroy"):
            obj.destroy()
    for o in (ours, ours_off, ours_staged, ours_sets):
        session.release(o.manager)
    session.release(empty)
    return [build(
        "frame/update_part", "frame",
        "frame workload update part (10 of 1,000 UBOs + 3.2 MB particles)",
        measurement=m, skipped=skipped, per="frame",
        nbytes=CHANGED * UBO_BYTES + PARTICLE_TOTAL,
        ratios=(("ours", "numpy"), ("ours_off", "numpy"), ("ours_staged", "numpy"),
                ("ours_sets", "numpy"), ("moderngl", "ours_sets"), ("wgpu", "ours_sets"),
                ("moderngl", "ours"), ("wgpu", "ours"), ("ours", "numpy_1dst"),
                ("moderngl_1buf", "ours"), ("numpy_in_frames", "numpy"),
                ("ours", "numpy_in_frames")),
        bars=BARS,
        params={"ubos": N_UBOS, "ubo_bytes": UBO_BYTES, "changed_per_frame": CHANGED,
                "particles": N_PARTICLES, "particle_bytes": PARTICLE_BYTES,
                "ubo_strategy": "device_local", "particle_strategy": "host_visible BufferSet",
                "hazard_checks": {"ours": True, "ours_off": False, "ours_staged": True}},
        extra=extra)]
