"""Frame slots and the queue timeline: per-queue completion, same-frame hazards, bounded use
without frames, the owner-thread rule, interrupts during read-back."""

from __future__ import annotations

import threading

import pytest

import engine.errors as E  # noqa: N812
from engine import BufferConfig, BufferManager, BufferStrategy, BufferUsage, FrameCommands
from engine.device.vk import ffi, lib

pytestmark = pytest.mark.usefixtures("staged_uploads")  # staging mechanics are tested here

S = BufferStrategy
MIB = 1 << 20


def test_a_buffer_read_by_another_managers_submission_is_freed_after_that_work(
        vk_context, validation):
    a = BufferManager(vk_context)
    b = BufferManager(vk_context)
    src = a.create_buffer(BufferConfig("a-src", 4 * MIB, S.DEVICE_LOCAL))
    dst = b.create_buffer(BufferConfig("b-dst", 4 * MIB, S.DEVICE_LOCAL))
    a.update_buffer(src, b"\x07" * (4 * MIB))
    a.begin_frame()
    a.end_frame()  # the upload of src is submitted
    b.begin_frame()
    commands = FrameCommands(b)
    cmd = commands.begin()
    region = ffi.new("VkBufferCopy*", {"srcOffset": 0, "dstOffset": 0, "size": 4 * MIB})
    lib.vkCmdCopyBuffer(cmd, src.handle, dst.handle, 1, region)
    commands.submit(cmd)  # B's GPU work reads A's buffer, B does not wait for it
    a.begin_frame()
    a.destroy_buffer(src)  # retired while B's copy may run
    a.end_frame()
    for _ in range(4):  # A's slot comes round: it must wait for the queue, not only for A
        a.begin_frame()
        a.end_frame()
    b.end_frame()
    assert b.read_buffer(dst, 0, 16) == b"\x07" * 16
    validation.assert_clean("a buffer read by another manager's GPU work, then destroyed")
    commands.close()
    b.close()
    a.close()


def test_a_host_write_after_a_same_frame_submission_is_a_hazard(buffer_manager):
    m = buffer_manager
    buf = m.create_buffer(BufferConfig("u", 256, S.HOST_VISIBLE, BufferUsage.UNIFORM))
    m.begin_frame()
    m.update_buffer(buf, b"\x01" * 256)
    m.update_buffer(buf, b"\x02" * 256)  # no submission in between: fine
    commands = FrameCommands(m)
    commands.submit(commands.begin())  # GPU work that may read it
    with pytest.raises(E.HostWriteHazardError, match="same frame"):
        m.update_buffer(buf, b"\x03" * 256)
    assert m.read_buffer(buf) == b"\x02" * 256  # read-back waits: the work is complete now
    m.update_buffer(buf, b"\x04" * 256)  # known complete, so no hazard any more
    m.end_frame()
    commands.close()


def test_use_without_frames_stays_bounded(buffer_manager):
    m = buffer_manager
    buf = m.create_buffer(BufferConfig("d", 4096, S.DEVICE_LOCAL))
    for i in range(300):
        m.update_buffer(buf, bytes([i % 251]) * 4096)
        assert m.read_buffer(buf, 0, 4) == bytes([i % 251]) * 4
    assert m.frames.commands.allocated <= 4, "command buffers grew without frames"
    big = m.create_buffer(BufferConfig("big", 16 * MIB, S.DEVICE_LOCAL))
    for i in range(12):
        m.update_buffer(big, bytes([i]) * (16 * MIB))
    assert m.statistics().staging_capacity <= 48 * MIB, "staging grew without frames"
    assert m.read_buffer(big, 16 * MIB - 8, 8) == bytes([11]) * 8
    for _ in range(200):  # create + destroy without frames: retirements are freed
        m.destroy_buffer(m.create_buffer(BufferConfig("t", 256, S.HOST_VISIBLE)))
        m.read_buffer(buf, 0, 4)
    assert m.statistics().pending_destroy_count <= 1


@pytest.mark.parametrize("call", ["update_buffer", "read_buffer", "create_buffer",
                                  "begin_frame", "destroy_buffer", "statistics", "close"])
def test_calls_from_another_thread_raise_wrong_thread(buffer_manager, call):
    m = buffer_manager
    buf = m.create_buffer(BufferConfig("b", 256, S.HOST_VISIBLE))
    actions = {
        "update_buffer": lambda: m.update_buffer(buf, b"x" * 16),
        "read_buffer": lambda: m.read_buffer(buf),
        "create_buffer": lambda: m.create_buffer(BufferConfig("c", 64)),
        "begin_frame": m.begin_frame,
        "destroy_buffer": lambda: m.destroy_buffer(buf),
        "statistics": m.statistics,
        "close": m.close,
    }
    caught: list[BaseException] = []

    def run() -> None:
        try:
            actions[call]()
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=run, name="worker")
    thread.start()
    thread.join(60)
    assert len(caught) == 1 and isinstance(caught[0], E.WrongThreadError), caught
    assert "worker" in str(caught[0])
    assert buf.alive and not m.closed
    m.update_buffer(buf, b"y" * 16)  # the owner thread carries on
    assert m.read_buffer(buf, 0, 16) == b"y" * 16


def test_an_interrupt_during_read_back_leaks_nothing(buffer_manager, monkeypatch):
    m = buffer_manager
    buf = m.create_buffer(BufferConfig("d", 1 * MIB, S.DEVICE_LOCAL))
    m.update_buffer(buf, b"\x05" * MIB)
    m.read_buffer(buf, 0, 4)
    before = m.allocator.live_allocations
    real = m.allocator.invalidate

    def interrupted(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(m.allocator, "invalidate", interrupted)
    m.discrete_like = True  # so read-back invalidates (and is interrupted there)
    with pytest.raises(KeyboardInterrupt):
        m.read_buffer(buf)
    monkeypatch.setattr(m.allocator, "invalidate", real)
    m.discrete_like = False
    assert m.allocator.live_allocations == before, "the read-back temporary leaked"
    assert m.read_buffer(buf, 0, 4) == b"\x05" * 4


def test_a_ctrl_c_during_a_submission_arrives_after_its_bookkeeping(buffer_manager):
    """A SIGINT raised while the frame's submit runs is delivered after the submission is
    recorded, so nothing queued is submitted twice (seen as a one-time-submit violation and a
    hang at shutdown before)."""
    import os
    import signal

    m = buffer_manager
    buf = m.create_buffer(BufferConfig("d", 256, S.DEVICE_LOCAL))
    m.begin_frame()
    m.update_buffer(buf, b"\x09" * 256)
    m.submit_uploads()
    real_submit = m.frames.timeline.submit

    def submit_then_ctrl_c(*args, **kwargs):  # type: ignore[no-untyped-def]
        serial = real_submit(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)  # arrives "right after vkQueueSubmit"
        return serial

    m.frames.timeline.submit = submit_then_ctrl_c  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        m.end_frame()
    m.frames.timeline.submit = real_submit  # type: ignore[method-assign]
    assert m.frames._queued == [], "the submitted uploads are still queued"
    m.frames.end()
    assert m.read_buffer(buf, 0, 4) == b"\x09" * 4
