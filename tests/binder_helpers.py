"""Shared set-up of the binder tests: the ``scale.comp`` pipeline, its buffers and one frame.

``scale.comp`` computes ``out[i] = in[i] * scale + bias + add`` for ``i < count`` (Params UBO at
set 0 binding 0, InBuf at set 0 binding 1, OutBuf at set 2 binding 0, push constant ``add``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine import (
    BufferConfig,
    BufferManager,
    BufferStrategy,
    BufferUsage,
    ComputePipeline,
    FrameCommands,
    ManagedBuffer,
    PipelineId,
    ResourceBinder,
)
from engine.shaders.compiler import compile_glsl

SHADERS = Path(__file__).parent / "shaders" / "binder"
PARAMS = np.dtype([("scale", "<f4"), ("bias", "<f4"), ("count", "<u4")])


def spirv(name: str) -> bytes:
    """SPIR-V of ``tests/shaders/binder/<name>`` (compiled once, then cached on disk)."""
    return compile_glsl(SHADERS / name)


def params(scale: float, bias: float, count: int) -> np.ndarray[Any, Any]:
    value = np.zeros((), PARAMS)
    value["scale"], value["bias"], value["count"] = scale, bias, count
    return value


def expected(inputs: np.ndarray[Any, Any], scale: float, bias: float, add: float
             ) -> np.ndarray[Any, Any]:
    return inputs.astype(np.float32) * np.float32(scale) + np.float32(bias) + np.float32(add)


@dataclass
class ScaleRig:
    """A registered scale.comp with device-local buffers (updates are staged: frame-safe)."""

    manager: BufferManager
    binder: ResourceBinder
    pid: PipelineId
    pipeline: ComputePipeline
    commands: FrameCommands
    params: ManagedBuffer
    inputs: ManagedBuffer
    outputs: ManagedBuffer
    count: int

    @classmethod
    def create(cls, manager: BufferManager, binder: ResourceBinder, count: int = 256, *,
               out_capacity: int | None = None, bind: bool = True) -> ScaleRig:
        pid = binder.register_pipeline("scale", [spirv("scale.comp")])
        pipeline = ComputePipeline(binder, pid)
        commands = FrameCommands(manager)
        p = manager.create_buffer(BufferConfig("params", PARAMS.itemsize,
                                               BufferStrategy.DEVICE_LOCAL, BufferUsage.UNIFORM,
                                               PARAMS))
        manager.update_buffer(p, params(2.0, 1.0, count))
        inputs = manager.create_and_upload("in", np.arange(count, dtype=np.float32),
                                           usage=BufferUsage.STORAGE)
        outputs = manager.create_buffer(BufferConfig(
            "out", 4 * (out_capacity or count), BufferStrategy.DEVICE_LOCAL,
            BufferUsage.STORAGE))
        rig = cls(manager, binder, pid, pipeline, commands, p, inputs, outputs, count)
        if bind:
            binder.bind_uniform_buffer_named(pid, "Params", p, dtype=PARAMS)
            binder.bind_storage_buffer_named(pid, "inBuf", inputs)
            binder.bind_storage_buffer_named(pid, "OutBuf", outputs)
        return rig

    def frame(self, *, add: float = 0.0, dispatch: bool = True, before_bind: Any = None
              ) -> int:
        """One frame: begin, (before_bind), update_frame, dispatch, end; returns the writes."""
        m = self.manager
        m.begin_frame()
        if before_bind is not None:
            before_bind()
        writes = self.binder.update_frame(self.pid, m.frame_index)
        if dispatch:
            m.submit_uploads()  # this frame's staged writes land before the dispatch reads
            cmd = self.commands.begin()
            self.pipeline.record(cmd, m.frame_index, self.pipeline.groups_for(self.count),
                                 push_constants=np.array([add], np.float32))
            self.commands.submit(cmd, what="scale dispatch")
        m.end_frame()
        return writes

    def result(self, count: int | None = None) -> np.ndarray[Any, Any]:
        return self.manager.read_array(self.outputs, np.float32, count=count or self.count)


def many_pipelines(manager: BufferManager, binder: ResourceBinder, count: int = 250
                   ) -> tuple[list[PipelineId], ManagedBuffer, ManagedBuffer]:
    """``count`` pipelines of ``many.comp`` (8 uniform + 32 storage bindings: lavapipe's
    per-stage limits), plus one uniform and one storage buffer to bind everywhere."""
    many = spirv("many.comp")
    pids = [binder.register_pipeline(f"many{i}", [many]) for i in range(count)]
    ubo = manager.create_buffer(BufferConfig("u", 16, BufferStrategy.HOST_VISIBLE,
                                             BufferUsage.UNIFORM))
    ssbo = manager.create_buffer(BufferConfig("s", 16))
    return pids, ubo, ssbo
