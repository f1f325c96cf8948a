"""The one source of the project's version: pyproject.toml reads it (``dynamic``), as do
:data:`engine.__version__` and the documentation."""

__version__ = "0.1.0"
