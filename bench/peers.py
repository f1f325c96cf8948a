"""The peers: wgpu-py (``queue.write_buffer``) and moderngl (``Buffer.write``).

Each peer opens lazily; when it cannot run here (not installed, no adapter, no EGL) it records
why, and every figure then lists it as skipped with that reason instead of a number.
"""

from __future__ import annotations

import os
from typing import Any


class Peer:
    """A lazily opened peer with ``available``, ``reason`` and ``info``."""

    name = "peer"

    def __init__(self, device_name: str = "") -> None:
        self.device_name = device_name
        self.available = False
        self.reason = "not opened"
        self.info: dict[str, Any] = {}
        self._opened = False

    def open(self) -> bool:
        if not self._opened:
            self._opened = True
            try:
                self._open()
                self.available, self.reason = True, ""
            except Exception as exc:
                self.available = False
                self.reason = f"{type(exc).__name__}: {exc}".strip()[:300]
        return self.available

    def _open(self) -> None:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        if self.available:
            return {"available": True, **self.info}
        return {"available": False, "reason": self.reason}

    def skipped(self) -> dict[str, Any]:
        return {"skipped": f"{self.name}: {self.reason}"}

    def close(self) -> None:
        """Release the device/context."""


class WgpuPeer(Peer):
    """wgpu-py on its Vulkan backend, on the adapter whose name matches our device."""

    name = "wgpu-py"

    def _open(self) -> None:
        os.environ.setdefault("WGPU_BACKEND_TYPE", "Vulkan")
        import wgpu

        adapters = wgpu.gpu.enumerate_adapters_sync()
        wanted = self.device_name.lower()
        chosen = None
        for adapter in adapters:
            info = adapter.info
            if info.get("backend_type") == "Vulkan" and wanted and (
                    wanted in info.get("device", "").lower()
                    or info.get("device", "").lower() in wanted):
                chosen = adapter
                break
        if chosen is None:
            chosen = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
        if chosen is None:
            raise RuntimeError("wgpu found no adapter")
        self.adapter = chosen
        self.device = chosen.request_device_sync()
        self.queue = self.device.queue
        self.wgpu = wgpu
        info = dict(chosen.info)
        self.info = {"version": wgpu.__version__, "adapter": info.get("device"),
                     "backend": info.get("backend_type"), "description": info.get("description"),
                     "adapter_type": info.get("adapter_type"),
                     "same_device": wanted in str(info.get("device", "")).lower()}

    def buffer(self, size: int, usage: str = "storage") -> Any:
        """A buffer the queue can write (``COPY_DST``), with ``usage`` (uniform/storage)."""
        u = self.wgpu.BufferUsage
        flags = u.COPY_DST | (u.UNIFORM if usage == "uniform" else u.STORAGE | u.VERTEX)
        return self.device.create_buffer(size=size, usage=flags)

    def flush(self) -> None:
        """Submit the pending writes, wait for them, and let wgpu reclaim its staging memory.

        ``queue.on_submitted_work_done_sync()`` raises a cffi TypeError in wgpu-py 0.32 (a
        callback-signature mismatch with its bundled wgpu-native), so this waits with the
        device's blocking poll (``wgpuDevicePoll(wait=True)``), which wgpu-py calls internally.
        """
        self.queue.submit([])
        self.device._poll_wait()

    def close(self) -> None:
        self.device = None
        self.queue = None


class ModernglPeer(Peer):
    """moderngl on a headless EGL context (Mesa llvmpipe here, the GPU's EGL on a GPU box)."""

    name = "moderngl"

    def _open(self) -> None:
        import moderngl

        self.ctx = moderngl.create_standalone_context(backend="egl")
        renderer = self.ctx.info.get("GL_RENDERER", "")
        self.info = {"version": moderngl.__version__, "renderer": renderer,
                     "gl_version": self.ctx.info.get("GL_VERSION"), "backend": "egl",
                     "same_device": self.device_name.lower().split(" (")[0] in renderer.lower()}

    def buffer(self, size: int) -> Any:
        """A ``GL_DYNAMIC_DRAW`` buffer (the right hint for data rewritten often)."""
        return self.ctx.buffer(reserve=size, dynamic=True)

    def flush(self) -> None:
        self.ctx.finish()

    def close(self) -> None:
        ctx = getattr(self, "ctx", None)
        if ctx is not None:
            ctx.release()
            self.ctx = None
