"""Project test configuration: the fixtures come from the shipped plugin (engine.testing)."""

from __future__ import annotations

import importlib.metadata
import os

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

_registered = any(ep.value == "engine.testing.plugin"
                  for ep in importlib.metadata.entry_points(group="pytest11"))
if not _registered:  # running from a checkout that was not pip-installed (e.g. the GPU box)
    pytest_plugins = ["engine.testing.plugin"]


import pytest  # noqa: E402


@pytest.fixture
def staged_uploads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Managers made in the test write DEVICE_LOCAL buffers through staging only
    (``ENGINE_DIRECT_WRITES=0``): for tests of the staging ring, its counters and its
    submissions, which a direct write (the default on GPUs with resizable BAR) would skip."""
    monkeypatch.setenv("ENGINE_DIRECT_WRITES", "0")
