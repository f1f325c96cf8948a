"""GPU buffers as esper ECS components, on real Vulkan.

The public names (DESIGN.md section 3) are re-exported here::

    from engine import GraphicsContext, BufferManager, BufferConfig, BufferStrategy, BufferUsage
"""

from __future__ import annotations

from . import errors
from .buffer_manager import BufferManager
from .buffer_set import BufferSet, GlobalUboSet
from .buffer_types import (
    BufferConfig,
    BufferStrategy,
    BufferUsage,
    DescriptorInfo,
    ManagedBuffer,
)
from .context import GraphicsContext
from .errors import *  # noqa: F403
from .pipelines import ComputePipeline, FrameCommands
from .resource_binder import PipelineId, ResourceBinder
from .schedule import Phase, add_system, priority
from .statistics import BufferStatistics

__all__ = [
    "BufferConfig",
    "BufferManager",
    "BufferSet",
    "BufferStatistics",
    "BufferStrategy",
    "BufferUsage",
    "ComputePipeline",
    "DescriptorInfo",
    "FrameCommands",
    "GlobalUboSet",
    "GraphicsContext",
    "ManagedBuffer",
    "Phase",
    "PipelineId",
    "ResourceBinder",
    "add_system",
    "errors",
    "priority",
    *[name for name in dir(errors) if name.endswith("Error")],
]
