"""Direct device-local writes: small DEVICE_LOCAL buffers in DEVICE_LOCAL|HOST_VISIBLE memory
are written in place when nothing is in flight, and staged otherwise (lavapipe's one memory
type is DEVICE_LOCAL|HOST_VISIBLE, so ``direct_writes=True`` exercises the path here)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.binding.pipelines import FrameCommands
from engine.buffers.manager import DIRECT_MAX_BYTES, BufferManager
from engine.buffers.types import BufferConfig, BufferStrategy, BufferUsage
from engine.errors import InvalidOptionError

D = BufferStrategy.DEVICE_LOCAL


@pytest.fixture
def direct(vk_context):
    manager = BufferManager(vk_context, direct_writes=True)
    yield manager
    manager.close()


def test_writes_with_nothing_in_flight_go_in_place(direct):
    buf = direct.create_buffer(BufferConfig("d", 4096, D))
    assert direct.statistics().direct_buffers == 1
    direct.update_buffer(buf, b"\x07" * 4096)
    stats = direct.statistics()
    assert stats.direct_writes_total == 1 and stats.uploads_total == 0
    assert direct.read_buffer(buf) == b"\x07" * 4096
    assert buf.strategy is D  # still a DEVICE_LOCAL buffer: read back through a copy


def test_a_pending_copy_into_the_buffer_keeps_later_writes_in_order(direct):
    buf = direct.create_buffer(BufferConfig("d", 64, D, BufferUsage.STORAGE, np.dtype(np.uint32)))
    direct.update_rows(buf, [1, 2], np.array([5, 6], np.uint32))  # staged, not recorded yet
    direct.update_buffer(buf, np.full(16, 9, np.uint32))  # must not be overtaken by it
    assert direct.statistics().direct_writes_total == 0
    assert np.all(direct.read_array(buf) == 9)


def test_writes_while_gpu_work_is_queued_are_staged(direct):
    """Queued work runs after the write's point in the frame; a direct write would not stay
    ordered with it, so the write is staged (work already submitted is polled: a direct write
    only happens once it completed)."""
    from engine.device.vk import lib

    buf = direct.create_buffer(BufferConfig("d", 256, D))
    commands = FrameCommands(direct)
    direct.begin_frame()
    cmd = commands.begin()
    lib.vkEndCommandBuffer(cmd)
    direct.frames.queue(cmd)  # recorded work waiting for the frame's next submission
    direct.update_buffer(buf, b"\x01" * 256)
    assert direct.statistics().direct_writes_total == 0
    assert direct.statistics().uploads_this_frame == 1
    direct.end_frame()
    assert direct.read_buffer(buf) == b"\x01" * 256
    commands.close()


def test_resize_and_large_buffers(direct):
    big = direct.create_buffer(BufferConfig("big", DIRECT_MAX_BYTES + 1, D))
    assert direct.statistics().direct_buffers == 0  # too large for the window: ordinary memory
    small = direct.create_buffer(BufferConfig("small", 128, D))
    direct.update_buffer(small, bytes(range(128)))
    direct.resize_buffer(small, 256)  # GPU copy into the new buffer: writes wait for it
    direct.update_buffer(small, b"\xff" * 16, offset=200)
    assert direct.read_buffer(small) == bytes(range(128)) + bytes(72) + b"\xff" * 16 + bytes(40)
    direct.destroy_buffer(big)


def test_the_option_is_checked(vk_context, monkeypatch):
    monkeypatch.delenv("ENGINE_DIRECT_WRITES", raising=False)
    with pytest.raises(InvalidOptionError):
        BufferManager(vk_context, direct_writes="yes")
    manager = BufferManager(vk_context)
    bar = [t for t in vk_context.memory_types if t.flags & 0x3 == 0x3]  # DEVICE_LOCAL|HOST_VISIBLE
    assert manager.direct_writes is (bool(bar) and not vk_context.is_software)
    manager.close()
