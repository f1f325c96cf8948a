"""The one wrapper over the ``vulkan`` cffi bindings. Nothing outside ``engine/`` imports them.

What this layer fixes in the raw bindings:

- **Errors**: :func:`call` runs a binding function and turns every binding
  exception into an :class:`~engine.errors.EngineError` that names the call and the resource;
  ``VK_ERROR_OUT_OF_*_MEMORY`` becomes :class:`~engine.errors.OutOfDeviceMemoryError`.
- **WHOLE_SIZE**: :data:`WHOLE_SIZE` is ``2**64 - 1``, not the bindings' ``-1``.
- **Struct lifetimes**: :class:`KeepAlive` holds nested structs until the call returns
  (cffi frees a struct as soon as nothing references it, even one a pointer still names).
- **Hot paths**: per-frame code builds raw cffi structs with ``ffi.new`` (5-20x faster
  than the package constructors) or mutates prebuilt ones.
- **Extension entry points**: :class:`EntryPoints` looks each one up once and caches it;
  :func:`device_function` gives a raw function pointer of a device command (hot paths).
- **Fault injection**: ``FAULTS`` (a :class:`FaultInjector`) lets tests make the next allocation at
  a named site fail with a real ``VK_ERROR_OUT_OF_DEVICE_MEMORY`` path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import vulkan as _vk

from engine.errors import OutOfDeviceMemoryError, VulkanError

vk: Any = _vk
"""The raw bindings module, for engine modules only (constants and struct constructors)."""
ffi: Any = _vk.ffi
lib: Any = _vk.lib

WHOLE_SIZE = (1 << 64) - 1
"""``VK_WHOLE_SIZE`` as an unsigned 64-bit value (the bindings' ``-1`` overflows a uint64)."""

UINT64_MAX = (1 << 64) - 1

T = TypeVar("T")

_OOM_TYPES: tuple[type[BaseException], ...] = (
    _vk.VkErrorOutOfDeviceMemory,
    _vk.VkErrorOutOfHostMemory,
    _vk.VkErrorOutOfPoolMemory,
    _vk.VkErrorFragmentedPool,
    _vk.VkErrorTooManyObjects,
)
_BINDING_ERRORS: tuple[type[BaseException], ...] = (
    _vk.VkError,
    _vk.VkException,
    _vk.ProcedureNotFoundError,
    OverflowError,
    AttributeError,
    TypeError,
    ValueError,
    ffi.error,
)


class FaultInjector:
    """Test switch: make the next ``n`` allocations at a site fail as out of device memory.

    Sites used by the engine: ``"buffer"`` (buffer memory), ``"staging"`` (staging ring
    growth), ``"descriptor_pool"`` (descriptor pool creation/growth).
    """

    def __init__(self) -> None:
        self._armed: dict[str, int] = {}
        self.injected = 0

    def arm(self, site: str, count: int = 1) -> None:
        """Fail the next ``count`` allocations at ``site``."""
        self._armed[site] = self._armed.get(site, 0) + count

    def disarm(self) -> None:
        self._armed.clear()

    def check(self, site: str, what: str) -> None:
        """Raise :class:`~engine.errors.OutOfDeviceMemoryError` if ``site`` is armed (called before
        allocating)."""
        left = self._armed.get(site, 0)
        if left:
            self._armed[site] = left - 1
            self.injected += 1
            raise OutOfDeviceMemoryError(
                f"{what}: injected VK_ERROR_OUT_OF_DEVICE_MEMORY at allocation site {site!r} "
                "(FAULTS.arm() test switch); free buffers or lower the request."
            )


FAULTS = FaultInjector()


def result_name(exc: BaseException) -> str:
    """The VkResult-ish name of a binding exception, e.g. ``VkErrorOutOfDeviceMemory``."""
    return type(exc).__name__


def call(fn: Callable[..., T], *args: Any, what: str) -> T:
    """Run binding function ``fn(*args)``; translate any binding exception.

    Args:
        what: the caller's description for the message, e.g. ``"create_buffer('ubo')"``.
    """
    try:
        return fn(*args)
    except _OOM_TYPES as exc:
        raise OutOfDeviceMemoryError(
            f"{what}: {getattr(fn, '__name__', fn)} failed with {result_name(exc)}; "
            "free buffers, lower the size, or pick another strategy."
        ) from None
    except _BINDING_ERRORS as exc:
        raise VulkanError(
            f"{what}: {getattr(fn, '__name__', fn)} failed with {result_name(exc)}: {exc}"
        ) from None


_RESULT_NAMES = {getattr(_vk, n): n for n in dir(_vk)
                 if n.startswith("VK_ERROR_") and isinstance(getattr(_vk, n), int)}


def check_result(result: int, fn_name: str, *, what: str) -> None:
    """Raise for a negative ``VkResult`` returned by a raw ``lib.vk*`` call."""
    if result >= 0:
        return
    if result in (
        _vk.VK_ERROR_OUT_OF_DEVICE_MEMORY,
        _vk.VK_ERROR_OUT_OF_HOST_MEMORY,
        _vk.VK_ERROR_OUT_OF_POOL_MEMORY,
        _vk.VK_ERROR_FRAGMENTED_POOL,
    ):
        raise OutOfDeviceMemoryError(
            f"{what}: {fn_name} returned {_RESULT_NAMES.get(result, result)}; free buffers or "
            "lower the request.")
    raise VulkanError(f"{what}: {fn_name} returned {_RESULT_NAMES.get(result, result)}.")


class KeepAlive:
    """Holds nested structs/arrays until the Vulkan call that reads them has returned."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: list[Any] = []

    def __call__(self, item: T) -> T:
        self._items.append(item)
        return item


class EntryPoints:
    """Extension functions looked up once per instance/device and cached
    (``vkGetInstanceProcAddr`` costs microseconds per call)."""

    def __init__(self, instance: Any, device: Any | None = None) -> None:
        self._instance = instance
        self._device = device
        self._cache: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        """The named entry point; raises :class:`~engine.errors.VulkanError` if the driver lacks
        it."""
        fn = self._cache.get(name)
        if fn is None:
            missing = (_vk.ProcedureNotFoundError, _vk.ExtensionNotSupportedError)
            device_level = self._device is not None and not name.startswith(
                ("vkCreateDebug", "vkDestroyDebug", "vkSetDebug", "vkDestroySurface",
                 "vkGetPhysical"))
            try:
                if device_level:
                    fn = _vk.vkGetDeviceProcAddr(self._device, name)
                else:
                    fn = _vk.vkGetInstanceProcAddr(self._instance, name)
            except missing:
                raise VulkanError(
                    f"entry point {name}: not provided by the driver; enable its extension."
                ) from None
            self._cache[name] = fn
        return fn


def device_function(device: Any, name: str) -> Any:
    """The raw cffi function pointer of device-level command ``name`` (e.g.
    ``"vkCmdDrawIndirectCount"``), looked up with ``vkGetDeviceProcAddr`` and cast to its
    ``PFN_`` type, or ``None`` where the driver returns NULL (a core command of a newer API
    version than the device's, or of an extension not enabled). Look it up once per device and
    keep it: calling the result builds no binding struct, so it suits per-frame recording."""
    pointer = _vk.lib.vkGetDeviceProcAddr(device, name.encode("ascii"))
    if pointer == ffi.NULL:
        return None
    return ffi.cast(f"PFN_{name}", pointer)
