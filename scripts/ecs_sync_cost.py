"""Cost of the BufferSystem's component sync with many ManagedBuffer entities.

Run ``PYTHONPATH=. python scripts/ecs_sync_cost.py [N]`` (default 10,000 buffer entities, on
lavapipe). It times ``ComponentTracker.sync`` as the frame systems call it, next to
``esper.get_component(ManagedBuffer)`` rebuilding its cache (which every system that reads
ManagedBuffer pays after a change anyway):

- unchanged world: the cached list is the same object, one identity test;
- another component type changed (cache dropped, ManagedBuffers the same): one list compare;
- one buffer entity removed: the whole record compared, plus one ``destroy_buffer``.

The last two are printed beyond what esper's own ``get_component`` rebuild costs (printed too).
"""

from __future__ import annotations

import sys
import time
import uuid

import esper

from engine import BufferConfig, BufferManager, BufferStrategy, GraphicsContext
from engine.buffers.types import ManagedBuffer
from systems.buffer_system import ComponentTracker


class Tag:
    pass


def best_of(fn, repeat: int = 30) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e6


def main(n: int) -> None:
    esper.switch_world(f"bench-{uuid.uuid4().hex}")
    ctx = GraphicsContext.create(validation=False)
    manager = BufferManager(ctx)
    tracker = ComponentTracker(manager)
    ents = [esper.create_entity(manager.create_buffer(
        BufferConfig(f"b{i}", 16, BufferStrategy.HOST_VISIBLE))) for i in range(n)]
    tracker.sync(check_dead=False)
    assert tracker.held_count == n

    unchanged = best_of(lambda: tracker.sync(check_dead=False))

    tag_ent = esper.create_entity()

    def other_change() -> None:
        esper.add_component(tag_ent, Tag())
        tracker.sync(check_dead=False)

    def other_change_base() -> None:
        esper.add_component(tag_ent, Tag())
        esper.get_component(ManagedBuffer)  # what the sync's own get_component costs

    other = best_of(other_change) - best_of(other_change_base)

    def rebuild() -> None:
        esper.clear_cache()
        esper.get_component(ManagedBuffer)

    esper_rebuild = best_of(rebuild)
    victims = iter(ents)

    def removal() -> None:
        esper.remove_component(next(victims), ManagedBuffer)
        tracker.sync(check_dead=False)

    def removal_base() -> None:
        esper.remove_component(next(victims), ManagedBuffer)
        esper.get_component(ManagedBuffer)

    removed = best_of(removal) - best_of(removal_base)
    full = best_of(lambda: tracker.sync(check_dead=True), 5)
    print(f"{n} ManagedBuffer entities (esper {esper.__version__})")
    print(f"  sync, world unchanged:               {unchanged:9.1f} us")
    print(f"  sync, another component changed:     {other:9.1f} us (beyond esper's rebuild)")
    print(f"  sync, one buffer entity removed:     {removed:9.1f} us (beyond esper's rebuild, "
          "incl. destroy_buffer)")
    print(f"  esper.get_component rebuild alone:   {esper_rebuild:9.1f} us")
    print(f"  sync(check_dead=True), direct call:  {full:9.1f} us")
    ctx.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
