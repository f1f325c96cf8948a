"""Read-back helpers: GPU buffers as numpy arrays typed by the shader's own block layout.

``read_back.block(buffer, layout, "Spin")`` finds the block called ``Spin`` (block type name or
variable name) in ``layout`` - a pipeline id of the test's ResourceBinder, the SPIR-V of one or
more stages, or a reflected :class:`~engine.shaders.reflect.Block` - builds its numpy dtype from
reflection (:func:`engine.shaders.std_layout.block_dtype`, reflected std140/std430 offsets) and
returns
the buffer's bytes as one record of that dtype. ``elements`` does the same for the trailing
runtime array of a storage block. Reads wait for the GPU (``BufferManager.read_buffer``): use
them between frames, never inside a system.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from engine.binding.binder import PipelineId, ResourceBinder
from engine.binding.descriptors import MergedLayout, merge_reflections
from engine.binding.state import reflect_cached
from engine.buffers.manager import BufferManager
from engine.buffers.sets import BufferSet
from engine.buffers.types import ManagedBuffer
from engine.errors import UnknownBindingError
from engine.shaders.reflect import Block
from engine.shaders.std_layout import block_dtype, runtime_element_dtype

LayoutSource = PipelineId | bytes | Sequence[bytes] | MergedLayout | Block
"""Where a block's layout comes from: a registered pipeline, SPIR-V module(s), reflection."""


def find_block(layout: LayoutSource, name: str, binder: ResourceBinder | None = None) -> Block:
    """The reflected block called ``name`` (type or variable name) in ``layout``.

    Raises :class:`~engine.errors.UnknownBindingError` listing the names that exist.
    """
    if isinstance(layout, Block):
        return layout
    if isinstance(layout, PipelineId):
        if binder is None:
            raise UnknownBindingError(
                f"find_block({name!r}): a pipeline id needs the ResourceBinder it was "
                "registered with; pass binder=... (or use the resource_binder fixture).")
        merged = binder.layout_info(layout)
    elif isinstance(layout, MergedLayout):
        merged = layout
    else:
        modules = [layout] if isinstance(layout, bytes | bytearray | memoryview) else layout
        merged = merge_reflections([reflect_cached(bytes(m)) for m in modules],
                                   what=f"find_block({name!r})")
    key = merged.names.get(name)
    block = merged.bindings[key].block if key is not None else None
    if block is None:
        known = sorted(n for n, k in merged.names.items() if merged.bindings[k].block)
        raise UnknownBindingError(
            f"find_block({name!r}): no buffer block of that name; blocks: "
            f"{', '.join(known) or '(none)'}.")
    return block


def _buffer(buffer: ManagedBuffer | BufferSet) -> ManagedBuffer:
    """A BufferSet stands for its buffer of the current (last stepped) frame slot."""
    return buffer.get_buffer() if isinstance(buffer, BufferSet) else buffer


class ReadBack:
    """Typed reads of one BufferManager's buffers (the ``read_back`` fixture).

    Args:
        manager: whose buffers are read.
        binder: the ResourceBinder whose pipeline ids ``layout`` may name, or a callable that
            returns it on first use (the fixture passes the ``resource_binder`` fixture lazily).
    """

    def __init__(self, manager: BufferManager,
                 binder: ResourceBinder | Callable[[], ResourceBinder] | None = None) -> None:
        self.manager = manager
        self._binder = binder

    @property
    def binder(self) -> ResourceBinder | None:
        if callable(self._binder) and not isinstance(self._binder, ResourceBinder):
            self._binder = self._binder()
        return self._binder

    def bytes(self, buffer: ManagedBuffer | BufferSet, offset: int = 0,
              size: int | None = None) -> bytes:
        """``size`` bytes at byte ``offset`` (default: to the end)."""
        return self.manager.read_buffer(_buffer(buffer), offset, size)

    def array(self, buffer: ManagedBuffer | BufferSet, dtype: Any = None, *, offset: int = 0,
              count: int | None = None) -> np.ndarray[Any, Any]:
        """``count`` items of ``dtype`` at byte ``offset`` (default: the buffer's dtype, every
        whole item)."""
        return self.manager.read_array(_buffer(buffer), dtype, offset, count)

    def dtype(self, layout: LayoutSource, name: str, *,
              binder: ResourceBinder | None = None) -> np.dtype[Any]:
        """The numpy dtype of block ``name`` with its reflected offsets (runtime array left
        out; ``itemsize`` is the block's size)."""
        return block_dtype(find_block(layout, name, binder or self.binder))

    def element_dtype(self, layout: LayoutSource, name: str, *,
                      binder: ResourceBinder | None = None) -> np.dtype[Any]:
        """The dtype of one element of block ``name``'s runtime array (itemsize = stride)."""
        return runtime_element_dtype(find_block(layout, name, binder or self.binder))

    def block(self, buffer: ManagedBuffer | BufferSet, layout: LayoutSource, name: str, *,
              offset: int = 0, binder: ResourceBinder | None = None) -> np.ndarray[Any, Any]:
        """The fixed part of block ``name`` read at byte ``offset``: a 0-d structured array,
        so ``values["angle"]`` is a number and ``values["tint"]`` an array."""
        dt = self.dtype(layout, name, binder=binder)
        return self.array(buffer, dt, offset=offset, count=1).reshape(())

    def elements(self, buffer: ManagedBuffer | BufferSet, layout: LayoutSource, name: str, *,
                 count: int | None = None, offset: int = 0,
                 binder: ResourceBinder | None = None) -> np.ndarray[Any, Any]:
        """``count`` elements (default: as many as fit) of block ``name``'s runtime array
        (``LayoutMismatchError`` if it has none), for a block that starts at byte ``offset``."""
        block = find_block(layout, name, binder or self.binder)
        element = runtime_element_dtype(block)
        start = block.runtime_array.offset if block.runtime_array is not None else block.size
        return self.array(buffer, element, offset=offset + start, count=count)
