"""BufferStatistics: what a BufferManager holds and did, as a JSON-serialisable dataclass."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class StrategyStats:
    """Live buffers and bytes (requested sizes) of one strategy or memory type."""

    buffers: int = 0
    bytes: int = 0


@dataclass
class BufferStatistics:
    """A snapshot of a BufferManager; all sizes in bytes.

    ``by_strategy`` keys are strategy values (``"device_local"``...); ``by_memory_type`` keys are
    memory-type indices as strings (JSON object keys), e.g. ``"0"``.
    """

    frame_number: int = -1
    frames_in_flight: int = 3
    live_buffers: int = 0
    live_bytes: int = 0
    by_strategy: dict[str, StrategyStats] = field(default_factory=dict)
    by_memory_type: dict[str, StrategyStats] = field(default_factory=dict)
    pending_destroy_count: int = 0
    pending_destroy_bytes: int = 0
    uploads_this_frame: int = 0
    upload_bytes_this_frame: int = 0
    staging_bytes_this_frame: int = 0
    staging_capacity: int = 0
    staging_growths: int = 0
    host_writes_this_frame: int = 0
    descriptor_writes_this_frame: int = 0
    descriptor_writes_total: int = 0
    buffers_created_total: int = 0
    buffers_destroyed_total: int = 0
    buffers_freed_total: int = 0
    resizes_total: int = 0
    uploads_total: int = 0
    upload_bytes_total: int = 0
    allocate_memory_calls: int = 0
    live_allocations: int = 0
    submissions_total: int = 0
    peak_live_buffers: int = 0
    peak_live_bytes: int = 0
    peak_staging_bytes_per_frame: int = 0
    direct_writes_total: int = 0
    """DEVICE_LOCAL writes that went straight into DEVICE_LOCAL|HOST_VISIBLE memory."""
    direct_buffers: int = 0
    """Live DEVICE_LOCAL buffers in DEVICE_LOCAL|HOST_VISIBLE memory (``direct_writes``)."""
    mapped_writes_total: int = 0
    """``map_write`` blocks completed."""
    pinned_views: int = 0
    """Allocations that a live ``map_write`` view still pins."""
    pinned_waiting: int = 0
    """Of those, allocations already given back (freed once their views are gone)."""
    scatter_writes_total: int = 0
    """``update_rows``/``update_ranges`` calls."""
    scatter_regions_total: int = 0
    """Copy regions (merged rows or ranges) those calls wrote."""
    readbacks_started_total: int = 0
    readbacks_completed_total: int = 0
    readbacks_pending: int = 0
    readback_fence_waits: int = 0
    """Waits for the GPU that a ``read_async`` caused (``Readback.wait`` only: 0 when the
    frame loop only polls)."""
    memory: dict[str, Any] = field(default_factory=dict)
    """Device memory per heap and memory type: ``MemoryAllocator.statistics()``
    (:func:`engine.memory.stats.memory_statistics`)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def format_table(self) -> str:
        """A readable, aligned table (what ``print_statistics`` prints)."""
        rows: list[tuple[str, str]] = [
            ("frame", f"{self.frame_number} (frames in flight {self.frames_in_flight})"),
            ("live buffers", f"{self.live_buffers} ({_mib(self.live_bytes)})"),
        ]
        for name, s in sorted(self.by_strategy.items()):
            rows.append((f"  {name}", f"{s.buffers} ({_mib(s.bytes)})"))
        for index, s in sorted(self.by_memory_type.items()):
            rows.append((f"  memory type {index}", f"{s.buffers} ({_mib(s.bytes)})"))
        rows += [
            ("pending destroy", f"{self.pending_destroy_count} "
                                f"({_mib(self.pending_destroy_bytes)})"),
            ("uploads this frame", f"{self.uploads_this_frame} "
                                   f"({_mib(self.upload_bytes_this_frame)}, staged "
                                   f"{_mib(self.staging_bytes_this_frame)})"),
            ("host writes this frame", str(self.host_writes_this_frame)),
            ("descriptor writes", f"{self.descriptor_writes_this_frame} this frame, "
                                  f"{self.descriptor_writes_total} total"),
            ("staging capacity", f"{_mib(self.staging_capacity)} "
                                 f"({self.staging_growths} growths)"),
            ("vkAllocateMemory calls", f"{self.allocate_memory_calls} "
                                       f"({self.live_allocations} live)"),
            ("created / destroyed / freed", f"{self.buffers_created_total} / "
                                            f"{self.buffers_destroyed_total} / "
                                            f"{self.buffers_freed_total}"),
            ("resizes", str(self.resizes_total)),
            ("uploads total", f"{self.uploads_total} ({_mib(self.upload_bytes_total)})"),
            ("direct device-local", f"{self.direct_writes_total} writes into "
                                    f"{self.direct_buffers} buffers"),
            ("zero-copy writes", f"{self.mapped_writes_total} (views pinning "
                                 f"{self.pinned_views} allocations, {self.pinned_waiting} "
                                 "given back)"),
            ("scatter writes", f"{self.scatter_writes_total} ({self.scatter_regions_total} "
                               "regions)"),
            ("read-backs", f"{self.readbacks_started_total} started, "
                           f"{self.readbacks_completed_total} done, {self.readbacks_pending} "
                           f"pending, {self.readback_fence_waits} waits"),
            ("peaks", f"{self.peak_live_buffers} buffers, {_mib(self.peak_live_bytes)}, "
                      f"staging {_mib(self.peak_staging_bytes_per_frame)}/frame"),
        ]
        rows += _memory_rows(self.memory)
        width = max(len(k) for k, _ in rows)
        title = "=== Buffer Manager Statistics ==="
        lines = [title] + [f"{k.ljust(width)}  {v}" for k, v in rows] + ["=" * len(title)]
        return "\n".join(lines)


def _memory_rows(memory: dict[str, Any]) -> list[tuple[str, str]]:
    """Rows for ``memory`` (``MemoryAllocator.statistics()``): per heap, then per used type."""
    if not memory:
        return []
    rows: list[tuple[str, str]] = [("device memory", (
        f"{memory['device_memory_objects']} VkDeviceMemory, "
        f"{memory['live_allocations']} allocations"))]
    for index, h in sorted(memory["heaps"].items()):
        rows.append((f"  heap {index}", (
            f"usage {_mib(h['usage'])} / budget {_mib(h['budget'])} ({h['budget_source']}; "
            f"heap {_mib(h['size'])}), this allocator {_mib(h['allocated'])}")))
    for index, t in sorted(memory["types"].items()):
        if not t["blocks"]:
            continue
        rows.append((f"  type {index} ({t['flags']}, heap {t['heap']})", (
            f"{t['blocks']} blocks ({t['dedicated']} dedicated) {_mib(t['block_bytes'])}, "
            f"{t['allocations']} allocations {_mib(t['used_bytes'])}, free "
            f"{_mib(t['free_bytes'])} in {t['unused_ranges']} ranges, largest "
            f"{_mib(t['largest_free'])}, fragmentation {t['fragmentation']:.0%}")))
    return rows


def _mib(n: int) -> str:
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    if n < 1024 ** 3:
        return f"{n / (1024 * 1024):.2f} MiB"
    return f"{n / 1024 ** 3:.2f} GiB"


class BufferCounters:
    """A BufferManager's running totals; per-frame figures are differences from the
    frame's start."""

    def __init__(self) -> None:
        self.created = self.destroyed = self.freed = self.resizes = 0
        self.uploads = self.upload_bytes = self.host_writes = 0
        self.frame_start_uploads = self.frame_start_upload_bytes = 0
        self.frame_start_host_writes = 0
        self.peak_buffers = self.peak_bytes = self.peak_staging = 0
        self.live_bytes = 0
        self.mapped_writes = self.scatter_writes = self.scatter_regions = 0
        self.direct_writes = 0
        self.readbacks_started = self.readbacks_completed = self.readback_waits = 0

    def new_frame(self) -> None:
        self.frame_start_uploads = self.uploads
        self.frame_start_upload_bytes = self.upload_bytes
        self.frame_start_host_writes = self.host_writes

    def note_live(self, live_buffers: int, delta_bytes: int) -> None:
        self.live_bytes += delta_bytes
        self.peak_buffers = max(self.peak_buffers, live_buffers)
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)
