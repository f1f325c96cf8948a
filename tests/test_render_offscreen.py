"""Renderer pieces: PNG, offscreen frames and screenshots, camera maths, the frame loop."""

from __future__ import annotations

import struct
import zlib

import esper
import numpy as np
import pytest

import engine.render.frame_loop as frame_loop_module
from components.point_light import PointLight
from components.transform import Transform
from engine.errors import EngineError
from engine.render.frame_loop import FrameLimiter, FrameLoop, FrameTimes
from engine.render.png import encode_png, load_png, save_png
from systems.camera_system import camera_matrices

try:  # tests/ may or may not be a package
    from render_helpers import MiniScene, luminance
except ImportError:
    from tests.render_helpers import MiniScene, luminance


def test_png_round_trip_and_filtered_rows(tmp_path):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8)
    save_png(tmp_path / "a.png", img)
    assert np.array_equal(load_png(tmp_path / "a.png"), img)
    # Rows with filters 1-4 (as other encoders write them) decode too.
    raw = b"".join(bytes([row % 5]) + bytes(20) for row in range(3))
    ihdr = struct.pack(">IIBBBBB", 5, 3, 8, 6, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    blob = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(
        b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    (tmp_path / "f.png").write_bytes(blob)
    assert load_png(tmp_path / "f.png").shape == (3, 5, 4)
    with pytest.raises(EngineError):
        encode_png(np.zeros((2, 2, 3), np.uint8))


def test_camera_matrices_inverse_and_vulkan_clip_space():
    m = camera_matrices((2.0, 15.0, 11.0), (1.0, 0.0, -2.0), 50.0, 16 / 9, 0.1, 200.0)
    _view, proj, view_proj, inv = m
    assert np.allclose(inv @ view_proj, np.eye(4), atol=1e-9)
    target = view_proj @ np.array([1.0, 0.0, -2.0, 1.0])
    assert np.allclose(target[:2] / target[3], 0.0, atol=1e-9)  # target at screen centre
    above = view_proj @ np.array([1.0, 3.0, -2.0, 1.0])
    assert above[1] / above[3] < 0  # Vulkan: up in the world is up on screen (y < 0)
    near = proj @ np.array([0, 0, -0.1, 1.0])
    far = proj @ np.array([0, 0, -200.0, 1.0])
    assert np.isclose(near[2] / near[3], 0.0) and np.isclose(far[2] / far[3], 1.0)


def test_offscreen_frame_lights_the_ground_under_a_light(buffer_manager, ecs_world):
    scene = MiniScene(buffer_manager, width=128, height=96)
    try:
        scene.step(2)
        dark = scene.screenshot()
        esper.create_entity(Transform(0.0, 0.0, 0.0),
                            PointLight((1.0, 1.0, 1.0), 2.0, 5.0, height=1.0, glow=0.0))
        scene.step(2)
        lit = scene.screenshot()
        centre = luminance(lit)[40:56, 56:72].mean()
        corner = luminance(lit)[:12, :12].mean()
        assert luminance(dark).max() < 12          # ambient only
        assert centre > 80 and corner < 12         # a pool of light around the middle
        assert scene.stack.renderer.frames_rendered >= 6
        assert scene.stack.light_pass.attachment_writes == buffer_manager.frames_in_flight
    finally:
        scene.close()


def test_screenshot_needs_a_captured_frame(buffer_manager, ecs_world):
    scene = MiniScene(buffer_manager, width=32, height=32)
    try:
        with pytest.raises(EngineError, match="request_screenshot"):
            scene.stack.renderer.read_screenshot()
    finally:
        scene.close()


class FakeClock:
    """Stands in for the ``time`` module of the frame loop: ``sleep`` advances the clock, and
    each ``perf_counter`` call costs 10 us of it (so busy-waits end)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def perf_counter(self) -> float:
        self.now += 1e-5
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def test_frame_loop_fixed_step_and_limiter(ecs_world, monkeypatch):
    seen: list[float] = []

    class Probe(esper.Processor):
        def process(self, dt: float) -> None:
            seen.append(dt)

    esper.add_processor(Probe())
    paused = [False]
    loop = FrameLoop(fixed_dt=0.25, sim_scale=lambda: 0.0 if paused[0] else 1.0)
    loop.run(3)
    paused[0] = True
    loop.run(2)
    assert seen == [0.25, 0.25, 0.25, 0.0, 0.0]
    clock = FakeClock()  # the limiter's clock is driven, so the machine's speed does not matter
    monkeypatch.setattr(frame_loop_module, "time", clock)
    limited = FrameLoop(fixed_dt=0.01, limiter=FrameLimiter(100.0))
    limited.run(10)
    assert 0.085 <= clock.now - 1000.0 < 0.2  # 10 frames paced at 100 FPS: about 0.09-0.1 s
    summary = FrameTimes([1.0, 2.0, 3.0, 100.0]).summary(skip=1)
    assert summary["median_ms"] == 3.0 and summary["max_ms"] == 100.0


def test_a_ctrl_c_while_the_pass_timer_grows_leaves_it_usable(buffer_manager, monkeypatch):
    """Ctrl-C while a slot's timestamp pool is (re)created: the frame is lost, nothing leaks
    (the teardown checks), and the next frames create the slot's pool again and time passes."""
    import engine.render.gpu_timing as gpu_timing
    from engine.render.renderer import Renderer
    from engine.render.targets import OffscreenTarget

    m = buffer_manager
    target = OffscreenTarget(m.context, 32, 32, layout="forward")
    m.context.add_close_hook(target.destroy)
    renderer = Renderer(m, target, gpu_timing=True)
    m.context.add_close_hook(renderer.destroy)
    renderer.add_pass(lambda dc: None, phase="forward", name="empty")
    real = gpu_timing._HostBuffer
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        raise KeyboardInterrupt

    monkeypatch.setattr(gpu_timing, "_HostBuffer", interrupted)
    m.begin_frame()
    with pytest.raises(KeyboardInterrupt):
        renderer.render(m.frame_index)
    m.end_frame()
    assert calls["n"] == 1
    monkeypatch.setattr(gpu_timing, "_HostBuffer", real)
    for _ in range(6):
        m.begin_frame()
        renderer.render(m.frame_index)
        m.end_frame()
    m.context.wait_idle()
    assert renderer.statistics()["gpu"]["passes"]["empty"]["frames"] > 0
