"""Renderer: records and submits one frame into a render target, and takes screenshots.

One frame (:meth:`Renderer.render`), after the BufferSystem submitted the frame's uploads and
the BindingSystem wrote the slot's descriptors:

1. ``target.acquire(slot)``: the image to draw (``None``: minimised/out of date, skip).
2. Record the slot's command buffer phase by phase (the target's layout, see
   :mod:`engine.render.phases`): ``compute`` before the render pass, then each subpass's phase
   (``scene`` and ``light`` of the deferred layout, ``forward`` of the forward one). In each
   phase the legacy :attr:`Renderer.passes` hooks run first (``record_compute``,
   ``record_scene``, ``record_light``, ``record_forward``: raw command buffers), then the passes
   added with :meth:`Renderer.add_pass`, each handed the :class:`~engine.render.draw.DrawContext`.
   Each pass is wrapped in a debug-utils label (validation on) and followed by a timestamp
   (GPU time per pass, :mod:`engine.render.gpu_timing`). After the render pass, every
   :attr:`Renderer.after_passes` entry's ``record_after`` (the compute particle path's splat
   and composite), labelled and timed the same way. Then a screenshot copy if one was
   requested, and the copy of the frame's timestamps.
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

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from engine.buffers.manager import BufferManager
from engine.buffers.types import BufferConfig, BufferStrategy, BufferUsage, ManagedBuffer
from engine.device.barriers import image_barrier
from engine.device.interrupts import defers_interrupts
from engine.device.vk import check_result, ffi, lib, vk
from engine.errors import EngineError, InvalidOptionError
from engine.render.draw import DrawContext
from engine.render.gpu_timing import DebugLabels, PassTimer
from engine.render.phases import DEFERRED, PhaseInfo, TargetLayout
from engine.render.render_pass import CLEAR_COLOR

_LEGACY_HOOKS = {"compute": "record_compute", "scene": "record_scene", "light": "record_light",
                 "forward": "record_forward"}
"""The FramePass hook recorded in each phase (a legacy pass lacking one is skipped)."""


def _clear_color(value: Any, what: str) -> tuple[float, float, float, float]:
    """``value`` as 4 finite Python floats, or InvalidOptionError (nothing changes)."""
    if isinstance(value, np.ndarray):
        value = value.reshape(-1).tolist() if value.ndim == 1 else value
    items = list(value) if isinstance(value, tuple | list) else None
    if items is None or len(items) != 4 or any(
            isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer
                                                             | np.floating) for v in items):
        raise InvalidOptionError(f"{what}: {value!r} is not 4 numbers; pass (r, g, b, a), "
                                 "e.g. (0.1, 0.1, 0.15, 1.0).")
    try:
        out = tuple(float(v) for v in items)
    except OverflowError:  # an int beyond any float
        out = (float("inf"),)
    if not all(np.isfinite(out)) or max(abs(v) for v in out) > 3.4e38:
        raise InvalidOptionError(f"{what}: {value!r} has a value that is not a finite float32; "
                                 "pass 4 finite numbers (0-1 for the usual colour formats).")
    return out[0], out[1], out[2], out[3]


class FramePass(Protocol):
    """A legacy pass (``renderer.passes``): raw command-buffer hooks, each called once per
    rendered frame in its phase of a deferred target (a forward target calls
    ``record_compute`` and, where the object has one, ``record_forward``). New passes use
    :meth:`Renderer.add_pass` and the :class:`~engine.render.draw.DrawContext` instead."""

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
        gpu_timing: timestamps per pass (:meth:`statistics`); False records none.
        clear_color: the colour every frame's picture starts from, before any pass draws:
            4 finite numbers ``(r, g, b, a)``, the values of the colour attachment (0-1 for
            its UNORM/SRGB formats; an SRGB image converts them from linear). Default
            opaque black ``(0, 0, 0, 1)``. Change it later with :attr:`clear_color`. The
            G-buffer surface clears to 0 (nothing to light) and depth to 1.0 (far).

    Attributes:
        frames_rendered: frames recorded and submitted so far (each successful
            :meth:`render`); a loop that runs N frames waits for ``frames_rendered == N``.
        frames_skipped: :meth:`render` calls that drew nothing because the target had no
            image (a minimised or out-of-date window).
    """

    def __init__(self, manager: BufferManager, target: RenderTarget, *,
                 gpu_timing: bool = True,
                 clear_color: tuple[float, float, float, float] = CLEAR_COLOR) -> None:
        if gpu_timing.__class__ is not bool:
            raise InvalidOptionError(f"Renderer(gpu_timing={gpu_timing!r}): pass True or False.")
        color = _clear_color(clear_color, "Renderer(clear_color=...)")
        self.manager = manager
        self.ctx = manager.context
        self.target = target
        self.layout: TargetLayout = getattr(target, "layout", DEFERRED)
        """The target's phases: ``compute``, then one per subpass (see engine.render.phases)."""
        self.passes: list[FramePass] = []
        self.after_passes: list[AfterPass] = []
        """Work recorded after the render pass (``record_after``), in order, each timed."""
        """Legacy passes (``record_compute``/``record_scene``/``record_light`` hooks, raw
        command buffers), recorded before the passes of :meth:`add_pass` in each phase."""
        self._added: list[tuple[str, str, Callable[[DrawContext], None]]] = []
        self._plan_key: tuple[Any, ...] = ()
        self._plan: list[tuple[PhaseInfo, list[tuple[str, bool, Any]]]] = []
        self._stamps = 0
        self.draw_context = DrawContext(self)
        """The recorder handed to the passes of :meth:`add_pass` (valid during their call)."""
        self._timer: PassTimer | None = None
        timer = PassTimer(self.ctx, manager.frames_in_flight)
        if gpu_timing and timer.supported:
            self._timer = timer
        self.timestamp_valid_bits = timer.valid_bits
        self.timestamp_period_ns = timer.period_ns
        self._labels = DebugLabels(self.ctx)
        self.frames_rendered = 0
        """Frames recorded and submitted so far (see the class docstring)."""
        self.frames_skipped = 0
        """:meth:`render` calls the target skipped (no image to draw)."""
        self._shot_request = False
        self._shot: tuple[ManagedBuffer, int, int] | None = None
        self.frames = manager.frames
        """The manager's frame slots: the renderer records into a command buffer of the
        current slot and submits through them."""
        self._cmd_array = ffi.new("VkCommandBuffer[1]")
        attachments = 1 + max(len(p.colors) for p in self.layout.subpasses)
        self._clears = ffi.new("VkClearValue[]", attachments)
        self._clear_color = color
        for c in range(4):
            self._clears[0].color.float32[c] = color[c]
        # The last attachment is depth (1.0); the G-buffer surface clears to 0 (sky).
        self._clears[attachments - 1].depthStencil.depth = 1.0
        self._rp_begin = ffi.new("VkRenderPassBeginInfo*", {
            "sType": vk.VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO,
            "clearValueCount": attachments, "pClearValues": self._clears})
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

    @property
    def clear_color(self) -> tuple[float, float, float, float]:
        """The colour each frame's picture is cleared to, ``(r, g, b, a)``; assign 4 finite
        numbers to change it from the next frame on (checked as in the constructor)."""
        return self._clear_color

    @clear_color.setter
    def clear_color(self, value: tuple[float, float, float, float]) -> None:
        color = _clear_color(value, "Renderer.clear_color")
        self._clear_color = color
        for c in range(4):  # the prebuilt VkClearValue the next vkCmdBeginRenderPass reads
            self._clears[0].color.float32[c] = color[c]

    # --- passes ----------------------------------------------------------------------------

    def add_pass(self, pass_: Any, *, phase: str, name: str | None = None) -> str:
        """Record ``pass_`` every frame in ``phase`` of the target's layout.

        ``pass_`` is a callable taking the :class:`~engine.render.draw.DrawContext`, or an
        object with a ``record(dc)`` method. Passes of a phase run in the order they were
        added, after the legacy :attr:`passes`. ``name`` (default: the object's ``name``
        attribute, else its class or function name) labels the pass in debug labels, GPU
        timings and :meth:`statistics`; it must be unique. Returns the name.
        """
        what = "Renderer.add_pass"
        info = self.layout.phase(phase, what)
        fn = pass_ if callable(pass_) and not hasattr(pass_, "record") else getattr(
            pass_, "record", None)
        if not callable(fn):
            raise InvalidOptionError(f"{what}: {pass_!r} is neither callable nor has a "
                                     "record(dc) method.")
        if name is None:
            name = getattr(pass_, "name", None) or getattr(pass_, "__name__", None) \
                or type(pass_).__name__
        if not isinstance(name, str) or not name:
            raise InvalidOptionError(f"{what}: name={name!r} must be a non-empty str.")
        if any(n == name for n, _, _ in self._added):
            raise InvalidOptionError(f"{what}: a pass named {name!r} exists already; pass "
                                     "another name=.")
        self._added.append((name, info.name, fn))
        return name

    def remove_pass(self, name: str) -> None:
        """Stop recording the pass added as ``name`` (from the next frame on)."""
        for i, (n, _, _) in enumerate(self._added):
            if n == name:
                del self._added[i]
                return
        raise InvalidOptionError(f"Renderer.remove_pass: no pass named {name!r}; passes: "
                                 f"{', '.join(n for n, _, _ in self._added) or 'none'}.")

    def pass_names(self) -> dict[str, list[str]]:
        """Per phase, the names of the passes recorded there (legacy ones first)."""
        self._update_plan()
        return {phase.name: [n for n, _, _ in entries] for phase, entries in self._plan}

    def _update_plan(self) -> None:
        key = (tuple(self.passes), tuple(self._added), tuple(self.after_passes))
        if key == self._plan_key:
            return
        names: dict[str, int] = {}
        legacy_names = []
        for p in self.passes:
            base = type(p).__name__
            names[base] = names.get(base, 0) + 1
            legacy_names.append(base if names[base] == 1 else f"{base}#{names[base]}")
        plan = []
        stamps = 0
        for phase in self.layout.phases:
            hook = _LEGACY_HOOKS.get(phase.name)
            entries: list[tuple[str, bool, Any]] = []
            for label, p in zip(legacy_names, self.passes, strict=True):
                fn = getattr(p, hook, None) if hook else None
                if fn is not None:
                    entries.append((label, True, fn))
            entries += [(n, False, fn) for n, ph, fn in self._added if ph == phase.name]
            plan.append((phase, entries))
            stamps += len(entries) + 1 if entries else 0
        if self.after_passes:
            stamps += len(self.after_passes) + 1
        self._plan, self._stamps, self._plan_key = plan, stamps, key

    # --- statistics ------------------------------------------------------------------------

    def statistics(self) -> dict[str, Any]:
        """Frames rendered/skipped, and GPU time per pass (ms: median, mean, p95 over the
        last frames) from the timestamp queries (``gpu`` is None with ``gpu_timing=False`` or
        where the queue has no timestamps)."""
        return {"frames_rendered": self.frames_rendered, "frames_skipped": self.frames_skipped,
                "layout": self.layout.name, "passes": self.pass_names(),
                "debug_labels": self._labels.enabled,
                "gpu": None if self._timer is None else self._timer.statistics()}

    def format_statistics(self) -> str:
        """:meth:`statistics` as a small table (GPU ms per pass)."""
        stats = self.statistics()
        lines = [f"renderer: {stats['frames_rendered']} frames rendered, "
                 f"{stats['frames_skipped']} skipped, {stats['layout']} layout, debug labels "
                 f"{'on' if stats['debug_labels'] else 'off'}"]
        gpu = stats["gpu"]
        if gpu is None:
            lines.append("  GPU timing off")
            return "\n".join(lines)
        lines.append(f"  GPU time per pass over {gpu['frames']} frames "
                     f"(timestamps, {gpu['timestamp_period_ns']:g} ns/tick, "
                     f"{gpu['missed']} not ready):")
        lines.append(f"  {'pass':<28}{'median ms':>11}{'mean ms':>10}{'p95 ms':>10}")
        for name, s in gpu["passes"].items():
            lines.append(f"  {name:<28}{s['median_ms']:>11.3f}{s['mean_ms']:>10.3f}"
                         f"{s['p95_ms']:>10.3f}")
        f = gpu["frame_ms"]
        lines.append(f"  {'(frame, first to last)':<28}{f['median_ms']:>11.3f}"
                     f"{f['mean_ms']:>10.3f}{f['p95_ms']:>10.3f}")
        return "\n".join(lines)

    def print_statistics(self) -> None:
        """Print :meth:`format_statistics` on stdout."""
        print(self.format_statistics())  # noqa: T201

    def pass_median_ms(self) -> dict[str, float]:
        """GPU median milliseconds per pass (empty without timing)."""
        if self._timer is None:
            return {}
        return {n: s["median_ms"] for n, s in self._timer.statistics()["passes"].items()}

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
        self._update_plan()
        try:
            self._record_and_submit(slot, index)
        except BaseException:
            self._labels.abandon()  # messages after this name no pass
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
        plan = self._plan
        timer = self._timer
        clear = getattr(getattr(target, "gbuffer", None), "surface_clear", None)
        if timer is not None:
            timer.begin(cmd, slot, self._stamps + (2 if clear is not None else 0))
        if clear is not None:  # the G-buffer surface cleared in compute (surface_clear.py)
            if timer is not None:
                timer.stamp(cmd, slot, None)
            clear.record(cmd)
            if timer is not None:
                timer.stamp(cmd, slot, "gbuffer.clear")
        width, height = target.width, target.height
        dc = self.draw_context
        labels = self._labels if self._labels.enabled else None
        in_pass = False
        for phase, entries in plan:
            if phase.subpass is not None:
                if not in_pass:
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
                    in_pass = True
                else:
                    lib.vkCmdNextSubpass(cmd, vk.VK_SUBPASS_CONTENTS_INLINE)
            if timer is not None and entries:
                timer.stamp(cmd, slot, None)
            for name, legacy, fn in entries:
                if labels is not None:
                    labels.begin(cmd, name)
                if legacy:
                    fn(cmd, slot)
                else:
                    dc.begin(cmd, slot, phase, width, height)
                    try:
                        fn(dc)
                    finally:
                        dc.end()
                if labels is not None:
                    labels.end(cmd)
                if timer is not None:
                    timer.stamp(cmd, slot, name)
        if in_pass:
            lib.vkCmdEndRenderPass(cmd)
        if self.after_passes:
            if timer is not None:
                timer.stamp(cmd, slot, None)
            for after in self.after_passes:
                name = getattr(after, "name", type(after).__name__)
                if labels is not None:
                    labels.begin(cmd, name)
                after.record_after(cmd, slot, index)
                if labels is not None:
                    labels.end(cmd)
                if timer is not None:
                    timer.stamp(cmd, slot, name)
        if self._shot_request:
            self._record_screenshot(cmd, index)
        if timer is not None:
            timer.end(cmd, slot)
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
        if timer is not None:
            timer.submitted(slot)

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
        if self._timer is not None:
            self._timer.destroy()
