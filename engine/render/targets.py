"""Render targets: where a frame's deferred pass draws. :class:`OffscreenTarget` is headless.

Every target offers the same small interface to the :class:`~engine.render.renderer.Renderer`:

- ``render_pass``, ``width``/``height`` (pixels), ``color_format``, ``final_layout`` (the colour
  image's layout after the pass: TRANSFER_SRC for offscreen, PRESENT_SRC for a swapchain);
- ``acquire(slot)`` -> the image index to draw into, or ``None`` to skip the frame (minimised,
  or out of date: the target recreated itself);
- ``framebuffer(index)``, ``color_image(index)``, ``color_view(index)``;
- ``wait_semaphore(slot)`` / ``signal_semaphore(index)``: what the frame's submission waits on
  and signals (``None`` offscreen);
- ``present(index)``: show it (no-op offscreen);
- ``destroy()``.

Depth and stencil: ``depth_format`` is D32_SFLOAT, or with ``stencil=True`` (forward layout only)
a depth + 8-bit stencil format the device offers (:func:`target_depth_format`); ``has_stencil``
says which. Pipelines are built for one of them (render-pass compatibility).

Lifetime: a target is destroyed after the GPU finished with it (``destroy`` waits for the
device). Its images are recreated only on a size change (``generation`` + 1: an offscreen
target by :meth:`OffscreenTarget.resize`, a swapchain when its window changed size).
"""

from __future__ import annotations

from typing import Any

from engine.device.context import GraphicsContext
from engine.device.vk import ffi, lib, vk
from engine.errors import EngineError, InvalidOptionError, StencilUnavailableError
from engine.numbers import as_flag, as_int
from engine.render.images import (
    COLOR_FORMAT,
    STORAGE_VIEW_FORMAT,
    GBuffer,
    Image,
    choose_depth_format,
    has_stencil,
)
from engine.render.phases import DEFERRED, FORWARD, TargetLayout, as_layout
from engine.render.render_pass import create_framebuffer, create_render_pass
from engine.render.surface_clear import surface_clear_in_compute


def target_depth_format(ctx: GraphicsContext, layout: TargetLayout, stencil: object,
                        what: str) -> int:
    """The depth attachment format of a new target: D32_SFLOAT, or with ``stencil=True`` the
    first depth/stencil format the device offers as an attachment (D32_SFLOAT_S8_UINT, then
    D24_UNORM_S8_UINT: ``vkGetPhysicalDeviceFormatProperties``). Stencil is for the forward
    layout: the deferred one's depth is copied by the compute particle path as one float per
    pixel. Raises :class:`~engine.errors.InvalidOptionError` for a ``stencil`` that is not a
    flag and :class:`~engine.errors.StencilUnavailableError` for a deferred layout or a device
    without such a format."""
    wanted = bool(as_flag(stencil, what, "stencil"))
    if wanted and layout.name != FORWARD.name:
        raise StencilUnavailableError(
            f"{what}(stencil=True, layout={layout.name!r}): only the forward layout has a "
            "stencil aspect (the deferred depth is copied as float32 by the compute particle "
            "path); pass layout='forward'.")
    return choose_depth_format(ctx, wanted, what)


class OffscreenTarget:
    """A headless colour image (B8G8R8A8_UNORM) plus the G-buffer (or depth only), at a fixed
    size.

    Args:
        ctx: the device.
        width, height: pixels.
        layout: :data:`~engine.render.phases.DEFERRED` (default: picture + G-buffer + depth,
            phases ``scene`` and ``light``) or :data:`~engine.render.phases.FORWARD` (picture +
            depth, phase ``forward``), or their names.
        stencil: give the depth attachment an 8-bit stencil aspect (cleared to 0 each frame;
            forward layout only): see :func:`target_depth_format`.
        surface_clear: how the deferred layout's G-buffer surface is cleared each frame:
            ``"render_pass"`` (its load op), ``"compute"`` (a dispatch before the pass:
            :mod:`engine.render.surface_clear`) or ``"auto"`` (compute on hardware GPUs,
            where raster-side clears are the slow path; the render pass on CPU devices).
        color_storage: give the colour image STORAGE usage and an R8G8B8A8_UNORM view of it
            (:meth:`color_storage_view`), so the compute paths add their results in a compute
            shader instead of a raster composite (:mod:`engine.render.tile_composite`). None
            (default): on hardware GPUs, where raster work runs on few units (the H200:
            0.2 ms for the tiled lighting's composite at 1080p); False on CPU devices, where
            llvmpipe's blend is vectorised and a compute image store is a per-lane loop.
    """

    final_layout = vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL
    color_format = COLOR_FORMAT

    def __init__(self, ctx: GraphicsContext, width: int, height: int, *,
                 layout: TargetLayout | str = DEFERRED, stencil: bool = False,
                 surface_clear: str = "auto", color_storage: bool | None = None) -> None:
        self.layout = as_layout(layout, "OffscreenTarget")
        if color_storage is not None and color_storage.__class__ is not bool:
            raise InvalidOptionError(f"OffscreenTarget(color_storage={color_storage!r}): pass "
                                     "True, False or None (on hardware GPUs).")
        self.color_storage = (not ctx.is_software) if color_storage is None else color_storage
        """The colour image can be written by compute shaders: :meth:`color_storage_view`."""
        self.surface_cleared_in_compute = surface_clear_in_compute(
            ctx, surface_clear, "OffscreenTarget") and self.layout is DEFERRED
        """The G-buffer surface is cleared by a compute dispatch (``surface_clear``)."""
        """The target's phases (compute, then one per subpass)."""
        self.depth_format = target_depth_format(ctx, self.layout, stencil, "OffscreenTarget")
        """The depth attachment's VkFormat (D32_SFLOAT, or a depth/stencil format)."""
        self.has_stencil = has_stencil(self.depth_format)
        """True when the depth attachment has a stencil aspect (``stencil=True``)."""
        self.ctx = ctx
        self.width, self.height = width, height
        self.generation = 1
        """Bumped when the attachments are recreated (:meth:`resize`)."""
        self.render_pass: Any = None
        self._framebuffer: Any = None
        self.color: Image | None = None
        self.gbuffer: GBuffer | None = None
        try:
            self.render_pass = create_render_pass(
                ctx, COLOR_FORMAT, self.final_layout, self.layout, self.depth_format,
                surface_cleared_in_compute=self.surface_cleared_in_compute)
            self._create_images(width, height)
        except BaseException:
            self.destroy()
            raise

    def _create_images(self, width: int, height: int) -> None:
        ctx = self.ctx
        usage = vk.VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | vk.VK_IMAGE_USAGE_TRANSFER_SRC_BIT
        if self.color_storage:
            usage |= vk.VK_IMAGE_USAGE_STORAGE_BIT
        self.color = Image(ctx, width, height, COLOR_FORMAT, usage,
                           vk.VK_IMAGE_ASPECT_COLOR_BIT, "offscreen.color",
                           storage_format=STORAGE_VIEW_FORMAT if self.color_storage else None)
        self.gbuffer = GBuffer(ctx, width, height, surface=self.layout is DEFERRED,
                               depth_format=self.depth_format,
                               clear_in_compute=self.surface_cleared_in_compute)
        self._framebuffer = create_framebuffer(
            ctx, self.render_pass, [self.color.view, *self.gbuffer.views()], width, height)
        self.width, self.height = width, height

    def _destroy_images(self) -> None:
        device = self.ctx.device
        if self._framebuffer is not None:
            lib.vkDestroyFramebuffer(device, self._framebuffer, ffi.NULL)
            self._framebuffer = None
        if self.gbuffer is not None:
            self.gbuffer.destroy()
            self.gbuffer = None
        if self.color is not None:
            self.color.destroy()
            self.color = None

    def resize(self, width: int, height: int) -> None:
        """Recreate the images at ``width`` x ``height`` pixels (waits for the device), like a
        swapchain after its window changed size: ``generation`` + 1, so passes that hold
        per-size state (attachment descriptors, size-dependent buffers) rebuild it. Call it
        between frames. Raises ValueError for sizes that are not integers from 1 to 16384 and
        EngineError after :meth:`destroy` (nothing changes then)."""
        w, h = as_int(width), as_int(height)
        if w is None or h is None or w < 1 or h < 1 or w > 16384 or h > 16384:
            raise ValueError(f"OffscreenTarget.resize({width!r}, {height!r}): the size must be "
                             "two integers from 1 to 16384 (pixels).")
        if self.render_pass is None or self.ctx.device is None:
            raise EngineError("OffscreenTarget.resize: the target was destroyed (or its "
                              "context closed); create a new OffscreenTarget.")
        if (w, h) == (self.width, self.height):
            return
        self.ctx.wait_idle()
        self._destroy_images()
        self._create_images(w, h)
        self.generation += 1

    @property
    def is_window(self) -> bool:
        return False

    def acquire(self, slot: int) -> int | None:
        """Always image 0: an offscreen target never has to skip a frame."""
        return 0

    def framebuffer(self, index: int) -> Any:
        return self._framebuffer

    def color_image(self, index: int) -> Any:
        assert self.color is not None
        return self.color.image

    def color_view(self, index: int) -> Any:
        assert self.color is not None
        return self.color.view

    def color_storage_view(self, index: int) -> Any:
        """An R8G8B8A8_UNORM view of the (B8G8R8A8) colour image for compute shaders, or None
        without ``color_storage``."""
        assert self.color is not None
        return self.color.storage_view

    def wait_semaphore(self, slot: int) -> Any:
        return None

    def signal_semaphore(self, index: int) -> Any:
        return None

    def present(self, index: int) -> None:
        """Nothing to show headless."""

    def destroy(self) -> None:
        """Wait for the device, then destroy framebuffer, images and render pass; idempotent."""
        device = self.ctx.device
        if device is None:
            return
        if self._framebuffer is not None or self.color is not None:
            self.ctx.wait_idle()
        self._destroy_images()
        if self.render_pass is not None:
            lib.vkDestroyRenderPass(device, self.render_pass, ffi.NULL)
            self.render_pass = None
