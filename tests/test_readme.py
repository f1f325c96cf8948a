"""The README's API tour runs as written, on the real driver, with validation on."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_api_tour_runs_and_prints_the_statistics(validation, capsys):
    text = README.read_text()
    tour = text[text.index("## API tour"):]
    code = re.search(r"```python\n(.*?)```", tour, re.S)
    assert code, "the API tour has a python block"
    exec(compile(code.group(1), "README.md (API tour)", "exec"), {})
    out = capsys.readouterr().out
    assert ("['EmitterBuffer', 'ParticleBuffer', 'ParticleStats', 'SimParams', 'params', "
            "'stats']") in out
    assert "Buffer Manager Statistics" in out and "resizes                      1" in out
    validation.assert_clean("running the README's API tour")


def test_readme_buffer_access_example_runs(validation, capsys):
    text = README.read_text()
    section = text[text.index("## Buffer access"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "the buffer access section has a python block"
    exec(compile(code.group(1), "README.md (buffer access)", "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("0.0 arrived by frame "), out
    validation.assert_clean("running the README's buffer access example")
