"""Device images for render targets: colour, G-buffer and depth attachments.

An :class:`Image` owns a ``VkImage``, its own ``VkDeviceMemory`` (device-local; lazily
allocated memory where the device offers it and the image is transient) and one 2D view. Sizes
are in pixels. Images are destroyed explicitly with :meth:`Image.destroy`, after the GPU is done
with them (render targets wait for the device before they recreate or close).
"""

from __future__ import annotations

from typing import Any

from engine.device.context import GraphicsContext
from engine.device.vk import check_result, ffi, lib, vk
from engine.errors import NoSuitableMemoryTypeError, StencilUnavailableError
from engine.render.surface_clear import SurfaceClear

COLOR_FORMAT = vk.VK_FORMAT_B8G8R8A8_UNORM
"""Format of the offscreen colour target (matches the usual swapchain format)."""
STORAGE_VIEW_FORMAT = vk.VK_FORMAT_R8G8B8A8_UNORM
"""Format of the offscreen colour image's storage view (GLSL has no ``bgra8`` image format,
and storage images of R8G8B8A8_UNORM are required of every device): shaders see its red and
blue channels swapped."""
GBUFFER_FORMAT = vk.VK_FORMAT_R32G32_UINT
"""The packed G-buffer: x = albedo RGB8 + emissive8, y = octahedral normal 8:8 + linear view
depth unorm16 (of GBUFFER_DEPTH_RANGE units; 0 = sky). One attachment, one load per light
fragment: on lavapipe each input-attachment load costs as much as the lighting math."""
DEPTH_FORMAT = vk.VK_FORMAT_D32_SFLOAT
"""Depth attachment (depth test only; the light volumes read depth from the G-buffer)."""
DEPTH_STENCIL_FORMATS = (vk.VK_FORMAT_D32_SFLOAT_S8_UINT, vk.VK_FORMAT_D24_UNORM_S8_UINT)
"""Depth + 8-bit stencil formats a stencil target may get, in order of preference: D32 keeps
the depth of a plain target (float32); D24S8 is the fallback (NVIDIA and lavapipe offer both,
AMD only the first, some mobile GPUs only the second)."""
_STENCIL_FORMATS = frozenset(DEPTH_STENCIL_FORMATS) | {vk.VK_FORMAT_D16_UNORM_S8_UINT,
                                                       vk.VK_FORMAT_S8_UINT}


def has_stencil(fmt: int) -> bool:
    """True for a depth format with a stencil aspect."""
    return fmt in _STENCIL_FORMATS


def depth_aspect(fmt: int) -> int:
    """The aspect mask of a whole depth(/stencil) image of ``fmt``: views, barriers and layout
    transitions of a combined depth/stencil image name both aspects."""
    if has_stencil(fmt):
        return int(vk.VK_IMAGE_ASPECT_DEPTH_BIT | vk.VK_IMAGE_ASPECT_STENCIL_BIT)
    return int(vk.VK_IMAGE_ASPECT_DEPTH_BIT)


def choose_depth_format(ctx: GraphicsContext, stencil: bool, what: str,
                        candidates: tuple[int, ...] = DEPTH_STENCIL_FORMATS) -> int:
    """The depth attachment format of a target: :data:`DEPTH_FORMAT` without stencil, else the
    first of ``candidates`` whose optimal tiling the device can use as a depth/stencil
    attachment (``vkGetPhysicalDeviceFormatProperties``). Raises
    :class:`~engine.errors.StencilUnavailableError` when none is offered."""
    if not stencil:
        return int(DEPTH_FORMAT)
    props = ffi.new("VkFormatProperties*")
    for fmt in candidates:
        lib.vkGetPhysicalDeviceFormatProperties(ctx.physical_device, fmt, props)
        if props.optimalTilingFeatures & vk.VK_FORMAT_FEATURE_DEPTH_STENCIL_ATTACHMENT_BIT:
            return int(fmt)
    raise StencilUnavailableError(
        f"{what}(stencil=True): {ctx.device_name} offers none of the depth/stencil formats "
        f"{', '.join(_FORMAT_NAMES.get(f, str(f)) for f in candidates)} as an attachment; "
        "create the target with stencil=False.")


_FORMAT_NAMES = {getattr(vk, n): n for n in ("VK_FORMAT_D32_SFLOAT_S8_UINT",
                                             "VK_FORMAT_D24_UNORM_S8_UINT",
                                             "VK_FORMAT_D16_UNORM_S8_UINT")}


def _memory_type(ctx: GraphicsContext, bits: int, transient: bool) -> int:
    lazily = vk.VK_MEMORY_PROPERTY_LAZILY_ALLOCATED_BIT
    device_local = vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT
    order = ([lazily] if transient else []) + [device_local, 0]
    for wanted in order:
        for t in ctx.memory_types:
            if bits & (1 << t.index) and t.flags & wanted == wanted:
                return t.index
    raise NoSuitableMemoryTypeError(
        f"image memory: no memory type in bits {bits:#x}; the device cannot hold this image.")


class Image:
    """A 2D image with its memory and one view.

    Args:
        ctx: the device.
        width, height: pixels.
        fmt: a ``VkFormat``.
        usage: ``VkImageUsageFlags``.
        aspect: ``VkImageAspectFlags`` of the view.
        name: debug name.
        storage_format: also make ``storage_view``, a view in this format (a same-size
            format, e.g. R8G8B8A8_UNORM of a B8G8R8A8_UNORM image: the image is created
            MUTABLE_FORMAT; ``usage`` must include STORAGE). None: no such view.
    """

    def __init__(self, ctx: GraphicsContext, width: int, height: int, fmt: int, usage: int,
                 aspect: int, name: str, *, storage_format: int | None = None) -> None:
        self.ctx = ctx
        self.width, self.height, self.format = width, height, fmt
        self.image: Any = None
        self.memory: Any = None
        self.storage_view: Any = None
        self.view: Any = None
        what = f"Image({name!r}, {width}x{height})"
        device = ctx.device
        info = ffi.new("VkImageCreateInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO,
            "imageType": vk.VK_IMAGE_TYPE_2D, "format": fmt,
            "extent": {"width": width, "height": height, "depth": 1},
            "mipLevels": 1, "arrayLayers": 1, "samples": vk.VK_SAMPLE_COUNT_1_BIT,
            "tiling": vk.VK_IMAGE_TILING_OPTIMAL, "usage": usage,
            "flags": 0 if storage_format is None else vk.VK_IMAGE_CREATE_MUTABLE_FORMAT_BIT,
            "sharingMode": vk.VK_SHARING_MODE_EXCLUSIVE,
            "initialLayout": vk.VK_IMAGE_LAYOUT_UNDEFINED})
        out = ffi.new("VkImage*")
        check_result(lib.vkCreateImage(device, info, ffi.NULL, out), "vkCreateImage", what=what)
        self.image = out[0]
        try:
            req = ffi.new("VkMemoryRequirements*")
            lib.vkGetImageMemoryRequirements(device, self.image, req)
            transient = bool(usage & vk.VK_IMAGE_USAGE_TRANSIENT_ATTACHMENT_BIT)
            alloc = ffi.new("VkMemoryAllocateInfo*", {
                "sType": vk.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                "allocationSize": req.size,
                "memoryTypeIndex": _memory_type(ctx, int(req.memoryTypeBits), transient)})
            mem = ffi.new("VkDeviceMemory*")
            check_result(lib.vkAllocateMemory(device, alloc, ffi.NULL, mem), "vkAllocateMemory",
                         what=what)
            self.memory = mem[0]
            check_result(lib.vkBindImageMemory(device, self.image, self.memory, 0),
                         "vkBindImageMemory", what=what)
            self.view = create_view(ctx, self.image, fmt, aspect, what)
            if storage_format is not None:
                self.storage_view = create_view(ctx, self.image, storage_format, aspect, what)
            ctx.set_object_name(vk.VK_OBJECT_TYPE_IMAGE, self.image, name)
        except BaseException:
            self.destroy()
            raise

    def destroy(self) -> None:
        """Destroy view, image and memory (the GPU must be done with them); idempotent."""
        device = self.ctx.device
        if device is None:
            return
        if self.storage_view is not None:
            lib.vkDestroyImageView(device, self.storage_view, ffi.NULL)
            self.storage_view = None
        if self.view is not None:
            lib.vkDestroyImageView(device, self.view, ffi.NULL)
            self.view = None
        if self.image is not None:
            lib.vkDestroyImage(device, self.image, ffi.NULL)
            self.image = None
        if self.memory is not None:
            lib.vkFreeMemory(device, self.memory, ffi.NULL)
            self.memory = None


def create_view(ctx: GraphicsContext, image: Any, fmt: int, aspect: int, what: str) -> Any:
    """A 2D ``VkImageView`` of mip 0, layer 0."""
    info = ffi.new("VkImageViewCreateInfo*", {
        "sType": vk.VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO, "image": image,
        "viewType": vk.VK_IMAGE_VIEW_TYPE_2D, "format": fmt,
        "subresourceRange": {"aspectMask": aspect, "baseMipLevel": 0, "levelCount": 1,
                             "baseArrayLayer": 0, "layerCount": 1}})
    out = ffi.new("VkImageView*")
    check_result(lib.vkCreateImageView(ctx.device, info, ffi.NULL, out), "vkCreateImageView",
                 what=what)
    return out[0]


class GBuffer:
    """The per-target attachments besides the colour image: the packed surface data and depth.

    ``surface``: the light-volume subpass reads it as an input attachment and tests against
    ``depth`` read-only; the render pass stores it and leaves it SHADER_READ_ONLY, and the
    compute lighting path (engine/render/tiled_lighting.py) reads it as a sampled image after
    the pass (so it is not TRANSIENT: on a tiling GPU with lazily allocated memory that costs
    its memory and a store of 8 bytes a pixel; desktop GPUs and lavapipe have no lazy memory).
    ``depth`` is stored, left DEPTH_STENCIL_READ_ONLY and can be sampled or copied
    (SAMPLED, TRANSFER_SRC): the compute particle path (engine/render/particle_splat.py)
    samples it after the pass and tests its splats against it. One set serves every frame in flight:
    the render pass's external dependency orders frame N+1's writes after frame N's reads.
    ``depth_format`` is :data:`DEPTH_FORMAT` or, for a stencil target, one of
    :data:`DEPTH_STENCIL_FORMATS` (its view then covers both aspects). ``clear_in_compute``:
    the surface gets STORAGE usage and a :class:`~engine.render.surface_clear.SurfaceClear`
    (``surface_clear``) that the Renderer records before each render pass, which then loads
    the surface instead of clearing it.
    """

    def __init__(self, ctx: GraphicsContext, width: int, height: int, *,
                 surface: bool = True, depth_format: int = DEPTH_FORMAT,
                 clear_in_compute: bool = False) -> None:
        color_usage = (vk.VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT
                       | vk.VK_IMAGE_USAGE_INPUT_ATTACHMENT_BIT
                       | vk.VK_IMAGE_USAGE_SAMPLED_BIT)
        if clear_in_compute:
            color_usage |= vk.VK_IMAGE_USAGE_STORAGE_BIT
        depth_usage = (vk.VK_IMAGE_USAGE_DEPTH_STENCIL_ATTACHMENT_BIT
                       | vk.VK_IMAGE_USAGE_TRANSFER_SRC_BIT | vk.VK_IMAGE_USAGE_SAMPLED_BIT)
        color_aspect = vk.VK_IMAGE_ASPECT_COLOR_BIT
        self.images: list[Image] = []
        self.surface: Image | None = None
        """None for a forward target (depth only)."""
        self.surface_clear: SurfaceClear | None = None
        """Clears ``surface`` in compute before each frame's render pass (the target's
        ``surface_clear``: engine/render/surface_clear.py); None: the render pass clears it."""
        try:
            if surface:
                self.surface = self._add(Image(ctx, width, height, GBUFFER_FORMAT, color_usage,
                                               color_aspect, "gbuffer.surface"))
                if clear_in_compute:
                    self.surface_clear = SurfaceClear(ctx, self.surface.image,
                                                      self.surface.view, width, height)
            self.depth = self._add(Image(ctx, width, height, depth_format, depth_usage,
                                         depth_aspect(depth_format), "gbuffer.depth"))
        except BaseException:
            self.destroy()
            raise

    def _add(self, image: Image) -> Image:
        self.images.append(image)
        return image

    def views(self) -> list[Any]:
        """Views in attachment order after the colour image (surface if any, depth)."""
        if self.surface is None:
            return [self.depth.view]
        return [self.surface.view, self.depth.view]

    def destroy(self) -> None:
        if self.surface_clear is not None:
            self.surface_clear.destroy()
            self.surface_clear = None
        for image in self.images:
            image.destroy()
        self.images = []
