"""Sphinx configuration of the vkbuffers documentation (``make docs`` -> build/docs/html).

Pages are MyST Markdown; the API reference comes from the docstrings (autodoc, with type
hints in the descriptions). No extension here reaches the network (no intersphinx), so the
build works offline; ``tests/test_docs.py`` runs it with warnings as errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's engine/, components/, systems/, games/

from engine._version import __version__  # noqa: E402  (one source: pyproject reads it too)

project = "vkbuffers"
author = "the vkbuffers authors"
copyright = "the vkbuffers authors"
release = version = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"vkbuffers {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False

autodoc_typehints = "description"
autodoc_typehints_description_target = "all"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # "Attributes:" as fields: the properties are documented once

nitpicky = True
# Types of other projects: without intersphinx (no network in the build) there is nothing to
# link them to, so they are shown as plain names.
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|esper|cffi|pytest|_pytest|pathlib|collections|typing|"
               r"enum|dataclasses|threading|types|os)(\..*)?"),
    (r"py:.*", r"(Any|Callable|Iterator|Iterable|Sequence|Mapping|NoReturn|Self|TypeVar|"
               r"ParamSpec|P|R|T|Path|NDArray|ndarray|dtype|DTypeLike)"),
    (r"py:.*", r"(int|float|str|bytes|bytearray|bool|None|object|list|dict|tuple|set|"
               r"frozenset|type|memoryview|Exception|BaseException|ValueError|TypeError|"
               r"AttributeError|ImportError|KeyboardInterrupt)"),
    (r"py:mod", r"logging"),
    (r"py:class", r"(.*\.)?_\w+"),  # private protocols in signatures (duck types)
    (r"py:class", r"(~?P|(.*\.)?[PRT])"),  # ParamSpec / TypeVar names
]
# Ambiguous short names in type hints (e.g. the builtin ``set`` vs. two ``.set`` attributes).
suppress_warnings = ["ref.python"]


def _skip_napoleon_for_values(app: object) -> None:
    """napoleon reads an attribute's or constant's docstring "Text: more" as "type: text";
    ours are plain prose, so napoleon only formats functions, classes and modules."""
    from sphinx.ext import napoleon

    def process(app: object, what: str, name: str, obj: object, options: object,
                lines: list[str]) -> None:
        if what not in ("attribute", "data", "property"):
            napoleon._process_docstring(app, what, name, obj, options, lines)

    listeners = app.events.listeners["autodoc-process-docstring"]  # type: ignore[attr-defined]
    for i, listener in enumerate(listeners):
        if listener.handler is napoleon._process_docstring:
            listeners[i] = listener._replace(handler=process)


def setup(app: object) -> None:
    app.connect("builder-inited", _skip_napoleon_for_values)  # type: ignore[attr-defined]
