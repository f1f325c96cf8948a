"""Throughput vs size for us, the peers and the limit: ``<results>/<device>-throughput.png``.

Drawn from the JSON alone (``python -m bench.plot [RESULTS_DIR]`` redraws every device), with
matplotlib from the ``bench`` extra on the Agg backend. Lines: host-visible ``update_buffer``
(ours), ``np.copyto`` (the limit), wgpu-py ``write_buffer`` and moderngl ``Buffer.write`` at
each size; markers: the device-local staged upload per frame (ours and raw Vulkan, fenced and
pipelined) at 1 MiB and 16 MiB. Bands are the p10-p90 spread.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

LINES = (("ours", "ours: update_buffer (host-visible)", "C0", "o-"),
         ("numpy", "numpy np.copyto (limit)", "k", "s--"),
         ("wgpu", "wgpu-py queue.write_buffer", "C1", "^-"),
         ("moderngl", "moderngl Buffer.write", "C2", "v-"))
STAGED = (("ours", "ours: device-local staged, fenced", "C0", "D"),
          ("raw", "raw Vulkan staging copy, fenced", "C3", "X"),
          ("ours_pipelined", "ours: staged, 3 frames in flight", "C0", "P"),
          ("raw_pipelined", "raw Vulkan, 3 in flight", "C3", "*"))


def _series(figures: list[dict[str, Any]], variant: str) -> tuple[list[float], ...]:
    xs, ys, lo, hi = [], [], [], []
    for fig in figures:
        v = fig["variants"].get(variant, {})
        if "median" not in v:
            continue
        nbytes = fig["params"]["bytes"]
        xs.append(nbytes)
        ys.append(nbytes / v["median"] / 1e3)  # bytes/us -> GB/s is /1e3
        lo.append(nbytes / v["p90"] / 1e3)
        hi.append(nbytes / v["p10"] / 1e3)
    return xs, ys, lo, hi


def plot_file(path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = json.loads(path.read_text())
    fams = result.get("families", {})
    update = fams.get("update", {}).get("figures", [])
    staged = fams.get("staged", {}).get("figures", [])
    if not update and not staged:
        return None
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for variant, label, color, style in LINES:
        xs, ys, lo, hi = _series(update, variant)
        if xs:
            ax.plot(xs, ys, style, color=color, label=label, markersize=5)
            ax.fill_between(xs, lo, hi, color=color, alpha=0.15, linewidth=0)
    for variant, label, color, marker in STAGED:
        xs, ys, _, _ = _series(staged, variant)
        if xs:
            ax.plot(xs, ys, marker, color=color, label=label, markersize=8, linestyle="none",
                    markerfacecolor="none" if "pipelined" in variant else color)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("bytes per update")
    ax.set_ylabel("throughput, GB/s (median; band p10-p90)")
    name = result["driver"]["device"]
    ax.set_title(f"Upload throughput vs size on {name}"
                 + (" (quick run)" if result.get("quick") else ""), fontsize=10)
    ticks = sorted({f["params"]["bytes"] for f in update + staged})
    ax.set_xticks(ticks)
    ax.set_xticklabels([f["params"]["size"] for f in sorted(
        {f["params"]["bytes"]: f for f in update + staged}.values(),
        key=lambda f: f["params"]["bytes"])], fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out = path.with_name(path.stem + "-throughput.png")
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else Path(__file__).resolve().parent / "results"
    for path in sorted(folder.glob("*.json")):
        out = plot_file(path)
        if out:
            print(f"bench.plot: wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
