"""Project test configuration: the fixtures come from the shipped plugin (engine.testing)."""

from __future__ import annotations

import importlib.metadata
import os

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

_registered = any(ep.value == "engine.testing.plugin"
                  for ep in importlib.metadata.entry_points(group="pytest11"))
if not _registered:  # running from a checkout that was not pip-installed (e.g. the GPU box)
    pytest_plugins = ["engine.testing.plugin"]
