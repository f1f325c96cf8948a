"""The project's top-level packages, and a clear error when a module of yours hides one.

The project installs ``engine``, ``components``, ``systems`` and ``games`` side by side (in
site-packages, or in a checkout). Python imports the first match on ``sys.path``, and the folder
of the script you run (or of your tests, under pytest) comes first: a ``systems.py`` of your own
there hides our ``systems`` package, and the import that needed ours would fail later with a
puzzling ``ImportError`` (or, worse, run your module). So the modules that import a sibling
package call :func:`require_own_package` first, which raises
:class:`~engine.errors.ShadowedPackageError` naming both paths and the fix.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from engine.errors import ShadowedPackageError

ROOT = Path(__file__).resolve().parent.parent
"""The folder that holds ``engine/`` and, beside it, the other top-level packages."""

PACKAGES = ("engine", "components", "systems", "games")
"""The project's top-level package names (fixed: games and tests import them by these names)."""


def locate(name: str) -> tuple[list[Path], str | None]:
    """Where ``import name`` resolves: the package folders and the file, without importing it
    (``sys.modules`` first, then the path finders). ``([], None)`` when nothing is found."""
    module = sys.modules.get(name)
    if module is not None:
        folders = list(getattr(module, "__path__", None) or [])
        origin = getattr(module, "__file__", None)
    else:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return [], None
        if spec is None:
            return [], None
        folders = list(spec.submodule_search_locations or [])
        origin = spec.origin
    return [Path(f) for f in folders], origin


def require_own_package(name: str, what: str) -> None:
    """Raise :class:`~engine.errors.ShadowedPackageError` unless ``import name`` gives this
    project's package (the folder beside ``engine/``); ``what`` names the import that needs
    it. A name that resolves nowhere is left to the import itself to report."""
    expected = ROOT / name
    folders, origin = locate(name)
    if not folders and origin is None:
        return
    if any(f.resolve() == expected.resolve() for f in folders):
        return
    found = origin if origin not in (None, "namespace") else \
        ", ".join(str(f) for f in folders) or "a module without a file"
    raise ShadowedPackageError(
        f"{what}: the top-level name {name!r} is {found}, not vkbuffers' package {expected}: "
        f"a module of yours named {name} comes first on sys.path and hides it. Rename yours "
        f"(for example to my_{name}.py), or run from a folder that does not hold it.")
