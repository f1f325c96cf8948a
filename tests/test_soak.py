"""Long runs lose nothing and leak nothing: the game headless with validation on.

CI runs a short version; ``make soak`` (``ENGINE_SOAK=1``) runs 10,000 frames. After a warm-up,
process RSS, Vulkan memory (live allocations and bytes) and live objects (buffers, pending
destroys) are sampled and must stay flat; validation must report nothing.
"""

from __future__ import annotations

import os
import resource

import pytest

from games.wisp.app import WispApp, parse_args

SOAK = os.environ.get("ENGINE_SOAK") == "1"
FRAMES = 10_000 if SOAK else 400
WARMUP = 200 if SOAK else 100
SAMPLES = 20 if SOAK else 6


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / (1024 * 1024)


def snapshot(app: WispApp) -> dict[str, float]:
    stats = app.manager.statistics()
    return {"rss_mib": rss_mib(), "live_buffers": stats.live_buffers,
            "live_bytes": stats.live_bytes, "live_allocations": stats.live_allocations,
            "pending_destroy": stats.pending_destroy_count,
            "staging_capacity": stats.staging_capacity}


@pytest.mark.parametrize(("path", "lighting"), [("sprites", "volumes"), ("compute", "volumes"),
                                               ("compute", "compute")])
def test_headless_game_runs_long_with_flat_memory_and_no_validation_message(vk_context,
                                                                            validation, path,
                                                                            lighting):
    args = parse_args(["--headless", "--width", "320", "--height", "180", "--particles", "4000",
                       "--lights", "32", "--particles-path", path, "--lighting", lighting])
    app = WispApp(args, context=vk_context)
    try:
        app.step(WARMUP)
        samples = [snapshot(app)]
        per = (FRAMES - WARMUP) // SAMPLES
        for _ in range(SAMPLES):
            app.step(per)
            samples.append(snapshot(app))
            assert not validation.messages, [str(m) for m in validation.messages[:3]]
    finally:
        app.close()
    first, last = samples[0], samples[-1]
    for key in ("live_buffers", "live_allocations", "staging_capacity"):
        values = {s[key] for s in samples}
        assert max(values) <= first[key] * 1.05 + 2, f"{key} grew: {[s[key] for s in samples]}"
    assert max(s["pending_destroy"] for s in samples) <= 64, "retired buffers pile up"
    growth = last["rss_mib"] - first["rss_mib"]
    assert growth < (24 if SOAK else 16), f"RSS grew by {growth:.1f} MiB over {FRAMES} frames: " \
        f"{[round(s['rss_mib'], 1) for s in samples]}"
    print(f"soak ({path}): {FRAMES} frames, RSS {first['rss_mib']:.1f} -> "
          f"{last['rss_mib']:.1f} MiB, buffers {first['live_buffers']} -> "
          f"{last['live_buffers']}")

