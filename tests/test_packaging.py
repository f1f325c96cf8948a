"""Packaging: typed packages, one version, a clear error for a shadowed package, real installs.

- Every top-level package ships ``py.typed`` (PEP 561) in the wheel, and mypy run on a small
  user project against the installed wheel sees the library's types: ``reveal_type`` shows
  them (not ``Any``) and a call against a library signature with a wrong argument is reported.
  Without the marker the same run reports the package untyped (checked too, so the test can
  fail).
- The version has one source, ``engine/_version.py``: pyproject reads it (``dynamic``), the
  wheel's metadata carries it, ``engine.__version__`` is it.
- A ``systems.py`` (or a ``components`` package) of the user's, first on ``sys.path``, makes
  ``import games.minimal``, ``import systems`` and the plugin's ``frame_driver.install`` raise
  :class:`~engine.errors.ShadowedPackageError` naming both paths and the fix.
- ``ENGINE_PACKAGING_TEST=1``: ``python -m build`` makes a wheel and an sdist; each installs
  into a fresh venv (no system site-packages: pip downloads the real dependencies, so it needs
  the package registry, and takes minutes) and passes the plugin's example test there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

import engine
from engine.errors import ShadowedPackageError

try:  # tests/ may or may not be a package
    from test_plugin import build_wheel, clean_env
except ImportError:
    from tests.test_plugin import build_wheel, clean_env

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "components", "systems", "games")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout (built offline, from a copy)."""
    built, _how = build_wheel(tmp_path_factory.mktemp("wheel"))
    return built


def test_the_wheel_ships_py_typed_for_every_package_and_the_one_version(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").is_file(), f"{package}/py.typed in the checkout"
        assert f"{package}/py.typed" in names, f"{package}/py.typed in the wheel"
    assert "engine/glsl/minimal.vert" in names, "the shaders are package data"
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA")))
    version = re.search(rb"^Version: (.+)$", metadata, re.M)
    assert version and version.group(1).decode() == engine.__version__
    assert wheel.name == f"vkbuffers-{engine.__version__}-py3-none-any.whl"


def test_pyproject_reads_the_version_from_engine_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"], "one source: no second version number"
    assert project["project"]["dynamic"] == ["version"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "engine._version.__version__"
    from engine._version import __version__
    assert engine.__version__ == __version__ and re.fullmatch(r"\d+\.\d+\.\d+\S*", __version__)


USER_PROJECT = """
from engine import BufferManager, ManagedBuffer


def grow(manager: BufferManager, buffer: ManagedBuffer) -> None:
    reveal_type(manager.frame_number)
    reveal_type(manager.create_buffer)
    reveal_type(buffer.size)
    manager.resize_buffer(buffer, "twice as big")
"""


def run_mypy(project: Path, site: Path) -> str:
    env = clean_env(PYTHONPATH=str(site))
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental",
                          "--cache-dir", os.devnull, "app.py"], cwd=project, env=env,
                         capture_output=True, text=True, timeout=600)
    return run.stdout + run.stderr


@pytest.mark.slow  # about 10 s: mypy reads the whole installed engine twice
def test_mypy_sees_the_installed_librarys_types(wheel, tmp_path):
    pytest.importorskip("mypy", reason="mypy is in the dev extra: pip install -e '.[dev]'")
    site, project = tmp_path / "site", tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text(USER_PROJECT.lstrip())
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(site), str(wheel)], check=True, env=clean_env())

    typed = run_mypy(project, site)
    assert 'app.py:5: note: Revealed type is "int"' in typed, typed
    assert re.search(r'app.py:6: note: Revealed type is "def \(config: '
                     r'engine\.buffers\.types\.BufferConfig.*-> '
                     r'engine\.buffers\.types\.ManagedBuffer"', typed), typed
    assert 'app.py:7: note: Revealed type is "int"' in typed, "ManagedBuffer.size: " + typed
    assert re.search(r'app.py:8: error: Argument 2 to "resize_buffer" of "BufferManager" has '
                     r'incompatible type "str"; expected "int"', typed), typed

    (site / "engine" / "py.typed").unlink()  # the same install without the marker
    untyped = run_mypy(project, site)
    assert "missing library stubs or py.typed marker" in untyped, untyped
    assert 'Revealed type is "Any"' in untyped


def run_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """This interpreter in ``folder`` (first on sys.path), the checkout after it."""
    env = clean_env()  # keeps other PYTHONPATH entries (the GPU machine's package folder)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_user_systems_module_that_shadows_ours_gets_a_clear_error(tmp_path):
    (tmp_path / "systems.py").write_text("print('the user systems.py')\n")
    run = run_in(tmp_path, "-c", "import games.minimal")
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("engine.errors.ShadowedPackageError: import games (vkbuffers): ")
    assert f"'systems' is {tmp_path / 'systems.py'}" in last, last
    assert f"not vkbuffers' package {ROOT / 'systems'}" in last, last
    assert "Rename yours (for example to my_systems.py)" in last
    assert "the user systems.py" not in run.stdout, "refused before the user module ran"

    clean = tmp_path / "elsewhere"
    clean.mkdir()
    assert run_in(clean, "-c", "import games.minimal").returncode == 0, "no user module: fine"


def test_a_user_components_package_that_shadows_ours_gets_a_clear_error(tmp_path):
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "__init__.py").write_text("")
    run = run_in(tmp_path, "-c", "import systems")
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert "ShadowedPackageError: import systems (vkbuffers): the top-level name 'components'" \
        in last, last
    assert str(tmp_path / "components" / "__init__.py") in last


def test_the_plugins_frame_driver_names_a_shadowing_systems_module(tmp_path):
    (tmp_path / "systems.py").write_text("")
    (tmp_path / "test_mine.py").write_text(textwrap.dedent("""
        def test_uses_the_frame_driver(buffer_manager, frame_driver):
            frame_driver.install(buffer_manager)
        """))
    installed = subprocess.run([sys.executable, "-c", "import importlib.metadata as m; print("
                                "any(e.value == 'engine.testing.plugin' for e in "
                                "m.entry_points(group='pytest11')))"],
                               capture_output=True, text=True, check=True).stdout.strip()
    plugin = [] if installed == "True" else ["-p", "engine.testing.plugin"]
    run = run_in(tmp_path, "-m", "pytest", "-p", "no:cacheprovider", *plugin, "-q",
                 "--rootdir", str(tmp_path))
    assert run.returncode == 1, run.stdout[-3000:]
    assert "ShadowedPackageError: frame_driver.install: the top-level name 'systems' is " \
        f"{tmp_path / 'systems.py'}" in run.stdout, run.stdout[-3000:]


def test_the_error_is_an_import_error_and_an_engine_error():
    assert issubclass(ShadowedPackageError, ImportError)
    assert issubclass(ShadowedPackageError, engine.EngineError)
    from engine.packages import require_own_package
    for package in PACKAGES:
        require_own_package(package, "this test")  # the checkout's own: no error


@pytest.mark.skipif(os.environ.get("ENGINE_PACKAGING_TEST") != "1",
                    reason="needs the package registry and minutes: ENGINE_PACKAGING_TEST=1")
@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_python_m_build_makes_a_wheel_and_an_sdist_that_install_and_pass_the_plugin_test(
        kind, tmp_path):
    src, dist = tmp_path / "src", tmp_path / "dist"
    copy_checkout(src)
    subprocess.run([sys.executable, "-m", "build", f"--{kind}", "--outdir", str(dist),
                    str(src)], check=True, env=clean_env(), capture_output=True, timeout=900)
    [artifact] = dist.iterdir()
    suffix = ".whl" if kind == "wheel" else ".tar.gz"
    assert artifact.name == f"vkbuffers-{engine.__version__}" + (
        "-py3-none-any.whl" if kind == "wheel" else ".tar.gz"), artifact.name
    assert artifact.name.endswith(suffix)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # no system packages
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", f"{artifact}[test]"], check=True,
                   env=clean_env(), timeout=1800)
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "test_minimal_example.py").write_text(
        (ROOT / "tests" / "test_minimal_example.py").read_text())
    run = subprocess.run([python, "-m", "pytest", "-p", "no:cacheprovider", "-rA"], cwd=folder,
                         env=clean_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "vkbuffers: vk_context device=auto" in run.stdout, "the installed plugin was loaded"
    assert "PASSED test_minimal_example.py::test_spin_system_writes_each_frame" in run.stdout
    where = subprocess.run([python, "-c", "import engine, esper, numpy; print(engine.__file__, "
                            "esper.__file__, numpy.__file__)"], cwd=folder, env=clean_env(),
                           capture_output=True, text=True, check=True).stdout
    assert all(path.startswith(str(venv)) for path in where.split()), where


def copy_checkout(dest: Path) -> None:
    """The files an sdist is made from: the packages, pyproject.toml and README.md."""
    import shutil

    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, dest / name)
