"""GraphicsContext: instance, physical device, logical device, queue and command pool.

Device choice: a real GPU first (discrete, then integrated, then virtual), lavapipe (CPU)
otherwise. Override with ``device=`` (an index or a case-insensitive name fragment such as
``"llvmpipe"`` or ``"nvidia"``) or the ``ENGINE_DEVICE`` environment variable.

Validation: ``validation=None`` reads ``ENGINE_VALIDATION`` (``1``/``0``); when on, the Khronos
layer is enabled with synchronisation validation (turn the latter off with
``ENGINE_SYNC_VALIDATION=0`` or ``sync_validation=False``). Messages reach
:data:`engine.device.debug.SINK` and :mod:`logging`.

Queues: one queue of a family that supports graphics and compute is used for everything,
transfers included. A dedicated transfer queue would need queue-family ownership transfers on
every buffer a frame touches; the graphics queue's copy engine is fast enough for per-frame
uploads (see BENCHMARKS.md), so we keep one queue and one submission order.

Lifetime: create with :meth:`GraphicsContext.create`, close with :meth:`GraphicsContext.close` (or
``with``). Closing waits for the device, then destroys the device, messenger and instance; the
validation layer reports any object still alive at that point as a leak.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import engine.device.vk as vkw
from engine.device.debug import SINK
from engine.device.instance import INSTANCES as _INSTANCES
from engine.device.instance import VALIDATION_LAYER, SharedInstance, create_shared_instance
from engine.device.interrupts import defers_interrupts
from engine.device.interrupts import install as install_interrupt_guard
from engine.device.queue import QueueTimeline
from engine.device.vk import EntryPoints, call, ffi, vk
from engine.errors import (
    ContextClosedError,
    DeviceNotFoundError,
    EngineError,
    InvalidOptionError,
    WrongThreadError,
)
from engine.identity import Unshareable
from engine.numbers import as_flag, as_int

_DEVICE_TYPE_RANK = {
    vk.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: 0,
    vk.VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: 1,
    vk.VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: 2,
    vk.VK_PHYSICAL_DEVICE_TYPE_OTHER: 3,
    vk.VK_PHYSICAL_DEVICE_TYPE_CPU: 4,
}


@dataclass(frozen=True, slots=True)
class MemoryType:
    """One ``VkMemoryType`` of the device: its index, property flags and heap."""

    index: int
    flags: int
    heap_index: int
    heap_size: int
    heap_device_local: bool


@dataclass(frozen=True, slots=True)
class DeviceLimits:
    """The limits the buffer code needs, in bytes unless stated."""

    min_uniform_buffer_offset_alignment: int
    min_storage_buffer_offset_alignment: int
    non_coherent_atom_size: int
    buffer_image_granularity: int
    max_memory_allocation_count: int
    max_uniform_buffer_range: int
    max_storage_buffer_range: int
    max_compute_work_group_count_x: int
    max_descriptor_set_uniform_buffers_dynamic: int = 8
    """Dynamic uniform-buffer descriptors one pipeline layout may hold (the spec's minimum
    is 8)."""
    max_descriptor_set_storage_buffers_dynamic: int = 4
    """Dynamic storage-buffer descriptors one pipeline layout may hold (minimum 4)."""


@dataclass(frozen=True, slots=True)
class DeviceFeatures:
    """Optional device features the engine enables where the device offers them (read-only:
    fixed when the device is created). Each is False where the device lacks it."""

    independent_blend: bool = False
    """Colour attachments of one pipeline may blend differently."""
    multi_draw_indirect: bool = False
    """One indirect draw call may record more than one draw."""
    draw_indirect_count: bool = False
    """``vkCmdDrawIndirectCount``/``vkCmdDrawIndexedIndirectCount`` (Vulkan 1.2 core, feature
    ``drawIndirectCount`` of ``VkPhysicalDeviceVulkan12Features``): the draw count is read by
    the GPU from a buffer. Queried and enabled only on a device of API version 1.2 or later."""
    buffer_int64_atomics: bool = False
    """64-bit integer atomics on storage buffers (Vulkan 1.2 ``shaderBufferInt64Atomics`` with
    ``shaderInt64``): the compute particle splat adds a pixel's R, G and B in one atomic
    instead of three. Queried and enabled only on a device of API version 1.2 or later."""


VK_API_1_2 = (1 << 22) | (2 << 12)
"""``VK_MAKE_API_VERSION(0, 1, 2, 0)``."""


def _vulkan12_features(physical_device: Any, api_version: int) -> Any:
    """The device's ``VkPhysicalDeviceVulkan12Features`` (``vkGetPhysicalDeviceFeatures2``
    with it in the ``pNext`` chain), or None on a device older than Vulkan 1.2."""
    if api_version < VK_API_1_2:
        return None
    f12 = ffi.new("VkPhysicalDeviceVulkan12Features*", {
        "sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES})
    f2 = ffi.new("VkPhysicalDeviceFeatures2*", {
        "sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, "pNext": f12})
    vk.lib.vkGetPhysicalDeviceFeatures2(physical_device, f2)
    return f12


class ContextCounters:
    """Per-frame and total counters shared by everything on one context."""

    def __init__(self) -> None:
        self.descriptor_writes_frame = 0
        self.descriptor_writes_total = 0

    def add_descriptor_writes(self, n: int) -> None:
        self.descriptor_writes_frame += n
        self.descriptor_writes_total += n

    def new_frame(self) -> None:
        self.descriptor_writes_frame = 0


def _env_flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    return value.lower() not in ("0", "false", "no", "off")


def _enumerate_names(fn: Any, *args: Any, attr: str) -> set[str]:
    try:
        return {getattr(p, attr) for p in fn(*args)}
    except Exception:
        return set()


def _check_create_args(validation: Any, device: Any, sync_validation: Any,
                       instance_extensions: Any, app_name: Any
                       ) -> tuple[bool | None, int | str | None, bool | None, list[str], str]:
    """``GraphicsContext.create``'s arguments, checked and normalised before anything starts."""
    what = "GraphicsContext.create"
    validation = as_flag(validation, what, "validation", allow_none=True)
    sync_validation = as_flag(sync_validation, what, "sync_validation", allow_none=True)
    if device is not None and not isinstance(device, str):
        index = as_int(device)
        if index is None:
            raise InvalidOptionError(
                f"{what}(device={device!r}): pass a device index (an integer), a name fragment "
                "(a str such as 'llvmpipe') or None.")
        device = index
    if isinstance(instance_extensions, str | bytes) or not isinstance(
            instance_extensions, list | tuple | set | frozenset):
        raise InvalidOptionError(
            f"{what}(instance_extensions={instance_extensions!r}): pass a list or tuple of "
            "extension names, e.g. ('VK_KHR_surface',), not one string.")
    names = list(instance_extensions)
    for name in names:
        if not isinstance(name, str) or not name:
            raise InvalidOptionError(
                f"{what}(instance_extensions=...): {name!r} is not an extension name; every "
                "item must be a non-empty str such as 'VK_KHR_surface'.")
    if not isinstance(app_name, str):
        raise InvalidOptionError(f"{what}(app_name={app_name!r}): the application name must "
                                 "be a str.")
    return validation, device, sync_validation, names, app_name


def _check_features(names: Any) -> frozenset[str]:
    """``disable_features=`` of ``GraphicsContext.create``: names of DeviceFeatures fields."""
    known = DeviceFeatures.__dataclass_fields__
    if isinstance(names, str | bytes) or not isinstance(names, list | tuple | set | frozenset) \
            or not all(isinstance(n, str) and n in known for n in names):
        raise InvalidOptionError(
            f"GraphicsContext.create(disable_features={names!r}): pass a tuple of feature "
            f"names from {', '.join(map(repr, known))}.")
    return frozenset(names)


class GraphicsContext(Unshareable):
    """The Vulkan device every manager, binder and renderer of one program shares.

    Not copyable or picklable (:class:`~engine.errors.NotCopyableError`): it owns the device.
    """

    def __init__(self) -> None:  # use GraphicsContext.create()
        self.instance: Any = None
        self.physical_device: Any = None
        self.device: Any = None
        self.queue: Any = None
        self.queue_family_index = 0
        self.timeline: QueueTimeline | None = None
        """Serials and fences of every submission to :attr:`queue` (all managers share it)."""
        self.owner_thread = threading.get_ident()
        """The thread that created the context: the only one that may use it and the objects
        made on it (see :meth:`check_thread`)."""
        self.device_name = ""
        self.device_type = 0
        self.driver_version = 0
        self.api_version = 0
        self.memory_types: tuple[MemoryType, ...] = ()
        self.memory_heaps: tuple[tuple[int, int], ...] = ()  # (size, flags)
        self.limits: DeviceLimits
        self.validation = False
        self.sync_validation = False
        self.debug_utils = False
        self.independent_blend = False
        self.multi_draw_indirect = False
        self.features = DeviceFeatures()
        """The optional features enabled on the device (see :class:`DeviceFeatures`)."""
        self.instance_extensions: set[str] = set()
        self.device_extensions: set[str] = set()
        self.entry_points: EntryPoints
        self._shared: SharedInstance
        self._closed = True
        self._close_hooks: list[Any] = []
        self._device_keepers: set[int] = set()
        self.counters = ContextCounters()
        self.buffer_listeners: list[Callable[[Any, str], None]] = []
        """Called as ``listener(buffer, event)`` with event ``"replaced"`` (new VkBuffer,
        generation bumped) or ``"destroyed"``; the ResourceBinder subscribes here so that its
        per-frame work grows with changes, not with the number of bindings."""

    # --- creation ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        validation: bool | None = None,
        device: int | str | None = None,
        sync_validation: bool | None = None,
        instance_extensions: tuple[str, ...] | list[str] = (),
        app_name: str = "vkbuffers",
        disable_features: tuple[str, ...] | list[str] = (),
    ) -> GraphicsContext:
        """Create a headless context (add surface extensions for a window).

        Args:
            validation: enable the Khronos validation layer; ``None`` reads
                ``ENGINE_VALIDATION``.
            device: physical-device index or name fragment; ``None`` reads ``ENGINE_DEVICE``
                and otherwise prefers a real GPU over lavapipe.
            sync_validation: synchronisation validation (default: on with validation, unless
                ``ENGINE_SYNC_VALIDATION=0``).
            instance_extensions: extra instance extensions (e.g. GLFW's surface ones).
            disable_features: names of :class:`DeviceFeatures` fields to leave off even where
                the device offers them (e.g. ``("draw_indirect_count",)``), to run a
                program's fallback path on a device that has the feature.
        """
        validation, device, sync_validation, extensions, app_name = _check_create_args(
            validation, device, sync_validation, instance_extensions, app_name)
        disabled = _check_features(disable_features)
        ctx = cls()
        try:
            ctx._create_instance(validation, sync_validation, extensions, app_name)
            ctx._choose_physical_device(device if device is not None else os.environ.get(
                "ENGINE_DEVICE") or None)
            ctx._create_device(disabled)
        except BaseException:
            ctx._destroy()
            raise
        ctx._closed = False
        install_interrupt_guard()
        return ctx

    def _create_instance(
        self, validation: bool | None, sync: bool | None, extra: list[str], app_name: str
    ) -> None:
        if validation is None:
            validation = bool(_env_flag("ENGINE_VALIDATION"))
        available_layers = _enumerate_names(
            vk.vkEnumerateInstanceLayerProperties, attr="layerName")
        available_ext = _enumerate_names(
            vk.vkEnumerateInstanceExtensionProperties, None, attr="extensionName")
        if validation and VALIDATION_LAYER not in available_layers:
            raise EngineError(
                "GraphicsContext.create(validation=True): the Khronos validation layer is not "
                "installed; install vulkan-validationlayers or pass validation=False."
            )
        if validation:
            layer_ext = _enumerate_names(
                vk.vkEnumerateInstanceExtensionProperties, VALIDATION_LAYER, attr="extensionName")
            available_ext |= layer_ext
        if sync is None:
            sync_env = _env_flag("ENGINE_SYNC_VALIDATION")
            sync = validation and (sync_env is None or sync_env)
        extensions = list(dict.fromkeys(extra))
        for name in extensions:
            if name not in available_ext:
                raise EngineError(
                    f"GraphicsContext.create: instance extension {name} is not available.")
        self.debug_utils = "VK_EXT_debug_utils" in available_ext
        if self.debug_utils:
            extensions.append("VK_EXT_debug_utils")
        sync = bool(sync and "VK_EXT_validation_features" in available_ext)
        if sync:
            extensions.append("VK_EXT_validation_features")
        self.validation, self.sync_validation = bool(validation), sync
        self.instance_extensions = set(extensions)
        key = (self.validation, sync, tuple(sorted(extensions)))
        shared = _INSTANCES.get(key)
        if shared is None:
            shared = create_shared_instance(validation, sync, extensions, app_name,
                                             self.debug_utils)
            _INSTANCES[key] = shared
        shared.users += 1
        self._shared = shared
        self.instance = shared.instance
        self.entry_points = shared.entry_points

    def _choose_physical_device(self, wanted: int | str | None) -> None:
        devices = call(vk.vkEnumeratePhysicalDevices, self.instance,
                       what="GraphicsContext.create")
        if not devices:
            raise DeviceNotFoundError(
                "GraphicsContext.create: no Vulkan device found; install mesa-vulkan-drivers "
                "(lavapipe) or a GPU driver.")
        described = []
        for index, pd in enumerate(devices):
            props = vk.vkGetPhysicalDeviceProperties(pd)
            described.append((index, pd, props, props.deviceName))
        names = [f"{i}: {n}" for i, _, _, n in described]
        chosen = None
        if wanted is None:
            chosen = min(described, key=lambda d: (_DEVICE_TYPE_RANK.get(d[2].deviceType, 9),
                                                    d[0]))
        elif isinstance(wanted, int) or (isinstance(wanted, str) and wanted.isdigit()):
            index = int(wanted)
            if not 0 <= index < len(described):
                raise DeviceNotFoundError(
                    f"GraphicsContext.create(device={wanted!r}): no device with that index; "
                    f"devices are {names}.")
            chosen = described[index]
        else:
            matches = [d for d in described if str(wanted).lower() in d[3].lower()]
            if not matches:
                raise DeviceNotFoundError(
                    f"GraphicsContext.create(device={wanted!r}): no device name contains it; "
                    f"devices are {names}.")
            chosen = matches[0]
        _, pd, props, name = chosen
        self.physical_device = pd
        self.device_name = name
        self.device_type = props.deviceType
        self.driver_version = props.driverVersion
        self.api_version = props.apiVersion
        lim = props.limits
        self.limits = DeviceLimits(
            min_uniform_buffer_offset_alignment=int(lim.minUniformBufferOffsetAlignment),
            min_storage_buffer_offset_alignment=int(lim.minStorageBufferOffsetAlignment),
            non_coherent_atom_size=int(lim.nonCoherentAtomSize),
            buffer_image_granularity=int(lim.bufferImageGranularity),
            max_memory_allocation_count=int(lim.maxMemoryAllocationCount),
            max_uniform_buffer_range=int(lim.maxUniformBufferRange),
            max_storage_buffer_range=int(lim.maxStorageBufferRange),
            max_compute_work_group_count_x=int(lim.maxComputeWorkGroupCount[0]),
            max_descriptor_set_uniform_buffers_dynamic=int(
                lim.maxDescriptorSetUniformBuffersDynamic),
            max_descriptor_set_storage_buffers_dynamic=int(
                lim.maxDescriptorSetStorageBuffersDynamic),
        )
        mem = vk.vkGetPhysicalDeviceMemoryProperties(pd)
        heaps = tuple((int(mem.memoryHeaps[i].size), int(mem.memoryHeaps[i].flags))
                      for i in range(mem.memoryHeapCount))
        self.memory_heaps = heaps
        self.memory_types = tuple(
            MemoryType(i, int(mem.memoryTypes[i].propertyFlags), int(mem.memoryTypes[i].heapIndex),
                       heaps[mem.memoryTypes[i].heapIndex][0],
                       bool(heaps[mem.memoryTypes[i].heapIndex][1]
                            & vk.VK_MEMORY_HEAP_DEVICE_LOCAL_BIT))
            for i in range(mem.memoryTypeCount))

    def _create_device(self, disabled: frozenset[str] = frozenset()) -> None:
        families = vk.vkGetPhysicalDeviceQueueFamilyProperties(self.physical_device)
        wanted = vk.VK_QUEUE_GRAPHICS_BIT | vk.VK_QUEUE_COMPUTE_BIT
        for index, family in enumerate(families):
            if family.queueFlags & wanted == wanted:
                self.queue_family_index = index
                break
        else:
            raise DeviceNotFoundError(
                f"GraphicsContext.create: {self.device_name} has no graphics+compute queue.")
        available = _enumerate_names(vk.vkEnumerateDeviceExtensionProperties,
                                     self.physical_device, None, attr="extensionName")
        extensions = [e for e in ("VK_KHR_swapchain", "VK_EXT_memory_budget") if e in available]
        if "VK_KHR_swapchain" in extensions and "VK_KHR_surface" not in self.instance_extensions:
            extensions.remove("VK_KHR_swapchain")
        self.device_extensions = set(extensions)
        keep = vkw.KeepAlive()
        queue_info = keep(vk.VkDeviceQueueCreateInfo(
            queueFamilyIndex=self.queue_family_index, queueCount=1, pQueuePriorities=[1.0]))
        supported = vk.vkGetPhysicalDeviceFeatures(self.physical_device)
        self.independent_blend = bool(supported.independentBlend) \
            and "independent_blend" not in disabled
        """Colour attachments of one pipeline may blend differently (enabled where offered)."""
        self.multi_draw_indirect = bool(supported.multiDrawIndirect) \
            and "multi_draw_indirect" not in disabled
        """Indirect draws may record more than one draw (enabled where offered)."""
        offered12 = _vulkan12_features(self.physical_device, self.api_version)
        draw_count = bool(offered12 is not None and offered12.drawIndirectCount) \
            and "draw_indirect_count" not in disabled
        int64_atomics = bool(offered12 is not None and offered12.shaderBufferInt64Atomics
                             and supported.shaderInt64) and "buffer_int64_atomics" not in disabled
        features = keep(vk.VkPhysicalDeviceFeatures(
            shaderInt64=int(int64_atomics),
            largePoints=supported.largePoints,
            fillModeNonSolid=supported.fillModeNonSolid,
            independentBlend=int(self.independent_blend),
            multiDrawIndirect=int(self.multi_draw_indirect)))
        enable12 = ffi.NULL
        if draw_count or int64_atomics:
            enable12 = keep(ffi.new("VkPhysicalDeviceVulkan12Features*", {
                "sType": vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                "drawIndirectCount": int(draw_count),
                "shaderBufferInt64Atomics": int(int64_atomics)}))
        self.features = DeviceFeatures(self.independent_blend, self.multi_draw_indirect,
                                       draw_count, int64_atomics)
        info = vk.VkDeviceCreateInfo(
            pNext=enable12, pQueueCreateInfos=[queue_info], ppEnabledExtensionNames=extensions,
            pEnabledFeatures=features)
        self.device = call(vk.vkCreateDevice, self.physical_device, info, None,
                           what="GraphicsContext.create")
        self.entry_points = EntryPoints(self.instance, self.device)
        self.queue = vk.vkGetDeviceQueue(self.device, self.queue_family_index, 0)
        self.timeline = QueueTimeline(self.device, self.queue)
        names_wanted = self.validation or bool(_env_flag("ENGINE_OBJECT_NAMES"))
        self._set_name_fn = (self.entry_points.get("vkSetDebugUtilsObjectNameEXT")
                             if self.debug_utils and names_wanted else None)

    # --- services ------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def is_software(self) -> bool:
        """True on a CPU implementation such as lavapipe."""
        return bool(self.device_type == vk.VK_PHYSICAL_DEVICE_TYPE_CPU)

    def require_open(self, what: str) -> None:
        """Raise unless the context is open and ``what`` runs on its owner thread."""
        if self._closed:
            raise ContextClosedError(f"{what}: the GraphicsContext is closed; create a new one.")
        if threading.get_ident() != self.owner_thread:
            self.raise_wrong_thread(what)

    def check_thread(self, what: str) -> None:
        """Raise :class:`~engine.errors.WrongThreadError` off the owner thread.

        The threading rule of the whole engine: a GraphicsContext and every object made on it
        (managers, binders, pipelines, renderers, buffer sets) are used from the thread that
        created the context. Vulkan requires external synchronisation of the queue, command
        pools and descriptor pools, and a per-call lock would cost more than the 256-byte
        ``update_buffer`` itself; a thread that produces data hands it to the owner thread
        (a ``queue.Queue``) instead.
        """
        if threading.get_ident() != self.owner_thread:
            self.raise_wrong_thread(what)

    def raise_wrong_thread(self, what: str) -> NoReturn:
        current = threading.current_thread().name
        raise WrongThreadError(
            f"{what}: called from thread {current!r}, but this GraphicsContext and the objects "
            f"made on it belong to the thread that created it (id {self.owner_thread}); call "
            "it from that thread (hand data over with a queue.Queue).")

    @property
    def names_objects(self) -> bool:
        """True when debug-utils names and labels are recorded (``VK_EXT_debug_utils`` enabled
        and validation on, or ``ENGINE_OBJECT_NAMES=1``)."""
        return getattr(self, "_set_name_fn", None) is not None

    def set_object_name(self, object_type: int, handle: Any, name: str) -> None:
        """Give a Vulkan object a debug-utils name (shown in validation messages and tools).

        Done when validation is on or ``ENGINE_OBJECT_NAMES=1`` (for RenderDoc and friends);
        skipped otherwise, since it is about a fifth of ``create_buffer``'s cost.
        """
        if self._set_name_fn is None or self.device is None:
            return
        info = ffi.new("VkDebugUtilsObjectNameInfoEXT*", {
            "sType": vk.VK_STRUCTURE_TYPE_DEBUG_UTILS_OBJECT_NAME_INFO_EXT,
            "objectType": object_type,
            "objectHandle": int(ffi.cast("uint64_t", handle)),
        })
        label = ffi.new("char[]", name.encode("utf-8", errors="replace"))
        info.pObjectName = label
        call(self._set_name_fn, self.device, info, what=f"set_object_name({name!r})")

    def notify_buffer(self, buffer: Any, event: str) -> None:
        """Tell every listener that ``buffer`` was replaced or destroyed."""
        for listener in list(self.buffer_listeners):
            listener(buffer, event)

    def add_close_hook(self, hook: Any) -> None:
        """Run ``hook()`` at :meth:`close`, before the device goes (managers register here)."""
        self._close_hooks.append(hook)

    def remove_close_hook(self, hook: Any) -> None:
        if hook in self._close_hooks:
            self._close_hooks.remove(hook)

    def wait_idle(self) -> None:
        """Wait for the device to finish all work (shutdown and tests only, never per frame)."""
        if self.device is not None:
            call(vk.vkDeviceWaitIdle, self.device, what="GraphicsContext.wait_idle")

    def describe(self) -> dict[str, Any]:
        """Device facts for logs and benchmark JSON."""
        return {
            "device": self.device_name,
            "type": int(self.device_type),
            "api_version": f"{self.api_version >> 22}.{(self.api_version >> 12) & 0x3FF}."
                           f"{self.api_version & 0xFFF}",
            "driver_version": int(self.driver_version),
            "memory_types": [{"index": t.index, "flags": hex(t.flags), "heap": t.heap_index}
                             for t in self.memory_types],
            "validation": self.validation,
            "sync_validation": self.sync_validation,
        }

    # --- shutdown ------------------------------------------------------------------------

    @defers_interrupts
    def close(self) -> None:
        """Destroy everything; safe to call twice. Managers still open are closed first."""
        if self._closed and self.instance is None:
            return
        self.check_thread("GraphicsContext.close")
        if self.device is not None:
            with contextlib.suppress(EngineError):
                self.wait_idle()
        while self._close_hooks:  # newest first; each hook removes itself or is dropped here
            hook = self._close_hooks.pop()
            hook()
        self._closed = True
        self._destroy()

    def keep_device(self, holder: object) -> None:
        """Keep the VkDevice past :meth:`close` until ``holder`` calls :meth:`release_device`
        (an allocator whose memory a live zero-copy view still uses: see engine.memory.pins).
        Everything else is closed as usual; public calls raise ContextClosedError."""
        self._device_keepers.add(id(holder))

    def release_device(self, holder: object) -> None:
        """``holder`` no longer needs the device; after close, the last one destroys it (from
        whichever thread drops the last view: nothing else uses a closed context)."""
        self._device_keepers.discard(id(holder))
        if self._closed and not self._device_keepers:
            self._destroy()

    def _destroy(self) -> None:
        if self._device_keepers:
            return  # release_device() finishes it
        if self.device is not None:
            if self.timeline is not None:
                self.timeline.destroy()
                self.timeline = None
            vk.vkDestroyDevice(self.device, None)
            self.device = None
        if self.instance is not None:
            # The VkInstance is shared and lives until the process exits (see
            # engine.device.instance).
            self._shared.users -= 1
            self.instance = None

    def __enter__(self) -> GraphicsContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<GraphicsContext {self.device_name!r} {state}>"


__all__ = ["SINK", "DeviceFeatures", "DeviceLimits", "GraphicsContext", "MemoryType"]
