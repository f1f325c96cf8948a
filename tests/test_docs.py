"""The documentation site: it builds without a warning, and its programs run as printed.

- Sphinx builds ``docs/`` (nitpicky, warnings as errors, not incremental) into a temporary
  folder, as ``make docs`` does; where Sphinx, furo or myst-parser is not installed (the offline
  GPU machine) the test skips and says how to install them.
- Every code block of the pages captioned with a file name (``first_program.py``...) is a whole
  program: it runs here, in a temporary folder and a fresh esper world, with validation on (any
  message fails the test), and what it prints must equal the ``output`` block that follows it.
- The buffer tour prints what its page shows (the lines that do not depend on the device).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PROGRAM = re.compile(
    r"```\{code-block\} python\n:caption: (?P<name>[\w.-]+\.py)\n(?P<code>.*?)```"
    r"(?:\s*```\{code-block\} text\n:caption: output\n(?P<output>.*?)```)?", re.S)


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)


def programs() -> list[tuple[str, str, str | None]]:
    """(page/caption, code, expected output or None) of every captioned program."""
    found = []
    for page in pages():
        for m in PROGRAM.finditer(page.read_text()):
            found.append((f"{page.relative_to(DOCS)}:{m['name']}", m["code"], m["output"]))
    return found


PROGRAMS = programs()


def test_the_pages_hold_the_programs_this_file_runs():
    names = {name for name, _, _ in PROGRAMS}
    for expected in ("first-program.md:first_program.py", "howto/meshes.md:meshes.py",
                     "howto/uniforms.md:uniforms.py", "howto/particles.md:particles.py",
                     "howto/statistics.md:statistics.py"):
        assert expected in names, f"{expected} not found by {PROGRAM.pattern!r}"
    assert all(output is not None for _, _, output in PROGRAMS), "each shows its output"


@pytest.mark.parametrize(("name", "code", "output"), PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_a_program_of_the_docs_runs_and_prints_what_the_page_shows(
        name, code, output, tmp_path, monkeypatch, ecs_world, validation, capsys):
    monkeypatch.chdir(tmp_path)  # programs write their pictures (meshes.png...) here
    exec(compile(code, f"docs/{name}", "exec"), {"__name__": "__main__"})
    printed = capsys.readouterr().out
    if output is not None:
        assert printed.splitlines() == output.splitlines(), f"docs/{name} printed:\n{printed}"
    validation.assert_clean(f"running docs/{name}")


DEVICE_INDEPENDENT = ("particles generation", "=== Buffer", "frame ", "live buffers",
                      "  device_local", "  host_visible", "pending destroy", "uploads this frame",
                      "host writes this frame", "descriptor writes", "created / destroyed",
                      "resizes", "peaks")
"""Lines of the tour's statistics every device prints alike. Not "uploads total": on a GPU
with DEVICE_LOCAL|HOST_VISIBLE memory the first frame's write goes in place (nothing is in
flight yet), so one upload fewer is staged."""


def test_the_buffer_tour_prints_what_its_page_shows():
    page = (DOCS / "examples" / "buffer_tour.md").read_text()
    shown = re.search(r"```\{code-block\} text\n:caption: output on lavapipe[^\n]*\n(.*?)```",
                      page, re.S)
    assert shown, "the tour's page shows its output"
    run = subprocess.run([sys.executable, "-m", "games.buffer_tour", "--frames", "30"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = [line for line in shown.group(1).splitlines()
                if line.startswith(DEVICE_INDEPENDENT)]
    assert len(expected) >= 12, expected
    printed = run.stdout.splitlines()
    missing = [line for line in expected if line not in printed]
    assert not missing, f"the tour no longer prints {missing}; it printed:\n{run.stdout}"


def importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def test_the_site_builds_without_a_warning(tmp_path):
    missing = [m for m in ("sphinx", "furo", "myst_parser") if not importable(m)]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: pip install -e '.[docs]' (or run "
                    "make docs, which installs them)")
    out = tmp_path / "html"
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-n", "-W", "--keep-going", "-E", "-q",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    assert not run.stderr.strip(), run.stderr[-6000:]
    for page in ("index", "installation", "first-program", "concepts", "ARCHITECTURE",
                 "benchmarks", "reliability", "howto/uniforms", "examples/wisp",
                 "reference/buffers", "reference/testing", "reference/systems"):
        assert (out / f"{page}.html").is_file(), f"{page}.html was not built"
    api = (out / "reference" / "buffers.html").read_text()
    assert 'id="engine.buffers.manager.BufferManager.update_buffer"' in api
    assert "HostWriteHazardError" in api, "docstrings reach the reference"
    images = {p.name for p in (out / "_images").iterdir()}
    assert {"screenshot.png", "meshes.png", "particles.png", "memory-map.png"} <= images


def test_every_python_block_of_the_pages_is_valid_python():
    blocks = []
    for page in pages():
        text = page.read_text()
        for m in re.finditer(r"```(?:python|\{code-block\} python\n(?::\w+:[^\n]*\n)*)\n?(.*?)```",
                             text, re.S):
            blocks.append((page, m.group(1)))
    assert len(blocks) >= 8
    for page, code in blocks:
        compile(code, str(page), "exec")  # a SyntaxError names the page


def test_the_testing_page_shows_the_test_that_the_suite_runs():
    page = (DOCS / "howto" / "testing.md").read_text()
    shown = re.search(r"```python\n(.*?)```", page, re.S)
    assert shown, "docs/howto/testing.md shows a test"
    source = (ROOT / "tests" / "test_minimal_example.py").read_text()
    missing = [line for line in shown.group(1).splitlines() if line.strip() and line not in source]
    assert not missing, f"lines of docs/howto/testing.md not in tests/test_minimal_example.py: " \
                        f"{missing}"


def test_the_reference_documents_every_module():
    """Each module of engine/, components/ and systems/ (not an underscore one, not an empty
    package) has an ``automodule`` in a page of docs/reference, so a new module is documented."""
    pages_text = "".join(p.read_text() for p in (DOCS / "reference").glob("*.md"))
    documented = set(re.findall(r"automodule:: ([\w.]+)", pages_text))
    undocumented = []
    for package in ("engine", "components", "systems"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
                if not path.read_text().strip():
                    continue  # an empty package: nothing to document
            if any(part.startswith("_") for part in parts):
                continue
            if ".".join(parts) not in documented:
                undocumented.append(".".join(parts))
    assert not undocumented, (
        f"not in the API reference: {undocumented}; add '.. automodule:: NAME' to a page of "
        "docs/reference (internals.md for modules a game does not call)")
