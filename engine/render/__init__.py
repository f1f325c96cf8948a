"""Rendering: targets (offscreen, window swapchain; deferred or forward layout), the draw API
(:class:`~engine.render.draw.DrawPipeline`, :class:`~engine.render.draw.VertexInput`,
:class:`~engine.render.draw.DrawContext`, :class:`~engine.render.draw.StencilFace`), GPU time
per pass, the frame loop, screenshots. See :mod:`engine.render.renderer` for one frame and
:mod:`engine.render.frame_loop` for the frame loop."""

from __future__ import annotations

from engine.render.draw import DrawContext, DrawPipeline, StencilFace, VertexInput
from engine.render.frame_loop import FrameLimiter, FrameLoop, FrameTimes
from engine.render.graphics_pipeline import GraphicsPipeline, GraphicsPipelineDesc
from engine.render.phases import DEFERRED, FORWARD, TargetLayout
from engine.render.png import load_png, save_png
from engine.render.renderer import Renderer
from engine.render.targets import OffscreenTarget

__all__ = [
    "DEFERRED",
    "FORWARD",
    "DrawContext",
    "DrawPipeline",
    "FrameLimiter",
    "FrameLoop",
    "FrameTimes",
    "GraphicsPipeline",
    "GraphicsPipelineDesc",
    "OffscreenTarget",
    "Renderer",
    "StencilFace",
    "TargetLayout",
    "VertexInput",
    "load_png",
    "save_png",
]
