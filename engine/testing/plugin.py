"""pytest plugin: real-driver fixtures with validation and leak checks.

Fixtures:

- ``vk_context``: a headless :class:`~engine.GraphicsContext` (lavapipe, or ``--vk-device``)
  with the Khronos validation layer and synchronisation validation on; the test fails on any
  validation message, including leaks reported when the device is destroyed.
- ``validation``: the :class:`ValidationLog` of this test: ``expect(id)`` consumes a message you
  provoke on purpose.
- ``buffer_manager``: a ``BufferManager(vk_context, frames_in_flight=3)``, closed afterwards.
- ``ecs_world``: a fresh esper world, switched to for the test and deleted afterwards.
- ``frame_driver``: steps N frames of the current world through the real schedule.

Options: ``--vk-device NAME`` picks a device (index or name fragment); ``--no-sync-validation``
turns synchronisation validation off for speed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import esper
import numpy as np
import pytest

from engine.buffer_manager import BufferManager
from engine.buffer_types import ManagedBuffer
from engine.context import GraphicsContext
from engine.debug import SINK, DebugMessage


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vkbuffers", "Vulkan buffer subsystem")
    group.addoption("--vk-device", default=None,
                    help="physical device index or name fragment (default: GPU, else lavapipe)")
    group.addoption("--no-sync-validation", action="store_true", default=False,
                    help="turn synchronisation validation off (faster)")


class ValidationLog:
    """The validation messages of one test."""

    def __init__(self) -> None:
        SINK.clear()

    @property
    def messages(self) -> list[DebugMessage]:
        return list(SINK.messages)

    def ids(self) -> list[str]:
        return [m.message_id for m in SINK.messages]

    def expect(self, fragment: str) -> list[DebugMessage]:
        """Consume the messages whose id or text contains ``fragment``; fail if none came."""
        hits = [m for m in SINK.messages if fragment in m.message_id or fragment in m.text]
        if not hits:
            pytest.fail(f"expected a validation message containing {fragment!r}; got "
                        f"{[str(m) for m in SINK.messages]}")
        with SINK._lock:
            SINK.messages = [m for m in SINK.messages if m not in hits]
        return hits

    def assert_clean(self, when: str) -> None:
        left = SINK.take()
        if left:
            text = "\n".join(f"  {m}" for m in left[:20])
            pytest.fail(f"{len(left)} validation message(s) {when}:\n{text}", pytrace=False)


@pytest.fixture
def validation() -> Iterator[ValidationLog]:
    log = ValidationLog()
    yield log
    log.assert_clean("during the test")


@pytest.fixture
def vk_context(request: pytest.FixtureRequest, validation: ValidationLog
               ) -> Iterator[GraphicsContext]:
    """A validated headless context, closed (and leak-checked) after the test."""
    ctx = GraphicsContext.create(
        validation=True, device=request.config.getoption("--vk-device"),
        sync_validation=not request.config.getoption("--no-sync-validation"))
    try:
        yield ctx
    finally:
        ctx.close()
    validation.assert_clean("at teardown (leaked objects are reported when the device closes)")


@pytest.fixture
def buffer_manager(vk_context: GraphicsContext) -> Iterator[BufferManager]:
    manager = BufferManager(vk_context, frames_in_flight=3)
    yield manager
    manager.close()


@pytest.fixture
def ecs_world() -> Iterator[str]:
    """A fresh esper world for the test; the previous world is restored afterwards."""
    previous = esper.current_world
    name = f"test-{uuid.uuid4().hex}"
    esper.switch_world(name)
    yield name
    esper.switch_world(previous if previous != name else "default")
    esper.delete_world(name)


class FrameDriver:
    """Runs whole frames of the current esper world (BEGIN ... END phases)."""

    def __init__(self) -> None:
        self.frames = 0

    def step(self, frames: int = 1, dt: float = 1 / 60) -> None:
        for _ in range(frames):
            esper.process(dt)
            self.frames += 1


@pytest.fixture
def frame_driver(ecs_world: str) -> FrameDriver:
    return FrameDriver()


def read_array(manager: BufferManager, buffer: ManagedBuffer, dtype: Any = None
               ) -> np.ndarray[Any, Any]:
    """The buffer's bytes as an array of ``dtype`` (default: the buffer's own dtype)."""
    return manager.read_array(buffer, dtype)
