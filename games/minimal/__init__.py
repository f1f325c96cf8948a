"""games/minimal: the smallest complete program on the buffer subsystem (see game.py)."""

from __future__ import annotations

from games.minimal.game import SPIN, Spinner, SpinSystem, TrianglePass, main

__all__ = ["SPIN", "SpinSystem", "Spinner", "TrianglePass", "main"]
