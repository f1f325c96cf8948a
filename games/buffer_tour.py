"""A headless tour of the buffer subsystem: create, update, resize and destroy, then statistics.

    python -m games.buffer_tour [--frames N] [--device NAME]

It runs an esper world for N frames: a system rewrites a device-local particle buffer and a
per-frame uniform set every frame, buffers come and go as entities, one buffer is resized, and
the BufferManager statistics table is printed at the end.
"""

from __future__ import annotations

import argparse

import esper
import numpy as np

from engine import (
    BufferConfig,
    BufferManager,
    BufferStrategy,
    BufferUsage,
    GlobalUboSet,
    GraphicsContext,
    ManagedBuffer,
    Phase,
    add_system,
)
from systems import BufferSystem


class ChurnSystem(esper.Processor):
    """Writes particles and the frame UBO each frame; spawns and despawns buffer entities."""

    def __init__(self, manager: BufferManager, particles: ManagedBuffer, ubo: GlobalUboSet
                 ) -> None:
        self.manager, self.particles, self.ubo = manager, particles, ubo
        self.frame = 0
        self.rng = np.random.default_rng(7)

    def process(self, dt: float) -> None:
        self.frame += 1
        count = self.particles.size // 16
        self.manager.update_buffer(self.particles,
                                   self.rng.random((count, 4), dtype=np.float32))
        self.ubo.update(np.array([self.frame * dt, dt, 0, 0], np.float32))
        if self.frame % 3 == 0:
            esper.create_entity(self.manager.create_buffer(BufferConfig(
                f"temp{self.frame}", 4096, BufferStrategy.HOST_VISIBLE, BufferUsage.STORAGE)))
        temps = sorted(e for e, b in esper.get_component(ManagedBuffer)
                       if b.name.startswith("temp"))
        if len(temps) > 4:
            esper.delete_entity(temps[0])
        if self.frame == 10:
            self.manager.resize_buffer(self.particles, self.particles.size * 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--device", default=None)
    parser.add_argument("--validation", action="store_true")
    args = parser.parse_args(argv)
    with GraphicsContext.create(validation=args.validation, device=args.device) as ctx:
        print(f"device: {ctx.device_name}")  # noqa: T201
        manager = BufferManager(ctx)
        esper.switch_world("buffer_tour")
        BufferSystem.install(manager)
        particles = manager.create_buffer(BufferConfig(
            "particles", 10_000 * 16, BufferStrategy.DEVICE_LOCAL, BufferUsage.STORAGE))
        esper.create_entity(particles)
        ubo = GlobalUboSet(manager, 16)
        add_system(ChurnSystem(manager, particles, ubo), Phase.SIMULATE)
        for _ in range(args.frames):
            esper.process(1 / 60)
        print(f"particles generation {particles.generation} after one resize")  # noqa: T201
        manager.print_statistics()
        manager.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
