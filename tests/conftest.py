"""Project test configuration: the fixtures come from the shipped plugin (engine.testing)."""

from __future__ import annotations

import importlib.metadata
import os
import signal

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

# A shell starts a background job (`make test &`, nohup) with SIGINT ignored, and Python then
# keeps it ignored: every Ctrl-C test (and the subprocesses they start, which inherit it) would
# see no interrupt at all. The suite tests Ctrl-C, so it restores Python's own handler.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

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
