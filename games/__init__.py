"""Runnable programs that use the subsystem (``python -m games.<name>``)."""
