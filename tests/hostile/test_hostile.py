"""Runs every hostile case (``cases_*.py`` here) in its own process: see hostile_harness."""

from __future__ import annotations

import importlib
import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from hostile_harness import PROJECT, Case, run_case

HERE = Path(__file__).resolve().parent
RESULTS = PROJECT / "build" / "hostile-results.jsonl"


def _all_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(HERE.glob("cases_*.py")):
        module = importlib.import_module(path.stem)
        cases.extend(module.CASES)
    return cases


CASES = _all_cases()

OPEN_DEFECTS: dict[str, str] = {}
"""Cases that still fail, each a defect still open (reported in RELIABILITY.md), marked as
strict expected failures: a case that starts passing fails the run until it is removed."""


def test_case_names_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.fixture(scope="session")
def hostile_runs() -> dict[str, Future]:
    """Every case starts at once on a pool of one worker per core (each case is its own
    process, so they run side by side); each test then waits for its own result."""
    pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
    runs = {case.id: pool.submit(run_case, case) for case in CASES}
    yield runs
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.xfail(reason=OPEN_DEFECTS[c.id], strict=True))
    if c.id in OPEN_DEFECTS else c for c in CASES], ids=[c.id for c in CASES])
def test_hostile_case(case: Case, hostile_runs):
    outcome = hostile_runs[case.id].result()
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps({"id": case.id, "cls": case.cls, "kind": outcome.kind}) + "\n")
    assert outcome.ok, f"{case.id}: {outcome.kind}\n{outcome.detail}"
