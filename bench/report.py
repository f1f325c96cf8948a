"""BENCHMARKS.md tables from the JSON results, and the console summary of one run.

Only the part of BENCHMARKS.md between the two markers below is regenerated; everything else
(methodology, profiles, notes on fixes) is kept as written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

START = "<!-- bench:generated:start -->"
END = "<!-- bench:generated:end -->"

VARIANT_ORDER = ("ours", "ours_off", "ours_pipelined", "ours_staged", "raw", "raw_pipelined",
                 "numpy", "numpy_1dst", "wgpu", "moderngl", "moderngl_1buf")
VARIANT_LABEL = {
    "ours": "ours", "ours_off": "ours, hazard checks off",
    "ours_pipelined": "ours, pipelined", "ours_staged": "ours, particles staged",
    "raw": "raw Vulkan", "raw_pipelined": "raw Vulkan, pipelined",
    "numpy": "numpy (limit)", "wgpu": "wgpu-py", "moderngl": "moderngl",
    "numpy_1dst": "numpy, 1 destination", "moderngl_1buf": "moderngl, 1 buffer",
    "ours_bound": "ours + 1,000 binds by dynamic offset", "buffers": "1,000 buffers, update_buffer",
}
FAMILY_TITLE = {
    "update": "Host-visible update_buffer vs numpy, wgpu-py, moderngl",
    "staged": "Device-local staged upload per frame vs raw Vulkan staging copy",
    "frame": "Frame workload: 1,000 UBOs (10 change) + 100,000 x 32 B particles, update part",
    "access": "Buffer access: map_write compute-and-upload, update_rows scatter, read_async",
    "binding": "BindingSystem per frame",
    "ring": "Uniform ring: 1,000 blocks of 256 B per frame, bound by dynamic offset",
    "churn": "Create + destroy churn",
    "game": "Game frame time",
}

TEMPLATE = f"""# Benchmarks

Run them with `make bench` (installs the `bench` extra, then `python -m bench`).

{START}
{END}
"""


def fmt_us(us: float | None) -> str:
    if us is None:
        return "-"
    if us >= 1000:
        return f"{us / 1000:.3g} ms"
    return f"{us:.3g} µs"


def fmt_cell(v: dict[str, Any]) -> str:
    if "skipped" in v:
        return "skipped"
    return f"{fmt_us(v['median'])} [{fmt_us(v['p10'])} to {fmt_us(v['p90'])}]"


def fmt_ratio(r: dict[str, Any] | None) -> str:
    if not r:
        return "-"
    return f"{r['median']:.2f}x [{r['p10']:.2f} to {r['p90']:.2f}]"


def bar_status(bar: dict[str, Any]) -> str:
    if bar.get("met") is None:
        return "not measured"
    if bar["met"]:
        return "**met**"
    bound = bar.get("bound")
    if bound and not bound["passes"]:
        return (f"**MISSED**, bounded: {bound['ratio']} = {bound['value']:.2f} misses it too")
    return "**MISSED**"


def _variants(figures: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for fig in figures:
        for name in fig.get("variants", {}):
            if name not in seen:
                seen.append(name)
    ordered = [v for v in VARIANT_ORDER if v in seen]
    return ordered + [v for v in seen if v not in ordered]


def _ratios(figures: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for fig in figures:
        for key in fig.get("ratios", {}):
            if key not in seen:
                seen.append(key)
    return seen


def family_table(figures: list[dict[str, Any]]) -> list[str]:
    variants = _variants(figures)
    ratios = _ratios(figures)
    head = ["figure", "per", *[VARIANT_LABEL.get(v, v) for v in variants],
            *[f"{r}" for r in ratios], "bars"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for fig in figures:
        if "skipped" in fig:
            lines.append(f"| {fig['title']} | | " + " | ".join(
                ["-"] * (len(variants) + len(ratios))) + f" | not measured: {fig['skipped']} |")
            continue
        cells = [fig["title"], fig.get("per", "")]
        cells += [fmt_cell(fig["variants"][v]) if v in fig["variants"] else "" for v in variants]
        cells += [fmt_ratio(fig["ratios"].get(r)) for r in ratios]
        cells.append("; ".join(f"{b['ratio']} {b['op']} {b['threshold']:g}: {bar_status(b)}"
                               for b in fig.get("bars", [])) or "")
        lines.append("| " + " | ".join(cells) + " |")
    extras = [(fig["title"], fig["extra"]) for fig in figures if fig.get("extra")]
    notes = [f"- {title}: " + ", ".join(f"{k} = {_short(v)}" for k, v in extra.items())
             for title, extra in extras if any(k in NOTE_KEYS for k in extra)]
    if notes:
        lines += ["", *notes]
    return lines


NOTE_KEYS = ("memory_type_index", "memory_types", "vkAllocateMemory_calls", "descriptor_writes",
             "note", "fps")


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_short(x)}" for k, x in v.items()) + "}"
    return str(v)


def bars_table(result: dict[str, Any]) -> list[str]:
    lines = ["| bar | measured | status |", "|---|---|---|"]
    for fam in result["families"].values():
        for fig in fam["figures"]:
            for bar in fig.get("bars", []):
                if bar.get("met") is None:
                    measured = bar.get("reason", "not measured")
                else:
                    measured = f"{bar['ratio']} = {bar['value']:.2f} (bar {bar['op']} " \
                               f"{bar['threshold']:g})"
                lines.append(f"| {bar['text']} | {measured} | {bar_status(bar)} |")
    return lines


def device_section(result: dict[str, Any], path: Path, md_dir: Path) -> list[str]:
    d, m, run = result["driver"], result["machine"], result.get("run", {})
    peers = result.get("peers", {})
    lines = [f"## {d['device']} (`{path.name}`)", ""]
    lines.append(f"- Machine: {m['cpu']}, {m['cpu_count']} CPUs, {m.get('memory_gib')} GiB, "
                 f"{m['os']}, Python {m['python']}, commit `{m['git_commit']}`"
                 + (" (dirty)" if m.get("git_dirty") else ""))
    lines.append(f"- Driver: {d.get('driver_name', '?')} {d.get('driver_info', '')}, Vulkan "
                 f"{d['api_version']}, memory types "
                 + ", ".join(f"{t['index']}:{t['flags']}" for t in d["memory_types"])
                 + f"; validation {'on' if d.get('validation') else 'off'}")
    v = result["versions"]
    lines.append("- Versions: " + ", ".join(f"{k} {x}" for k, x in v.items() if x))
    for name, p in peers.items():
        if p.get("available"):
            desc = p.get("adapter") or p.get("renderer")
            lines.append(f"- Peer {name}: {desc} ({p.get('backend', '')}, version "
                         f"{p.get('version')})")
        else:
            lines.append(f"- Peer {name}: **not run**: {p.get('reason')}")
    runs = result.get("runs") or [run]
    for r in runs:
        if r:
            lines.append(f"- Run: `{r.get('command')}` at {r.get('started')}, {r.get('seconds')} s,"
                         f" load average {r.get('load_average', {}).get('start')} -> "
                         f"{r.get('load_average', {}).get('end')}")
    s = result["settings"]
    lines.append(f"- Method: {s['rounds']} rounds per figure, batches of ~{s['target_batch_s']} s,"
                 f" {s['order']} order, {s['ratio']}; cells are median [p10 to p90].")
    lines += ["", "### Bars", "", *bars_table(result)]
    for name, fam in result["families"].items():
        own = fam.get("machine")
        where = "" if not own else (
            f"Measured by `{fam.get('run', {}).get('command')}` at "
            f"{fam.get('run', {}).get('started')} on {own['cpu']}, {own['cpu_count']} CPUs, "
            f"commit `{own['git_commit']}`" + (" (dirty)" if own.get("git_dirty") else "")
            + ". ")
        lines += ["", f"### {FAMILY_TITLE.get(name, name)}", "",
                  f"{where}Load average {fam['load_average']['start']} -> "
                  f"{fam['load_average']['end']}, {fam['seconds']} s.", "",
                  *family_table(fam["figures"])]
        png = path.with_name(path.stem + "-throughput.png")
        if name == "update" and png.exists():
            lines += ["", f"![throughput vs size on {d['device']}]"
                          f"({os.path.relpath(png, md_dir)})"]
    return lines


def snapshots_section(results_dir: Path, slug: str, current: dict[str, Any]) -> list[str]:
    snap_dir = results_dir / "snapshots" / slug
    snaps = sorted(snap_dir.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name)) \
        if snap_dir.is_dir() else []
    if not snaps:
        return []
    loaded = [(p.stem, json.loads(p.read_text())) for p in snaps]
    loaded.append(("current", current))
    rows: dict[str, dict[str, str]] = {}
    for label, res in loaded:
        for fam in res["families"].values():
            for fig in fam["figures"]:
                for bar in fig.get("bars", []):
                    key = bar["text"]
                    val = "-" if bar.get("value") is None else f"{bar['value']:.2f}"
                    rows.setdefault(key, {})[label] = val
    labels = [label for label, _ in loaded]
    lines = ["", "### Before / after (bar ratios per snapshot)", "",
             "| bar | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for key, vals in rows.items():
        lines.append(f"| {key} | " + " | ".join(vals.get(label, "") for label in labels) + " |")
    return lines


def generated(results_dir: Path, md_dir: Path) -> str:
    lines: list[str] = []
    for path in sorted(results_dir.glob("*.json")):
        result = json.loads(path.read_text())
        lines += device_section(result, path, md_dir)
        lines += snapshots_section(results_dir, result["device_slug"], result)
        lines.append("")
    if not lines:
        lines = ["No results yet: run `make bench`."]
    return "\n".join(lines).rstrip() + "\n"


def write_markdown(results_dir: Path, markdown: Path) -> None:
    text = markdown.read_text() if markdown.exists() else TEMPLATE
    if START not in text or END not in text:
        text = text.rstrip() + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    body = generated(results_dir, markdown.resolve().parent)
    markdown.write_text(f"{head}{START}\n{body}{END}{tail}")


def console_summary(result: dict[str, Any]) -> str:
    lines = [f"device: {result['driver']['device']}"]
    for name, fam in result["families"].items():
        lines.append(f"== {name} ({fam['seconds']} s)")
        for fig in fam["figures"]:
            if "skipped" in fig:
                lines.append(f"  {fig['title']}: skipped: {fig['skipped']}")
                continue
            cells = ", ".join(f"{k} {fmt_us(v.get('median'))}" if "median" in v else
                              f"{k} skipped" for k, v in fig["variants"].items())
            ratios = ", ".join(f"{k} {v['median']:.2f}" for k, v in fig["ratios"].items())
            lines.append(f"  {fig['title']}: {cells}; {ratios}")
            for bar in fig.get("bars", []):
                lines.append(f"    bar {bar['text']}: {bar_status(bar)}"
                             + ("" if bar.get("value") is None else f" ({bar['value']:.2f})"))
    return "\n".join(lines)
