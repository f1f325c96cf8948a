"""What the numbers were measured on: machine, driver, package versions, load, device slug."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import vulkan as vkmod

REPO = Path(__file__).resolve().parent.parent

PACKAGES = ("vulkan", "cffi", "numpy", "esper", "glfw", "wgpu", "moderngl", "glcontext",
            "matplotlib")


def slug(name: str) -> str:
    """A file-name slug of a device name: ``llvmpipe-llvm-15-0-6-256-bits``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "device"


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / (1 << 20), 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict[str, Any]:
    return {
        "hostname": platform.node(),
        "os": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": _mem_total_gib(),
        "python": sys.version.split()[0],
        # A device machine gets a copy of the tree without .git: pass BENCH_GIT_COMMIT there.
        "git_commit": _git("rev-parse", "--short", "HEAD") or os.environ.get(
            "BENCH_GIT_COMMIT", ""),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")) or bool(
            os.environ.get("BENCH_GIT_DIRTY")),
    }


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def driver(ctx: Any) -> dict[str, Any]:
    """``ctx.describe()`` plus the driver name/info from VkPhysicalDeviceDriverProperties."""
    info = dict(ctx.describe())
    ffi, lib = vkmod.ffi, vkmod.lib
    try:
        drv = ffi.new("VkPhysicalDeviceDriverProperties*", {
            "sType": vkmod.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES})
        props = ffi.new("VkPhysicalDeviceProperties2*", {
            "sType": vkmod.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, "pNext": drv})
        lib.vkGetPhysicalDeviceProperties2(ctx.physical_device, props)
        info["driver_name"] = ffi.string(drv.driverName).decode(errors="replace")
        info["driver_info"] = ffi.string(drv.driverInfo).decode(errors="replace")
    except Exception as exc:  # an old loader/driver without Vulkan 1.2 properties
        info["driver_name"] = f"unavailable: {exc}"
    lim = ctx.limits
    info["limits"] = {
        "minUniformBufferOffsetAlignment": lim.min_uniform_buffer_offset_alignment,
        "nonCoherentAtomSize": lim.non_coherent_atom_size,
        "maxMemoryAllocationCount": lim.max_memory_allocation_count,
    }
    info["is_software"] = ctx.is_software
    return info
