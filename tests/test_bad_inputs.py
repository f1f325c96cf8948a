"""Each row of the bad-input table (tests/bad_inputs.py, RELIABILITY.md): its own error class,
a message that names the call, and nothing changed."""

from __future__ import annotations

import pytest
from bad_inputs import ROWS, Row, World, run_row

from engine import errors


@pytest.fixture(scope="module")
def world():
    w = World()
    yield w
    w.close()


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.call}-{r.bad_input}" for r in ROWS])
def test_bad_input_raises_its_error_and_changes_nothing(world: World, row: Row, validation):
    before = world.state()
    exc = run_row(world, row)
    assert type(exc) is row.error or (isinstance(exc, row.error)), (
        f"{row.call} with {row.bad_input}: expected {row.error.__name__}, got {exc!r}")
    assert isinstance(exc, errors.EngineError), "only EngineError subclasses reach users"
    text = str(exc)
    call_word = row.call.split(".")[-1]
    assert call_word in text or row.call in text or "glslangValidator" in text \
        or "SPIR-V" in text or "BufferManager" in text, f"message does not name the call: {text}"
    assert world.state() == before, "a failed call changed the manager's state"


def test_the_table_has_at_least_30_rows():
    assert len(ROWS) >= 30
