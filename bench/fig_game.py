"""The game: FPS and frame-time percentiles, headless, through the game module's API.

A game is a ``games/<name>/`` package with either

- a function ``benchmark(*, width, height, particles, lights, frames, device) -> dict`` that
  runs ``frames`` headless frames and returns ``{"frame_times_ms": [...]}``, or
- an ``app`` module with ``parse_args(argv)`` and an ``...App`` class taking those arguments,
  with ``run(frames) -> FrameTimes`` (``.ms``: one wall-clock time per frame) and ``close()``
  (games/wisp): the benchmark runs it with ``--headless --width --height --particles --lights
  --device`` and drops the first quarter of the frames (at most 60: pipeline compilation and
  warm-up).

It runs in a subprocess (its own Vulkan context; a crash cannot take the suite down), with
validation off. Settings: on lavapipe
(a CPU device) 960x540 with 10,000 particles and 64 lights (bars: median frame <= 16.7 ms,
p95 <= 25 ms); on a GPU 1920x1080 with 1,000,000 particles and 256 lights (reported, no bar).
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from typing import Any

from .figure import skipped_figure
from .machine import REPO
from .session import Session
from .timing import percentile

CPU_SETTINGS = {"width": 960, "height": 540, "particles": 10_000, "lights": 64}
GPU_SETTINGS = {"width": 1920, "height": 1080, "particles": 1_000_000, "lights": 256}
TITLE = "game frame time, headless"


DRIVER = """
import json, sys, importlib
kw = json.loads(sys.argv[2])
name = sys.argv[1]
g = importlib.import_module("games." + name)
if callable(getattr(g, "benchmark", None)):
    r = g.benchmark(**kw)
else:
    app_mod = importlib.import_module("games." + name + ".app")
    cls = next(v for k, v in vars(app_mod).items() if k.endswith("App") and isinstance(v, type))
    args = app_mod.parse_args(["--headless", "--width", str(kw["width"]), "--height",
                               str(kw["height"]), "--particles", str(kw["particles"]),
                               "--lights", str(kw["lights"]), "--device", kw["device"]])
    app = cls(args)
    try:
        times = app.run(kw["frames"])
        skip = min(60, len(times.ms) // 4)
        r = {"frame_times_ms": list(times.ms[skip:]), "warmup_frames_dropped": skip,
             "device": app.ctx.device_name}
        for attr in ("particles", "lights"):
            obj = getattr(app, attr, None)
            if obj is not None and hasattr(obj, "count"):
                r[attr + "_live"] = int(obj.count)
    finally:
        app.close()
print("BENCH-JSON " + json.dumps(r))
"""

PROBE = """
import importlib, sys
g = importlib.import_module("games." + sys.argv[1])
if callable(getattr(g, "benchmark", None)):
    sys.exit(0)
app = importlib.import_module("games." + sys.argv[1] + ".app")
ok = hasattr(app, "parse_args") and any(k.endswith("App") for k in vars(app))
sys.exit(0 if ok else 3)
"""


def find_games() -> list[str]:
    """``games.<name>`` packages usable by this benchmark (checked in a subprocess)."""
    names = [m.name for m in pkgutil.iter_modules([str(REPO / "games")]) if m.ispkg]
    found = []
    for name in names:
        try:
            rc = subprocess.run([sys.executable, "-c", PROBE, name], cwd=REPO,
                                capture_output=True, timeout=60).returncode
        except subprocess.SubprocessError:
            continue
        if rc == 0:
            found.append(name)
    return found


def bars(stats: dict[str, float]) -> list[dict[str, Any]]:
    return [
        {"text": "game on lavapipe 960x540, 10k particles, 64 lights: median frame <= 16.7 ms",
         "ratio": "median frame ms", "op": "<=", "threshold": 16.7,
         "value": stats["median_ms"], "met": stats["median_ms"] <= 16.7},
        {"text": "game on lavapipe: p95 frame <= 25 ms", "ratio": "p95 frame ms", "op": "<=",
         "threshold": 25.0, "value": stats["p95_ms"], "met": stats["p95_ms"] <= 25.0},
    ]


def run(session: Session) -> list[dict[str, Any]]:
    software = session.ctx.is_software
    settings = dict(CPU_SETTINGS if software else GPU_SETTINGS)
    frames = 80 if session.quick else 600
    games = find_games()
    if not games:
        reason = ("no games/<name> package with a benchmark() function or an app module has "
                  "landed yet (see bench/fig_game.py for the contract)")
        return [skipped_figure("game/frame_time", "game", TITLE, reason, params=settings)]
    figures = []
    for name in games:
        session.log(f"game {name}: {frames} frames at {settings}")
        kwargs = dict(settings, frames=frames, device=session.ctx.device_name)
        env = dict(os.environ, ENGINE_VALIDATION="0")
        try:
            proc = subprocess.run([sys.executable, "-c", DRIVER, name, json.dumps(kwargs)],
                                  cwd=REPO, capture_output=True, text=True, timeout=900, env=env)
            line = [x for x in proc.stdout.splitlines() if x.startswith("BENCH-JSON ")]
            if proc.returncode != 0 or not line:
                raise RuntimeError(f"rc {proc.returncode}: {proc.stderr.strip()[-300:]}")
            result = json.loads(line[-1][len("BENCH-JSON "):])
            times = [float(t) for t in result["frame_times_ms"]]
        except Exception as exc:
            figures.append(skipped_figure(f"game/{name}", "game", f"{TITLE}: {name}",
                                          f"{type(exc).__name__}: {exc}"[:400], params=settings))
            continue
        stats = {"median_ms": percentile(times, 50), "p95_ms": percentile(times, 95),
                 "p99_ms": percentile(times, 99), "max_ms": max(times), "frames": len(times)}
        stats["fps_median"] = 1000.0 / stats["median_ms"]
        stats["fps_mean"] = 1000.0 * len(times) / sum(times)
        us = [t * 1000 for t in times]
        variant = {"median": percentile(us, 50), "q1": percentile(us, 25),
                   "q3": percentile(us, 75), "p10": percentile(us, 10), "p90": percentile(us, 90),
                   "min": min(us), "max": max(us), "n": len(us)}
        figures.append({
            "id": f"game/{name}", "family": "game", "title": f"{TITLE}: {name}",
            "per": "frame", "unit": "us", "params": {**settings, "frames": frames},
            "variants": {"ours": variant}, "ratios": {},
            "bars": bars(stats) if software else [],
            "extra": {"fps": stats, **{k: v for k, v in result.items()
                                       if k != "frame_times_ms"}},
        })
    return figures
