"""Renderer: records and submits one frame into a render target, and takes screenshots.

One frame (:meth:`Renderer.render`), after the BufferSystem submitted the frame's uploads and
the BindingSystem wrote the slot's descriptors:

1. ``target.acquire(slot)``: the image to draw (``None``: minimised/out of date, skip).
2. Record the slot's command buffer: every pass's ``record_compute`` (before the render pass:
   particle simulation and its barriers), the deferred render pass (``record_scene`` in
   subpass 0, ``record_light`` in subpass 1), then every ``after_passes`` entry's
   ``record_after`` (outside the render pass: the compute particle path's splat and composite),
   then a screenshot copy if one was requested.
3. Submit through the manager's frames (numbered on the queue timeline, so ``begin_frame``
   can wait for the slot), waiting on the acquire semaphore at colour output and signalling
   the image's render-finished semaphore.
4. ``target.present(index)``.

Nothing here builds a binding struct per frame (the bindings' constructors cost microseconds
each): clear values, viewport, scissor and submit info are prebuilt ``ffi.new`` structs whose
fields are mutated. The command buffer comes from the current frame slot, which takes it back
only after ``begin_frame`` waited for that slot.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from engine.buffers.manager import BufferManager
from engine.buffers.types import BufferConfig, BufferStrategy, BufferUsage, ManagedBuffer
from engine.device.barriers import image_barrier
from engine.device.interrupts import defers_interrupts
from engine.device.vk import check_result, ffi, lib, vk
from engine.errors import EngineError
from engine.render.render_pass import CLEAR_COLOR


class FramePass(Protocol):
    """What a pass records; each method is called once per rendered frame."""

    def record_compute(self, cmd: Any, slot: int) -> None:
        """Outside the render pass, before it (dispatches and their barriers)."""

    def record_scene(self, cmd: Any, slot: int) -> None:
        """Subpass 0: geometry into colour + G-buffer."""

    def record_light(self, cmd: Any, slot: int) -> None:
        """Subpass 1: additive light volumes and particles."""


class AfterPass(Protocol):
    """Work recorded after the deferred render pass ends, before a screenshot copy."""

    def record_after(self, cmd: Any, slot: int, index: int) -> None:
        """``index``: the target image drawn this frame (for framebuffers of its own)."""


class RenderTarget(Protocol):
    render_pass: Any
    width: int
    height: int
    final_layout: int

    @property
    def is_window(self) -> bool: ...
    def acquire(self, slot: int) -> int | None: ...
    def framebuffer(self, index: int) -> Any: ...
    def color_image(self, index: int) -> Any: ...
    def color_view(self, index: int) -> Any: ...
    def wait_semaphore(self, slot: int) -> Any: ...
    def signal_semaphore(self, index: int) -> Any: ...
    def present(self, index: int) -> None: ...
    def destroy(self) -> None: ...


class Renderer:
    """Frame recording and submission for one target.

    Args:
        manager: the BufferManager whose frames (fences) track every submission.
        target: an :class:`~engine.render.targets.OffscreenTarget` or
            :class:`~engine.render.swapchain.SwapchainTarget` (not owned).
    """

    def __init__(self, manager: BufferManager, target: RenderTarget) -> None:
        self.manager = manager
        self.ctx = manager.context
        self.target = target
        self.passes: list[FramePass] = []
        self.after_passes: list[AfterPass] = []
        self.frames_rendered = 0
        self.frames_skipped = 0
        self._shot_request = False
        self._shot: tuple[ManagedBuffer, int, int] | None = None
        self.frames = manager.frames
        """The manager's frame slots: the renderer records into a command buffer of the
        current slot and submits through them."""
        self._cmd_array = ffi.new("VkCommandBuffer[1]")
        self._clears = ffi.new("VkClearValue[3]")
        for c in range(4):
            self._clears[0].color.float32[c] = CLEAR_COLOR[c]
        self._clears[2].depthStencil.depth = 1.0  # the surface attachment clears to 0 (sky)
        self._rp_begin = ffi.new("VkRenderPassBeginInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO,
            "clearValueCount": 3, "pClearValues": self._clears})
        self._viewport = ffi.new("VkViewport*", {"minDepth": 0.0, "maxDepth": 1.0})
        self._scissor = ffi.new("VkRect2D*")
        self._wait_sem = ffi.new("VkSemaphore[1]")
        self._signal_sem = ffi.new("VkSemaphore[1]")
        self._wait_stage = ffi.new("VkPipelineStageFlags[1]",
                                   [vk.VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT])
        self._submit = ffi.new("VkSubmitInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_SUBMIT_INFO, "pWaitSemaphores": self._wait_sem,
            "pWaitDstStageMask": self._wait_stage, "commandBufferCount": 1,
            "pCommandBuffers": self._cmd_array, "pSignalSemaphores": self._signal_sem})
        self._image_barrier = ffi.new("VkImageMemoryBarrier*", {
            "sType": vk.VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER,
            "srcQueueFamilyIndex": vk.VK_QUEUE_FAMILY_IGNORED,
            "dstQueueFamilyIndex": vk.VK_QUEUE_FAMILY_IGNORED,
            "subresourceRange": {"aspectMask": vk.VK_IMAGE_ASPECT_COLOR_BIT,
                                 "levelCount": 1, "layerCount": 1}})
        self._copy_region = ffi.new("VkBufferImageCopy*", {
            "imageSubresource": {"aspectMask": vk.VK_IMAGE_ASPECT_COLOR_BIT, "layerCount": 1},
            "imageExtent": {"depth": 1}})

    # --- per frame -------------------------------------------------------------------------

    @defers_interrupts
    def render(self, slot: int) -> bool:
        """Record, submit and present the current frame; False if the target skipped it."""
        target = self.target
        index = target.acquire(slot)
        if index is None:
            self.frames_skipped += 1
            return False
        submitted = self.frames.timeline.last_serial
        try:
            self._record_and_submit(slot, index)
        except BaseException:
            if self.frames.timeline.last_serial == submitted:  # the frame never reached the GPU
                self._abandon(slot, index)
            else:
                target.present(index)
            raise
        target.present(index)
        self.frames_rendered += 1
        return True

    def _record_and_submit(self, slot: int, index: int) -> None:
        target = self.target
        what = "Renderer.render"
        cmd = self.frames.command_buffer(what=what)
        passes = self.passes
        for p in passes:
            p.record_compute(cmd, slot)
        width, height = target.width, target.height
        rp = self._rp_begin
        rp.renderPass = target.render_pass
        rp.framebuffer = target.framebuffer(index)
        rp.renderArea.extent.width = width
        rp.renderArea.extent.height = height
        lib.vkCmdBeginRenderPass(cmd, rp, vk.VK_SUBPASS_CONTENTS_INLINE)
        vp = self._viewport
        vp.width, vp.height = float(width), float(height)
        self._scissor.extent.width, self._scissor.extent.height = width, height
        lib.vkCmdSetViewport(cmd, 0, 1, vp)
        lib.vkCmdSetScissor(cmd, 0, 1, self._scissor)
        for p in passes:
            p.record_scene(cmd, slot)
        lib.vkCmdNextSubpass(cmd, vk.VK_SUBPASS_CONTENTS_INLINE)
        for p in passes:
            p.record_light(cmd, slot)
        lib.vkCmdEndRenderPass(cmd)
        for after in self.after_passes:
            after.record_after(cmd, slot, index)
        if self._shot_request:
            self._record_screenshot(cmd, index)
        check_result(lib.vkEndCommandBuffer(cmd), "vkEndCommandBuffer", what=what)
        self._cmd_array[0] = cmd
        submit = self._submit
        wait = target.wait_semaphore(slot)
        if wait is None:
            submit.waitSemaphoreCount = 0
            submit.signalSemaphoreCount = 0
        else:
            self._wait_sem[0] = wait
            self._signal_sem[0] = target.signal_semaphore(index)
            submit.waitSemaphoreCount = 1
            submit.signalSemaphoreCount = 1
        self.frames.submit(cmd, what=what, submit_info=submit)

    def _abandon(self, slot: int, index: int) -> None:
        """A pass raised while the frame was recorded. Its command buffer is never submitted
        (the frame slot resets it when recycled). A swapchain image was acquired, though: its
        acquire semaphore must be waited on and the image presented, or the next use of the
        slot is invalid. So a small command buffer moves the image to the present layout
        (its contents are undefined: one frame shows whatever the image held), is submitted
        with the frame's semaphores, and the image is presented; then the exception goes on."""
        target = self.target
        wait = target.wait_semaphore(slot)
        if wait is None:
            return
        what = "Renderer.render (abandoned frame)"
        cmd = self.frames.command_buffer(what=what)
        self._transition(cmd, target.color_image(index), vk.VK_IMAGE_LAYOUT_UNDEFINED,
                         target.final_layout, 0, 0,
                         vk.VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
                         vk.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT)
        check_result(lib.vkEndCommandBuffer(cmd), "vkEndCommandBuffer", what=what)
        self._cmd_array[0] = cmd
        submit = self._submit
        self._wait_sem[0] = wait
        self._signal_sem[0] = target.signal_semaphore(index)
        submit.waitSemaphoreCount = 1
        submit.signalSemaphoreCount = 1
        self.frames.submit(cmd, what=what, submit_info=submit)
        target.present(index)

    # --- screenshots -----------------------------------------------------------------------

    def request_screenshot(self) -> None:
        """Copy the next rendered frame's colour image; read it with :meth:`read_screenshot`."""
        if getattr(self.target, "supports_screenshot", True) is False:
            raise EngineError("request_screenshot: this swapchain's images do not support "
                              "TRANSFER_SRC; use an offscreen target.")
        self._shot_request = True

    def _record_screenshot(self, cmd: Any, index: int) -> None:
        self._shot_request = False
        target = self.target
        w, h = target.width, target.height
        if self._shot is not None:
            self.manager.destroy_buffer(self._shot[0])
        buf = self.manager.create_buffer(BufferConfig(
            "screenshot", w * h * 4, BufferStrategy.HOST_CACHED, BufferUsage.STORAGE))
        self._shot = (buf, w, h)
        image = target.color_image(index)
        present = target.final_layout == vk.VK_IMAGE_LAYOUT_PRESENT_SRC_KHR
        transfer = vk.VK_PIPELINE_STAGE_TRANSFER_BIT
        if present:
            self._transition(cmd, image, vk.VK_IMAGE_LAYOUT_PRESENT_SRC_KHR,
                             vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, 0,
                             vk.VK_ACCESS_TRANSFER_READ_BIT, transfer, transfer)
        region = self._copy_region
        region.imageExtent.width, region.imageExtent.height = w, h
        lib.vkCmdCopyImageToBuffer(cmd, image, vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                                   buf.handle, 1, region)
        if present:
            self._transition(cmd, image, vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                             vk.VK_IMAGE_LAYOUT_PRESENT_SRC_KHR,
                             vk.VK_ACCESS_TRANSFER_READ_BIT, 0, transfer,
                             vk.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT)

    def _transition(self, cmd: Any, image: Any, old: int, new: int, src_access: int,
                    dst_access: int, src_stage: int, dst_stage: int) -> None:
        image_barrier(cmd, self._image_barrier, image, old, new, src_access, dst_access,
                      src_stage, dst_stage)

    def read_screenshot(self) -> np.ndarray[Any, Any]:
        """The last captured frame as RGBA uint8 (h, w, 4); waits for its GPU work."""
        if self._shot is None:
            raise EngineError("read_screenshot: no frame was captured; call "
                              "request_screenshot() and render a frame first.")
        buf, w, h = self._shot
        raw = self.manager.read_buffer(buf)
        pixels = np.frombuffer(raw, np.uint8).reshape(h, w, 4)
        color_format = getattr(self.target, "color_format", vk.VK_FORMAT_B8G8R8A8_UNORM)
        if color_format in (vk.VK_FORMAT_B8G8R8A8_UNORM, vk.VK_FORMAT_B8G8R8A8_SRGB):
            pixels = pixels[:, :, [2, 1, 0, 3]]
        out = np.ascontiguousarray(pixels)
        out[:, :, 3] = 255
        return out

    # --- shutdown --------------------------------------------------------------------------

    def destroy(self) -> None:
        """Free the screenshot buffer (frame-safe); idempotent. Command buffers belong to the
        manager's frame slots."""
        if self._shot is not None and not self.manager.closed and self._shot[0].alive:
            self.manager.destroy_buffer(self._shot[0])
        self._shot = None
