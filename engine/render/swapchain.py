"""SwapchainTarget: a window's swapchain as a render target (see :mod:`engine.render.targets`).

Behaviour:

- **Format**: B8G8R8A8_UNORM (or R8G8B8A8_UNORM) when offered, so the picture matches the
  offscreen target; otherwise the first format.
- **Present mode**: ``vsync=True`` -> FIFO; else MAILBOX, then IMMEDIATE, then FIFO. FIFO is not
  throttled under Xvfb, so the frame loop has its own limiter either way.
- **Recreation**: on a framebuffer-size change, after OUT_OF_DATE from acquire or present, and
  after SUBOPTIMAL (the acquired image is still drawn and presented first, as the spec allows). A
  minimised
  window (size 0) has no swapchain: ``acquire`` returns ``None`` until it is restored.
  Recreation waits for the device (it is rare; never on the steady frame path).
- **Synchronisation**: one acquire semaphore per frame slot (reused only after
  ``begin_frame`` waited for that slot's fence, so the wait that consumed it has completed);
  one render-finished semaphore per swapchain image, waited by present.
- Acquire and present call the loader's exported functions directly with prebuilt out-pointers
  and structs: no binding struct is built per frame (their constructors cost microseconds).
"""

from __future__ import annotations

from typing import Any

from engine.device.context import GraphicsContext
from engine.device.vk import UINT64_MAX, check_result, ffi, lib, vk
from engine.errors import WindowError
from engine.render.images import GBuffer, create_view, has_stencil
from engine.render.phases import DEFERRED, TargetLayout, as_layout
from engine.render.render_pass import create_framebuffer, create_render_pass
from engine.render.surface_clear import surface_clear_in_compute
from engine.render.targets import target_depth_format
from engine.render.window import Window

_PREFERRED_FORMATS = (vk.VK_FORMAT_B8G8R8A8_UNORM, vk.VK_FORMAT_R8G8B8A8_UNORM)


class SwapchainTarget:
    """Draw into a :class:`~engine.render.window.Window` (the window is not owned)."""

    final_layout = vk.VK_IMAGE_LAYOUT_PRESENT_SRC_KHR

    def __init__(self, ctx: GraphicsContext, window: Window, frames_in_flight: int, *,
                 vsync: bool = False, layout: TargetLayout | str = DEFERRED,
                 stencil: bool = False, surface_clear: str = "auto") -> None:
        self.layout = as_layout(layout, "SwapchainTarget")
        self.surface_cleared_in_compute = surface_clear_in_compute(
            ctx, surface_clear, "SwapchainTarget") and self.layout is DEFERRED
        """The G-buffer surface is cleared by a compute dispatch (``surface_clear``, as for
        :class:`~engine.render.targets.OffscreenTarget`)."""
        """The target's phases (compute, then one per subpass): DEFERRED or FORWARD."""
        self.depth_format = target_depth_format(ctx, self.layout, stencil, "SwapchainTarget")
        """The depth attachment's VkFormat (D32_SFLOAT; with ``stencil=True``, forward layout
        only, a depth/stencil format: see :func:`~engine.render.targets.target_depth_format`)."""
        self.has_stencil = has_stencil(self.depth_format)
        """True when the depth attachment has a stencil aspect."""
        self.ctx = ctx
        self.window = window
        self.vsync = vsync
        self.swapchain: Any = None
        self.surface: Any = None
        self.render_pass: Any = None
        self.width = self.height = 0
        self.recreations = 0
        self.generation = 0
        """+1 each time the size-dependent attachments are recreated (input-attachment
        descriptors that point at the G-buffer must then be rewritten)."""
        self.supports_screenshot = False
        self.presented = 0
        self.suboptimal_seen = 0
        self.out_of_date_seen = 0
        self._images: list[Any] = []
        self._views: list[Any] = []
        self._framebuffers: list[Any] = []
        self._rendered: list[Any] = []
        self._acquired: list[Any] = []
        self.gbuffer: GBuffer | None = None
        self._stale = False
        self._index = ffi.new("uint32_t*")
        self._swapchain_arr = ffi.new("VkSwapchainKHR[1]")
        self._wait_arr = ffi.new("VkSemaphore[1]")
        self._present = ffi.new("VkPresentInfoKHR*", {
            "sType": vk.VK_STRUCTURE_TYPE_PRESENT_INFO_KHR, "waitSemaphoreCount": 1,
            "pWaitSemaphores": self._wait_arr, "swapchainCount": 1,
            "pSwapchains": self._swapchain_arr, "pImageIndices": self._index})
        try:
            self.surface = window.create_surface(ctx)
            self._check_support()
            self.color_format, self.color_space = self._choose_format()
            self.present_mode = self._choose_present_mode()
            self.render_pass = create_render_pass(
                ctx, self.color_format, self.final_layout, self.layout, self.depth_format,
                surface_cleared_in_compute=self.surface_cleared_in_compute)
            self._acquired = [self._semaphore() for _ in range(frames_in_flight)]
            self._create()
        except BaseException:
            self.destroy()
            raise

    @property
    def is_window(self) -> bool:
        return True

    # --- set-up ----------------------------------------------------------------------------

    def _check_support(self) -> None:
        supported = ffi.new("VkBool32*")
        check_result(lib.vkGetPhysicalDeviceSurfaceSupportKHR(
            self.ctx.physical_device, self.ctx.queue_family_index, self.surface, supported),
            "vkGetPhysicalDeviceSurfaceSupportKHR", what="SwapchainTarget")
        if not supported[0]:
            raise WindowError(f"SwapchainTarget: {self.ctx.device_name} cannot present to this "
                              "window's surface from its graphics queue.")
        if "VK_KHR_swapchain" not in self.ctx.device_extensions:
            raise WindowError("SwapchainTarget: the device was created without "
                              "VK_KHR_swapchain; create the context with the window's "
                              "instance extensions.")

    def _choose_format(self) -> tuple[int, int]:
        pd, surface = self.ctx.physical_device, self.surface
        count = ffi.new("uint32_t*")
        lib.vkGetPhysicalDeviceSurfaceFormatsKHR(pd, surface, count, ffi.NULL)
        formats = ffi.new("VkSurfaceFormatKHR[]", count[0])
        check_result(lib.vkGetPhysicalDeviceSurfaceFormatsKHR(pd, surface, count, formats),
                     "vkGetPhysicalDeviceSurfaceFormatsKHR", what="SwapchainTarget")
        offered = [(int(formats[i].format), int(formats[i].colorSpace)) for i in range(count[0])]
        for wanted in _PREFERRED_FORMATS:
            for fmt, space in offered:
                if fmt == wanted:
                    return fmt, space
        return offered[0]

    def _choose_present_mode(self) -> int:
        pd, surface = self.ctx.physical_device, self.surface
        count = ffi.new("uint32_t*")
        lib.vkGetPhysicalDeviceSurfacePresentModesKHR(pd, surface, count, ffi.NULL)
        modes_arr = ffi.new("VkPresentModeKHR[]", count[0])
        lib.vkGetPhysicalDeviceSurfacePresentModesKHR(pd, surface, count, modes_arr)
        modes = {int(modes_arr[i]) for i in range(count[0])}
        if not self.vsync:
            for mode in (vk.VK_PRESENT_MODE_MAILBOX_KHR, vk.VK_PRESENT_MODE_IMMEDIATE_KHR):
                if mode in modes:
                    return mode
        return int(vk.VK_PRESENT_MODE_FIFO_KHR)

    def _semaphore(self) -> Any:
        info = ffi.new("VkSemaphoreCreateInfo*",
                       {"sType": vk.VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO})
        out = ffi.new("VkSemaphore*")
        check_result(lib.vkCreateSemaphore(self.ctx.device, info, ffi.NULL, out),
                     "vkCreateSemaphore", what="SwapchainTarget")
        return out[0]

    def _create(self) -> None:
        """(Re)create swapchain, views, G-buffer and framebuffers at the window's size."""
        ctx = self.ctx
        caps = ffi.new("VkSurfaceCapabilitiesKHR*")
        check_result(lib.vkGetPhysicalDeviceSurfaceCapabilitiesKHR(
            ctx.physical_device, self.surface, caps),
            "vkGetPhysicalDeviceSurfaceCapabilitiesKHR", what="SwapchainTarget")
        fb_w, fb_h = self.window.framebuffer_size()
        if caps.currentExtent.width != 0xFFFFFFFF:
            fb_w, fb_h = int(caps.currentExtent.width), int(caps.currentExtent.height)
        width = max(int(caps.minImageExtent.width), min(int(caps.maxImageExtent.width), fb_w))
        height = max(int(caps.minImageExtent.height), min(int(caps.maxImageExtent.height), fb_h))
        self.window.resized = False
        self._stale = False
        if fb_w == 0 or fb_h == 0 or width == 0 or height == 0:
            self.width = self.height = 0  # minimised: no swapchain until restored
            return
        count = caps.minImageCount + 1
        if caps.maxImageCount:
            count = min(count, caps.maxImageCount)
        usage = vk.VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT
        if caps.supportedUsageFlags & vk.VK_IMAGE_USAGE_TRANSFER_SRC_BIT:
            usage |= vk.VK_IMAGE_USAGE_TRANSFER_SRC_BIT
        self.supports_screenshot = bool(usage & vk.VK_IMAGE_USAGE_TRANSFER_SRC_BIT)
        alpha = vk.VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR
        if not caps.supportedCompositeAlpha & alpha:
            alpha = vk.VK_COMPOSITE_ALPHA_INHERIT_BIT_KHR
        info = ffi.new("VkSwapchainCreateInfoKHR*", {
            "sType": vk.VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR, "surface": self.surface,
            "minImageCount": count, "imageFormat": self.color_format,
            "imageColorSpace": self.color_space,
            "imageExtent": {"width": width, "height": height}, "imageArrayLayers": 1,
            "imageUsage": usage, "imageSharingMode": vk.VK_SHARING_MODE_EXCLUSIVE,
            "preTransform": caps.currentTransform, "compositeAlpha": alpha,
            "presentMode": self.present_mode, "clipped": 1,
            "oldSwapchain": self.swapchain if self.swapchain is not None else ffi.NULL})
        out = ffi.new("VkSwapchainKHR*")
        check_result(lib.vkCreateSwapchainKHR(ctx.device, info, ffi.NULL, out),
                     "vkCreateSwapchainKHR", what="SwapchainTarget")
        if self.swapchain is not None:
            lib.vkDestroySwapchainKHR(ctx.device, self.swapchain, ffi.NULL)
        self.swapchain = out[0]
        self._swapchain_arr[0] = self.swapchain
        self.width, self.height = width, height
        n = ffi.new("uint32_t*")
        lib.vkGetSwapchainImagesKHR(ctx.device, self.swapchain, n, ffi.NULL)
        images = ffi.new("VkImage[]", n[0])
        check_result(lib.vkGetSwapchainImagesKHR(ctx.device, self.swapchain, n, images),
                     "vkGetSwapchainImagesKHR", what="SwapchainTarget")
        self._images = [images[i] for i in range(n[0])]
        self.gbuffer = GBuffer(ctx, width, height, surface=self.layout is DEFERRED,
                               depth_format=self.depth_format,
                               clear_in_compute=self.surface_cleared_in_compute)
        self.generation += 1
        for image in self._images:
            view = create_view(ctx, image, self.color_format, vk.VK_IMAGE_ASPECT_COLOR_BIT,
                               "SwapchainTarget")
            self._views.append(view)
            self._framebuffers.append(create_framebuffer(
                ctx, self.render_pass, [view, *self.gbuffer.views()], width, height))
            self._rendered.append(self._semaphore())

    def _destroy_images(self) -> None:
        device = self.ctx.device
        for fb in self._framebuffers:
            lib.vkDestroyFramebuffer(device, fb, ffi.NULL)
        for view in self._views:
            lib.vkDestroyImageView(device, view, ffi.NULL)
        for sem in self._rendered:
            lib.vkDestroySemaphore(device, sem, ffi.NULL)
        self._framebuffers, self._views, self._rendered, self._images = [], [], [], []
        if self.gbuffer is not None:
            self.gbuffer.destroy()
            self.gbuffer = None

    def recreate(self) -> None:
        """Wait for the device, then rebuild everything that depends on the window size."""
        self.ctx.wait_idle()
        self._destroy_images()
        self._create()
        self.recreations += 1

    # --- per frame -------------------------------------------------------------------------

    def acquire(self, slot: int) -> int | None:
        """Acquire the next image (signals the slot's semaphore); ``None``: skip this frame."""
        if self.window.resized or self._stale or self.swapchain is None or not self.width:
            if self.window.minimised:
                return None
            self.recreate()
            if not self.width:
                return None
        result = lib.vkAcquireNextImageKHR(self.ctx.device, self.swapchain, UINT64_MAX,
                                           self._acquired[slot], ffi.NULL, self._index)
        if result == vk.VK_ERROR_OUT_OF_DATE_KHR:
            self.out_of_date_seen += 1
            self.recreate()
            return None
        if result == vk.VK_SUBOPTIMAL_KHR:
            self.suboptimal_seen += 1
            self._stale = True  # the image IS acquired: draw and present it, recreate after
        elif result != vk.VK_SUCCESS:
            check_result(result, "vkAcquireNextImageKHR", what="SwapchainTarget.acquire")
        return int(self._index[0])

    def framebuffer(self, index: int) -> Any:
        return self._framebuffers[index]

    def color_image(self, index: int) -> Any:
        return self._images[index]

    def color_view(self, index: int) -> Any:
        """The view of swapchain image ``index`` (valid until the next recreation)."""
        return self._views[index]

    def color_storage_view(self, index: int) -> Any:
        """None: swapchain images are not given a storage view (their formats and usages are
        the surface's; the compute paths composite with a raster pass here)."""
        return None

    def wait_semaphore(self, slot: int) -> Any:
        return self._acquired[slot]

    def signal_semaphore(self, index: int) -> Any:
        return self._rendered[index]

    def present(self, index: int) -> None:
        """Present image ``index`` after its render-finished semaphore."""
        self._index[0] = index
        self._wait_arr[0] = self._rendered[index]
        result = lib.vkQueuePresentKHR(self.ctx.queue, self._present)
        self.presented += 1
        if result in (vk.VK_SUBOPTIMAL_KHR, vk.VK_ERROR_OUT_OF_DATE_KHR):
            self._stale = True
            if result == vk.VK_SUBOPTIMAL_KHR:
                self.suboptimal_seen += 1
            else:
                self.out_of_date_seen += 1
        elif result != vk.VK_SUCCESS:
            check_result(result, "vkQueuePresentKHR", what="SwapchainTarget.present")

    # --- shutdown --------------------------------------------------------------------------

    def destroy(self) -> None:
        """Wait for the device; destroy swapchain, semaphores, render pass, surface."""
        ctx = self.ctx
        if ctx.device is None:
            return
        ctx.wait_idle()
        self._destroy_images()
        for sem in self._acquired:
            lib.vkDestroySemaphore(ctx.device, sem, ffi.NULL)
        self._acquired = []
        if self.swapchain is not None:
            lib.vkDestroySwapchainKHR(ctx.device, self.swapchain, ffi.NULL)
            self.swapchain = None
        if self.render_pass is not None:
            lib.vkDestroyRenderPass(ctx.device, self.render_pass, ffi.NULL)
            self.render_pass = None
        if self.surface is not None:
            lib.vkDestroySurfaceKHR(ctx.instance, self.surface, ffi.NULL)
            self.surface = None
