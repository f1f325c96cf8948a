"""The compute composite (engine/render/tile_composite.py, a target with ``color_storage``)
against the raster composite, for the particle splat and the tiled lighting, on the real
driver with validation + synchronisation validation (any message fails a test). lavapipe
keeps the raster composite by default, so these tests ask for the storage view."""

from __future__ import annotations

import uuid

import esper
import numpy as np
import pytest

from engine.errors import InvalidOptionError
from engine.render.targets import OffscreenTarget

try:  # tests/ may or may not be a package
    from render_helpers import MiniScene, luminance
    from test_particle_splat import fountain
    from test_tiled_lighting import add_light, level
except ImportError:
    from tests.render_helpers import MiniScene, luminance
    from tests.test_particle_splat import fountain
    from tests.test_tiled_lighting import add_light, level


def frames(manager, color_storage: bool, *, particles_path: str = "compute",
           lighting: str = "compute", resize: bool = False) -> np.ndarray:
    """The last screenshot of a lit scene with two fountains, in an esper world of its own;
    checks that both composites run the way ``color_storage`` asks."""
    previous, world = esper.current_world, f"composite-{uuid.uuid4().hex}"
    esper.switch_world(world)
    try:
        s = MiniScene(manager, width=192, height=112, particles=2048, light_capacity=16,
                      vertices=level(), particles_path=particles_path, lighting=lighting,
                      color_storage=color_storage)
        try:
            stack = s.stack
            composites = [p.composite_pass for p in (stack.splat_pass, stack.tiled_lighting)
                          if p is not None]
            assert composites and all(c.compute is color_storage for c in composites)
            add_light(-2.0, 0.0)
            add_light(2.0, 2.0, glow=1.0)
            fountain(-3.0)
            fountain(0.0, 0.0, 2.0)
            s.step(30)
            if resize:
                s.target.resize(230, 90)
                s.step(2)
            stack.renderer.request_screenshot()
            s.step(1, dt=0.0)
            return stack.renderer.read_screenshot()
        finally:
            s.close()
    finally:
        esper.switch_world(previous)
        esper.delete_world(world)


@pytest.mark.parametrize("particles_path, lighting", [
    ("compute", "compute"), ("compute", "volumes"), ("sprites", "compute")])
def test_the_compute_composite_draws_the_raster_composites_picture(buffer_manager,
                                                                   particles_path, lighting):
    """Same sum: the additive blend into the UNORM target and the compute shader's load, add,
    clamp and store differ only in the last bit's rounding (lavapipe: the same bytes; the
    H200's blender rounds a few sums the other way)."""
    raster = frames(buffer_manager, False, particles_path=particles_path, lighting=lighting)
    compute = frames(buffer_manager, True, particles_path=particles_path, lighting=lighting)
    assert np.count_nonzero(luminance(raster) > 60) > 300
    assert_same_picture(raster, compute)


def assert_same_picture(raster: np.ndarray, compute: np.ndarray) -> None:
    diff = np.abs(raster.astype(np.int16) - compute)
    off = np.count_nonzero(diff.max(axis=2))
    assert diff.max() <= 1 and off <= 0.02 * diff.shape[0] * diff.shape[1], (diff.max(), off)


def test_the_compute_composite_follows_a_resize(buffer_manager):
    raster = frames(buffer_manager, False, resize=True)
    compute = frames(buffer_manager, True, resize=True)
    assert compute.shape == (90, 230, 4)
    assert np.count_nonzero(luminance(raster) > 60) > 100
    assert_same_picture(raster, compute)


def test_the_storage_view_rule_and_bad_values(vk_context):
    auto = OffscreenTarget(vk_context, 8, 8)
    on = OffscreenTarget(vk_context, 8, 8, color_storage=True)
    off = OffscreenTarget(vk_context, 8, 8, color_storage=False)
    try:
        assert auto.color_storage is (not vk_context.is_software)
        assert (auto.color_storage_view(0) is not None) is auto.color_storage
        assert on.color_storage_view(0) is not None and off.color_storage_view(0) is None
        on.resize(9, 7)
        assert on.color_storage_view(0) is not None
    finally:
        for t in (auto, on, off):
            t.destroy()
    for bad in ("yes", 1, 0, np.bool_(True), "auto"):
        with pytest.raises(InvalidOptionError, match="color_storage"):
            OffscreenTarget(vk_context, 8, 8, color_storage=bad)
