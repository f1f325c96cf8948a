"""engine/ is layered: a module imports only from its own layer or the layers below it, and
there are no import cycles between layers (docs/ARCHITECTURE.md lists the order)."""

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
