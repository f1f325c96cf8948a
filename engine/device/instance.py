"""The VkInstance (with its debug messenger) shared by every context of the same settings.

Instances live for the whole process and are destroyed at exit: NVIDIA's driver refuses
``vkCreateInstance`` with VK_ERROR_INCOMPATIBLE_DRIVER after about 30 create/destroy cycles in
one process (measured on an H200), and a test suite creates a context per test. Devices are
still created and destroyed per context, so leak reports at ``vkDestroyDevice`` stay per
context. The instance create-info chains the debug messenger (and synchronisation validation),
so messages about instance creation are caught too.
"""

from __future__ import annotations

import atexit
from typing import Any

import engine.device.vk as vkw
from engine.device.debug import SEVERITY_REPORTED, TYPES_ALL, _raw_callback
from engine.device.vk import EntryPoints, call, vk

VALIDATION_LAYER = "VK_LAYER_KHRONOS_validation"


class SharedInstance:
    """A VkInstance (and its debug messenger) shared by every context with the same settings.

    Instances are kept for the life of the process and destroyed at exit: NVIDIA's driver
    refuses ``vkCreateInstance`` with VK_ERROR_INCOMPATIBLE_DRIVER after about 30 create/destroy
    cycles in one process (measured on an H200), and a test suite creates a context per test.
    Devices are still created and destroyed per context, so leak reports at ``vkDestroyDevice``
    stay per context.
    """

    def __init__(self, instance: Any, messenger: Any, entry_points: EntryPoints) -> None:
        self.instance = instance
        self.messenger = messenger
        self.entry_points = entry_points
        self.users = 0

    def destroy(self) -> None:
        if self.messenger is not None:
            self.entry_points.get("vkDestroyDebugUtilsMessengerEXT")(
                self.instance, self.messenger, None)
            self.messenger = None
        vk.vkDestroyInstance(self.instance, None)


INSTANCES: dict[tuple[Any, ...], SharedInstance] = {}


@atexit.register
def _destroy_instances() -> None:
    for key, shared in list(INSTANCES.items()):
        if shared.users == 0:
            shared.destroy()
            del INSTANCES[key]


def create_shared_instance(validation: bool, sync: bool, extensions: list[str], app_name: str,
                            debug_utils: bool) -> SharedInstance:
    keep = vkw.KeepAlive()
    app = keep(vk.VkApplicationInfo(
        pApplicationName=app_name, applicationVersion=1, pEngineName="vkbuffers",
        engineVersion=1, apiVersion=vk.VK_MAKE_VERSION(1, 2, 0)))
    p_next = None
    if debug_utils:
        features = None
        if sync:
            features = keep(vk.VkValidationFeaturesEXT(pEnabledValidationFeatures=[
                vk.VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT]))
        p_next = keep(vk.VkDebugUtilsMessengerCreateInfoEXT(
            pNext=features, messageSeverity=SEVERITY_REPORTED, messageType=TYPES_ALL,
            pfnUserCallback=_raw_callback))
    info = vk.VkInstanceCreateInfo(
        pNext=p_next, pApplicationInfo=app,
        ppEnabledLayerNames=[VALIDATION_LAYER] if validation else [],
        ppEnabledExtensionNames=extensions)
    instance = call(vk.vkCreateInstance, info, None, what="GraphicsContext.create")
    entry_points = EntryPoints(instance)
    messenger = None
    if debug_utils:
        # A second create-info without pNext for the standalone messenger (the one chained
        # into the instance create-info must not be reused with its pNext).
        messenger_info = vk.VkDebugUtilsMessengerCreateInfoEXT(
            messageSeverity=SEVERITY_REPORTED, messageType=TYPES_ALL,
            pfnUserCallback=_raw_callback)
        create = entry_points.get("vkCreateDebugUtilsMessengerEXT")
        messenger = call(create, instance, messenger_info, None,
                         what="GraphicsContext.create(debug messenger)")
    return SharedInstance(instance, messenger, entry_points)
