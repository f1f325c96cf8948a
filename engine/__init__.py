"""GPU buffers as esper ECS components, on real Vulkan.

The public names are re-exported here::

    from engine import GraphicsContext, BufferManager, BufferConfig, BufferStrategy, BufferUsage
"""

from __future__ import annotations

from engine import errors
from engine._version import __version__
from engine.binding.binder import PipelineId, ResourceBinder
from engine.binding.pipelines import ComputePipeline, FrameCommands
from engine.buffers.manager import BufferManager
from engine.buffers.mapped import MappedWrite
from engine.buffers.readback import Readback
from engine.buffers.sets import BufferSet, GlobalUboSet
from engine.buffers.statistics import BufferStatistics
from engine.buffers.types import (
    BufferConfig,
    BufferStrategy,
    BufferUsage,
    DescriptorInfo,
    ManagedBuffer,
)
from engine.buffers.uniform_ring import UniformRing
from engine.device.context import GraphicsContext
from engine.errors import *  # noqa: F403
from engine.schedule import Phase, add_system, priority

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
    "MappedWrite",
    "Phase",
    "PipelineId",
    "Readback",
    "ResourceBinder",
    "UniformRing",
    "add_system",
    "errors",
    "priority",
    "__version__",
    *[name for name in dir(errors) if name.endswith("Error")],
]
