"""Test helpers for people who test their own ECS systems against a real Vulkan driver.

The pytest plugin (:mod:`engine.testing.plugin`) is registered through the ``pytest11`` entry
point, so installing the project makes its fixtures available in any test directory. The
classes behind the fixtures, for type hints in your tests::

    from engine.testing import FrameDriver, ReadBack, ValidationLog
"""

from __future__ import annotations

from engine.testing.frames import FrameDriver
from engine.testing.readback import ReadBack, find_block
from engine.testing.validation import MessageOrigin, ValidationLog

__all__ = ["FrameDriver", "MessageOrigin", "ReadBack", "ValidationLog", "find_block"]
