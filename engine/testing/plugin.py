"""pytest plugin: test your own ECS systems against a real Vulkan driver, with validation on.

Installing the project registers it (the ``pytest11`` entry point ``vkbuffers``), so any test
directory gets these fixtures without a conftest:

===================  =============================================================================
``vk_context``       a headless :class:`~engine.device.context.GraphicsContext` (lavapipe, or
                     ``--vk-device``) with the Khronos validation layer and synchronisation
                     validation on; closed after the test, so leaked objects are reported (and
                     fail the test).
``validation``       the test's :class:`~engine.testing.validation.ValidationLog`:
                     ``expect(fragment)`` consumes a message you provoke on purpose,
                     ``assert_clean(when)`` fails on any other, ``during(label)`` labels a block.
``buffer_manager``   ``BufferManager(vk_context, frames_in_flight=3)``, closed after the test.
``resource_binder``  ``ResourceBinder`` with the manager's ``frames_in_flight``, closed first.
``ecs_world``        a fresh esper world, switched to for the test and deleted afterwards.
``frame_driver``     :class:`~engine.testing.frames.FrameDriver`: ``install(manager, binder)``
                     adds the BufferSystem/BindingSystem, ``step(n)`` runs n frames of the schedule.
``read_back``        :class:`~engine.testing.readback.ReadBack`: buffers as numpy arrays typed by a
                     shader block's reflected dtype (``block``, ``elements``, ``array``).
===================  =============================================================================

Any validation message fails the test that caused it: at the end of the frame that caused it
(``frame_driver.step``), at the end of the test body, or at teardown (leaks). The report names
each message, when it came (test phase, or frame/phase/system) and the lines that caused it.

Options: ``--vk-device NAME`` picks the physical device (an index or a case-insensitive name
fragment such as ``llvmpipe`` or ``nvidia``; default: ``$ENGINE_DEVICE``, else a GPU, else
lavapipe). ``--no-sync-validation`` turns synchronisation validation off (faster; the core
validation stays on).

Importing this module needs no display and no window system: systems are imported on first use.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import esper
import numpy as np
import pytest

from engine.binding.binder import ResourceBinder
from engine.buffers.manager import BufferManager
from engine.buffers.types import ManagedBuffer
from engine.device.context import GraphicsContext
from engine.testing.frames import FrameDriver
from engine.testing.readback import ReadBack, find_block
from engine.testing.validation import MessageOrigin, ValidationLog

__all__ = ["FrameDriver", "MessageOrigin", "ReadBack", "ValidationLog", "find_block",
           "read_array"]

_LOG = pytest.StashKey[ValidationLog]()


# --- options and hooks -----------------------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vkbuffers", "Vulkan buffer subsystem (engine.testing.plugin)")
    group.addoption("--vk-device", default=None, metavar="NAME",
                    help="physical device for vk_context: an index or a name fragment such as "
                         "'llvmpipe' or 'nvidia' (default: $ENGINE_DEVICE, else a GPU, else "
                         "lavapipe)")
    group.addoption("--no-sync-validation", action="store_true", default=False,
                    help="turn synchronisation validation off in vk_context (faster; core "
                         "validation stays on)")


def pytest_report_header(config: pytest.Config) -> str:
    device = config.getoption("--vk-device") or "auto"
    sync = "off" if config.getoption("--no-sync-validation") else "on"
    return f"vkbuffers: vk_context device={device}, validation on, sync validation {sync}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    ValidationLog.phase = "setup"
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After a test body that passed, fail it on any validation message it left."""
    ValidationLog.phase = "call"
    result = yield
    log = item.stash.get(_LOG, None)
    if log is not None:
        log.assert_clean("during the test (setup or body)")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    ValidationLog.phase = "teardown"
    try:
        return (yield)
    finally:
        ValidationLog.phase = "setup"


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture
def validation(request: pytest.FixtureRequest) -> Iterator[ValidationLog]:
    """The validation messages of this test; any left unconsumed fail it."""
    log = ValidationLog()
    request.node.stash[_LOG] = log
    try:
        yield log
        log.assert_clean("during the test's teardown")
    finally:
        log.close()
        del request.node.stash[_LOG]


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
        with validation.during("teardown: vk_context.close() (leaks are reported here)"):
            ctx.close()
    validation.assert_clean("at teardown (leaked objects are reported when the device closes)")


@pytest.fixture
def buffer_manager(vk_context: GraphicsContext) -> Iterator[BufferManager]:
    """``BufferManager(vk_context, frames_in_flight=3)``, closed after the test."""
    manager = BufferManager(vk_context, frames_in_flight=3)
    yield manager
    manager.close()


@pytest.fixture
def resource_binder(vk_context: GraphicsContext, buffer_manager: BufferManager
                    ) -> Iterator[ResourceBinder]:
    """A ResourceBinder paired with ``buffer_manager`` (same frames in flight), closed first."""
    binder = ResourceBinder(vk_context, frames_in_flight=buffer_manager.frames_in_flight)
    yield binder
    binder.close()


@pytest.fixture
def ecs_world() -> Iterator[str]:
    """A fresh esper world for the test; the previous world is restored afterwards."""
    previous = esper.current_world
    name = f"test-{uuid.uuid4().hex}"
    esper.switch_world(name)
    yield name
    esper.switch_world(previous if previous != name else "default")
    esper.delete_world(name)


@pytest.fixture
def frame_driver(ecs_world: str, validation: ValidationLog) -> FrameDriver:
    """Steps frames of the test's esper world; ``install(manager, binder)`` adds the engine's
    BufferSystem and BindingSystem so a frame is the real schedule."""
    return FrameDriver(validation)


@pytest.fixture
def read_back(request: pytest.FixtureRequest, buffer_manager: BufferManager) -> ReadBack:
    """Typed reads of ``buffer_manager``'s buffers; pipeline ids resolve through the
    ``resource_binder`` fixture (created on first use)."""
    return ReadBack(buffer_manager, lambda: request.getfixturevalue("resource_binder"))


def read_array(manager: BufferManager, buffer: ManagedBuffer, dtype: Any = None
               ) -> np.ndarray[Any, Any]:
    """The buffer's bytes as an array of ``dtype`` (default: the buffer's own dtype)."""
    return manager.read_array(buffer, dtype)
