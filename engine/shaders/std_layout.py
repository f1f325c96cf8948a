"""std140 / std430 block layouts as numpy structured dtypes with explicit byte offsets.

Three ways to get a dtype and one way to check it:

* :func:`std140` / :func:`std430` declare a layout in Python, following the GLSL 4.60 spec,
  section 7.6.2.2 ("Standard Uniform Block Layout"): scalars align to their size, ``vec2`` to 2
  and ``vec3``/``vec4`` to 4 components; an array's stride is its element size rounded up to the
  element's alignment, and under std140 that alignment (and a struct's) is rounded up to 16
  bytes; a matrix is an array of column vectors; a struct's size is rounded up to its alignment.
  The returned dtype's ``itemsize`` is that rounded size, i.e. the stride of an array of it.
* :func:`block_dtype` builds the dtype of a reflected :class:`~engine.shaders.reflect.Block`
  (runtime array excluded; ``itemsize == block.size`` exactly, without rounding).
  :func:`runtime_element_dtype` gives the element dtype of its runtime array
  (``itemsize == block.runtime_array_stride``).
* :func:`check_dtype` / :func:`check_element_dtype` compare a dtype with a reflected block and
  raise :class:`~engine.errors.LayoutMismatchError` naming the block, the member, both offsets
  and the rule.

Representation (shared by all builders, so their dtypes compare equal): ``vec3`` is 3 components
at its offset; a matrix is ``(columns, matrix_stride / component size)`` (rows when row-major),
so a std140 ``mat3`` is ``(3, 4)`` float32 with a padding lane; an array whose stride exceeds
its element (std140 ``float[N]``, ``vec3[N]``) pads each element with components up to the
stride: std140 ``float f[3]`` is ``(3, 4)`` float32 and the values are ``f[:, 0]``. Structs are
nested structured dtypes; arrays of structs are sub-arrays of them. Offsets and sizes are bytes.
Fields whose name starts with ``_`` and match no member are treated as explicit padding.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from engine.errors import LayoutDeclarationError, LayoutMismatchError
from engine.shaders.reflect import Block, BlockMember

_DeclError = LayoutDeclarationError

__all__ = [
    "Field",
    "block_dtype",
    "check_dtype",
    "check_element_dtype",
    "runtime_element_dtype",
    "std140",
    "std430",
]

#: A field declaration: ``(name, glsl_type)``, ``(name, glsl_type, count)``,
#: ``(name, [fields])`` or ``(name, [fields], count)``. ``glsl_type`` is e.g. ``'vec3'``,
#: ``'vec4[16]'``, ``'row_major mat3'``; count is an int or a tuple of ints (outermost first);
#: a count of 0 (or ``'type[]'``) on the last field of a block is a runtime-sized array.
Field = tuple[str, Any] | tuple[str, Any, Any]

_SCALARS: dict[str, str] = {
    "float": "f4", "int": "i4", "uint": "u4", "bool": "u4", "double": "f8",
    "int64_t": "i8", "uint64_t": "u8",
}
_VECTORS = {"vec": "f4", "ivec": "i4", "uvec": "u4", "bvec": "u4", "dvec": "f8"}
_MATRICES = {"mat": "f4", "dmat": "f8"}
_TYPE = re.compile(r"^([a-z_0-9]+?)((?:\[\d*\])*)$")
_KIND = {("float", 16): "f2", ("float", 32): "f4", ("double", 64): "f8", ("int", 8): "i1",
         ("int", 16): "i2", ("int", 32): "i4", ("int", 64): "i8", ("uint", 8): "u1",
         ("uint", 16): "u2", ("uint", 32): "u4", ("uint", 64): "u8", ("bool", 32): "u4",
         ("pointer", 64): "u8"}
_RULES = ("std140", "std430", "scalar")
#: Largest layout accepted, in bytes: descriptor ranges are 32-bit (``maxStorageBufferRange``).
MAX_LAYOUT_BYTES = 2**32 - 1


def _require_block(block: object, call: str) -> Block:
    if not isinstance(block, Block):
        raise _DeclError(f"{call}: block must be a reflected Block (e.g. "
                         f"reflect_spirv(code).binding('Name').block), got {type(block).__name__}")
    return block


def _as_dtype(dtype: object, call: str) -> np.dtype[Any]:
    try:
        return np.dtype(dtype)  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise _DeclError(f"{call}: {dtype!r:.60} is not a numpy dtype ({exc}); pass "
                         f"std430([...]) or block_dtype(block)") from None


def _round_up(value: int, align: int) -> int:
    return -(-value // align) * align


def _split(dt: np.dtype[Any]) -> tuple[np.dtype[Any], tuple[int, ...]]:
    """(element dtype, full shape) of a possibly nested sub-array dtype."""
    shape: tuple[int, ...] = ()
    while dt.subdtype is not None:
        dt, inner = dt.subdtype
        shape += inner
    return dt, shape


def _subarray(elem: np.dtype[Any], dims: tuple[int, ...]) -> np.dtype[Any]:
    """``dims`` of ``elem`` as one flat sub-array dtype (so equal layouts give equal dtypes)."""
    base, shape = _split(elem)
    return np.dtype((base, dims + shape))


# --- declaring layouts in Python --------------------------------------------------------------


def std140(fields: Sequence[Field]) -> np.dtype[Any]:
    """The std140 layout of ``fields`` as a structured dtype (itemsize rounded up to 16)."""
    return _struct(fields, "std140", "std140()", top=True)[0]


def std430(fields: Sequence[Field]) -> np.dtype[Any]:
    """The std430 layout of ``fields`` (itemsize rounded up to the struct's alignment)."""
    return _struct(fields, "std430", "std430()", top=True)[0]


def _leaf(glsl: str, rule: str, where: str, row_major: bool) -> tuple[np.dtype[Any], int, int]:
    """(dtype, alignment, size) of a scalar, vector or matrix type name.

    A matrix is an array of column vectors (GLSL rule 5), or of row vectors when row-major
    (rule 7); each vector is aligned like an array element (rule 4).
    """
    if row_major and not re.fullmatch(r"d?mat[234](x[234])?", glsl):
        raise _DeclError(f"{where}: row_major applies to matrices only, not {glsl!r}")
    if glsl in _SCALARS:
        comp = np.dtype(_SCALARS[glsl])
        return comp, comp.itemsize, comp.itemsize
    match = re.fullmatch(r"([a-z]+)([234])(?:x([234]))?", glsl)
    if match:
        prefix, first, second = match.groups()
        if prefix in _VECTORS and second is None:
            comp, n = np.dtype(_VECTORS[prefix]), int(first)
            align = comp.itemsize * (2 if n == 2 else 4)
            return np.dtype((comp, (n,))), align, comp.itemsize * n
        if prefix in _MATRICES:
            comp = np.dtype(_MATRICES[prefix])
            cols, rows = int(first), int(second or first)
            if row_major:
                cols, rows = rows, cols
            col_align = comp.itemsize * (2 if rows == 2 else 4)
            if rule == "std140":
                col_align = max(col_align, 16)
            stride = _round_up(comp.itemsize * rows, col_align)
            return np.dtype((comp, (cols, stride // comp.itemsize))), col_align, stride * cols
    raise _DeclError(f"{where}: unknown GLSL type {glsl!r} (use float, int, uint, bool, double, "
                     f"vecN, ivecN, uvecN, dvecN, matN, matCxR, dmatN, optionally with [N])")


def _array(elem: np.dtype[Any], align: int, size: int, dims: tuple[int, ...], rule: str,
           where: str) -> tuple[np.dtype[Any], int, int]:
    """Lay out an array of ``elem`` (GLSL rules 4, 6, 8, 10)."""
    if not dims or any(not isinstance(d, int | np.integer) or isinstance(d, bool | np.bool_)
                       or d < 1 for d in dims):
        raise _DeclError(f"{where}: array sizes must be positive ints, got {dims!r}")
    dims = tuple(int(d) for d in dims)
    if math.prod(dims) * size > MAX_LAYOUT_BYTES:
        raise _DeclError(f"{where}: array {list(dims)} of {size}-byte elements exceeds "
                         f"{MAX_LAYOUT_BYTES} bytes (descriptor ranges are 32-bit); use fewer "
                         f"elements or a runtime-sized array (count 0)")
    if rule == "std140":
        align = max(align, 16)
    stride = _round_up(size, align)
    if stride != elem.itemsize:  # pad a scalar/vector element with components up to the stride
        base = _split(elem)[0]
        elem = np.dtype((base, (stride // base.itemsize,)))
    return _subarray(elem, dims), align, stride * math.prod(dims)


def _field(spec: Field, rule: str, where: str) -> tuple[str, np.dtype[Any], int, int, bool]:
    """(name, dtype, alignment, size, is a runtime array) of one field declaration."""
    if not isinstance(spec, tuple) or len(spec) not in (2, 3) or not isinstance(spec[0], str):
        raise _DeclError(f"{where}: a field is (name, type) or (name, type, count), got {spec!r}")
    name, kind = spec[0], spec[1]
    dims: tuple[int, ...] = ()
    if len(spec) == 3:
        count = spec[2]
        dims = tuple(count) if isinstance(count, tuple | list) else (count,)
    inner = f"{where} field {name!r}"
    if isinstance(kind, list | tuple):
        dtype, align, size = _struct(kind, rule, inner)
    elif isinstance(kind, str):
        text = kind.strip()
        row_major = text.startswith("row_major ")
        match = _TYPE.match(text.removeprefix("row_major ").replace(" ", ""))
        if match is None:
            raise _DeclError(f"{inner}: cannot parse GLSL type {kind!r}")
        if match.group(2) and dims:
            raise _DeclError(f"{inner}: give the array size in the type or as a count, not both")
        sizes = re.findall(r"\[(\d*)\]", match.group(2))
        if any(len(d) > 18 for d in sizes):
            raise _DeclError(f"{inner}: array size in {kind!r:.60} is absurdly large; descriptor "
                             f"ranges are 32-bit")
        dims = tuple(int(d or 0) for d in sizes) or dims
        dtype, align, size = _leaf(match.group(1), rule, inner, row_major)
    else:
        raise _DeclError(f"{inner}: the type must be a GLSL type name or a list of fields")
    runtime = dims[:1] == (0,)
    if runtime:  # a runtime-sized array: only its alignment matters (it is not in the dtype)
        dims = (*dims[1:], 1)
    if dims:
        dtype, align, size = _array(dtype, align, size, dims, rule, inner)
    return name, dtype, align, size, runtime


def _struct(fields: Sequence[Field], rule: str, where: str, top: bool = False
            ) -> tuple[np.dtype[Any], int, int]:
    """(dtype, alignment, rounded size) of a struct (GLSL rule 9).

    In a top-level block, a last field with count 0 (or ``'type[]'``) is a runtime array: it is
    left out and the itemsize becomes its offset, like :func:`block_dtype`.
    """
    if not isinstance(fields, list | tuple) or not fields:
        raise _DeclError(f"{where}: a struct needs a non-empty list of fields, got "
                         f"{type(fields).__name__}; pass e.g. [('position', 'vec3')]")
    names: list[str] = []
    formats: list[np.dtype[Any]] = []
    offsets: list[int] = []
    offset, struct_align = 0, 16 if rule == "std140" else 1
    for index, spec in enumerate(fields):
        name, dtype, align, size, runtime = _field(spec, rule, where)
        if not name.isidentifier():
            raise _DeclError(f"{where}: field name {name!r} is not a Python/GLSL identifier; "
                             f"use letters, digits and '_' (not starting with a digit)")
        if name in names:
            raise _DeclError(f"{where}: field name {name!r} appears twice; the fields of a struct "
                             f"need distinct names (rename one, e.g. {name + '_2'!r})")
        offset = _round_up(offset, align)
        if runtime:
            if not top or index != len(fields) - 1:
                raise _DeclError(f"{where}: only the last field of a block may be a runtime "
                                 f"array (count 0), not {name!r}")
            dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets,
                              "itemsize": offset})
            return dtype, max(struct_align, align), offset
        names.append(name)
        formats.append(dtype)
        offsets.append(offset)
        offset += size
        struct_align = max(struct_align, align)
    size = _round_up(offset, struct_align)
    if size > MAX_LAYOUT_BYTES:
        raise _DeclError(f"{where}: the struct is {size} bytes, over {MAX_LAYOUT_BYTES} "
                         f"(descriptor ranges are 32-bit); declare fewer or smaller fields")
    try:
        dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets,
                          "itemsize": size})
    except (TypeError, ValueError) as exc:
        raise _DeclError(f"{where}: numpy cannot represent the layout ({exc})") from None
    return dtype, struct_align, size


# --- dtypes from reflection -------------------------------------------------------------------


def _is_runtime(m: BlockMember) -> bool:
    return m.array_dims[:1] == (0,)


def _mismatch(owner: str, text: str) -> LayoutMismatchError:
    return LayoutMismatchError(f"block '{owner}': {text}")


def _member_dtype(m: BlockMember, owner: str) -> np.dtype[Any]:
    """The dtype of one reflected member (see the module docstring for the representation)."""
    if m.base_type == "struct":
        itemsize = m.array_strides[-1] if m.array_dims else m.size
        elem = _struct_dtype(m.members, itemsize, owner)
    else:
        kind = _KIND.get((m.base_type, m.width))
        if kind is None:
            raise _mismatch(owner, f"member '{m.name}' has type {m.type_name}, which has no "
                                   f"numpy equivalent here")
        comp = np.dtype(kind)
        if m.columns > 1:
            vectors = m.vecsize if m.row_major else m.columns
            elem = np.dtype((comp, (vectors, m.matrix_stride // comp.itemsize)))
        else:
            elem = np.dtype((comp, (m.vecsize,))) if m.vecsize > 1 else comp
    if not m.array_dims:
        return elem
    stride = m.array_strides[-1]
    if stride != elem.itemsize:
        if m.base_type == "struct" or m.columns > 1 or stride < elem.itemsize or stride % (
            elem.base.itemsize
        ):
            raise _mismatch(owner, f"member '{m.name}': array stride {stride} bytes cannot be "
                                   f"expressed for elements of {elem.itemsize} bytes")
        elem = np.dtype((elem.base, (stride // elem.base.itemsize,)))
    for level in range(len(m.array_dims) - 1):
        if m.array_strides[level] != m.array_strides[level + 1] * m.array_dims[level + 1]:
            raise _mismatch(owner, f"member '{m.name}': array strides {m.array_strides} are not "
                                   f"those of a packed array of arrays")
    return _subarray(elem, m.array_dims)


def _struct_dtype(members: Sequence[BlockMember], itemsize: int, owner: str) -> np.dtype[Any]:
    kept = [m for m in members if not _is_runtime(m)]
    try:
        return np.dtype({
            "names": [m.name for m in kept],
            "formats": [_member_dtype(m, owner) for m in kept],
            "offsets": [m.offset for m in kept],
            "itemsize": itemsize,
        })
    except (ValueError, TypeError) as exc:
        raise _mismatch(owner, f"cannot build a numpy dtype for the layout: {exc}") from None


def block_dtype(block: Block) -> np.dtype[Any]:
    """Structured dtype of ``block`` with its reflected offsets; ``itemsize == block.size``.

    A trailing runtime array is left out (see :func:`runtime_element_dtype`).
    """
    block = _require_block(block, "block_dtype()")
    return _struct_dtype(block.members, block.size, block.type_name)


def _runtime_element(block: Block) -> BlockMember:
    m = block.runtime_array
    if m is None:
        raise _mismatch(block.type_name, "has no runtime-sized array member")
    return replace(m, name=f"{m.name}[]", offset=0, size=m.array_strides[0],
                   array_dims=m.array_dims[1:], array_strides=m.array_strides[1:],
                   array_stride=m.array_strides[1] if len(m.array_strides) > 1 else 0)


def runtime_element_dtype(block: Block) -> np.dtype[Any]:
    """Dtype of one element of ``block``'s runtime array (itemsize == the array stride)."""
    block = _require_block(block, "runtime_element_dtype()")
    elem = _runtime_element(block)
    if elem.base_type == "struct" and not elem.array_dims:
        return _struct_dtype(elem.members, elem.size, block.type_name)
    return _member_dtype(elem, block.type_name)


# --- checking ---------------------------------------------------------------------------------


class _Checker:
    def __init__(self, block: Block, rule: str) -> None:
        if not isinstance(rule, str) or rule not in _RULES:
            raise _DeclError(f"check_dtype: rule must be one of {_RULES}, got {rule!r}")
        self.block, self.rule = block, rule

    def fail(self, path: str, text: str) -> LayoutMismatchError:
        return LayoutMismatchError(
            f"check_dtype: block '{self.block.type_name}' ({self.rule}): member '{path}' {text}; "
            f"build the dtype with std_layout.{'std430' if self.rule == 'scalar' else self.rule}"
            f"(...) or std_layout.block_dtype(block) so it matches the shader"
        )

    def struct(self, dt: np.dtype[Any], members: Sequence[BlockMember], prefix: str,
               base_dt: int, base_refl: int) -> None:
        fields: Mapping[str, tuple[Any, ...]] = dt.fields or {}
        for m in members:
            path = prefix + m.name
            if m.name not in fields:
                raise self.fail(path, f"({m.type_name}, reflected offset {base_refl + m.offset}) "
                                      f"is missing from the dtype, whose fields are "
                                      f"{', '.join(fields) or '(none)'}")
            fdt, off = fields[m.name][0], int(fields[m.name][1])
            if base_dt + off != base_refl + m.offset:
                raise self.fail(path, f"is at dtype offset {base_dt + off} but at reflected offset "
                                      f"{base_refl + m.offset}")
            self.member(fdt, m, path, base_dt + off, base_refl + m.offset)
        known = {m.name for m in members}
        extra = [n for n in fields if n not in known and not n.startswith("_")]
        if extra:
            offset = base_dt + int(fields[extra[0]][1])
            raise self.fail(prefix + extra[0], f"is a dtype field (offset {offset}) "
                                               f"with no reflected member; members: "
                                               f"{', '.join(m.name for m in members)}")

    def member(self, fdt: np.dtype[Any], m: BlockMember, path: str, off_dt: int,
               off_refl: int) -> None:
        base, shape = _split(fdt)
        at = f"(dtype offset {off_dt}, reflected offset {off_refl})"
        if m.base_type == "struct":
            if base.names is None:
                raise self.fail(path, f"{at} is struct {m.type_name} in the shader but {fdt} in "
                                      f"the dtype")
            stride = m.array_strides[-1] if m.array_dims else m.size
            elements = f"{math.prod(shape)} elements of {base.itemsize} bytes"
            wanted = (f"{m.type_name}{list(m.array_dims)} with array stride {stride} bytes"
                      if m.array_dims else f"struct {m.type_name} of {m.size} bytes")
            if math.prod(shape) != math.prod(m.array_dims):
                raise self.fail(path, f"{at} is {wanted} in the shader but {elements} in the dtype")
            self.struct(base, m.members, path + ".", off_dt, off_refl)
            if base.itemsize != stride if m.array_dims else base.itemsize < m.size:
                raise self.fail(path, f"{at} is {wanted} in the shader but {elements} in the dtype")
            return
        kind = _KIND.get((m.base_type, m.width), "?")
        if base.names is not None or base.str[1:] != kind or base.str[0] == ">":
            scalar = np.dtype(kind) if kind != "?" else kind
            raise self.fail(path, f"{at} has components of {scalar} "
                                  f"({m.type_name}) in the shader but {base} in the dtype")
        if fdt.itemsize != m.size:
            strides = f", array stride {m.array_stride}" if m.array_dims else ""
            mstride = f", matrix stride {m.matrix_stride}" if m.columns > 1 else ""
            raise self.fail(path, f"{at} is {fdt.itemsize} bytes in the dtype but {m.size} bytes "
                                  f"in the shader ({m.type_name}{list(m.array_dims) or ''}"
                                  f"{strides}{mstride})")


def check_dtype(dtype: np.dtype[Any], block: Block, *, rule: str = "std430") -> None:
    """Raise :class:`~engine.errors.LayoutMismatchError` unless ``dtype`` matches ``block`` member
    by member.

    Offsets (bytes, relative to the block), element counts, strides, sizes and scalar kinds must
    agree; the runtime array is not part of the dtype. ``rule`` ('std140', 'std430', 'scalar')
    only names the layout in messages; the reflected offsets are the truth.
    """
    checker = _Checker(_require_block(block, "check_dtype()"), rule)
    dt = _as_dtype(dtype, "check_dtype()")
    if dt.names is None:
        raise checker.fail(block.type_name, f"cannot be checked: the dtype {dt} has no fields")
    checker.struct(dt, [m for m in block.members if not _is_runtime(m)], "", 0, 0)
    if dt.itemsize < block.size:
        runtime = block.runtime_array
        where = (f"the runtime array '{runtime.name}' starts at offset {block.size}" if runtime
                 else "that is its last member's end")
        raise LayoutMismatchError(
            f"check_dtype: block '{block.type_name}' ({rule}): the block's fixed part is "
            f"{block.size} bytes ({where}) but the dtype's itemsize is {dt.itemsize} bytes; "
            f"declare the runtime array as the last field with count 0, or pad the dtype to "
            f"itemsize={block.size}")


def check_element_dtype(dtype: np.dtype[Any], block: Block, *, rule: str = "std430") -> None:
    """Like :func:`check_dtype`, for one element of ``block``'s runtime array.

    ``dtype.itemsize`` must equal the runtime array stride.
    """
    checker = _Checker(_require_block(block, "check_element_dtype()"), rule)
    elem = _runtime_element(block)
    dt = _as_dtype(dtype, "check_element_dtype()")
    if dt.itemsize != elem.size:
        raise checker.fail(elem.name, f"has an array stride of {elem.size} bytes in the shader but "
                                      f"the dtype's itemsize is {dt.itemsize} bytes")
    if elem.base_type == "struct" and not elem.array_dims:
        if dt.names is None:
            raise checker.fail(elem.name, f"is struct {elem.type_name} but the dtype is {dt}")
        checker.struct(dt, elem.members, elem.name + ".", 0, 0)
    else:
        checker.member(dt, elem, elem.name, 0, 0)
