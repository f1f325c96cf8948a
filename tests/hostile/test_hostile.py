"""Runs every hostile case (``cases_*.py`` here) in its own process: see hostile_harness."""

from __future__ import annotations

import importlib
import json
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


def test_case_names_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_case(case: Case):
    outcome = run_case(case)
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps({"id": case.id, "cls": case.cls, "kind": outcome.kind}) + "\n")
    assert outcome.ok, f"{case.id}: {outcome.kind}\n{outcome.detail}"
