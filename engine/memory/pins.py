"""Pinned views: numpy arrays over mapped device memory that keep the memory theirs.

A zero-copy write (``BufferManager.map_write``) hands the user a numpy array over persistently
mapped memory. Python cannot revoke an array (wgpu-py refused mapped views for that reason: an
unmapped memoryview stays usable and writes into whatever lives there next). Here the mapping
is persistent, so the memory can instead stay reserved while any view of it is alive:

- the array's base is a ctypes array over the range; numpy keeps the base alive through every
  slice, reshape or ``np.asarray`` of the view, so the ctypes array dies with the last of them;
- a weak reference to that ctypes array queues the allocation on a deque when it dies (an
  append is atomic, so this is safe from any thread and from the garbage collector);
- ``Allocation.pins`` counts live views; the allocator drains the deque at its own calls (on
  the owner thread) and frees an allocation that its owner gave back only when its pins are 0.
  Until then the range stays out of the free lists, so no other buffer is placed there;
- at ``MemoryAllocator.close`` with views still alive, the allocator (and the device, which
  the context keeps) stays until the last view is gone; then the views' finalizers finish the
  close. At interpreter exit nothing more is freed (the OS takes the memory back).

Writes through a view after its ``with`` block are not ordered with the GPU (as with any
mapped memory in Vulkan); they can never land in another buffer's memory.
"""

from __future__ import annotations

import collections
import ctypes
import functools
import sys
import weakref
from typing import Any

import numpy as np

from engine.device.vk import ffi
from engine.memory.blocks import Allocation


@functools.lru_cache(maxsize=512)
def _byte_array(nbytes: int) -> Any:
    """The ctypes array type of ``nbytes`` bytes (making a type costs ~10 µs; frames repeat
    the same sizes)."""
    return ctypes.c_ubyte * nbytes


class PinTable:
    """The pins of one allocator: views made, views gone (queued), allocations waiting."""

    def __init__(self) -> None:
        self.dropped: Any = collections.deque()
        """A ``collections.deque`` of the allocations whose view just died (appended by the
        weak-reference callbacks, from any thread)."""
        self.pinned: dict[int, Allocation] = {}
        """``id(allocation) -> allocation`` for allocations with live views."""
        self.waiting: dict[int, Allocation] = {}
        """Allocations their owner freed while pinned: freed when their pins reach 0."""
        self.on_drop: Any = None
        """Called after a view died (set by an allocator whose close waits for views)."""
        self._refs: dict[int, tuple[weakref.ref[Any], Allocation]] = {}

    def view(self, allocation: Allocation, offset: int, nbytes: int) -> np.ndarray[Any, Any]:
        """A writable ``np.uint8`` array over ``nbytes`` mapped bytes at ``offset`` (bytes
        within the allocation), pinning the allocation until the array and all its views die."""
        mapping = allocation.view
        assert mapping is not None and offset >= 0 and offset + nbytes <= allocation.size
        if nbytes == 0:
            return np.empty(0, dtype=np.uint8)
        address = int(ffi.cast("uintptr_t", ffi.from_buffer(mapping))) + offset
        holder = _byte_array(nbytes).from_address(address)
        allocation.pins += 1
        self.pinned[id(allocation)] = allocation
        ref = weakref.ref(holder, self._dropped)
        self._refs[id(ref)] = (ref, allocation)
        return np.frombuffer(memoryview(holder), dtype=np.uint8)

    def _dropped(self, ref: weakref.ref[Any]) -> None:
        """The weakref callback: the last view of a range died (any thread, or the GC)."""
        entry = self._refs.pop(id(ref), None)
        if entry is None or sys.is_finalizing():
            return  # at exit the OS takes the memory; nothing is freed under a view
        self.dropped.append(entry[1])
        hook = self.on_drop
        if hook is not None:
            hook()

    def drain(self) -> list[Allocation]:
        """Count the views that died; return the waiting allocations that are free now."""
        dropped = self.dropped
        while dropped:
            allocation = dropped.popleft()
            allocation.pins -= 1
            if allocation.pins == 0:
                self.pinned.pop(id(allocation), None)
        ready = [a for a in self.waiting.values() if a.pins == 0]
        for allocation in ready:
            del self.waiting[id(allocation)]
        return ready

    def hold(self, allocation: Allocation) -> bool:
        """The owner frees ``allocation``: True (and it waits here) if a view pins it."""
        if allocation.pins:
            self.waiting[id(allocation)] = allocation
            return True
        return False
