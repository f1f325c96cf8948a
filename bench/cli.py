"""``python -m bench [--quick] [--only NAME] [--device NAME]``: run, write JSON, tables, plot.

A full run writes ``bench/results/<device-slug>.json`` and regenerates the tables of
``BENCHMARKS.md`` from every ``bench/results/*.json``, plus the throughput plot of each device.
A ``--quick`` run (CI-sized: few rounds, short batches) writes to ``bench/results/quick/``
instead and leaves ``BENCHMARKS.md`` alone unless ``--markdown`` is given, so it never
overwrites the committed full numbers. ``--only`` runs some families and merges them into the
device's existing JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import machine
from .timing import Settings

RESULTS = Path(__file__).resolve().parent / "results"
MARKDOWN = machine.REPO / "BENCHMARKS.md"
SCHEMA = 1


def families() -> dict[str, Callable[[Any], list[dict[str, Any]]]]:
    """Figure families in run order (imported lazily, so ``--help`` stays fast)."""
    from . import (
        fig_access,
        fig_binding,
        fig_churn,
        fig_frame,
        fig_game,
        fig_ring,
        fig_staged,
        fig_update,
    )

    return {"update": fig_update.run, "staged": fig_staged.run, "frame": fig_frame.run,
            "access": fig_access.run, "binding": fig_binding.run, "ring": fig_ring.run,
            "churn": fig_churn.run, "game": fig_game.run}


FAMILY_NAMES = ("update", "staged", "frame", "access", "binding", "ring", "churn", "game")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CI-sized run (few short rounds)")
    p.add_argument("--only", action="append", choices=FAMILY_NAMES, metavar="NAME",
                   help=f"run only this family (repeatable): {', '.join(FAMILY_NAMES)}")
    p.add_argument("--device", default=None,
                   help="Vulkan device index or name fragment (default: GPU, else lavapipe)")
    p.add_argument("--results-dir", type=Path, default=None,
                   help="where the JSON goes (default bench/results, or bench/results/quick)")
    p.add_argument("--markdown", type=Path, default=None,
                   help="BENCHMARKS.md to regenerate (default: the repo's, full runs only)")
    p.add_argument("--no-markdown", action="store_true", help="do not touch any BENCHMARKS.md")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument("--no-peers", action="store_true", help="do not open wgpu-py / moderngl")
    p.add_argument("--snapshot", default=None, metavar="LABEL",
                   help="also keep this result as <results-dir>/snapshots/<device>/LABEL.json "
                        "(before/after tables in BENCHMARKS.md)")
    p.add_argument("--rounds", type=int, default=None, help="override the rounds per figure")
    p.add_argument("--report-only", action="store_true",
                   help="only regenerate BENCHMARKS.md and the plots from the JSON files")
    return p.parse_args(argv)


def _merge(path: Path, result: dict[str, Any], only: list[str] | None) -> dict[str, Any]:
    """With ``--only``, keep the other families of an existing JSON of the same device."""
    if not only or not path.exists():
        return result
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return result
    if old.get("schema") != SCHEMA or old.get("quick") != result.get("quick"):
        return result
    merged_families = dict(old.get("families", {}))
    for fam in result["families"].values():  # where the new families ran (maybe elsewhere)
        fam["machine"] = result["machine"]
        fam["run"] = result["run"]
    merged_families.update(result["families"])
    result["families"] = {k: merged_families[k] for k in FAMILY_NAMES if k in merged_families}
    result["runs"] = [*old.get("runs", [old.get("run", {})]), result["run"]]
    # The header keeps describing the families measured by the earlier full run: its
    # machine, versions and peers (a partial run may not open the peers at all).
    for key in ("machine", "driver", "versions", "peers", "settings"):
        if key in old:
            result[key] = old[key]
    return result


def regenerate(results_dir: Path, markdown: Path | None, plot: bool) -> None:
    from . import report

    if plot:
        try:
            from . import plot as plotmod

            for path in sorted(results_dir.glob("*.json")):
                plotmod.plot_file(path)
        except ImportError as exc:
            print(f"bench: no plot ({exc}); install the bench extra", file=sys.stderr)
    if markdown is not None:
        report.write_markdown(results_dir, markdown)
        print(f"bench: regenerated {markdown}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    results_dir = args.results_dir or (RESULTS / "quick" if args.quick else RESULTS)
    results_dir.mkdir(parents=True, exist_ok=True)
    markdown = None if args.no_markdown else (
        args.markdown or (None if args.quick else MARKDOWN))
    if args.report_only:
        regenerate(results_dir, markdown, not args.no_plot)
        return 0

    from .session import Session

    settings = Settings.for_mode(args.quick)
    if args.rounds:
        settings.rounds = args.rounds
    wanted = args.only or list(FAMILY_NAMES)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    load_start = machine.load_average()
    session = Session(settings, device=args.device, peers=not args.no_peers)
    fams: dict[str, Any] = {}
    try:
        runners = families()
        for name in FAMILY_NAMES:
            if name not in wanted:
                continue
            session.log(f"family {name}")
            load0 = machine.load_average()
            f0 = time.perf_counter()
            figures = runners[name](session)
            fams[name] = {"figures": figures, "seconds": round(time.perf_counter() - f0, 2),
                          "load_average": {"start": load0, "end": machine.load_average()}}
        driver = machine.driver(session.ctx)
        peers = {"wgpu": session.wgpu.describe(), "moderngl": session.moderngl.describe()}
    finally:
        session.close()
    slug = machine.slug(driver["device"])
    run_info = {"started": started, "seconds": round(time.perf_counter() - t0, 1),
                "command": "python -m bench " + shlex.join(argv if argv is not None
                                                           else sys.argv[1:]),
                "families": wanted,
                "load_average": {"start": load_start, "end": machine.load_average()}}
    result: dict[str, Any] = {
        "schema": SCHEMA, "device_slug": slug, "quick": settings.quick, "run": run_info,
        "machine": machine.machine(), "driver": driver, "versions": machine.versions(),
        "peers": peers, "settings": settings.to_dict(), "families": fams,
    }
    path = results_dir / f"{slug}.json"
    result = _merge(path, result, args.only)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    tmp.replace(path)
    print(f"bench: wrote {path}", file=sys.stderr)
    if args.snapshot:
        snap = results_dir / "snapshots" / slug / f"{args.snapshot}.json"
        snap.parent.mkdir(parents=True, exist_ok=True)
        snap.write_text(json.dumps(result, indent=1) + "\n")
        print(f"bench: snapshot {snap}", file=sys.stderr)
    from . import report

    print(report.console_summary(result))
    regenerate(results_dir, markdown, not args.no_plot)
    return 0
