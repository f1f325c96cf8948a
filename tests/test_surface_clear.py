"""The G-buffer surface cleared by a compute dispatch (engine/render/surface_clear.py) against
the render pass's clear, on the real driver with validation + synchronisation validation (any
message fails a test). lavapipe keeps the render pass's clear by default, so these tests ask
for the compute clear explicitly."""

from __future__ import annotations

import uuid

import esper
import numpy as np
import pytest

from components.camera import Camera
from components.point_light import PointLight
from components.transform import Transform
from engine.errors import InvalidOptionError
from engine.render import meshes
from engine.render.targets import OffscreenTarget

try:  # tests/ may or may not be a package
    from render_helpers import MiniScene, luminance
except ImportError:
    from tests.render_helpers import MiniScene, luminance

W, H = 160, 96


def level() -> np.ndarray:
    return meshes.merge([meshes.ground(12.0, (0.6, 0.6, 0.6, 0.0)),
                         meshes.box((2.0, 1.0, 0.0), (1.5, 2.0, 1.5), (0.3, 0.3, 0.35, 0.2))])


def run_frames(manager, surface_clear: str, lighting: str, *, resize: bool = False
               ) -> tuple[np.ndarray, bool, dict]:
    """Frames of a lit scene: the camera looks down at the lit ground, then up at the horizon
    (where the lit ground was, sky now: a surface left over from the earlier frames would be
    lit there by the compute lighting); returns the last frame's screenshot, whether the
    target cleared in compute, and the GPU pass names."""
    previous, world = esper.current_world, f"clear-{uuid.uuid4().hex}"
    esper.switch_world(world)
    try:
        s = MiniScene(manager, width=W, height=H, light_capacity=8, vertices=level(),
                      surface_clear=surface_clear, lighting=lighting)
        try:
            for x, z, glow in ((-2.0, 0.0, 1.0), (2.0, 2.0, 0.0), (0.0, -3.0, 1.0)):
                esper.create_entity(Transform(x, 0.0, z), PointLight(
                    color=(1.0, 0.8, 0.5), intensity=2.0, radius=5.0, height=1.0, glow=glow))
            camera = esper.component_for_entity(s.camera, Camera)
            camera.eye, camera.target = (0.0, 4.0, 4.0), (0.0, 0.0, 0.0)
            s.step(3, dt=0.0)  # lit ground fills the picture
            camera.eye, camera.target = (0.0, 2.0, 7.0), (0.0, 2.5, 0.0)
            s.step(1, dt=0.0)  # the upper half is sky now
            if resize:
                s.target.resize(W + 37, H + 21)
                s.step(2, dt=0.0)
            s.stack.renderer.request_screenshot()
            s.step(1, dt=0.0)
            shot = s.stack.renderer.read_screenshot()
            gpu = s.stack.renderer.statistics()["gpu"] or {}
            return shot, s.target.surface_cleared_in_compute, gpu.get("passes", {})
        finally:
            s.close()
    finally:
        esper.switch_world(previous)
        esper.delete_world(world)


@pytest.mark.parametrize("lighting", ["volumes", "compute"])
def test_the_compute_clear_draws_the_render_pass_clear_picture(buffer_manager, lighting):
    ref, ref_compute, _ = run_frames(buffer_manager, "render_pass", lighting)
    got, got_compute, passes = run_frames(buffer_manager, "compute", lighting)
    assert (ref_compute, got_compute) == (False, True)
    assert np.count_nonzero(luminance(ref) > 40) > 200  # lights and glow were drawn
    assert np.count_nonzero(luminance(ref) < 2) > 500   # and sky is in the picture
    assert np.array_equal(ref, got)
    assert "gbuffer.clear" in passes


def test_the_compute_clear_follows_a_resize(buffer_manager):
    ref, _, _ = run_frames(buffer_manager, "render_pass", "volumes", resize=True)
    got, _, _ = run_frames(buffer_manager, "compute", "volumes", resize=True)
    assert ref.shape == got.shape == (H + 21, W + 37, 4)
    assert np.array_equal(ref, got)


def test_the_rule_and_bad_values(vk_context):
    auto = OffscreenTarget(vk_context, 8, 8)
    try:
        assert auto.surface_cleared_in_compute is (not vk_context.is_software)
        assert (auto.gbuffer.surface_clear is not None) is auto.surface_cleared_in_compute
    finally:
        auto.destroy()
    compute = OffscreenTarget(vk_context, 8, 8, surface_clear="compute")
    forward = OffscreenTarget(vk_context, 8, 8, layout="forward", surface_clear="compute")
    try:
        assert compute.surface_cleared_in_compute and compute.gbuffer.surface_clear is not None
        assert not forward.surface_cleared_in_compute  # no surface to clear
    finally:
        compute.destroy()
        forward.destroy()
        compute.destroy()  # idempotent
    for bad in ("gpu", "", 1, None, b"compute", np.str_("compute ")):
        with pytest.raises(InvalidOptionError, match="surface_clear"):
            OffscreenTarget(vk_context, 8, 8, surface_clear=bad)


class _Interrupting:
    """``lib`` of engine.render.surface_clear with one function that raises KeyboardInterrupt
    (a Ctrl-C arriving during that Vulkan call)."""

    def __init__(self, real, name: str) -> None:
        self._real, self._name = real, name

    def __getattr__(self, attr: str):
        if attr == self._name:
            def interrupted(*args, **kwargs):
                raise KeyboardInterrupt
            return interrupted
        return getattr(self._real, attr)


@pytest.mark.parametrize("call", ["vkCreateDescriptorSetLayout", "vkCreatePipelineLayout",
                                  "vkCreateShaderModule", "vkCreateComputePipelines",
                                  "vkCreateDescriptorPool",
                                  "vkAllocateDescriptorSets", "vkUpdateDescriptorSets"])
def test_ctrl_c_while_the_clear_is_built_leaks_nothing(vk_context, monkeypatch, call):
    """Every object made before the interrupted call is destroyed (the context's close checks
    for leaked Vulkan objects), and the next target builds normally."""
    import engine.render.surface_clear as surface_clear
    import engine.shaders.module as shader_module  # the compute pipeline's maker

    modules = (surface_clear, shader_module)
    real = surface_clear.lib
    for module in modules:
        monkeypatch.setattr(module, "lib", _Interrupting(real, call))
    with pytest.raises(KeyboardInterrupt):
        OffscreenTarget(vk_context, 16, 16, surface_clear="compute")
    for module in modules:
        monkeypatch.setattr(module, "lib", real)
    target = OffscreenTarget(vk_context, 16, 16, surface_clear="compute")
    try:
        assert target.gbuffer.surface_clear is not None
    finally:
        target.destroy()
