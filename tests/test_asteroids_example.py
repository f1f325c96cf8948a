"""games/asteroids: the GPU's cull count matches the CPU's, with the plugin's fixtures; the program
runs headless (screenshot) and in a window."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import esper
import numpy as np
import pytest

import engine.render as render
from engine import Phase, add_system
from engine.render import load_png
from games.asteroids import Asteroids, RockField, RockSystem
from systems.render_system import RenderSystem


def test_the_gpu_counts_exactly_the_rocks_that_touch_the_view(
        buffer_manager, resource_binder, frame_driver, read_back, ecs_world):
    target = render.OffscreenTarget(buffer_manager.context, 160, 100, layout="forward")
    renderer = render.Renderer(buffer_manager, target)
    try:
        rock_field = RockField(500, half_view=(1.6, 1.0), half_world=(2.4, 1.5), seed=5)
        esper.create_entity(rock_field)
        scene = Asteroids(buffer_manager, resource_binder, renderer, rock_field)
        frame_driver.install(buffer_manager, resource_binder)
        add_system(RockSystem(buffer_manager, scene.rocks), Phase.SIMULATE)
        add_system(RenderSystem(renderer, buffer_manager), Phase.RENDER)
        counts = []
        for _ in range(3):
            frame_driver.step(20)  # the rocks drift: some leave the view, others come in
            args = read_back.array(scene.args, np.uint32)
            assert args[0] == scene.index_count and args[2:].tolist() == [0, 0, 0]
            assert args[1] == rock_field.visible(), "instanceCount = rocks touching the view"
            counts.append(int(args[1]))
        assert 0 < min(counts) < 500, "culling removed some rocks and kept others"
        visible = read_back.array(scene.visible, np.dtype(scene.field.rocks.dtype))[:counts[-1]]
        expected = np.sort(rock_field.rocks[np.isin(rock_field.rocks["pos"][:, 0],
                                                    visible["pos"][:, 0])]["pos"][:, 0])
        assert np.array_equal(np.sort(visible["pos"][:, 0]), expected), "the kept rocks"
        gpu = renderer.statistics()["gpu"]
        assert set(gpu["passes"]) == {"cull", "rocks"} and gpu["missed"] == 0
    finally:
        buffer_manager.context.wait_idle()
        renderer.destroy()
        target.destroy()


def run_example(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env or {}), "ENGINE_VALIDATION": "1"}
    return subprocess.run([sys.executable, "-m", "games.asteroids", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_example_runs_headless_and_draws_the_culled_rocks(tmp_path: Path):
    shot = tmp_path / "asteroids.png"
    run = run_example("--headless", "--frames", "20", "--rocks", "1500", "--screenshot",
                      str(shot), "--timing")
    assert run.returncode == 0, run.stderr
    assert "Validation" not in run.stderr and "VUID" not in run.stderr, run.stderr
    assert "cull" in run.stdout and "rocks" in run.stdout, run.stdout  # GPU ms per pass
    rgba = load_png(shot)
    assert rgba.shape == (500, 800, 4)
    lit = rgba[:, :, :3].max(axis=2) > 30
    assert 0.05 < lit.mean() < 0.8, "rocks cover part of the sky"
    rows, cols = np.nonzero(lit)
    assert rows.min() < 50 and rows.max() > 450 and cols.min() < 50 and cols.max() > 750, \
        "rocks all over the view, to its edges"


@pytest.mark.window
def test_the_example_opens_a_window_when_there_is_a_display():
    try:
        from render_helpers import xvfb  # tests/ helper: a private Xvfb
    except ImportError:
        from tests.render_helpers import xvfb
    with xvfb() as display:
        if display is None:
            pytest.skip("Xvfb is not installed (apt-get install xvfb)")
        run = run_example("--frames", "20", "--rocks", "1000", env={"DISPLAY": display})
    assert run.returncode == 0, run.stderr
    assert "Validation" not in run.stderr and "VUID" not in run.stderr, run.stderr
