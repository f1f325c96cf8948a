"""A figure of the JSON: variants' timings, paired ratios, and the project's bars.

Shape of one figure (times in microseconds per ``per``)::

    {"id": "update/host_visible/256B", "family": "update", "title": "...", "per": "call",
     "params": {...}, "unit": "us",
     "variants": {"ours": {"median", "q1", "q3", "p10", "p90", ...}, "wgpu": {"skipped": why}},
     "ratios": {"ours/numpy": {"median", "p10", "p90", ...}},
     "bars": [{"text", "ratio", "op", "threshold", "value", "met"}],
     "extra": {...}}

A ratio ``a/b`` is ``time(a) / time(b)`` per round; "ours is 3x faster than wgpu" is the bar
``wgpu/ours >= 3``, "ours reaches 0.9x numpy bandwidth" is ``numpy/ours >= 0.9``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .timing import Measurement


@dataclass(frozen=True)
class Bar:
    """A bar on the median of ratio ``a/b``: ``op`` is ``"<="`` or ``">="``."""

    text: str
    a: str
    b: str
    op: str
    threshold: float
    bound: str = ""
    """The same ratio for a reference (e.g. ``numpy/raw``): when it misses the bar too, the
    miss is a bound of this device, and its value is the proof."""

    def passes(self, value: float) -> bool:
        return value <= self.threshold if self.op == "<=" else value >= self.threshold

    def evaluate(self, ratios: dict[str, Any], skipped: dict[str, str]) -> dict[str, Any]:
        key = f"{self.a}/{self.b}"
        out: dict[str, Any] = {"text": self.text, "ratio": key, "op": self.op,
                               "threshold": self.threshold}
        if key not in ratios:
            why = skipped.get(self.a) or skipped.get(self.b) or "not measured"
            out.update(value=None, met=None, reason=why)
            return out
        value = ratios[key]["median"]
        out["value"] = value
        out["met"] = self.passes(value)
        if self.bound in ratios:
            bound_value = ratios[self.bound]["median"]
            out["bound"] = {"ratio": self.bound, "value": bound_value,
                            "passes": self.passes(bound_value)}
        return out


def build(fid: str, family: str, title: str, *, measurement: Measurement | None,
          skipped: dict[str, str] | None = None, ratios: tuple[tuple[str, str], ...] = (),
          bars: tuple[Bar, ...] = (), params: dict[str, Any] | None = None,
          per: str = "call", nbytes: int | None = None,
          extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """One figure dict from a measurement (``None`` when everything was skipped)."""
    skipped = dict(skipped or {})
    variants: dict[str, Any] = {}
    ratio_out: dict[str, Any] = {}
    if measurement is not None:
        variants.update(measurement.stats_us())
        for a, b in ratios:
            if a in measurement.per_op and b in measurement.per_op:
                ratio_out[f"{a}/{b}"] = measurement.ratio(a, b)
    for name, why in skipped.items():
        variants.setdefault(name, {"skipped": why})
    fig: dict[str, Any] = {
        "id": fid, "family": family, "title": title, "per": per, "unit": "us",
        "params": params or {}, "variants": variants, "ratios": ratio_out,
        "bars": [bar.evaluate(ratio_out, skipped) for bar in bars],
        "extra": extra or {},
    }
    if nbytes:
        fig["params"]["bytes"] = nbytes
        fig["throughput_GBps"] = {
            name: nbytes / (v["median"] * 1e-6) / 1e9
            for name, v in variants.items() if "median" in v and v["median"] > 0}
    return fig


def skipped_figure(fid: str, family: str, title: str, reason: str,
                   bars: tuple[Bar, ...] = (), params: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    """A figure that could not be measured here (e.g. its code has not landed)."""
    return {"id": fid, "family": family, "title": title, "per": "", "unit": "us",
            "params": params or {}, "variants": {}, "ratios": {}, "skipped": reason,
            "bars": [{**{"text": b.text, "ratio": f"{b.a}/{b.b}", "op": b.op,
                         "threshold": b.threshold}, "value": None, "met": None,
                      "reason": reason} for b in bars],
            "extra": {}}
