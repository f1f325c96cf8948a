"""Hostile cases: each one runs in its own Python process, so a crash is a failing test.

A case is a snippet of Python that uses only public names (``engine``, ``components``,
``systems`` and the subpackages their docs name). The child process runs it as the body of
a function with these names ready:

- ``ctx``: a ``GraphicsContext`` with validation and synchronisation validation on;
- ``np``, ``esper``, ``engine`` (the package), and every name of ``engine.__all__``;
- ``raises(ErrorClass, match=None)``: a context manager asserting that the block raises that
  ``EngineError`` subclass (any other exception, or none, fails the case);
- ``check(condition, text)``: an assertion that names the case's rule.

After the body the child closes ``ctx`` (which closes every manager and binder made on it),
collects the validation layer's messages (errors, warnings, and the leak report of
``vkDestroyDevice``), and prints one JSON line. The parent fails the case on a signal
("crash"), a non-zero exit, a raw (non-``EngineError``) exception, a failed ``check``
("wrong data" when the case says so), or any validation message ("leak" when the message is
about objects not destroyed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]

CLASSES = {
    1: "lifetimes across objects",
    2: "threads",
    3: "bytes from disk",
    4: "numbers",
    5: "identity and mutable fields",
    6: "ECS world changes",
    7: "host-write hazards within a frame",
    8: "deferred writes",
    9: "Ctrl-C",
    10: "use without frames",
    11: "recovery",
    12: "raw exceptions and messages",
}


@dataclass(frozen=True)
class Case:
    """One hostile case: its defect class (1-12, :data:`CLASSES`), a name and the snippet.

    ``wrong_data`` marks cases whose ``check`` calls verify bytes (a failed check counts as
    wrong data in the table, not as a plain failure). ``env`` adds environment variables.
    ``timeout`` is a safety net against a hang only (seconds); no case relies on time.
    """

    cls: int
    name: str
    code: str
    wrong_data: bool = False
    env: tuple[tuple[str, str], ...] = ()
    timeout: float = 300.0

    @property
    def id(self) -> str:
        return f"c{self.cls:02d}-{self.name}"


PRELUDE = '''
import json, os, sys, traceback, contextlib, gc
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
import numpy as np
import esper
import engine
from engine import *  # noqa
from engine.device.debug import SINK

class CaseFailed(Exception):
    pass

def check(condition, text="check failed"):
    if not condition:
        raise CaseFailed(text)

@contextlib.contextmanager
def raises(error, match=None):
    try:
        yield
    except error as exc:
        if not isinstance(exc, engine.EngineError):
            raise CaseFailed(f"{type(exc).__name__} is not an EngineError: {exc}")
        if match is not None and match not in str(exc):
            raise CaseFailed(f"message {str(exc)!r} does not contain {match!r}")
        return
    except engine.EngineError as exc:
        raise CaseFailed(f"expected {error.__name__}, got {type(exc).__name__}: {exc}")
    raise CaseFailed(f"expected {error.__name__}, nothing was raised")

result = {"outcome": "ok", "detail": "", "messages": []}
ctx = GraphicsContext.create(validation=True, sync_validation=True)
def _case():
'''

EPILOGUE = '''
try:
    _case()
except CaseFailed as exc:
    result["outcome"], result["detail"] = "check", str(exc)
except engine.EngineError as exc:
    result["outcome"] = "engine_error"
    result["detail"] = f"{type(exc).__name__}: {exc}"
except BaseException as exc:
    result["outcome"] = "raw_exception"
    result["detail"] = "".join(traceback.format_exception(exc))[-3000:]
try:
    gc.collect()
    ctx.close()
except BaseException as exc:
    if result["outcome"] == "ok":
        result["outcome"] = "close_failed"
        result["detail"] = "".join(traceback.format_exception(exc))[-3000:]
result["messages"] = [str(m)[:600] for m in SINK.take()]
sys.stdout.write("\\nHOSTILE-RESULT " + json.dumps(result) + "\\n")
sys.stdout.flush()
os._exit(0)
'''


@dataclass
class Outcome:
    """What one case did: ``kind`` is ok, crash, raw_exception, check, wrong_data, leak,
    validation, engine_error (an EngineError the case did not expect), close_failed, hang or
    exit; ``detail`` explains it."""

    kind: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


def script_for(case: Case) -> str:
    return PRELUDE + textwrap.indent(textwrap.dedent(case.code).strip() + "\n", "    ") \
        + "    pass\n" + EPILOGUE


def run_case(case: Case) -> Outcome:
    """Run ``case`` in a fresh interpreter and classify what happened."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT) + (os.pathsep + env["PYTHONPATH"]
                                        if env.get("PYTHONPATH") else "")
    env.setdefault("XDG_RUNTIME_DIR", "/tmp")
    env.update(dict(case.env))
    try:
        proc = subprocess.run([sys.executable, "-c", script_for(case)], capture_output=True,
                              text=True, env=env, timeout=case.timeout, cwd=PROJECT)
    except subprocess.TimeoutExpired:
        return Outcome("hang", f"no result after {case.timeout} s")
    tail = (proc.stdout[-2000:] + "\n" + proc.stderr[-4000:]).strip()
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        return Outcome("crash", f"killed by {name}\n{tail}")
    line = next((ln for ln in reversed(proc.stdout.splitlines())
                 if ln.startswith("HOSTILE-RESULT ")), None)
    if line is None:
        return Outcome("exit", f"exit status {proc.returncode} without a result\n{tail}")
    result = json.loads(line[len("HOSTILE-RESULT "):])
    kind, detail = result["outcome"], result["detail"]
    if kind == "check" and case.wrong_data:
        kind = "wrong_data"
    if kind == "ok" and result["messages"]:
        text = "\n".join(result["messages"])
        leaked = any(w in text for w in ("not destroyed", "ObjectTracker", "has not been "
                                         "destroyed", "05137"))
        kind, detail = ("leak" if leaked else "validation"), text
    return Outcome(kind, detail)
