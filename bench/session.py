"""One benchmark run: the Vulkan context, the peers, the settings, and a progress log."""

from __future__ import annotations

import sys
import time
from typing import Any

from engine import BufferManager, GraphicsContext

from .peers import ModernglPeer, WgpuPeer
from .timing import Settings


class Session:
    """Shared by every figure family of one ``python -m bench`` run."""

    def __init__(self, settings: Settings, device: str | None = None,
                 peers: bool = True, verbose: bool = True) -> None:
        self.settings = settings
        self.verbose = verbose
        self.ctx = GraphicsContext.create(validation=False, device=device)
        self.wgpu = WgpuPeer(self.ctx.device_name)
        self.moderngl = ModernglPeer(self.ctx.device_name)
        if not peers:
            for peer in (self.wgpu, self.moderngl):
                peer._opened, peer.reason = True, "peers disabled (--no-peers)"
        self._managers: list[BufferManager] = []
        self._t0 = time.perf_counter()

    @property
    def quick(self) -> bool:
        return self.settings.quick

    def manager(self, **kwargs: Any) -> BufferManager:
        """A BufferManager on the session's context (closed with the session)."""
        m = BufferManager(self.ctx, **kwargs)
        self._managers.append(m)
        return m

    def release(self, manager: BufferManager) -> None:
        """Close a manager early (frees its memory before the next figure family)."""
        manager.close()
        if manager in self._managers:
            self._managers.remove(manager)

    def log(self, message: str) -> None:
        if self.verbose:
            elapsed = time.perf_counter() - self._t0
            print(f"[bench {elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)

    def close(self) -> None:
        for m in self._managers:
            m.close()
        self._managers.clear()
        self.wgpu.close()
        self.moderngl.close()
        self.ctx.close()
