"""BufferBinding: declare "this pipeline's binding NAME reads these buffers" as an esper component.

The :class:`~systems.binding_system.BindingSystem` applies it through the ResourceBinder when it
is added or replaced, and unbinds it when it is removed (or its entity deleted). The component is
frozen: to change a binding, add a new ``BufferBinding`` to the entity (esper replaces the old
one). Resizes of the bound buffers need nothing: the binder follows them on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.binding.binder import PipelineId
    from engine.shaders.reflect import DescriptorKind


@dataclass(frozen=True, slots=True, eq=False)
class BufferBinding:
    """Bind ``buffers`` to the binding called ``name`` of ``pipeline``.

    Attributes:
        pipeline: a PipelineId from ``ResourceBinder.register_pipeline``.
        name: block type name or variable name from the shaders.
        buffers: a ManagedBuffer, a BufferSet, a tuple of ``frames_in_flight`` ManagedBuffers
            (slot k uses buffer k), or an entity id (or a tuple of them) whose ManagedBuffer
            component is used.
        kind: ``DescriptorKind.UNIFORM_BUFFER``/``STORAGE_BUFFER`` to insist on a type
            (mismatch raises BindingTypeMismatchError); None takes the reflected one.
        offset, range: bytes, as in ``bind_*_named`` (range None: the rest of the buffer).
        array_element: the element of a descriptor array.
    """

    pipeline: PipelineId
    name: str
    buffers: Any
    kind: DescriptorKind | None = None
    offset: int = 0
    range: int | None = None
    array_element: int = 0
