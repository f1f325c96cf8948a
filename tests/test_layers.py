"""engine/ is layered: a module imports only from its own layer or the layers below it, and
there are no import cycles between layers (docs/ARCHITECTURE.md lists the order); no module
of the library reads another module's private (underscore) attributes."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "engine"
LAYERS = ["", "device", "memory", "frames", "shaders", "buffers", "binding", "render",
          "testing"]
"""Bottom to top; "" is engine/'s own modules (errors, numbers, identity, schedule)."""


def _layer(module: str) -> int:
    """engine.errors -> 0; engine.memory and engine.memory.blocks -> memory's index."""
    parts = module.split(".")
    sub = parts[1] if len(parts) > 1 and parts[1] in LAYERS else ""
    return LAYERS.index(sub)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("engine"):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("engine.")]
    return found


def test_no_engine_module_imports_a_higher_layer():
    upward = []
    for path in sorted(ENGINE.rglob("*.py")):
        rel = path.relative_to(ENGINE.parent).with_suffix("")
        module = ".".join(rel.parts)
        if module == "engine.__init__" or rel.parts[-1] == "__init__":
            continue
        own = _layer(module)
        for target in _imports(path):
            if target == "engine":
                continue
            if _layer(target) > own:
                upward.append(f"{module} imports {target}")
    assert not upward, "\n".join(upward)


def test_the_layer_check_sees_an_upward_import():
    assert _layer("engine.memory.blocks") > _layer("engine.device.vk") > _layer("engine.errors")
    assert _layer("engine.buffers") == _layer("engine.buffers.manager")


ROOTS = [ENGINE.parent / name for name in ("engine", "systems", "components", "games")]


def foreign_private_reads(source: str) -> list[tuple[int, str]]:
    """``(line, attribute)`` for every ``x._name`` in ``source`` where ``x`` is not ``self`` or
    ``cls`` and ``_name`` is not defined in the module itself (as a function, class, assigned
    name, ``self._name`` attribute or a string such as a slot name): a read of another
    module's object's private state."""
    tree = ast.parse(source)
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own.add(node.name)
        elif isinstance(node, ast.Name):
            own.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            own.add(node.value)
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id in ("self", "cls")):
            own.add(node.attr)
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__") and node.attr not in own
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
            found.append((node.lineno, node.attr))
    return found


def test_no_module_reads_another_modules_private_attributes():
    reads = []
    for root in ROOTS:
        for path in sorted(root.rglob("*.py")):
            for line, attr in foreign_private_reads(path.read_text()):
                reads.append(f"{path.relative_to(ENGINE.parent)}:{line}: .{attr}")
    assert not reads, "\n".join(reads)


def test_the_private_read_check_sees_one():
    assert foreign_private_reads("import esper\nfor p in esper._processors:\n    pass\n") == [
        (2, "_processors")]
    assert foreign_private_reads("def f(b):\n    return b._record\n") == [(2, "_record")]
    assert foreign_private_reads(
        "class A:\n    def __init__(self):\n        self._x = 1\n    def same(self, o):\n"
        "        return o._x\n") == []
