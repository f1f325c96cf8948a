"""games/minimal: its system tested with the vkbuffers pytest plugin, and the program run.

The first test is the one README.md shows under "Test your systems": it needs nothing but the
plugin's fixtures, so it runs in any directory once the project is installed (``test_plugin.py``
runs this file alone in a fresh venv). The others run the example as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import esper
import numpy as np
import pytest

from engine import GlobalUboSet, Phase, add_system
from engine.render import load_png
from engine.render.window import display_available
from engine.shaders.compiler import compile_glsl, shader_path
from games.minimal import SPIN, Spinner, SpinSystem


def test_spin_system_writes_each_frame_into_that_frame_slots_buffer(
        buffer_manager, frame_driver, read_back):
    spin = GlobalUboSet(buffer_manager, SPIN, name="Spin")   # one buffer per frame slot
    frame_driver.install(buffer_manager)                     # BufferSystem: BEGIN/UPLOADS/END
    add_system(SpinSystem(buffer_manager, spin), Phase.SIMULATE)
    esper.create_entity(Spinner(speed=3.0))

    frame_driver.step(10)                                    # validation on: any message fails

    shader = compile_glsl(shader_path("minimal.vert"))       # read back typed by reflection
    last = read_back.block(spin, shader, "Spin")             # the last frame's slot
    before = read_back.block(spin.get_buffer((frame_driver.frame_index - 1) % 3), shader, "Spin")
    assert last["angle"] == pytest.approx(10 * 3.0 / 60), "10 frames at 3 rad/s"
    assert before["angle"] == pytest.approx(9 * 3.0 / 60), "the slot before holds frame 9"
    assert last["tint"][:3].tolist() == pytest.approx([1.0, 0.55, 0.15])


def run_example(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m games.minimal ARGS`` with the validation layer on (messages go to stderr)."""
    env = {**os.environ, **(env or {}), "ENGINE_VALIDATION": "1"}
    return subprocess.run([sys.executable, "-m", "games.minimal", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_example_runs_headless_and_its_screenshot_shows_the_spun_triangle(tmp_path: Path):
    shot = tmp_path / "minimal.png"
    run = run_example("--headless", "--frames", "30", "--screenshot", str(shot))
    assert run.returncode == 0, run.stderr
    assert "VUID" not in run.stderr and "SYNC-" not in run.stderr, run.stderr
    assert "Validation" not in run.stderr, f"validation messages:\n{run.stderr}"
    rgba = load_png(shot)
    assert rgba.shape == (480, 640, 4)
    lit = rgba[:, :, :3].max(axis=2) > 20
    assert 0.1 < lit.mean() < 0.6, "a triangle covers part of the picture, not none or all"
    r, g, b = (rgba[:, :, c][lit].astype(float).mean() for c in range(3))
    assert r > g > b, f"orange (the Spin tint reached the shader): mean rgb {r:.0f} {g:.0f} {b:.0f}"
    assert len(np.unique(rgba[lit][:, 0])) > 20, "shaded across the triangle, not one flat colour"
    assert not np.array_equal(rgba, rgba[:, ::-1]), "turned: not mirror-symmetric"


@pytest.mark.window
def test_the_example_opens_a_window_when_there_is_a_display():
    try:
        from render_helpers import xvfb  # tests/ helper: a private Xvfb
    except ImportError:
        pytest.skip("runs only in the project's suite (needs tests/render_helpers.py)")
    with xvfb() as display:
        if display is None:
            pytest.skip("Xvfb is not installed (apt-get install xvfb)")
        assert display_available(), "so the example opens a window rather than going headless"
        run = run_example("--frames", "20", env={"DISPLAY": display})
    assert run.returncode == 0, run.stderr
    assert "Validation" not in run.stderr and "VUID" not in run.stderr, run.stderr
