"""LightingSystem (SIMULATE phase): pack PointLights std430 into the light storage buffer.

The buffer (``lights``: DEVICE_LOCAL, STORAGE, LIGHT_DTYPE, 48 B per light) is written through
``update_rows`` only in frames where a light was added, removed or changed; a frame with no
change makes no upload at all. Change detection: every light keeps a key tuple of all its
fields plus its world position; a frame compares one tuple per light (about a microsecond).
The changed slots are written with one ``update_rows`` call (one staging allocation and one
GPU copy whose regions merge neighbouring slots), so two lights changed at opposite ends of
the buffer cost two small regions, not a rewrite of everything between them.

Slots are dense: light ``i`` of the draw is slot ``i``. A removed light's slot is filled by
the last light (two slots change). When lights exceed the capacity the buffer grows with
``resize_buffer`` (capacity doubles; generation + 1), and the BindingSystem rewrites the
descriptor once per frame slot.
"""

from __future__ import annotations

from typing import Any

import esper
import numpy as np

from components.point_light import PointLight
from components.transform import Transform
from engine.buffers.manager import BufferManager
from engine.buffers.types import BufferConfig, BufferStrategy, BufferUsage
from engine.render.layouts import LIGHT_DTYPE


class LightingSystem(esper.Processor):
    """Packs every PointLight into one std430 storage buffer (SIMULATE phase).

    Args:
        manager: the BufferManager.
        capacity: lights the buffer holds before its first resize.

    Attributes:
        count: lights packed (the light-volume draw's instance count).
        uploads: ``update_buffer`` calls made for the light buffer so far.
        resizes: times the buffer grew.
    """

    def __init__(self, manager: BufferManager, *, capacity: int = 64) -> None:
        self.manager = manager
        self.capacity = max(1, int(capacity))
        self.buffer = manager.create_buffer(BufferConfig(
            "lights", self.capacity * LIGHT_DTYPE.itemsize, BufferStrategy.DEVICE_LOCAL,
            BufferUsage.STORAGE, LIGHT_DTYPE))
        self.count = 0
        self.uploads = 0
        self.resizes = 0
        self._records = np.zeros(self.capacity, LIGHT_DTYPE)
        self._slots: list[PointLight] = []
        self._known: dict[int, PointLight] = {}
        self._seen: Any = None
        self._dirty: list[int] = []

    def _mark(self, slot: int) -> None:
        self._dirty.append(slot)

    def _sync(self, current: list[Any]) -> None:
        now: dict[int, PointLight] = {ent: light for ent, (light, _tr) in current}
        slots = self._slots
        for ent, old in list(self._known.items()):
            if now.get(ent) is old:
                continue
            del self._known[ent]
            hole = old.slot
            last = slots.pop()
            if last is not old:
                slots[hole] = last
                last.slot = hole
                last.key = None  # rewrite it at its new slot
            old.slot, old.key = -1, None
            self._mark(hole)
        for ent, light in now.items():
            if ent not in self._known:
                self._known[ent] = light
                light.slot, light.key = len(slots), None
                slots.append(light)
        if len(slots) > self.capacity:
            self._grow(len(slots))
        self.count = len(slots)
        self._seen = current

    def _grow(self, needed: int) -> None:
        capacity = self.capacity
        while capacity < needed:
            capacity *= 2
        self.manager.resize_buffer(self.buffer, capacity * LIGHT_DTYPE.itemsize)
        records = np.zeros(capacity, LIGHT_DTYPE)
        records[:self.capacity] = self._records
        self._records, self.capacity = records, capacity
        self.resizes += 1

    def process(self, *args: Any, **kwargs: Any) -> None:
        """Upload the lights that changed since the last frame (nothing if none did)."""
        current = esper.get_components(PointLight, Transform)
        if current is not self._seen:
            self._sync(current)
        records = self._records
        rows = records.view(np.float32).reshape(-1, 12)  # one 48-byte light per row
        for _ent, (light, tr) in current:
            key = (tr.x, tr.y + light.height, tr.z, light.radius, light.color, light.intensity,
                   light.pulse_hz, light.pulse_phase, light.pulse_depth, light.glow)
            if key != light.key:
                light.key = key
                rows[light.slot] = (key[0], key[1], key[2], light.radius, *light.color,
                                    light.intensity, light.pulse_hz, light.pulse_phase,
                                    light.pulse_depth, light.glow)
                self._mark(light.slot)
        if self._dirty:
            count = self.count
            slots = np.fromiter((s for s in set(self._dirty) if s < count), dtype=np.int64)
            if len(slots):
                self.manager.update_rows(self.buffer, slots, records[slots])
                self.uploads += 1
            self._dirty.clear()

    def read_lights(self) -> np.ndarray[Any, Any]:
        """The packed lights as the GPU has them (a blocking read-back: tests and tools)."""
        return self.manager.read_array(self.buffer, LIGHT_DTYPE, count=self.count)

    def destroy(self) -> None:
        """Retire the buffer (frame-safe)."""
        if not self.manager.closed and self.buffer.alive:
            self.manager.destroy_buffer(self.buffer)
