"""Shutdown paths: live buffers at close, closing twice, an exception inside a system."""

from __future__ import annotations

import esper
import numpy as np
import pytest

from engine import BufferConfig, BufferManager, BufferStrategy, GraphicsContext, Phase, add_system
from systems import BufferSystem


class UserSystemError(RuntimeError):
    pass


def test_exception_inside_a_system_mid_frame_then_close_is_clean(validation, ecs_world):
    ctx = GraphicsContext.create(validation=True)
    manager = BufferManager(ctx)
    BufferSystem.install(manager)
    bufs = [manager.create_buffer(BufferConfig(f"b{i}", 4096, s))
            for i, s in enumerate(BufferStrategy)]
    for b in bufs:
        esper.create_entity(b)

    class Writer(esper.Processor):
        frames = 0

        def process(self, *args: object) -> None:
            self.frames += 1
            manager.update_buffer(bufs[0], np.full(1024, self.frames, np.float32))
            if self.frames == 5:
                manager.destroy_buffer(bufs[1])
                raise UserSystemError("a bug in a user system")

    add_system(Writer(), Phase.SIMULATE)
    for _ in range(4):
        esper.process()
    with pytest.raises(UserSystemError):
        esper.process()
    assert manager.frames.frame_open, "the frame that raised was left open"
    ctx.close()  # closes the manager: waits, frees live, retired and staging memory
    assert manager.closed and not bufs[0].alive
    validation.assert_clean("after an exception inside a system and close()")


def test_closing_the_manager_then_the_context_twice_is_clean(validation):
    ctx = GraphicsContext.create(validation=True)
    manager = BufferManager(ctx)
    buf = manager.create_buffer(BufferConfig("x", 64))
    manager.begin_frame()
    manager.update_buffer(buf, b"x" * 64)  # pending, never submitted by the user
    manager.close()
    manager.close()
    ctx.close()
    ctx.close()
    validation.assert_clean("after double closes")


def test_ctrl_c_during_the_game_exits_cleanly_with_everything_freed(tmp_path):
    """SIGINT mid-run: exit status 130, no traceback, no validation message or leak."""
    import os
    import signal
    import subprocess
    import sys

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "games.wisp", "--headless", "--validation", "--frames", "100000",
         "--width", "160", "--height", "90", "--particles", "1000", "--lights", "8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    before = []  # wait for the game's own word that frames are running, however long it takes
    for line in proc.stderr:
        before.append(line)
        if line.startswith("wisp: running"):
            break
    assert proc.poll() is None, ("".join(before), proc.communicate())
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=300)  # a hang is a failure, not a slow machine
    err = "".join(before) + rest
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err, err
    assert "interrupted: shutting down cleanly" in err
    for marker in ("VUID", "SYNC-", "UNASSIGNED-", "ObjectLeak", "Validation Error"):
        assert marker not in out + err, (out, err)
