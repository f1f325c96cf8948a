"""ParticleSystem (SIMULATE phase): write emitter changes and the frame's simulation parameters.

Buffers it owns (created at construction, destroyed by :meth:`ParticleSystem.destroy` or the
manager):

- ``particles``: DEVICE_LOCAL, STORAGE | VERTEX, ``capacity`` x 64 B (PARTICLE_DTYPE). The
  compute shader simulates it in place; the sprite draw reads it as a vertex buffer. The host
  writes it only when an emitter gets or loses its slot range (dead particles owned by it).
- ``emitters``: DEVICE_LOCAL, STORAGE, ``max_emitters`` x 96 B (EMITTER_DTYPE). Written through
  ``update_buffer`` only for emitters whose fields or position changed this frame (one write
  covering the changed slots).
- ``params``: a BufferSet of SimParams (48 B, UNIFORM), one per frame slot, written every frame
  (dt, time and frame number change every frame).

Each emitter owns a contiguous slot range of ``max_particles`` slots (first fit; freed ranges
coalesce). ``count`` is the highest slot in use: the dispatch and draw size. Dispatches are
2D when one row would exceed ``maxComputeWorkGroupCount[0]`` (1,000,000 particles need 3,907
groups of 256, so one row on any real GPU).
"""

from __future__ import annotations

import logging
from typing import Any

import esper
import numpy as np

from components.particle_emitter import ParticleEmitter
from components.transform import Transform
from engine.buffers.manager import BufferManager
from engine.buffers.sets import BufferSet
from engine.buffers.types import BufferConfig, BufferStrategy, BufferUsage
from engine.render.layouts import EMITTER_DTYPE, PARTICLE_DTYPE, SIM_PARAMS_DTYPE

log = logging.getLogger(__name__)
LOCAL_SIZE = 256
"""Invocations per workgroup of particles.comp."""


class ParticleSystem(esper.Processor):
    """Emitter changes and the frame's simulation parameters (SIMULATE phase).

    Args:
        manager: the BufferManager.
        capacity: particle slots in the buffer (all emitters share them).
        max_emitters: emitter records in the emitter buffer.
        gravity: world acceleration (units/s^2), scaled per emitter.
    """

    def __init__(self, manager: BufferManager, *, capacity: int, max_emitters: int = 256,
                 gravity: tuple[float, float, float] = (0.0, -9.81, 0.0)) -> None:
        self.manager = manager
        self.capacity = int(capacity)
        self.max_emitters = int(max_emitters)
        self.particles = manager.create_buffer(BufferConfig(
            "particles", self.capacity * PARTICLE_DTYPE.itemsize, BufferStrategy.DEVICE_LOCAL,
            BufferUsage.STORAGE | BufferUsage.VERTEX, PARTICLE_DTYPE))
        self.emitters = manager.create_buffer(BufferConfig(
            "particle_emitters", self.max_emitters * EMITTER_DTYPE.itemsize,
            BufferStrategy.DEVICE_LOCAL, BufferUsage.STORAGE, EMITTER_DTYPE))
        self.params = BufferSet(manager, SIM_PARAMS_DTYPE, name="SimParams")
        self.stats = manager.create_buffer(BufferConfig(
            "particle_stats", 16, BufferStrategy.DEVICE_LOCAL, BufferUsage.STORAGE,
            np.dtype(np.uint32)))
        """``ParticleStats``: word 0 is the number of particles alive after the frame's
        simulation (counted on the GPU, cleared by the particle pass before each dispatch;
        read it without stalling with ``read_async`` or a ReadbackRequest)."""
        self.gravity = gravity
        self.time = 0.0
        self.frame = 0
        self.count = 0
        self.groups: tuple[int, int, int] = (0, 1, 1)
        self.emitter_uploads = 0
        self.range_uploads = 0
        self._records = np.zeros(self.max_emitters, EMITTER_DTYPE)
        # Row views of the records: 22 floats then 2 uints (count, enabled), 96 bytes a row;
        # one assignment per changed emitter instead of one per field.
        self._rows_f = self._records.view(np.float32).reshape(self.max_emitters, 24)
        self._rows_u = self._records.view(np.uint32).reshape(self.max_emitters, 24)
        self._params = np.zeros(1, SIM_PARAMS_DTYPE)
        raw = self._params.view(np.uint8)
        self._params_f = raw[:24].view(np.float32)    # gravity xyzw, dt, time
        self._params_u = raw[24:36].view(np.uint32)   # frame, particle_count, row_stride
        self._free: list[tuple[int, int]] = [(0, self.capacity)]
        self._free_slots = list(range(self.max_emitters - 1, -1, -1))
        self._known: dict[int, ParticleEmitter] = {}
        self._seen: Any = None
        self._ranges: dict[int, tuple[int, int]] = {}  # emitter slot -> (first, count)
        self._max_x = manager.context.limits.max_compute_work_group_count_x

    # --- slot ranges -----------------------------------------------------------------------

    def _allocate(self, want: int) -> tuple[int, int]:
        for i, (first, size) in enumerate(self._free):
            if size >= want:
                self._free[i] = (first + want, size - want)
                if self._free[i][1] == 0:
                    del self._free[i]
                return first, want
        if not self._free:
            return 0, 0
        i = max(range(len(self._free)), key=lambda k: self._free[k][1])
        first, size = self._free.pop(i)
        log.warning("ParticleSystem: emitter wants %d slots, only %d free in one range; "
                    "raise --particles", want, size)
        return first, size

    def _release(self, first: int, count: int) -> None:
        if not count:
            return
        ranges = sorted([*self._free, (first, count)])
        merged: list[tuple[int, int]] = []
        for start, size in ranges:
            if merged and merged[-1][0] + merged[-1][1] == start:
                merged[-1] = (merged[-1][0], merged[-1][1] + size)
            else:
                merged.append((start, size))
        self._free = merged

    def _write_range(self, first: int, count: int, slot: int) -> None:
        """Reset ``count`` particles from ``first`` to dead ones owned by emitter ``slot``."""
        if not count:
            return
        dead = np.zeros(count, PARTICLE_DTYPE)
        dead["emitter"] = slot
        dead["vel_age"][:, 3] = 1.0
        self.manager.update_buffer(self.particles, dead, offset=first * PARTICLE_DTYPE.itemsize)
        self.range_uploads += 1

    def _update_count(self) -> None:
        self.count = max((f + c for f, c in self._ranges.values()), default=0)
        groups = -(-self.count // LOCAL_SIZE)
        if groups <= self._max_x:
            self.groups = (groups, 1, 1)
        else:
            self.groups = (self._max_x, -(-groups // self._max_x), 1)

    # --- structural changes ----------------------------------------------------------------

    def _sync(self, current: list[Any]) -> None:
        now: dict[int, ParticleEmitter] = {ent: em for ent, (em, _tr) in current}
        for ent, old in list(self._known.items()):
            if now.get(ent) is not old:
                self._remove(old)
                del self._known[ent]
        for ent, em in now.items():
            if ent not in self._known:
                self._add(em)
                self._known[ent] = em
        self._update_count()
        self._seen = current

    def _add(self, em: ParticleEmitter) -> None:
        if not self._free_slots:
            log.warning("ParticleSystem: more than %d emitters; extra ones are ignored",
                        self.max_emitters)
            return
        slot = self._free_slots.pop()
        first, count = self._allocate(max(1, int(em.max_particles)))
        em.slot, em.first, em.count, em.key = slot, first, count, None
        self._ranges[slot] = (first, count)
        self._write_range(first, count, slot)

    def _remove(self, em: ParticleEmitter) -> None:
        if em.slot < 0:
            return
        slot = em.slot
        first, count = self._ranges.pop(slot)
        self._write_range(first, count, slot)  # kill its particles now
        self._records[slot] = np.zeros(1, EMITTER_DTYPE)[0]
        self.manager.update_buffer(self.emitters, self._records[slot:slot + 1],
                                   offset=slot * EMITTER_DTYPE.itemsize)
        self.emitter_uploads += 1
        self._release(first, count)
        self._free_slots.append(slot)
        em.slot, em.count, em.key = -1, 0, None

    # --- per frame -------------------------------------------------------------------------

    def process(self, dt: float = 0.0, *args: Any, **kwargs: Any) -> None:
        """Advance time; upload changed emitters; write this frame's SimParams."""
        self.time += dt
        self.frame += 1
        current = esper.get_components(ParticleEmitter, Transform)
        if current is not self._seen:
            self._sync(current)
        records, rows_f, rows_u = self._records, self._rows_f, self._rows_u
        lo = hi = -1
        now = self.time
        for _ent, (em, tr) in current:
            if em.slot < 0:
                continue
            if em.burst_time == float("inf"):
                em.burst_time = now
            ox, oy, oz = em.offset
            key = (tr.x + ox, tr.y + oy, tr.z + oz, em.rate, em.lifetime, em.speed, em.velocity,
                   em.color_start, em.color_end, em.size, em.spawn_radius, em.gravity, em.drag,
                   em.enabled, em.burst_time, em.count)
            if key != em.key:
                em.key = key
                slot = em.slot
                rows_f[slot, :22] = (key[0], key[1], key[2], em.spawn_radius, *em.velocity,
                                     em.speed, *em.color_start, *em.color_end, em.rate,
                                     em.lifetime, em.size, em.burst_time, em.gravity, em.drag)
                rows_u[slot, 22:] = (em.count, 1 if em.enabled else 0)
                lo = slot if lo < 0 else min(lo, slot)
                hi = max(hi, slot)
        if lo >= 0:
            self.manager.update_buffer(self.emitters, records[lo:hi + 1],
                                       offset=lo * EMITTER_DTYPE.itemsize)
            self.emitter_uploads += 1
        gx, gy, gz = self.gravity
        self._params_f[:] = (gx, gy, gz, 0.0, dt, now)
        self._params_u[:] = (self.frame, self.count, self.groups[0] * LOCAL_SIZE)
        self.params.update(self._params)

    def alive_count(self) -> int:
        """Particles alive on the GPU now (a blocking read-back: tests and tools only)."""
        if not self.count:
            return 0
        data = self.manager.read_array(self.particles, PARTICLE_DTYPE, count=self.count)
        return int(np.count_nonzero(data["pos_life"][:, 3] > 0.0))

    def destroy(self) -> None:
        """Retire the buffers (frame-safe)."""
        if self.manager.closed:
            return
        for buf in (self.particles, self.emitters, self.stats):
            if buf.alive:
                self.manager.destroy_buffer(buf)
        self.params.destroy()
