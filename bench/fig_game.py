"""The game: FPS and frame-time percentiles, headless, through the game module's API.

A game is a ``games/<name>/`` package with either

- a function ``benchmark(*, width, height, particles, lights, frames, device) -> dict`` that
  runs ``frames`` headless frames and returns ``{"frame_times_ms": [...]}``, or
- an ``app`` module with ``parse_args(argv)`` and an ``...App`` class taking those arguments,
  with ``run(frames) -> FrameTimes`` (``.ms``: one wall-clock time per frame) and ``close()``
  (games/wisp): the benchmark runs it with ``--headless --width --height --particles --lights
  --device`` and drops the first quarter of the frames (at most 60: pipeline compilation and
  warm-up). When its ``parse_args`` knows ``--particles-path`` (games/wisp), each setting is
  run once per path, ``sprites`` and ``compute``, side by side in one figure (variants of
  those names; ratio ``sprites/compute`` > 1: compute is faster).

It runs in a subprocess (its own Vulkan context; a crash cannot take the suite down), with
validation off. Settings: on lavapipe (a CPU device) 960x540 with 64 lights, 10,000 and
100,000 particles (bars on the compute path: median frame <= 5 ms and <= 16.7 ms); on a GPU
1920x1080 with 256 lights, 1,000,000 and 10,000,000 particles (bars on the compute path:
median <= 2.0 ms, i.e. >= 500 FPS, and <= 16.7 ms, >= 60 FPS).
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

CPU_SETTINGS = {"width": 960, "height": 540, "lights": 64}
CPU_PARTICLES = ((10_000, 5.0), (100_000, 16.7))
"""(particles, bar on the compute path's median frame in ms) on a CPU device."""
GPU_SETTINGS = {"width": 1920, "height": 1080, "lights": 256}
GPU_PARTICLES = ((1_000_000, 2.0), (10_000_000, 16.7))
"""(particles, bar on the compute path's median frame in ms) on a GPU."""
PATHS = ("sprites", "compute")
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
    argv = ["--headless", "--width", str(kw["width"]), "--height", str(kw["height"]),
            "--particles", str(kw["particles"]), "--lights", str(kw["lights"]),
            "--device", kw["device"]]
    if kw.get("particles_path"):
        argv += ["--particles-path", kw["particles_path"]]
    args = app_mod.parse_args(argv)
    app = cls(args)
    try:
        times = app.run(kw["frames"])
        skip = min(60, len(times.ms) // 4)
        r = {"frame_times_ms": list(times.ms[skip:]), "warmup_frames_dropped": skip,
             "device": app.ctx.device_name}
        if getattr(app, "particles_path", None):
            r["particles_path"] = app.particles_path
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
if not ok:
    sys.exit(3)
try:
    app.parse_args(["--headless", "--particles-path", "compute"])
except SystemExit:
    sys.exit(0)
sys.exit(10)  # knows --particles-path
"""


def find_games() -> list[tuple[str, bool]]:
    """``(name, has_particle_paths)`` of the ``games.<name>`` packages usable by this
    benchmark (checked in a subprocess)."""
    names = [m.name for m in pkgutil.iter_modules([str(REPO / "games")]) if m.ispkg]
    found = []
    for name in names:
        try:
            rc = subprocess.run([sys.executable, "-c", PROBE, name], cwd=REPO,
                                capture_output=True, timeout=60).returncode
        except subprocess.SubprocessError:
            continue
        if rc in (0, 10):
            found.append((name, rc == 10))
    return found


def _variant(times: list[float]) -> dict[str, Any]:
    us = [t * 1000 for t in times]
    return {"median": percentile(us, 50), "q1": percentile(us, 25), "q3": percentile(us, 75),
            "p10": percentile(us, 10), "p90": percentile(us, 90), "min": min(us),
            "max": max(us), "n": len(us)}


def _stats(times: list[float]) -> dict[str, float]:
    stats = {"median_ms": percentile(times, 50), "p95_ms": percentile(times, 95),
             "p99_ms": percentile(times, 99), "max_ms": max(times), "frames": len(times)}
    stats["fps_median"] = 1000.0 / stats["median_ms"]
    stats["fps_mean"] = 1000.0 * len(times) / sum(times)
    return stats


def _run_one(session: Session, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ, ENGINE_VALIDATION="0")
    proc = subprocess.run([sys.executable, "-c", DRIVER, name, json.dumps(kwargs)],
                          cwd=REPO, capture_output=True, text=True, timeout=900, env=env)
    line = [x for x in proc.stdout.splitlines() if x.startswith("BENCH-JSON ")]
    if proc.returncode != 0 or not line:
        raise RuntimeError(f"rc {proc.returncode}: {proc.stderr.strip()[-300:]}")
    result: dict[str, Any] = json.loads(line[-1][len("BENCH-JSON "):])
    return result


def bars(stats: dict[str, float], particles: int, limit_ms: float, software: bool
         ) -> list[dict[str, Any]]:
    where = "lavapipe 960x540, 64 lights" if software else "GPU 1920x1080, 256 lights"
    fps = f" (>= {1000.0 / limit_ms:.0f} FPS)"
    return [{"text": f"game on {where}, {particles:,} particles, compute path: median frame "
                     f"<= {limit_ms} ms{fps}",
             "ratio": "median frame ms (compute)", "op": "<=", "threshold": limit_ms,
             "value": stats["median_ms"], "met": stats["median_ms"] <= limit_ms}]


def run(session: Session) -> list[dict[str, Any]]:
    software = session.ctx.is_software
    settings = dict(CPU_SETTINGS if software else GPU_SETTINGS)
    counts = CPU_PARTICLES if software else GPU_PARTICLES
    if session.quick:  # CI-sized: the smallest count only, both paths
        counts = counts[:1]
    frames = 80 if session.quick else 600
    games = find_games()
    if not games:
        reason = ("no games/<name> package with a benchmark() function or an app module has "
                  "landed yet (see bench/fig_game.py for the contract)")
        return [skipped_figure("game/frame_time", "game", TITLE, reason, params=settings)]
    figures = []
    for name, has_paths in games:
        for particles, limit_ms in counts:
            params = {**settings, "particles": particles}
            paths: tuple[str | None, ...] = PATHS if has_paths else (None,)
            fid = f"game/{name}/{particles}"
            title = f"{TITLE}: {name}, {particles:,} particles"
            variants: dict[str, Any] = {}
            extra: dict[str, Any] = {}
            try:
                for path in paths:
                    label = path or "ours"
                    session.log(f"game {name}: {frames} frames at {params}, path {label}")
                    kwargs = dict(params, frames=frames, device=session.ctx.device_name,
                                  particles_path=path)
                    result = _run_one(session, name, kwargs)
                    times = [float(t) for t in result["frame_times_ms"]]
                    variants[label] = _variant(times)
                    extra[label] = {"fps": _stats(times), **{
                        k: v for k, v in result.items() if k != "frame_times_ms"}}
            except Exception as exc:
                figures.append(skipped_figure(fid, "game", title,
                                              f"{type(exc).__name__}: {exc}"[:400],
                                              params=params))
                continue
            ratios: dict[str, Any] = {}
            if "sprites" in variants and "compute" in variants:
                s, c = variants["sprites"], variants["compute"]
                ratios["sprites/compute"] = {"median": s["median"] / c["median"],
                                             "p10": s["p10"] / c["p10"],
                                             "p90": s["p90"] / c["p90"]}
            judged = extra.get("compute", extra.get("ours"))
            figures.append({
                "id": fid, "family": "game", "title": title,
                "per": "frame", "unit": "us", "params": {**params, "frames": frames},
                "variants": variants, "ratios": ratios,
                "bars": bars(judged["fps"], particles, limit_ms, software)
                if judged is not None and "compute" in extra else [],
                "extra": extra,
            })
    return figures
