"""One ``python -m bench --quick`` run in a subprocess: the JSON is produced and has the figures.

Benchmarks are not timed tests: this only checks that the instrument works end to end (every
family runs, every figure is present with numbers or a recorded reason, the tables render). A
peer that is not installed must appear as skipped with its reason, never as a number.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

EXPECTED = {
    "update": {"update/host_visible/256B", "update/host_visible/64KiB",
               "update/host_visible/1MiB", "update/host_visible/16MiB"},
    "staged": {"staged/device_local/1MiB", "staged/device_local/16MiB"},
    "frame": {"frame/update_part"},
    "binding": {"binding/nothing_changed", "binding/one_percent_changed"},
    "ring": {"ring/push_many_1000x256B"},
    "churn": {"churn/create_destroy"},
}


def test_bench_quick_writes_json_with_figures(tmp_path: Path) -> None:
    path = os.pathsep.join([str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(
        os.pathsep))])
    env = dict(os.environ, PYTHONPATH=path, ENGINE_VALIDATION="0")
    md = tmp_path / "BENCHMARKS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--results-dir", str(tmp_path),
         "--markdown", str(md)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1, files
    result = json.loads(files[0].read_text())
    for key in ("machine", "driver", "versions", "peers", "settings", "run"):
        assert key in result
    assert result["quick"] is True
    assert result["run"]["load_average"]["start"] is not None
    fams = result["families"]
    for family, ids in EXPECTED.items():
        got = {f["id"] for f in fams[family]["figures"]}
        assert ids <= got, (family, got)
    for fam in fams.values():
        for fig in fam["figures"]:
            if "skipped" in fig:
                assert fig["skipped"], fig["id"]
                continue
            for name, v in fig["variants"].items():
                if "skipped" in v:
                    assert v["skipped"], (fig["id"], name)
                else:
                    assert v["median"] > 0 and v["p10"] <= v["median"] <= v["p90"], (
                        fig["id"], name, v)
            for bar in fig["bars"]:
                assert bar["met"] in (True, False, None)
                if bar["met"] is None:
                    assert bar.get("reason"), (fig["id"], bar)
    update256 = next(f for f in fams["update"]["figures"]
                     if f["id"] == "update/host_visible/256B")
    assert "ours/numpy" in update256["ratios"]
    for peer in ("wgpu", "moderngl"):
        info = result["peers"][peer]
        if not info["available"]:
            assert info["reason"]
            assert "skipped" in update256["variants"][peer]
        else:
            assert update256["variants"][peer]["median"] > 0
    text = md.read_text()
    assert "<!-- bench:generated:start -->" in text and "### Bars" in text
