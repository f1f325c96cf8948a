"""Test helpers for people who test their own ECS systems against a real Vulkan driver.

The pytest plugin (:mod:`engine.testing.plugin`) is registered through the ``pytest11`` entry
point, so installing the project makes its fixtures available in any test directory.
"""
