"""The public draw API: pipelines built from numpy dtypes, and the recorder a pass draws with.

A game draws without touching Vulkan: it builds a :class:`DrawPipeline` for one phase of its
render target (``"scene"``/``"light"`` of the deferred layout, ``"forward"`` of the forward
one; see :mod:`engine.render.phases`), adds a pass with
:meth:`~engine.render.renderer.Renderer.add_pass`, and records through the
:class:`DrawContext` the renderer hands to the pass each frame::

    pipe = DrawPipeline(binder, renderer, "rocks", vertex_shader="rock.vert",
                        fragment_shader="rock.frag", phase="forward",
                        vertex=[VertexInput(MESH), VertexInput(ROCK, rate="instance")])
    binder.bind_uniform_buffer_named(pipe.id, "Camera", camera_ubo)
    renderer.add_pass(lambda dc: (dc.bind_pipeline(pipe), dc.bind_vertex_buffers(mesh, rocks),
                                  dc.bind_index_buffer(indices), dc.draw_indexed(n, count)),
                      phase="forward", name="rocks")

What is checked before the driver sees it (each an :class:`~engine.errors.EngineError`):

- **Vertex input** (pipeline creation): every field of each structured dtype becomes one
  attribute (a ``(c, r)`` matrix field: ``c`` consecutive locations), its format taken from the
  field's dtype (``f4`` -> ``R32..._SFLOAT``, ``i4``/``u4`` -> ``SINT``/``UINT``, ``f2``; 8/16-bit
  integers as ``UINT``/``SINT`` or, listed in ``normalized``, ``UNORM``/``SNORM``). Locations
  are consecutive over the inputs in order (or from ``first_location``). Every vertex-shader
  input must get a field of the same numeric class (float/int/uint), every field must be read
  by the shader (leave one out with ``fields=``), the stride is the dtype's ``itemsize``.
- **Phase rules** (pipeline creation): one fragment output per attachment of the phase, float
  outputs for float attachments and ``uint``/``int`` ones for integer attachments (the G-buffer
  surface); integer attachments are never blended (a blend mode given as one string skips them;
  a per-attachment tuple that blends one raises); depth writes only with the depth test on and
  only in a phase whose depth is writable (the light phase binds it read-only).
- **Recording**: the pipeline belongs to the phase being recorded; buffers are alive, belong
  to the renderer's manager and have the usage the call needs; vertex/index ranges of a draw
  fit the bound buffers (per-instance bindings against ``first_instance + instance_count``;
  index values themselves are not read back, so per-vertex bindings of an indexed draw are
  the caller's to size); indirect arguments lie inside an ``INDIRECT`` buffer, 4-byte aligned,
  strides a multiple of 4 and at least 16 (draw) / 20 (indexed) bytes, draw counts within the
  device limit (``maxDrawIndirectCount`` with ``multiDrawIndirect``, else 1); dynamic
  offsets match the pipeline layout's dynamic descriptors in number, and each is the start of
  a block pushed into the bound :class:`~engine.buffers.uniform_ring.UniformRing` in this
  frame (the binder's check, as for compute dispatches).
- **Stencil** (pipeline creation and recording): stencil state (:class:`StencilFace`) only for
  a target created with ``stencil=True``; op and compare names from the tables, masks and
  references integers 0-255; a pipeline binds only in a renderer whose target has its depth
  format (a stencil and a plain target have incompatible render passes).
- **GPU-written draw counts** (``draw_indirect_count``/``draw_indexed_indirect_count``): the
  device's ``drawIndirectCount`` feature (Vulkan 1.2, enabled where offered), both buffers
  ``INDIRECT``, 4-byte aligned offsets, ``max_draw_count`` records inside the argument buffer
  and within ``maxDrawIndirectCount``, the 4-byte count inside the count buffer. The count the
  GPU reads is clamped to ``max_draw_count`` by the driver.

Per call, the recorder mutates prebuilt cffi arrays (no struct constructors per frame).
A :class:`DrawContext` is valid only inside the pass callback it was handed to.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.binding.binder import ResourceBinder
from engine.binding.pipelines import ComputePipeline, PushConstants
from engine.buffers.types import BufferUsage, ManagedBuffer
from engine.device.barriers import memory_barrier, new_memory_barrier
from engine.device.vk import device_function, ffi, lib, vk
from engine.errors import (
    BufferDestroyedError,
    DrawIndirectCountUnsupportedError,
    DrawStateError,
    ForeignBufferError,
    IndirectArgumentError,
    InvalidDataError,
    InvalidOffsetError,
    InvalidOptionError,
    InvalidStencilStateError,
    InvalidUsageError,
    PassRuleError,
    StencilUnavailableError,
    UnknownBindingError,
    VertexInputMismatchError,
)
from engine.numbers import as_int
from engine.render.graphics_pipeline import (
    BLEND_MODES,
    BLEND_OPAQUE,
    GraphicsPipeline,
    GraphicsPipelineDesc,
    StencilOpState,
    VertexAttribute,
)
from engine.render.images import DEPTH_FORMAT
from engine.render.phases import COMPUTE_PHASE, DEFERRED, PhaseInfo
from engine.shaders.compiler import compile_glsl
from engine.shaders.std_layout import block_dtype

if TYPE_CHECKING:
    from engine.render.renderer import Renderer

__all__ = ["DrawContext", "DrawPipeline", "StencilFace", "VertexInput", "vertex_format"]

MAX_VERTEX_BINDINGS = 16
# --- vertex formats from numpy dtypes ------------------------------------------------------

_F = vk
_FORMATS: dict[tuple[str, int, bool], tuple[int, ...]] = {
    ("f", 4, False): (_F.VK_FORMAT_R32_SFLOAT, _F.VK_FORMAT_R32G32_SFLOAT,
                      _F.VK_FORMAT_R32G32B32_SFLOAT, _F.VK_FORMAT_R32G32B32A32_SFLOAT),
    ("f", 2, False): (_F.VK_FORMAT_R16_SFLOAT, _F.VK_FORMAT_R16G16_SFLOAT,
                      _F.VK_FORMAT_R16G16B16_SFLOAT, _F.VK_FORMAT_R16G16B16A16_SFLOAT),
    ("i", 4, False): (_F.VK_FORMAT_R32_SINT, _F.VK_FORMAT_R32G32_SINT,
                      _F.VK_FORMAT_R32G32B32_SINT, _F.VK_FORMAT_R32G32B32A32_SINT),
    ("u", 4, False): (_F.VK_FORMAT_R32_UINT, _F.VK_FORMAT_R32G32_UINT,
                      _F.VK_FORMAT_R32G32B32_UINT, _F.VK_FORMAT_R32G32B32A32_UINT),
    ("i", 2, False): (_F.VK_FORMAT_R16_SINT, _F.VK_FORMAT_R16G16_SINT,
                      _F.VK_FORMAT_R16G16B16_SINT, _F.VK_FORMAT_R16G16B16A16_SINT),
    ("u", 2, False): (_F.VK_FORMAT_R16_UINT, _F.VK_FORMAT_R16G16_UINT,
                      _F.VK_FORMAT_R16G16B16_UINT, _F.VK_FORMAT_R16G16B16A16_UINT),
    ("i", 1, False): (_F.VK_FORMAT_R8_SINT, _F.VK_FORMAT_R8G8_SINT,
                      _F.VK_FORMAT_R8G8B8_SINT, _F.VK_FORMAT_R8G8B8A8_SINT),
    ("u", 1, False): (_F.VK_FORMAT_R8_UINT, _F.VK_FORMAT_R8G8_UINT,
                      _F.VK_FORMAT_R8G8B8_UINT, _F.VK_FORMAT_R8G8B8A8_UINT),
    ("i", 2, True): (_F.VK_FORMAT_R16_SNORM, _F.VK_FORMAT_R16G16_SNORM,
                     _F.VK_FORMAT_R16G16B16_SNORM, _F.VK_FORMAT_R16G16B16A16_SNORM),
    ("u", 2, True): (_F.VK_FORMAT_R16_UNORM, _F.VK_FORMAT_R16G16_UNORM,
                     _F.VK_FORMAT_R16G16B16_UNORM, _F.VK_FORMAT_R16G16B16A16_UNORM),
    ("i", 1, True): (_F.VK_FORMAT_R8_SNORM, _F.VK_FORMAT_R8G8_SNORM,
                     _F.VK_FORMAT_R8G8B8_SNORM, _F.VK_FORMAT_R8G8B8A8_SNORM),
    ("u", 1, True): (_F.VK_FORMAT_R8_UNORM, _F.VK_FORMAT_R8G8_UNORM,
                     _F.VK_FORMAT_R8G8B8_UNORM, _F.VK_FORMAT_R8G8B8A8_UNORM),
}
_GLSL_CLASS = {"float": "float", "int": "int", "uint": "uint"}


def vertex_format(kind: str, size: int, components: int, normalized: bool = False
                  ) -> tuple[int, str]:
    """``(VkFormat, shader class)`` for ``components`` (1-4) scalars of numpy kind ``kind``
    (``'f'``, ``'i'``, ``'u'``) and ``size`` bytes; the class is what the shader input must
    be (``float`` for SFLOAT/UNORM/SNORM, ``int`` for SINT, ``uint`` for UINT). Raises
    ``KeyError`` for a combination Vulkan has no vertex format for."""
    if kind == "f" or normalized:
        normalized = normalized and kind != "f"
        cls = "float"
    else:
        cls = "int" if kind == "i" else "uint"
    if not 1 <= components <= 4:
        raise KeyError(components)
    return _FORMATS[(kind, size, normalized)][components - 1], cls


@dataclass(frozen=True)
class VertexInput:
    """One vertex buffer binding of a pipeline, described by a numpy structured dtype.

    Args:
        dtype: the element layout; the binding's stride is ``dtype.itemsize`` bytes, each field
            one attribute at its byte offset (fields whose names start with ``_`` are padding).
        rate: ``"vertex"`` (advance per vertex) or ``"instance"`` (per instance).
        fields: the fields to feed the shader, in location order (default: all but padding).
        normalized: 8/16-bit integer fields read as normalised floats (UNORM/SNORM).
        first_location: the location of the first field (default: after the previous input).
    """

    dtype: Any
    rate: str = "vertex"
    fields: tuple[str, ...] | None = None
    normalized: tuple[str, ...] = ()
    first_location: int | None = None


@dataclass(frozen=True, slots=True)
class _Attr:
    location: int
    binding: int
    format: int
    offset: int
    cls: str
    components: int
    field: str


def _vertex_layout(inputs: Sequence[VertexInput], what: str, max_stride: int
                   ) -> tuple[list[tuple[int, int, int]], list[_Attr], list[np.dtype[Any]]]:
    if isinstance(inputs, VertexInput | str | bytes) or not isinstance(inputs, Sequence):
        raise InvalidOptionError(f"{what}: vertex={inputs!r} must be a list of VertexInput "
                                 "(one per vertex buffer binding).")
    if len(inputs) > MAX_VERTEX_BINDINGS:
        raise InvalidOptionError(f"{what}: {len(inputs)} vertex bindings; at most "
                                 f"{MAX_VERTEX_BINDINGS}.")
    bindings: list[tuple[int, int, int]] = []
    attrs: list[_Attr] = []
    dtypes: list[np.dtype[Any]] = []
    location = 0
    for b, vi in enumerate(inputs):
        if not isinstance(vi, VertexInput):
            raise InvalidOptionError(f"{what}: vertex[{b}] is a {type(vi).__name__}; pass "
                                     "VertexInput(dtype, rate=...).")
        try:
            dt = np.dtype(vi.dtype)
        except (TypeError, ValueError) as exc:
            raise VertexInputMismatchError(f"{what}: vertex[{b}].dtype {vi.dtype!r} is not a "
                                           f"numpy dtype ({exc}).") from None
        if dt.fields is None:
            raise VertexInputMismatchError(
                f"{what}: vertex[{b}].dtype {dt} is not structured; name the attributes, e.g. "
                "np.dtype([('position', '<f4', 3), ('color', '<f4', 4)]).")
        if vi.rate not in ("vertex", "instance"):
            raise InvalidOptionError(f"{what}: vertex[{b}].rate={vi.rate!r}; use 'vertex' or "
                                     "'instance'.")
        if not 0 < dt.itemsize <= max_stride:
            raise VertexInputMismatchError(
                f"{what}: vertex[{b}] stride {dt.itemsize} bytes; the device allows 1 to "
                f"{max_stride} (maxVertexInputBindingStride).")
        for option in ("fields", "normalized"):
            value = getattr(vi, option)
            if value is None and option == "fields":
                continue
            if isinstance(value, str) or not isinstance(value, tuple | list) \
                    or not all(isinstance(n, str) for n in value):
                raise InvalidOptionError(f"{what}: vertex[{b}].{option}={value!r} must be a "
                                         "tuple of field names.")
        names = [n for n in dt.names or () if not n.startswith("_")] if vi.fields is None \
            else list(vi.fields)
        normalized = set(vi.normalized)
        if vi.first_location is not None:
            first = as_int(vi.first_location)
            if first is None or not 0 <= first < 64:
                raise InvalidOptionError(f"{what}: vertex[{b}].first_location="
                                         f"{vi.first_location!r} must be an integer 0-63.")
            location = first
        for name in names:
            if name not in dt.fields:
                raise VertexInputMismatchError(
                    f"{what}: vertex[{b}] has no field {name!r}; fields: "
                    f"{', '.join(dt.names or ())}.")
            fdt, offset = dt.fields[name][0], int(dt.fields[name][1])
            sub = fdt.subdtype
            base: np.dtype[Any] = sub[0] if sub is not None else fdt
            shape: tuple[int, ...] = tuple(sub[1]) if sub is not None else ()
            if len(shape) == 0:
                columns, comps = 1, 1
            elif len(shape) == 1:
                columns, comps = 1, int(shape[0])
            elif len(shape) == 2:
                columns, comps = int(shape[0]), int(shape[1])
            else:
                columns, comps = 0, 0
            if base.byteorder == ">":
                raise VertexInputMismatchError(f"{what}: field {name!r} is big-endian ({fdt}); "
                                               "vertex data must be little-endian.")
            try:
                fmt, cls = vertex_format(base.kind, base.itemsize, comps, name in normalized)
            except KeyError:
                raise VertexInputMismatchError(
                    f"{what}: field {name!r} of vertex[{b}] has dtype {fdt}; vertex fields are "
                    "1-4 float32/float16/(u)int32/(u)int16/(u)int8 scalars, a vector of them, "
                    "or a (columns, rows) matrix of float32.") from None
            if offset % base.itemsize:
                raise VertexInputMismatchError(
                    f"{what}: field {name!r} at byte {offset} is not aligned to its "
                    f"{base.itemsize}-byte components; reorder or pad the dtype.")
            for c in range(max(columns, 1)):
                attrs.append(_Attr(location, b, fmt, offset + c * comps * base.itemsize, cls,
                                   comps, name if columns == 1 else f"{name}[{c}]"))
                location += 1
        rate = vk.VK_VERTEX_INPUT_RATE_INSTANCE if vi.rate == "instance" \
            else vk.VK_VERTEX_INPUT_RATE_VERTEX
        bindings.append((b, dt.itemsize, rate))
        dtypes.append(dt)
    seen: dict[int, _Attr] = {}
    for a in attrs:
        if a.location in seen:
            raise VertexInputMismatchError(
                f"{what}: fields {seen[a.location].field!r} and {a.field!r} both at location "
                f"{a.location}; fix first_location.")
        seen[a.location] = a
    return bindings, attrs, dtypes


def _check_vertex_inputs(attrs: list[_Attr], reflection: Any, what: str) -> None:
    by_location = {a.location: a for a in attrs}
    wanted: dict[int, tuple[str, str, int]] = {}
    for inp in reflection.inputs:
        count = max(inp.columns, 1)
        for d in inp.array_dims:
            count *= d
        for k in range(count):
            wanted[inp.location + k] = (inp.name or inp.type_name, inp.base_type, inp.vecsize)
    for loc, (name, base, vecsize) in sorted(wanted.items()):
        a = by_location.get(loc)
        glsl_cls = _GLSL_CLASS.get(base)
        if glsl_cls is None:
            raise VertexInputMismatchError(
                f"{what}: vertex shader input {name!r} at location {loc} is {base}; vertex "
                "inputs must be float, int or uint based.")
        if a is None:
            given = ", ".join(f"{x.field}@{x.location}" for x in attrs) or "none"
            raise VertexInputMismatchError(
                f"{what}: the vertex shader reads {name!r} at location {loc} "
                f"({glsl_cls} x{vecsize}) but no dtype field feeds it (fields: {given}); add "
                "a field or set first_location.")
        if a.cls != glsl_cls:
            raise VertexInputMismatchError(
                f"{what}: field {a.field!r} (location {loc}) gives {a.cls} data but the vertex "
                f"shader's {name!r} is {glsl_cls}-based; change the field dtype (f4 for float,"
                " i4 for int, u4 for uint, or list an 8/16-bit field in normalized=).")
    for a in attrs:
        if a.location not in wanted:
            raise VertexInputMismatchError(
                f"{what}: field {a.field!r} (location {a.location}) is not read by the vertex "
                f"shader (it reads locations {sorted(wanted) or 'none'}); leave it out with "
                "VertexInput(..., fields=(...)) or name it with a leading '_'.")


# --- pipeline ------------------------------------------------------------------------------

_TOPOLOGY = {
    "triangles": vk.VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST,
    "triangle_strip": vk.VK_PRIMITIVE_TOPOLOGY_TRIANGLE_STRIP,
    "triangle_fan": vk.VK_PRIMITIVE_TOPOLOGY_TRIANGLE_FAN,
    "lines": vk.VK_PRIMITIVE_TOPOLOGY_LINE_LIST,
    "line_strip": vk.VK_PRIMITIVE_TOPOLOGY_LINE_STRIP,
    "points": vk.VK_PRIMITIVE_TOPOLOGY_POINT_LIST,
}
_CULL = {"none": vk.VK_CULL_MODE_NONE, "back": vk.VK_CULL_MODE_BACK_BIT,
         "front": vk.VK_CULL_MODE_FRONT_BIT}
_FRONT = {"ccw": vk.VK_FRONT_FACE_COUNTER_CLOCKWISE, "cw": vk.VK_FRONT_FACE_CLOCKWISE}
_COMPARE = {"less": vk.VK_COMPARE_OP_LESS, "less_or_equal": vk.VK_COMPARE_OP_LESS_OR_EQUAL,
            "greater": vk.VK_COMPARE_OP_GREATER,
            "greater_or_equal": vk.VK_COMPARE_OP_GREATER_OR_EQUAL,
            "equal": vk.VK_COMPARE_OP_EQUAL, "not_equal": vk.VK_COMPARE_OP_NOT_EQUAL,
            "always": vk.VK_COMPARE_OP_ALWAYS, "never": vk.VK_COMPARE_OP_NEVER}
_STENCIL_OPS = {
    "keep": vk.VK_STENCIL_OP_KEEP, "zero": vk.VK_STENCIL_OP_ZERO,
    "replace": vk.VK_STENCIL_OP_REPLACE, "invert": vk.VK_STENCIL_OP_INVERT,
    "increment_and_clamp": vk.VK_STENCIL_OP_INCREMENT_AND_CLAMP,
    "decrement_and_clamp": vk.VK_STENCIL_OP_DECREMENT_AND_CLAMP,
    "increment_and_wrap": vk.VK_STENCIL_OP_INCREMENT_AND_WRAP,
    "decrement_and_wrap": vk.VK_STENCIL_OP_DECREMENT_AND_WRAP,
}
_STENCIL_FACES = {"front": vk.VK_STENCIL_FACE_FRONT_BIT, "back": vk.VK_STENCIL_FACE_BACK_BIT,
                  "both": vk.VK_STENCIL_FACE_FRONT_AND_BACK}


def _choice(value: object, table: Mapping[str, int], option: str, what: str) -> int:
    if isinstance(value, str) and value in table:
        return table[value]
    raise InvalidOptionError(f"{what}: {option}={value!r}; one of {', '.join(map(repr, table))}.")


def _flag(value: object, option: str, what: str) -> bool | None:
    if value is None or value.__class__ is bool:
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    raise InvalidOptionError(f"{what}: {option}={value!r} is not True/False (or None).")


def _spirv(source: object, option: str, what: str) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        return compile_glsl(source)
    raise InvalidOptionError(f"{what}: {option} is a {type(source).__name__}; pass SPIR-V bytes "
                             "or the path of a GLSL file.")


@dataclass(frozen=True, slots=True)
class _Push:
    offset: int
    size: int
    stages: int
    dtype: np.dtype[Any]
    data: np.ndarray[Any, Any]
    values: np.ndarray[Any, Any]
    pointer: Any


def _stencil_byte(value: object, name: str, what: str) -> int:
    n = as_int(value)
    if n is None or not 0 <= n <= 255:
        raise InvalidStencilStateError(
            f"{what}: {name}={value!r} must be an integer from 0 to 255 (the stencil aspect "
            "holds 8 bits; 0xFF tests or writes all of them).")
    return n


@dataclass(frozen=True, slots=True)
class StencilFace:
    """The stencil state of one face (or both) of a :class:`DrawPipeline`.

    For each fragment the stencil test compares ``(reference & compare_mask)`` with
    ``(stencil & compare_mask)`` by ``compare``; then ``fail_op`` (test failed),
    ``depth_fail_op`` (stencil passed, depth failed) or ``pass_op`` (both passed) updates the
    bits of ``write_mask``. Ops: ``"keep"``, ``"zero"``, ``"replace"`` (with the reference),
    ``"invert"``, ``"increment_and_clamp"``, ``"decrement_and_clamp"``,
    ``"increment_and_wrap"``, ``"decrement_and_wrap"``; compares: those of ``depth_compare``
    (``"less"``, ``"less_or_equal"``, ``"greater"``, ``"greater_or_equal"``, ``"equal"``,
    ``"not_equal"``, ``"always"``, ``"never"``). Masks and ``reference`` are integers from 0
    to 255 (numpy integers accepted, bools and floats refused: an
    :class:`~engine.errors.InvalidStencilStateError` at construction). ``reference`` is the
    value :meth:`DrawContext.bind_pipeline` sets; :meth:`DrawContext.set_stencil_reference`
    changes it between draws without another pipeline.
    """

    compare: str = "always"
    pass_op: str = "keep"
    fail_op: str = "keep"
    depth_fail_op: str = "keep"
    compare_mask: int = 0xFF
    write_mask: int = 0xFF
    reference: int = 0

    def __post_init__(self) -> None:
        what = "StencilFace"
        for option, table in (("compare", _COMPARE), ("pass_op", _STENCIL_OPS),
                              ("fail_op", _STENCIL_OPS), ("depth_fail_op", _STENCIL_OPS)):
            value = getattr(self, option)
            if not isinstance(value, str) or value not in table:
                raise InvalidStencilStateError(
                    f"{what}: {option}={value!r}; one of {', '.join(map(repr, table))}.")
        for option in ("compare_mask", "write_mask", "reference"):
            object.__setattr__(self, option, _stencil_byte(getattr(self, option), option, what))

    def op_state(self) -> StencilOpState:
        """The Vulkan form (enums and masks) of this face."""
        return StencilOpState(_STENCIL_OPS[self.fail_op], _STENCIL_OPS[self.pass_op],
                              _STENCIL_OPS[self.depth_fail_op], _COMPARE[self.compare],
                              self.compare_mask, self.write_mask, self.reference)


def _stencil_faces(stencil: object, what: str) -> tuple[StencilFace, StencilFace] | None:
    """``stencil=`` of a pipeline as (front, back) faces: one face for both, or a pair."""
    if stencil is None:
        return None
    faces = (stencil, stencil) if isinstance(stencil, StencilFace) else stencil
    if isinstance(faces, tuple) and len(faces) == 2 \
            and all(isinstance(f, StencilFace) for f in faces):
        for face in faces:
            face.__post_init__()  # again: a frozen field may have been forced since
        return faces[0], faces[1]
    raise InvalidStencilStateError(
        f"{what}: stencil={stencil!r}; pass a StencilFace (both faces), a (front, back) "
        "tuple of them, or None (no stencil test).")


class DrawPipeline:
    """A graphics pipeline for one phase of a renderer's target, registered with a binder.

    Args:
        binder: the ResourceBinder that owns the layout and descriptor sets; bind buffers by
            GLSL name with ``binder.bind_*_named(pipeline.id, ...)``. It destroys the pipeline
            when ``pipeline.id`` is released or the binder closes.
        renderer: the Renderer (or its render target) whose render pass and phases the
            pipeline is built for; pipelines work with any target of the same layout and
            colour format (compatible render passes).
        name: a label (debuggers, messages, the binder's pipeline id).
        vertex_shader, fragment_shader: SPIR-V bytes or GLSL file paths (compiled, cached).
        phase: a phase of the target's layout other than ``"compute"``.
        vertex: the vertex buffer bindings (:class:`VertexInput`), binding 0 first.
        topology: ``"triangles"``, ``"triangle_strip"``, ``"triangle_fan"``, ``"lines"``,
            ``"line_strip"`` or ``"points"``.
        blend: ``"opaque"``, ``"additive"`` or ``"alpha"`` for every float attachment (integer
            ones stay unblended), or a tuple with one mode per attachment of the phase.
        depth_test: test against depth (default True). depth_write: write depth (default:
            the phase's depth is writable and the test is on). depth_compare: ``"less"`` etc.
        cull: ``"none"``, ``"back"`` or ``"front"``; front_face: ``"ccw"`` or ``"cw"``.
        dynamic: names (block type or variable) of uniform/storage bindings that are
            ``*_BUFFER_DYNAMIC``: bind a :class:`~engine.buffers.uniform_ring.UniformRing` to
            each (``binder.bind_ring_named``) and pass one offset per draw's bind
            (:meth:`DrawContext.bind_pipeline` / :meth:`DrawContext.bind_descriptor_sets`).
        stencil: a :class:`StencilFace` for both faces, a ``(front, back)`` pair, or None (no
            stencil test, the default). Needs a target created with ``stencil=True``.
        color_write: write the colour attachments (default True), or one flag per attachment
            of the phase; False writes no colour channel (e.g. a draw that only marks stencil).

    Attributes:
        id: the binder's pipeline id.
        phase: the phase name.
        strides: bytes per vertex binding.
        push_constants: the push-constant block names accepted by
            :meth:`DrawContext.push_constants` (variable and type names).
        stencil: the (front, back) :class:`StencilFace` pair, or None.
        depth_format: the depth attachment format of the target it was built for (it binds
            only in renderers whose target has the same).
    """

    def __init__(self, binder: ResourceBinder, renderer: Renderer | Any, name: str, *,
                 vertex_shader: bytes | str | os.PathLike[str],
                 fragment_shader: bytes | str | os.PathLike[str], phase: str,
                 vertex: Sequence[VertexInput] = (), topology: str = "triangles",
                 blend: str | Sequence[str] = BLEND_OPAQUE, depth_test: bool | None = None,
                 depth_write: bool | None = None, depth_compare: str = "less",
                 cull: str = "none", front_face: str = "ccw",
                 stencil: StencilFace | tuple[StencilFace, StencilFace] | None = None,
                 color_write: bool | Sequence[bool] = True,
                 dynamic: Collection[str] = ()) -> None:
        what = f"DrawPipeline({name!r})"
        if not isinstance(name, str) or not name:
            raise InvalidOptionError(f"DrawPipeline(name={name!r}): a non-empty str is needed.")
        if not isinstance(binder, ResourceBinder):
            raise InvalidOptionError(f"{what}: binder is a {type(binder).__name__}; pass the "
                                     "ResourceBinder that binds its buffers.")
        target: Any = getattr(renderer, "target", renderer)
        layout = getattr(target, "layout", DEFERRED)
        info = layout.phase(phase, what)
        if info.subpass is None:
            raise PassRuleError(f"{what}: phase {phase!r} is outside the render pass (compute "
                                "work only); draw in one of "
                                f"{', '.join(repr(p.name) for p in layout.subpasses)}.")
        ctx = binder.context
        if getattr(target, "ctx", ctx) is not ctx or getattr(target, "render_pass", None) is None:
            raise InvalidOptionError(
                f"{what}: the renderer/target is not a live target of the binder's "
                "GraphicsContext; build the pipeline with the binder and renderer of one device.")
        ctx.require_open(what)
        limits = vk.vkGetPhysicalDeviceProperties(ctx.physical_device).limits
        bindings, attrs, dtypes = _vertex_layout(
            vertex, what, int(limits.maxVertexInputBindingStride))
        vert = _spirv(vertex_shader, "vertex_shader", what)
        frag = _spirv(fragment_shader, "fragment_shader", what)
        topo = _choice(topology, _TOPOLOGY, "topology", what)
        cull_mode = _choice(cull, _CULL, "cull", what)
        front = _choice(front_face, _FRONT, "front_face", what)
        compare = _choice(depth_compare, _COMPARE, "depth_compare", what)
        test, write = _flag(depth_test, "depth_test", what), _flag(depth_write, "depth_write",
                                                                    what)
        test = True if test is None else test
        if write is None:
            write = test and info.depth == "write"
        if write and not test:
            raise PassRuleError(
                f"{what}: depth_write=True with depth_test=False: Vulkan writes depth only when "
                "the test is on; pass depth_test=True with depth_compare='always' to write "
                "unconditionally, or depth_write=False.")
        if write and info.depth != "write":
            raise PassRuleError(
                f"{what}: depth_write=True in phase {phase!r}, whose depth attachment is "
                "read-only (tests only); pass depth_write=False, or draw in a phase that "
                "writes depth.")
        faces = _stencil_faces(stencil, what)
        if faces is not None and not getattr(target, "has_stencil", False):
            raise StencilUnavailableError(
                f"{what}: stencil state in phase {phase!r}, but the target's depth attachment "
                "has no stencil aspect; create the target with stencil=True (forward layout), "
                "e.g. OffscreenTarget(ctx, w, h, layout='forward', stencil=True).")
        writes = self._color_writes(color_write, info, what)
        modes = self._blend_modes(blend, info, what)
        if len(set(modes)) > 1 and not getattr(ctx, "independent_blend", False):
            raise PassRuleError(
                f"{what}: blend modes {modes} differ per attachment, but the device lacks the "
                "independentBlend feature; draw the float attachments with one mode in a "
                "phase without integer attachments (e.g. light or forward).")
        # Register first: reflection (and a shader that does not compile) fails before any
        # Vulkan object exists; from here on, a failure releases the id again.
        self.binder = binder
        self.id = binder.register_pipeline(name, [vert, frag], dynamic=dynamic or None)
        try:
            stages = binder.shader_stages(self.id)
            vrefl = next(s.reflection for s in stages
                         if s.stage == vk.VK_SHADER_STAGE_VERTEX_BIT)
            frefl = next(s.reflection for s in stages
                         if s.stage == vk.VK_SHADER_STAGE_FRAGMENT_BIT)
        except StopIteration:
            binder.release_pipeline(self.id)
            raise PassRuleError(f"{what}: vertex_shader must be a vertex shader and "
                                "fragment_shader a fragment shader.") from None
        try:
            _check_vertex_inputs(attrs, vrefl, what)
            self._check_outputs(frefl, info, what)
            merged = binder.layout_info(self.id)
            self.dynamic_count = len(binder.dynamic_binding_names(self.id))
            """Dynamic uniform/storage descriptors: the dynamic offsets each bind needs."""
            self.set_count = merged.set_count
            self._push = self._push_blocks(stages, merged.push_ranges)
            desc = GraphicsPipelineDesc(
                name, topology=topo,
                vertex_bindings=tuple(bindings),
                vertex_attributes=tuple(VertexAttribute(a.location, a.binding, a.format,
                                                        a.offset) for a in attrs),
                cull_mode=cull_mode, front_face=front, depth_test=test, depth_write=write,
                depth_compare=compare, blend=modes, color_attachments=len(info.colors),
                subpass=info.subpass, color_write=writes,
                stencil=None if faces is None else (faces[0].op_state(), faces[1].op_state()))
            self.graphics = GraphicsPipeline(ctx, desc, {"vert": vert, "frag": frag},
                                             binder.pipeline_layout(self.id),
                                             target.render_pass)
            binder.adopt(self.id, self.graphics)
        except BaseException:
            binder.release_pipeline(self.id)
            raise
        self.name = name
        self.phase = info.name
        self.layout = binder.pipeline_layout(self.id)
        self.strides = tuple(s for _, s, _ in bindings)
        self.rates = tuple("instance" if r == vk.VK_VERTEX_INPUT_RATE_INSTANCE else "vertex"
                           for _, _, r in bindings)
        self.dtypes = tuple(dtypes)
        self.push_constants = tuple(sorted(self._push))
        self.stencil = faces
        self.stencil_reference: tuple[int, int] | None = None if faces is None else (
            faces[0].reference, faces[1].reference)
        """(front, back) references :meth:`DrawContext.bind_pipeline` sets, or None."""
        self.depth_format = int(getattr(target, "depth_format", DEPTH_FORMAT))
        self._sets = [binder.descriptor_set_array(self.id, f)
                      for f in range(binder.frames_in_flight)]

    @property
    def handle(self) -> Any:
        """The ``VkPipeline`` (None once the binder released it)."""
        return self.graphics.handle

    @staticmethod
    def _color_writes(value: object, info: PhaseInfo, what: str) -> tuple[bool, ...]:
        if value.__class__ is bool or isinstance(value, np.bool_):
            return (bool(value),) * len(info.colors)
        if isinstance(value, Sequence) and not isinstance(value, str | bytes) \
                and len(value) == len(info.colors) \
                and all(v.__class__ is bool or isinstance(v, np.bool_) for v in value):
            return tuple(bool(v) for v in value)
        raise InvalidOptionError(
            f"{what}: color_write={value!r}; pass True/False, or one flag per colour "
            f"attachment of phase {info.name!r} ({', '.join(a.name for a in info.colors)}).")

    @staticmethod
    def _blend_modes(blend: object, info: PhaseInfo, what: str) -> tuple[str, ...]:
        if isinstance(blend, str):
            if blend not in BLEND_MODES:
                raise InvalidOptionError(f"{what}: blend={blend!r}; one of "
                                         f"{', '.join(map(repr, BLEND_MODES))}.")
            return tuple(BLEND_OPAQUE if a.integer else blend for a in info.colors)
        if not isinstance(blend, Sequence) or len(blend) != len(info.colors):
            raise PassRuleError(
                f"{what}: blend={blend!r}: phase {info.name!r} has {len(info.colors)} colour "
                f"attachment(s) ({', '.join(a.name for a in info.colors)}); give one mode, or "
                "a tuple with one mode per attachment.")
        for mode, att in zip(blend, info.colors, strict=True):
            if mode not in BLEND_MODES:
                raise InvalidOptionError(f"{what}: blend mode {mode!r} for {att.name}; one of "
                                         f"{', '.join(map(repr, BLEND_MODES))}.")
            if att.integer and mode != BLEND_OPAQUE:
                raise PassRuleError(
                    f"{what}: blend {mode!r} on the {att.name} attachment, an integer format: "
                    "integer attachments cannot be blended "
                    "(VUID-VkGraphicsPipelineCreateInfo-renderPass-06041); use 'opaque' for it "
                    "(a single blend string does that for you).")
        return tuple(blend)

    @staticmethod
    def _check_outputs(refl: Any, info: PhaseInfo, what: str) -> None:
        outputs = {o.location: o for o in refl.outputs}
        for loc, out in sorted(outputs.items()):
            if loc >= len(info.colors):
                raise PassRuleError(
                    f"{what}: the fragment shader writes {out.name!r} at location {loc}, but "
                    f"phase {info.name!r} has {len(info.colors)} colour attachment(s); "
                    f"{info.note}.")
        for att in info.colors:
            out = outputs.get(att.location)
            if out is None:
                raise PassRuleError(
                    f"{what}: the fragment shader writes nothing at location {att.location} "
                    f"(the {att.name} attachment of phase {info.name!r}); {info.note}.")
            integer = out.base_type in ("int", "uint")
            if integer != att.integer or out.base_type not in ("float", "int", "uint"):
                raise PassRuleError(
                    f"{what}: fragment output {out.name!r} at location {att.location} is "
                    f"{out.type_name}, but the {att.name} attachment takes {att.glsl}; "
                    f"{info.note}.")

    @staticmethod
    def _push_blocks(stages: Sequence[Any], ranges: Sequence[Any]) -> dict[str, _Push]:
        found: dict[str, _Push] = {}
        for stage in stages:
            for pc in stage.reflection.push_constants:
                if pc.name in found or pc.type_name in found:
                    continue
                flags = 0
                for r in ranges:  # every stage whose range overlaps these bytes
                    if r.offset < pc.offset + pc.size and pc.offset < r.offset + r.size:
                        flags |= r.stages
                dtype = block_dtype(pc.block)
                data = np.zeros(max(pc.offset + pc.size, dtype.itemsize), np.uint8)
                values = data[:dtype.itemsize].view(dtype)
                push = _Push(pc.offset, pc.size, flags, dtype, data, values,
                             ffi.from_buffer(data) + pc.offset)
                for key in (pc.name, pc.type_name):
                    if key:
                        found[key] = push
        return found

    def push_block(self, name: str) -> _Push:
        """The push-constant block ``name`` (variable or type name)."""
        push = self._push.get(name) if isinstance(name, str) else None
        if push is None:
            raise UnknownBindingError(
                f"DrawPipeline({self.name!r}).push_constants: no push-constant block "
                f"{name!r}; the shaders declare {', '.join(self.push_constants) or 'none'}.")
        return push

    def descriptor_sets(self, slot: int) -> Any:
        """The binder's prebuilt ``VkDescriptorSet[]`` of frame slot ``slot``."""
        if not 0 <= slot < len(self._sets):
            raise DrawStateError(
                f"DrawPipeline({self.name!r}): frame slot {slot}, but its binder has "
                f"{len(self._sets)} frames in flight; give the ResourceBinder the "
                "BufferManager's frames_in_flight.")
        return self._sets[slot]


# --- recording -----------------------------------------------------------------------------

_BARRIER_SRC = {
    "compute": (vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, vk.VK_ACCESS_SHADER_WRITE_BIT),
    "transfer": (vk.VK_PIPELINE_STAGE_TRANSFER_BIT, vk.VK_ACCESS_TRANSFER_WRITE_BIT),
}
_SHADERS = (vk.VK_PIPELINE_STAGE_VERTEX_SHADER_BIT | vk.VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT)
_BARRIER_DST = {
    "indirect": (vk.VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT, vk.VK_ACCESS_INDIRECT_COMMAND_READ_BIT),
    "vertex": (vk.VK_PIPELINE_STAGE_VERTEX_INPUT_BIT,
               vk.VK_ACCESS_VERTEX_ATTRIBUTE_READ_BIT | vk.VK_ACCESS_INDEX_READ_BIT),
    "uniform": (_SHADERS, vk.VK_ACCESS_UNIFORM_READ_BIT),
    "storage": (_SHADERS, vk.VK_ACCESS_SHADER_READ_BIT),
    "compute": (vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                vk.VK_ACCESS_SHADER_READ_BIT | vk.VK_ACCESS_SHADER_WRITE_BIT),
}
_INDEX_TYPES = {"uint16": (vk.VK_INDEX_TYPE_UINT16, 2), "uint32": (vk.VK_INDEX_TYPE_UINT32, 4)}
_GRAPHICS = vk.VK_PIPELINE_BIND_POINT_GRAPHICS
_COMPUTE = vk.VK_PIPELINE_BIND_POINT_COMPUTE
_FACE_FRONT, _FACE_BACK = vk.VK_STENCIL_FACE_FRONT_BIT, vk.VK_STENCIL_FACE_BACK_BIT
_FACE_BOTH = vk.VK_STENCIL_FACE_FRONT_AND_BACK
INDIRECT_DRAW_SIZE = 16
"""Bytes of ``VkDrawIndirectCommand`` (vertexCount, instanceCount, firstVertex,
firstInstance: uint32 each)."""
INDIRECT_DRAW_INDEXED_SIZE = 20
"""Bytes of ``VkDrawIndexedIndirectCommand`` (indexCount, instanceCount, firstIndex,
vertexOffset (int32), firstInstance)."""
INDIRECT_DISPATCH_SIZE = 12
"""Bytes of ``VkDispatchIndirectCommand`` (x, y, z workgroups: uint32 each)."""


_VERTEX, _INDEX, _INDIRECT = (int(BufferUsage.VERTEX), int(BufferUsage.INDEX),
                              int(BufferUsage.INDIRECT))
_and = int.__and__
"""``usage & bit`` without IntFlag's slow ``__and__`` (the recorder's hot path)."""


def _count(value: object, name: str, what: str, limit: int = (1 << 32) - 1) -> int:
    if value.__class__ is int and 0 <= value <= limit:
        return value
    n = as_int(value)
    if n is None or not 0 <= n <= limit:
        raise InvalidDataError(f"{what}: {name}={value!r} must be an integer from 0 to {limit}.")
    return n


class DrawContext:
    """What a pass records with, handed to its callback once per frame and phase.

    Attributes (read them, do not assign): ``slot`` (the frame slot: index of per-slot
    buffers), ``phase`` (the phase's name), ``width``/``height`` (the target's pixels).
    Valid only during the callback; calls after it raise :class:`~engine.errors.DrawStateError`.
    """

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self.manager = renderer.manager
        self.cmd: Any = None
        self.slot = 0
        self.phase = ""
        self.width = self.height = 0
        self._in_pass = False
        self._pipeline: DrawPipeline | None = None
        self._vertex: list[tuple[ManagedBuffer, int] | None] = []
        self._index: tuple[ManagedBuffer, int, int] | None = None
        self._vb = ffi.new("VkBuffer[]", MAX_VERTEX_BINDINGS)
        self._vo = ffi.new("VkDeviceSize[]", MAX_VERTEX_BINDINGS)
        self._barrier = new_memory_barrier()
        props = vk.vkGetPhysicalDeviceProperties(renderer.ctx.physical_device)
        self.max_draw_indirect_count = int(props.limits.maxDrawIndirectCount) \
            if getattr(renderer.ctx, "multi_draw_indirect", False) else 1
        """Draws per indirect call: the device's maxDrawIndirectCount where the
        multiDrawIndirect feature is enabled (where offered), else 1."""
        target = renderer.target
        self._depth_format = int(getattr(target, "depth_format", DEPTH_FORMAT))
        self._has_stencil = bool(getattr(target, "has_stencil", False))
        features = getattr(renderer.ctx, "features", None)
        self.draw_indirect_count_supported = bool(getattr(features, "draw_indirect_count",
                                                          False))
        """The device's ``drawIndirectCount`` feature is enabled: the ``*_indirect_count``
        draws may run."""
        self.max_draw_count = int(props.limits.maxDrawIndirectCount)
        """The most draws one ``*_indirect_count`` call may ask for (maxDrawIndirectCount)."""
        self._draw_count_fns: tuple[Any, Any] | None = None
        if self.draw_indirect_count_supported:
            device = renderer.ctx.device
            fns = (device_function(device, "vkCmdDrawIndirectCount"),
                   device_function(device, "vkCmdDrawIndexedIndirectCount"))
            if fns[0] is not None and fns[1] is not None:
                self._draw_count_fns = fns
            else:
                self.draw_indirect_count_supported = False

    # --- the renderer's side -----------------------------------------------------------

    def begin(self, cmd: Any, slot: int, phase: PhaseInfo, width: int, height: int) -> None:
        """Renderer only: start one pass callback (``cmd`` recording, in ``phase``)."""
        self.cmd, self.slot, self.phase = cmd, slot, phase.name
        self._in_pass = phase.subpass is not None
        self.width, self.height = width, height
        self._pipeline, self._index = None, None
        self._vertex = []

    def end(self) -> None:
        """Renderer only: the callback returned; later calls raise."""
        self.cmd = None

    def _live(self, what: str) -> Any:
        cmd = self.cmd
        if cmd is None:
            raise DrawStateError(f"DrawContext.{what}: the recorder is used outside its pass "
                                 "callback (it is valid only while the renderer runs it).")
        return cmd

    def _buffer(self, buffer: object, usage: int, usage_name: str, what: str) -> ManagedBuffer:
        if buffer.__class__ is ManagedBuffer and buffer.alive \
                and buffer.manager is self.manager and _and(buffer.usage, usage):
            return buffer
        if not isinstance(buffer, ManagedBuffer):
            raise InvalidDataError(f"DrawContext.{what}: {buffer!r} is not a ManagedBuffer.")
        if not buffer.alive:
            raise BufferDestroyedError(f"DrawContext.{what}: buffer {buffer.name!r} was "
                                       "destroyed; bind a live buffer.")
        if buffer.manager is not self.manager:
            raise ForeignBufferError(f"DrawContext.{what}: buffer {buffer.name!r} belongs to "
                                     "another BufferManager than the renderer's.")
        if not _and(buffer.usage, usage):
            raise InvalidUsageError(
                f"DrawContext.{what}: buffer {buffer.name!r} lacks {usage_name} usage; create "
                f"it with BufferUsage.{usage_name}.")
        return buffer

    def _offset(self, buffer: ManagedBuffer, offset: object, what: str, align: int = 1) -> int:
        off = as_int(offset)
        if off is None or not 0 <= off < buffer.size or off % align:
            raise InvalidOffsetError(
                f"DrawContext.{what}: offset {offset!r} into {buffer.name!r} ({buffer.size} "
                f"bytes) must be an integer in [0, size) and a multiple of {align}.")
        return off

    # --- binding -----------------------------------------------------------------------

    def bind_pipeline(self, pipeline: DrawPipeline, *,
                      dynamic_offsets: Sequence[int] = ()) -> None:
        """Bind ``pipeline`` and its descriptor sets for this frame slot (written by the
        BindingSystem). ``dynamic_offsets``: one per dynamic uniform/storage descriptor, in
        set/binding order (bytes, aligned to the device's minimum offset alignment)."""
        cmd = self._live("bind_pipeline")
        if pipeline.__class__ is not DrawPipeline and not isinstance(pipeline, DrawPipeline):
            raise InvalidDataError(f"DrawContext.bind_pipeline: {pipeline!r} is not a "
                                   "DrawPipeline (dispatch compute pipelines with dispatch()).")
        if pipeline.phase != self.phase:
            raise DrawStateError(
                f"DrawContext.bind_pipeline: pipeline {pipeline.name!r} was built for phase "
                f"{pipeline.phase!r}, but this pass records phase {self.phase!r}; add the pass "
                f"with phase={pipeline.phase!r}.")
        if pipeline.handle is None:
            raise DrawStateError(f"DrawContext.bind_pipeline: pipeline {pipeline.name!r} was "
                                 "released (its id or binder closed).")
        if pipeline.depth_format != self._depth_format:
            raise DrawStateError(
                f"DrawContext.bind_pipeline: pipeline {pipeline.name!r} was built for a target "
                f"with depth format {pipeline.depth_format}, but this renderer's target has "
                f"{self._depth_format} (stencil={self._has_stencil}): their render passes are "
                "incompatible; build the pipeline with this renderer (or a target of the same "
                "stencil= choice).")
        pipeline.binder.check_recordable(pipeline.id, "DrawContext.bind_pipeline")
        pipeline.binder.require_complete(pipeline.id, self.slot, "DrawContext.bind_pipeline")
        n, dyn = self._dynamic(pipeline, dynamic_offsets)
        lib.vkCmdBindPipeline(cmd, _GRAPHICS, pipeline.handle)
        ref = pipeline.stencil_reference
        if ref is not None:  # dynamic state: the pipeline's own reference until changed
            if ref[0] == ref[1]:
                lib.vkCmdSetStencilReference(cmd, _FACE_BOTH, ref[0])
            else:
                lib.vkCmdSetStencilReference(cmd, _FACE_FRONT, ref[0])
                lib.vkCmdSetStencilReference(cmd, _FACE_BACK, ref[1])
        if pipeline.set_count:
            lib.vkCmdBindDescriptorSets(cmd, _GRAPHICS, pipeline.layout, 0, pipeline.set_count,
                                        pipeline.descriptor_sets(self.slot), n, dyn)
        self._pipeline = pipeline
        self._vertex = [None] * len(pipeline.strides)

    def bind_descriptor_sets(self, *, dynamic_offsets: Sequence[int] = ()) -> None:
        """Rebind the bound pipeline's sets with other ``dynamic_offsets``."""
        cmd = self._live("bind_descriptor_sets")
        pipeline = self._require_pipeline("bind_descriptor_sets")
        n, dyn = self._dynamic(pipeline, dynamic_offsets)
        if pipeline.set_count:
            lib.vkCmdBindDescriptorSets(cmd, _GRAPHICS, pipeline.layout, 0, pipeline.set_count,
                                        pipeline.descriptor_sets(self.slot), n, dyn)

    def _dynamic(self, pipeline: DrawPipeline, offsets: Sequence[int]) -> tuple[int, Any]:
        """The dynamic-offset array for this bind (``ffi.NULL`` with none): the count is
        checked here, each offset by the binder (a block pushed into the bound ring in this
        frame, for this slot: a multiple of its stride, below what was pushed), so a draw never
        reads a block written after it was recorded, or past the ring's buffer."""
        if offsets == () and not pipeline.dynamic_count:
            return 0, ffi.NULL
        what = f"DrawContext.bind_pipeline({pipeline.name!r})"
        if isinstance(offsets, str | bytes) or not isinstance(offsets, Sequence):
            raise InvalidDataError(f"{what}: dynamic_offsets={offsets!r} must be a sequence of "
                                   "integers.")
        if len(offsets) != pipeline.dynamic_count:
            raise DrawStateError(
                f"{what}: {len(offsets)} dynamic offset(s); the pipeline layout has "
                f"{pipeline.dynamic_count} dynamic descriptor(s), one offset each.")
        return pipeline.binder.dynamic_offset_array(pipeline.id, self.slot, offsets, what=what)

    def _require_pipeline(self, what: str) -> DrawPipeline:
        if self._pipeline is None:
            raise DrawStateError(f"DrawContext.{what}: no pipeline is bound in this pass; call "
                                 "bind_pipeline(pipeline) first.")
        return self._pipeline

    def bind_vertex_buffers(self, *buffers: ManagedBuffer, offsets: Sequence[int] = ()) -> None:
        """Bind one VERTEX buffer per binding of the bound pipeline (binding 0 first);
        ``offsets`` in bytes (default 0 each)."""
        cmd = self._live("bind_vertex_buffers")
        pipeline = self._require_pipeline("bind_vertex_buffers")
        n = len(pipeline.strides)
        if len(buffers) != n:
            raise DrawStateError(
                f"DrawContext.bind_vertex_buffers: {len(buffers)} buffer(s); pipeline "
                f"{pipeline.name!r} has {n} vertex binding(s) ({', '.join(pipeline.rates)}).")
        if offsets != () and (isinstance(offsets, str | bytes)
                              or not isinstance(offsets, Sequence) or len(offsets) != n):
            raise InvalidDataError(f"DrawContext.bind_vertex_buffers: offsets={offsets!r} "
                                   f"must be empty or {n} integers.")
        bound: list[tuple[ManagedBuffer, int] | None] = []
        for i, b in enumerate(buffers):
            buf = self._buffer(b, _VERTEX, "VERTEX", "bind_vertex_buffers")
            off = self._offset(buf, offsets[i], "bind_vertex_buffers") if offsets else 0
            bound.append((buf, off))
        for i, entry in enumerate(bound):
            assert entry is not None
            self._vb[i], self._vo[i] = entry[0].handle, entry[1]
        if n:
            lib.vkCmdBindVertexBuffers(cmd, 0, n, self._vb, self._vo)
        self._vertex = bound

    def bind_index_buffer(self, buffer: ManagedBuffer, *, index_type: str = "uint32",
                          offset: int = 0) -> None:
        """Bind an INDEX buffer of ``"uint32"`` or ``"uint16"`` indices from byte ``offset``."""
        cmd = self._live("bind_index_buffer")
        buf = self._buffer(buffer, _INDEX, "INDEX", "bind_index_buffer")
        kind = _INDEX_TYPES.get(index_type) if isinstance(index_type, str) else None
        if kind is None:
            raise InvalidOptionError(f"DrawContext.bind_index_buffer: index_type="
                                     f"{index_type!r}; 'uint32' or 'uint16'.")
        off = self._offset(buf, offset, "bind_index_buffer", kind[1])
        lib.vkCmdBindIndexBuffer(cmd, buf.handle, off, kind[0])
        self._index = (buf, off, kind[1])

    def push_constants(self, name: str, values: Any) -> None:
        """Write push-constant block ``name`` of the bound pipeline: ``values`` is a dict of
        member names (the others keep what was pushed last), a numpy value of the block's
        dtype, or bytes of its size. Recorded with every stage whose range overlaps it."""
        cmd = self._live("push_constants")
        pipeline = self._require_pipeline("push_constants")
        push = pipeline.push_block(name)
        what = f"DrawContext.push_constants({name!r})"
        if isinstance(values, Mapping):
            for key, value in values.items():
                if push.dtype.names is None or key not in push.dtype.names:
                    raise UnknownBindingError(f"{what}: no member {key!r}; members: "
                                              f"{', '.join(push.dtype.names or ())}.")
                try:
                    push.values[key] = value
                except (TypeError, ValueError, OverflowError) as exc:
                    raise InvalidDataError(f"{what}: member {key!r} = {value!r}: {exc}") from None
        elif isinstance(values, np.ndarray | np.void) and values.dtype == push.dtype:
            push.values[...] = values
        elif isinstance(values, bytes | bytearray) and len(values) == push.dtype.itemsize:
            push.data[:push.dtype.itemsize] = np.frombuffer(values, np.uint8)
        else:
            raise InvalidDataError(
                f"{what}: values must be a dict of members, a numpy value of dtype "
                f"{push.dtype} or {push.dtype.itemsize} bytes; got {type(values).__name__}.")
        lib.vkCmdPushConstants(cmd, pipeline.layout, push.stages, push.offset, push.size,
                               push.pointer)

    def set_stencil_reference(self, value: int, *, face: str = "both") -> None:
        """Set the stencil reference (0-255) of ``face`` (``"front"``, ``"back"`` or
        ``"both"``) for the following draws of the bound pipeline, which must have stencil
        state (``vkCmdSetStencilReference``: dynamic state, no pipeline rebuilt). Binding a
        pipeline sets its :class:`StencilFace` references again."""
        cmd = self._live("set_stencil_reference")
        what = "DrawContext.set_stencil_reference"
        if not self._has_stencil:
            raise StencilUnavailableError(
                f"{what}: the renderer's target has no stencil aspect; create it with "
                "stencil=True (forward layout).")
        pipeline = self._require_pipeline("set_stencil_reference")
        if pipeline.stencil is None:
            raise DrawStateError(f"{what}: pipeline {pipeline.name!r} has no stencil state; "
                                 "build it with stencil=StencilFace(...).")
        mask = _STENCIL_FACES.get(face) if isinstance(face, str) else None
        if mask is None:
            raise InvalidStencilStateError(f"{what}: face={face!r}; one of "
                                           f"{', '.join(map(repr, _STENCIL_FACES))}.")
        ref = _stencil_byte(value, "value", what)
        lib.vkCmdSetStencilReference(cmd, mask, ref)

    # --- draws -------------------------------------------------------------------------

    def _check_vertices(self, pipeline: DrawPipeline, what: str, vertices: int | None,
                        instances: int | None) -> None:
        if len(self._vertex) != len(pipeline.strides) or any(v is None for v in self._vertex):
            raise DrawStateError(f"DrawContext.{what}: pipeline {pipeline.name!r} reads "
                                 f"{len(pipeline.strides)} vertex buffer(s); call "
                                 "bind_vertex_buffers(...) after bind_pipeline.")
        for i, entry in enumerate(self._vertex):
            assert entry is not None
            buf, off = entry
            if not buf.alive:
                raise BufferDestroyedError(f"DrawContext.{what}: vertex buffer {buf.name!r} "
                                           "was destroyed after it was bound.")
            n = instances if pipeline.rates[i] == "instance" else vertices
            if n is not None and off + n * pipeline.strides[i] > buf.size:
                raise DrawStateError(
                    f"DrawContext.{what}: binding {i} ({pipeline.rates[i]} rate) reads {n} "
                    f"elements of {pipeline.strides[i]} bytes from byte {off} of "
                    f"{buf.name!r}, which holds {buf.size} bytes; draw fewer or grow it.")

    def draw(self, vertex_count: int, instance_count: int = 1, first_vertex: int = 0,
             first_instance: int = 0) -> None:
        """``vkCmdDraw`` with the bound pipeline and vertex buffers (ranges checked)."""
        cmd = self._live("draw")
        pipeline = self._require_pipeline("draw")
        v, i = _count(vertex_count, "vertex_count", "draw"), _count(instance_count,
                                                                    "instance_count", "draw")
        fv, fi = _count(first_vertex, "first_vertex", "draw"), _count(first_instance,
                                                                      "first_instance", "draw")
        self._check_vertices(pipeline, "draw", fv + v, fi + i)
        lib.vkCmdDraw(cmd, v, i, fv, fi)

    def _check_index(self, what: str, count: int | None) -> None:
        if self._index is None:
            raise DrawStateError(f"DrawContext.{what}: no index buffer is bound; call "
                                 "bind_index_buffer(buffer) first.")
        buf, off, size = self._index
        if not buf.alive:
            raise BufferDestroyedError(f"DrawContext.{what}: index buffer {buf.name!r} was "
                                       "destroyed after it was bound.")
        if count is not None and off + count * size > buf.size:
            raise DrawStateError(f"DrawContext.{what}: {count} indices of {size} bytes from "
                                 f"byte {off} exceed {buf.name!r} ({buf.size} bytes).")

    def draw_indexed(self, index_count: int, instance_count: int = 1, first_index: int = 0,
                     vertex_offset: int = 0, first_instance: int = 0) -> None:
        """``vkCmdDrawIndexed``: index range and per-instance ranges checked."""
        cmd = self._live("draw_indexed")
        pipeline = self._require_pipeline("draw_indexed")
        n = _count(index_count, "index_count", "draw_indexed")
        i = _count(instance_count, "instance_count", "draw_indexed")
        fidx = _count(first_index, "first_index", "draw_indexed")
        fi = _count(first_instance, "first_instance", "draw_indexed")
        vo = as_int(vertex_offset)
        if vo is None or not -(1 << 31) <= vo < (1 << 31):
            raise InvalidDataError(f"draw_indexed: vertex_offset={vertex_offset!r} must be an "
                                   "int32.")
        self._check_index("draw_indexed", fidx + n)
        self._check_vertices(pipeline, "draw_indexed", None, fi + i)
        lib.vkCmdDrawIndexed(cmd, n, i, fidx, vo, fi)

    def _indirect(self, buffer: object, offset: object, draw_count: object, stride: object,
                  size: int, what: str, limit: int | None = None
                  ) -> tuple[ManagedBuffer, int, int, int]:
        buf = self._buffer(buffer, _INDIRECT, "INDIRECT", what)
        off = as_int(offset)
        if off is None or off < 0 or off % 4:
            raise IndirectArgumentError(f"DrawContext.{what}: offset {offset!r} must be a "
                                        "non-negative multiple of 4 bytes.")
        count = as_int(draw_count)
        if limit is not None:
            if count is None or not 0 <= count <= limit:
                raise IndirectArgumentError(
                    f"DrawContext.{what}: max_draw_count={draw_count!r}; this device reads 0 to "
                    f"{limit} draws per call (maxDrawIndirectCount).")
        elif count is None or not 0 <= count <= self.max_draw_indirect_count:
            raise IndirectArgumentError(
                f"DrawContext.{what}: draw_count={draw_count!r}; this device records 0 to "
                f"{self.max_draw_indirect_count} draws per indirect call (maxDrawIndirectCount,"
                " or 1 without the multiDrawIndirect feature): split the call.")
        st = as_int(stride)
        if st is None or st % 4 or st < size or st >= (1 << 32):
            raise IndirectArgumentError(f"DrawContext.{what}: stride={stride!r} must be a "
                                        f"multiple of 4 and at least {size} bytes.")
        end = off + (max(count, 1) - 1) * st + size
        if end > buf.size:
            raise IndirectArgumentError(
                f"DrawContext.{what}: arguments end at byte {end} but {buf.name!r} holds "
                f"{buf.size} bytes ({size} bytes per draw from offset {off}).")
        return buf, off, count, st

    def draw_indirect(self, buffer: ManagedBuffer, offset: int = 0, draw_count: int = 1,
                      stride: int = INDIRECT_DRAW_SIZE) -> None:
        """``vkCmdDrawIndirect``: arguments (``VkDrawIndirectCommand``) read by the GPU from
        ``buffer`` (INDIRECT usage) at ``offset``; e.g. written by a compute shader, after a
        ``barrier("compute", "indirect")`` in the compute phase. Per-instance buffers must
        hold as many instances as the GPU may ask for."""
        cmd = self._live("draw_indirect")
        pipeline = self._require_pipeline("draw_indirect")
        buf, off, count, st = self._indirect(buffer, offset, draw_count, stride,
                                             INDIRECT_DRAW_SIZE, "draw_indirect")
        self._check_vertices(pipeline, "draw_indirect", None, None)
        lib.vkCmdDrawIndirect(cmd, buf.handle, off, count, st)

    def draw_indexed_indirect(self, buffer: ManagedBuffer, offset: int = 0,
                              draw_count: int = 1,
                              stride: int = INDIRECT_DRAW_INDEXED_SIZE) -> None:
        """``vkCmdDrawIndexedIndirect`` (``VkDrawIndexedIndirectCommand``, 20 bytes)."""
        cmd = self._live("draw_indexed_indirect")
        pipeline = self._require_pipeline("draw_indexed_indirect")
        buf, off, count, st = self._indirect(buffer, offset, draw_count, stride,
                                             INDIRECT_DRAW_INDEXED_SIZE, "draw_indexed_indirect")
        self._check_index("draw_indexed_indirect", None)
        self._check_vertices(pipeline, "draw_indexed_indirect", None, None)
        lib.vkCmdDrawIndexedIndirect(cmd, buf.handle, off, count, st)

    def _count_args(self, what: str, buffer: object, count_buffer: object,
                    max_draw_count: object, offset: object, count_offset: object,
                    stride: object, size: int) -> tuple[ManagedBuffer, int, int, int,
                                                        ManagedBuffer, int]:
        if self._draw_count_fns is None:
            ctx = self.renderer.ctx
            raise DrawIndirectCountUnsupportedError(
                f"DrawContext.{what}: the Vulkan 1.2 drawIndirectCount feature is not enabled "
                f"on {ctx.device_name} (the device does not offer it, or the context was "
                "created with disable_features=('draw_indirect_count',)), so the draw count "
                "cannot come from a buffer; "
                "record draw_indirect/draw_indexed_indirect with a CPU draw_count (unused "
                "records with instanceCount 0 draw nothing), or use a device that offers it "
                "(check renderer.draw_context.draw_indirect_count_supported).")
        st = size if stride is None else stride
        buf, off, count, st = self._indirect(buffer, offset, max_draw_count, st, size, what,
                                             self.max_draw_count)
        counts = self._buffer(count_buffer, _INDIRECT, "INDIRECT", what)
        coff = as_int(count_offset)
        if coff is None or coff < 0 or coff % 4 or coff + 4 > counts.size:
            raise IndirectArgumentError(
                f"DrawContext.{what}: count_offset {count_offset!r} must be a multiple of 4 "
                f"with the 4-byte count inside {counts.name!r} ({counts.size} bytes).")
        return buf, off, count, st, counts, coff

    def draw_indirect_count(self, buffer: ManagedBuffer, count_buffer: ManagedBuffer,
                            max_draw_count: int, *, offset: int = 0, count_offset: int = 0,
                            stride: int | None = None) -> None:
        """``vkCmdDrawIndirectCount``: up to ``max_draw_count`` ``VkDrawIndirectCommand``
        records (16 bytes each, ``stride`` bytes apart, default 16) from ``offset`` of
        ``buffer``; the GPU draws ``min(count, max_draw_count)`` of them, ``count`` being the
        uint32 at ``count_offset`` of ``count_buffer`` (e.g. written by a compute shader,
        before a ``barrier("compute", "indirect")``). Both buffers need INDIRECT usage,
        offsets are 4-byte aligned, ``max_draw_count`` records must fit in ``buffer`` and be
        within ``maxDrawIndirectCount``. Needs the ``drawIndirectCount`` feature (Vulkan 1.2):
        :class:`~engine.errors.DrawIndirectCountUnsupportedError` otherwise."""
        cmd = self._live("draw_indirect_count")
        pipeline = self._require_pipeline("draw_indirect_count")
        buf, off, count, st, counts, coff = self._count_args(
            "draw_indirect_count", buffer, count_buffer, max_draw_count, offset, count_offset,
            stride, INDIRECT_DRAW_SIZE)
        self._check_vertices(pipeline, "draw_indirect_count", None, None)
        fns = self._draw_count_fns
        assert fns is not None
        fns[0](cmd, buf.handle, off, counts.handle, coff, count, st)

    def draw_indexed_indirect_count(self, buffer: ManagedBuffer, count_buffer: ManagedBuffer,
                                    max_draw_count: int, *, offset: int = 0,
                                    count_offset: int = 0, stride: int | None = None) -> None:
        """``vkCmdDrawIndexedIndirectCount``: as :meth:`draw_indirect_count` with
        ``VkDrawIndexedIndirectCommand`` records (20 bytes; default stride 20) and the bound
        index buffer."""
        cmd = self._live("draw_indexed_indirect_count")
        pipeline = self._require_pipeline("draw_indexed_indirect_count")
        buf, off, count, st, counts, coff = self._count_args(
            "draw_indexed_indirect_count", buffer, count_buffer, max_draw_count, offset,
            count_offset, stride, INDIRECT_DRAW_INDEXED_SIZE)
        self._check_index("draw_indexed_indirect_count", None)
        self._check_vertices(pipeline, "draw_indexed_indirect_count", None, None)
        fns = self._draw_count_fns
        assert fns is not None
        fns[1](cmd, buf.handle, off, counts.handle, coff, count, st)

    # --- compute phase -----------------------------------------------------------------

    def _outside(self, what: str) -> Any:
        cmd = self._live(what)
        if self._in_pass:
            raise DrawStateError(
                f"DrawContext.{what}: phase {self.phase!r} is inside the render pass; "
                f"dispatches, fills and barriers go in the {COMPUTE_PHASE!r} phase "
                f"(renderer.add_pass(..., phase={COMPUTE_PHASE!r})).")
        return cmd

    def dispatch(self, pipeline: ComputePipeline, groups: tuple[int, int, int] | int, *,
                 push_constants: PushConstants | None = None) -> None:
        """Dispatch ``groups`` workgroups of a ComputePipeline with this slot's descriptor
        sets, after a barrier that orders it behind every earlier GPU write and read.

        ``groups``: an int (x workgroups) or 3 ints, each from 0 to the device's
        ``maxComputeWorkGroupCount``; ``pipeline.groups_for(n)`` rounds n invocations up.
        ``push_constants``: the raw bytes of the shader's push-constant block, written from its
        first byte: a numpy value (a 0-d array or scalar of a structured dtype laid out like
        the block, e.g. ``np.zeros((), std430([...]))`` with its fields set, or any numeric
        array) or a C-contiguous bytes-like object, 4 to ``pipeline.push_size`` bytes, a
        multiple of 4. Only the size is checked against the shader, not the field layout; a
        dict is refused (:meth:`push_constants` takes members by name, for draw pipelines).
        ``None`` pushes nothing.

        Raises before recording anything: DrawStateError (inside a render phase, or after the
        pass), InvalidDataError (not a ComputePipeline, bad push constants),
        MissingBindingError (a buffer binding of the shader has nothing bound: the message
        names it and the ``bind_*_named`` call), DescriptorsNotWrittenError,
        InvalidGroupCountError, BufferDestroyedError, UnknownPipelineError.
        """
        cmd = self._outside("dispatch")
        if not isinstance(pipeline, ComputePipeline):
            raise InvalidDataError(f"DrawContext.dispatch: {pipeline!r} is not a "
                                   "ComputePipeline.")
        pipeline.record(cmd, self.slot, groups, push_constants=push_constants)

    def dispatch_indirect(self, pipeline: ComputePipeline, buffer: ManagedBuffer,
                          offset: int = 0) -> None:
        """``vkCmdDispatchIndirect``: the workgroup counts (3 uint32) read from ``buffer``
        (INDIRECT usage) at ``offset`` (4-byte aligned); same barrier as :meth:`dispatch`."""
        cmd = self._outside("dispatch_indirect")
        if not isinstance(pipeline, ComputePipeline):
            raise InvalidDataError(f"DrawContext.dispatch_indirect: {pipeline!r} is not a "
                                   "ComputePipeline.")
        buf = self._buffer(buffer, _INDIRECT, "INDIRECT", "dispatch_indirect")
        off = as_int(offset)
        if off is None or off < 0 or off % 4 or off + INDIRECT_DISPATCH_SIZE > buf.size:
            raise IndirectArgumentError(
                f"DrawContext.dispatch_indirect: offset {offset!r} must be a multiple of 4 "
                f"with 12 bytes of arguments inside {buf.name!r} ({buf.size} bytes).")
        if pipeline.handle is None:
            raise DrawStateError(f"DrawContext.dispatch_indirect: pipeline {pipeline.name!r} "
                                 "was released.")
        pipeline.binder.check_recordable(pipeline.pipeline_id, "DrawContext.dispatch_indirect")
        pipeline.binder.require_complete(pipeline.pipeline_id, self.slot,
                                         "DrawContext.dispatch_indirect")
        sets = pipeline.binder.descriptor_sets(pipeline.pipeline_id, self.slot)
        memory_barrier(cmd, vk.VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, vk.VK_ACCESS_MEMORY_WRITE_BIT,
                       vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT
                       | vk.VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT,
                       vk.VK_ACCESS_SHADER_READ_BIT | vk.VK_ACCESS_SHADER_WRITE_BIT
                       | vk.VK_ACCESS_INDIRECT_COMMAND_READ_BIT, barrier=self._barrier)
        lib.vkCmdBindPipeline(cmd, _COMPUTE, pipeline.handle)
        if sets:
            lib.vkCmdBindDescriptorSets(
                cmd, _COMPUTE, pipeline.layout, 0, len(sets),
                pipeline.binder.descriptor_set_array(pipeline.pipeline_id, self.slot), 0,
                ffi.NULL)
        lib.vkCmdDispatchIndirect(cmd, buf.handle, off)

    def fill_buffer(self, buffer: ManagedBuffer, value: int = 0, offset: int = 0,
                    size: int | None = None) -> None:
        """Fill ``size`` bytes (default: to the end, rounded down to 4) of ``buffer`` from
        ``offset`` (both multiples of 4) with the uint32 ``value``, on the GPU; ordered after
        every earlier GPU access. Dispatches after it see the data (their barrier covers it);
        draws need ``barrier("transfer", ...)``."""
        cmd = self._outside("fill_buffer")
        buf = self._buffer(buffer, int(BufferUsage.TRANSFER_DST), "TRANSFER_DST", "fill_buffer")
        off = self._offset(buf, offset, "fill_buffer", 4)
        n = (buf.size - off) // 4 * 4 if size is None else as_int(size)
        if n is None or n <= 0 or n % 4 or off + n > buf.size:
            raise InvalidOffsetError(f"DrawContext.fill_buffer: size {size!r} must be a "
                                     f"positive multiple of 4 within {buf.name!r} "
                                     f"({buf.size} bytes from offset {off}).")
        v = _count(value, "value", "fill_buffer")
        memory_barrier(cmd, vk.VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                       vk.VK_ACCESS_MEMORY_WRITE_BIT, vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
                       vk.VK_ACCESS_TRANSFER_WRITE_BIT, barrier=self._barrier)
        lib.vkCmdFillBuffer(cmd, buf.handle, off, n, v)

    def barrier(self, src: str, dst: str | Sequence[str]) -> None:
        """A memory barrier from ``src`` writes (``"compute"``, ``"transfer"``) to ``dst``
        reads: ``"indirect"`` (draw/dispatch arguments), ``"vertex"`` (vertex and index
        fetch), ``"uniform"``, ``"storage"`` (vertex/fragment shaders), ``"compute"``; one
        name or several."""
        cmd = self._outside("barrier")
        s = _BARRIER_SRC.get(src) if isinstance(src, str) else None
        if s is None:
            raise InvalidOptionError(f"DrawContext.barrier: src={src!r}; one of "
                                     f"{', '.join(map(repr, _BARRIER_SRC))}.")
        names = (dst,) if isinstance(dst, str) else tuple(dst) if isinstance(dst, Sequence) \
            else ()
        stage = access = 0
        for name in names:
            d = _BARRIER_DST.get(name) if isinstance(name, str) else None
            if d is None:
                raise InvalidOptionError(f"DrawContext.barrier: dst={dst!r}; names from "
                                         f"{', '.join(map(repr, _BARRIER_DST))}.")
            stage, access = stage | d[0], access | d[1]
        if not names:
            raise InvalidOptionError(f"DrawContext.barrier: dst={dst!r} names no stage.")
        memory_barrier(cmd, s[0], s[1], stage, access, barrier=self._barrier)


PassCallback = Callable[[DrawContext], None]
"""What :meth:`~engine.render.renderer.Renderer.add_pass` takes: a callable of the
recorder, or an object with a ``record(dc)`` method."""
