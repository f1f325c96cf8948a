"""Side-by-side timing: interleaved rounds, medians and spreads, paired ratios.

Every figure compares variants (ours, the limit, peers) measured in the same process. A
*runner* is ``runner(n) -> seconds``: it performs ``n`` operations and returns the time they
took, so it can leave its own untimed bookkeeping (a peer's submit, a frame's begin/end) out of
the figure. :func:`measure` calibrates ``n`` per variant so that one batch lasts about
``target_s``, then runs ``rounds`` rounds; in each round every variant runs one batch, in
alternating order (A B C, C B A, A B C, ...), so a slow phase of the shared machine hits every
variant alike. Ratios are taken per round (paired) and then summarised, which removes most of
the drift that a ratio of two medians would keep.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

Runner = Callable[[int], float]
"""``runner(n)``: do ``n`` operations, return the seconds they took."""


@dataclass
class Settings:
    """How hard to measure: ``rounds`` batches per variant, each about ``target_s`` long."""

    rounds: int = 41
    target_s: float = 0.01
    warmup: int = 4
    max_n: int = 200_000
    quick: bool = False

    @classmethod
    def for_mode(cls, quick: bool) -> Settings:
        if quick:
            return cls(rounds=5, target_s=0.002, warmup=3, max_n=20_000, quick=True)
        return cls()

    def to_dict(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "target_batch_s": self.target_s, "warmup": self.warmup,
                "max_ops_per_batch": self.max_n, "quick": self.quick,
                "order": "alternating (A B C, C B A, ...)", "gc": "disabled while timing",
                "ratio": "median of per-round paired ratios"}


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` in [0, 100] of ``values`` (non-empty)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(values: list[float], scale: float = 1.0) -> dict[str, Any]:
    """Median, quartiles, p10/p90, min and count of ``values`` times ``scale``."""
    v = [x * scale for x in values]
    return {
        "median": percentile(v, 50), "q1": percentile(v, 25), "q3": percentile(v, 75),
        "p10": percentile(v, 10), "p90": percentile(v, 90), "min": min(v), "max": max(v),
        "n": len(v),
    }


@dataclass
class Measurement:
    """Per-round seconds per operation of each variant, and the ops per batch used."""

    per_op: dict[str, list[float]] = field(default_factory=dict)
    batch: dict[str, int] = field(default_factory=dict)

    def stats_us(self) -> dict[str, dict[str, Any]]:
        """Each variant's summary in microseconds per operation."""
        out = {}
        for name, values in self.per_op.items():
            s = summarize(values, 1e6)
            s["ops_per_batch"] = self.batch[name]
            out[name] = s
        return out

    def ratio(self, a: str, b: str) -> dict[str, Any]:
        """Summary of the per-round ratio ``time(a) / time(b)``."""
        pairs = [x / y for x, y in zip(self.per_op[a], self.per_op[b], strict=True) if y > 0]
        out = summarize(pairs)
        # Load-robust cross-check: the least-disturbed batches of each side.
        out["of_p10"] = percentile(self.per_op[a], 10) / max(percentile(self.per_op[b], 10),
                                                             1e-12)
        return out


@contextmanager
def quiet_gc() -> Iterator[None]:
    """Collect once, then keep the cyclic GC off while timing."""
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def calibrate(runner: Runner, settings: Settings) -> int:
    """Ops per batch so that one batch lasts about ``settings.target_s``.

    Grows ``n`` until a batch lasts a quarter of the target, then takes the fastest of three
    such batches (a one-off stall, e.g. a first page fault, must not shrink every batch).
    """
    for _ in range(settings.warmup):
        runner(1)
    n = 1
    while True:
        elapsed = runner(n)
        if elapsed >= settings.target_s / 4 or n >= settings.max_n:
            break
        n = min(settings.max_n, n * 4 if elapsed <= 0 else max(n * 2, int(n * 0.3 * (
            settings.target_s / elapsed))))
    per_op = max(min([elapsed] + [runner(n) for _ in range(2)]) / n, 1e-9)
    return max(1, min(settings.max_n, int(settings.target_s / per_op)))


def measure(runners: dict[str, Runner], settings: Settings, *, rounds: int | None = None,
            fixed_n: dict[str, int] | None = None) -> Measurement:
    """Interleave ``runners`` for ``rounds`` rounds; see the module docstring."""
    rounds = rounds or settings.rounds
    m = Measurement()
    with quiet_gc():
        for name, runner in runners.items():
            m.batch[name] = (fixed_n or {}).get(name) or calibrate(runner, settings)
            m.per_op[name] = []
        names = list(runners)
        for r in range(rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                n = m.batch[name]
                m.per_op[name].append(runners[name](n) / n)
    return m


def timed_call(fn: Callable[..., Any], *args: Any) -> Runner:
    """A runner that calls ``fn(*args)`` ``n`` times back to back (same loop for every variant)."""
    if len(args) == 1:
        (a,) = args

        def run1(n: int) -> float:
            f = fn
            start = time.perf_counter()
            for _ in range(n):
                f(a)
            return time.perf_counter() - start

        return run1
    if len(args) == 2:
        a, b = args

        def run2(n: int) -> float:
            f = fn
            start = time.perf_counter()
            for _ in range(n):
                f(a, b)
            return time.perf_counter() - start

        return run2

    def run(n: int) -> float:
        f = fn
        start = time.perf_counter()
        for _ in range(n):
            f(*args)
        return time.perf_counter() - start

    return run
