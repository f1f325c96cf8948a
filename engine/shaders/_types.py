"""SPIR-V type reading for :mod:`engine.shaders.reflect` (internal): names, arrays, block members.

Types are resolved lazily from the parsed module. Nesting (arrays and structs) is limited to
:data:`MAX_DEPTH` levels and cycles are detected, so hostile input raises
:class:`~engine.errors.ReflectionError` instead of recursing without end. Sizes are in bytes and
follow spirv-cross's "declared size" rules (see :func:`declared_size`).
"""

from __future__ import annotations

from dataclasses import dataclass

import engine.shaders._parse as sp
from engine.errors import ReflectionError

#: Deepest nesting of arrays/structs accepted (glslang output rarely exceeds 5).
MAX_DEPTH = 64

_ROW_MAJOR, _ARRAY_STRIDE, _MATRIX_STRIDE, _OFFSET = 4, 6, 7, 35

_SCALAR_NAMES: dict[tuple[str, int], str] = {
    ("float", 32): "float", ("double", 64): "double", ("float", 16): "float16_t",
    ("int", 32): "int", ("uint", 32): "uint", ("int", 64): "int64_t", ("uint", 64): "uint64_t",
    ("int", 16): "int16_t", ("uint", 16): "uint16_t", ("int", 8): "int8_t", ("uint", 8): "uint8_t",
    ("bool", 32): "bool",
}
_VECTOR_PREFIX: dict[tuple[str, int], str] = {
    ("float", 32): "vec", ("double", 64): "dvec", ("float", 16): "f16vec",
    ("int", 32): "ivec", ("uint", 32): "uvec", ("int", 64): "i64vec", ("uint", 64): "u64vec",
    ("int", 16): "i16vec", ("uint", 16): "u16vec", ("int", 8): "i8vec", ("uint", 8): "u8vec",
    ("bool", 32): "bvec",
}
_MATRIX_PREFIX = {("float", 32): "mat", ("double", 64): "dmat", ("float", 16): "f16mat"}
_IMAGE_PREFIX = {("float", 32): "", ("float", 16): "f16", ("int", 32): "i", ("uint", 32): "u",
                 ("int", 64): "i64", ("uint", 64): "u64"}
_DIM_NAMES = {0: "1D", 1: "2D", 2: "3D", 3: "Cube", 4: "2DRect", 5: "Buffer"}


@dataclass(frozen=True, slots=True)
class BlockMember:
    """One member of a buffer/push-constant block (or of a struct inside one).

    ``offset`` is in bytes from the start of the enclosing struct. ``array_dims`` lists array
    sizes outermost first (``float x[2][3]`` -> ``(2, 3)``; 0 for a runtime-sized array) and
    ``array_strides`` the matching byte strides; ``array_stride`` is the outermost one (0 when
    not an array). ``size`` is the declared size in bytes: stride * outer count for arrays
    (0 for runtime arrays), the declared size of a struct, ``matrix_stride * columns`` (rows when
    ``row_major``) for matrices, else component bytes * ``vecsize``. ``base_type`` is one of
    'float', 'double', 'int', 'uint', 'bool', 'struct', 'pointer'; ``width`` its component bits
    (float16 is 'float' with width 16). ``vecsize`` is the row count of a matrix, ``columns`` its
    column count (1 for scalars and vectors). ``members`` describes the struct for 'struct'.
    """

    name: str
    offset: int
    size: int
    type_name: str
    array_dims: tuple[int, ...]
    array_stride: int
    matrix_stride: int
    row_major: bool
    members: tuple[BlockMember, ...]
    base_type: str
    vecsize: int
    columns: int
    array_strides: tuple[int, ...] = ()
    width: int = 32


@dataclass(frozen=True, slots=True)
class Leaf:
    """A scalar, vector or matrix type."""

    base_type: str
    width: int
    vecsize: int
    columns: int
    name: str


def declared_size(members: tuple[BlockMember, ...]) -> tuple[int, int]:
    """spirv-cross's declared struct size and the trailing runtime array's stride, in bytes.

    The size is the offset of the member with the highest offset (the first one on ties) plus
    that member's size; a runtime array has size 0.
    """
    if not members:
        return 0, 0
    last = members[0]
    for m in members[1:]:
        if m.offset > last.offset:
            last = m
    runtime = last.array_strides[0] if last.array_dims[:1] == (0,) else 0
    return last.offset + last.size, runtime


class TypeReader:
    """Lazy, memoised reader of the types of one parsed module."""

    def __init__(self, mod: sp.SpirvModule) -> None:
        self.mod = mod
        self._members: dict[int, tuple[BlockMember, ...]] = {}
        self._visiting: set[int] = set()

    def get(self, type_id: int, at: int) -> sp.Instruction:
        """The type instruction of ``type_id``; ``at`` is the referring word (for messages)."""
        t = self.mod.types.get(type_id)
        if t is None:
            raise ReflectionError(
                f"SPIR-V: the instruction at {sp.where(at)} refers to type %{type_id}, which the "
                f"module does not define"
            )
        return t

    def struct_name(self, struct_id: int) -> str:
        """OpName of a struct, or spirv-cross's ``_<id>`` when unnamed."""
        return self.mod.names.get(struct_id) or f"_{struct_id}"

    def constant_int(self, const_id: int, at: int) -> int:
        """Value of an integer OpConstant/OpSpecConstant (a spec constant's default)."""
        c = self.mod.constants.get(const_id)
        if c is None:
            raise ReflectionError(
                f"SPIR-V: the instruction at {sp.where(at)} refers to constant %{const_id}, which "
                f"the module does not define"
            )
        if c.opcode not in (sp.OP_CONSTANT, sp.OP_SPEC_CONSTANT):
            raise ReflectionError(
                f"SPIR-V: constant %{const_id} at {sp.where(c.word)} (opcode {c.opcode}) is not a "
                f"literal integer; specialization-constant expressions are not evaluated"
            )
        t = self.get(c.type_id, c.word)
        if t.opcode != sp.OP_TYPE_INT or t.operands[1] not in (8, 16, 32, 64):
            raise ReflectionError(
                f"SPIR-V: constant %{const_id} at {sp.where(c.word)} is used as an integer but "
                f"its type %{c.type_id} is not an integer type"
            )
        width, signed = t.operands[1], t.operands[2]
        need = 2 if width == 64 else 1
        if len(c.values) < need:
            raise ReflectionError(
                f"SPIR-V: constant %{const_id} at {sp.where(c.word)} lacks its value words"
            )
        value = c.values[0] | (c.values[1] << 32 if need == 2 else 0)
        value &= (1 << width) - 1
        if signed and value >> (width - 1):
            value -= 1 << width
        return value

    def strip_arrays(self, type_id: int, at: int) -> tuple[int, list[int], list[int]]:
        """Peel array types off ``type_id``: (element type, sizes outermost first, array ids)."""
        dims: list[int] = []
        array_ids: list[int] = []
        for _ in range(MAX_DEPTH):
            t = self.get(type_id, at)
            if t.opcode == sp.OP_TYPE_ARRAY:
                length = self.constant_int(t.operands[2], t.word)
                if length < 1:
                    raise ReflectionError(
                        f"SPIR-V: OpTypeArray %{type_id} at {sp.where(t.word)} has length {length}"
                    )
                dims.append(length)
            elif t.opcode == sp.OP_TYPE_RUNTIME_ARRAY:
                if dims:
                    raise ReflectionError(
                        f"SPIR-V: runtime array %{type_id} at {sp.where(t.word)} is the element of "
                        f"another array"
                    )
                dims.append(0)
            else:
                return type_id, dims, array_ids
            array_ids.append(type_id)
            at, type_id = t.word, t.operands[1]
        raise ReflectionError(
            f"SPIR-V: arrays nested deeper than {MAX_DEPTH} levels at {sp.where(at)} (cyclic type?)"
        )

    def leaf(self, type_id: int, at: int) -> Leaf:
        """Describe a scalar, vector or matrix type (raise for anything else)."""
        t = self.get(type_id, at)
        ops = t.operands
        if t.opcode == sp.OP_TYPE_BOOL:
            return Leaf("bool", 32, 1, 1, "bool")
        if t.opcode == sp.OP_TYPE_INT:
            key = ("int" if ops[2] else "uint", ops[1])
        elif t.opcode == sp.OP_TYPE_FLOAT:
            key = ("double" if ops[1] == 64 else "float", ops[1])
        elif t.opcode == sp.OP_TYPE_VECTOR:
            scalar = self.get(ops[1], t.word).opcode in (sp.OP_TYPE_BOOL, sp.OP_TYPE_INT,
                                                         sp.OP_TYPE_FLOAT)
            if not scalar or not 2 <= ops[2] <= 4:
                raise ReflectionError(
                    f"SPIR-V: OpTypeVector at {sp.where(t.word)} has {ops[2]} components of "
                    f"type %{ops[1]}; 2-4 scalars expected"
                )
            comp = self.leaf(ops[1], t.word)
            prefix = _VECTOR_PREFIX[(comp.base_type, comp.width)]
            return Leaf(comp.base_type, comp.width, ops[2], 1, f"{prefix}{ops[2]}")
        elif t.opcode == sp.OP_TYPE_MATRIX:
            is_vector = self.get(ops[1], t.word).opcode == sp.OP_TYPE_VECTOR
            col = self.leaf(ops[1], t.word) if is_vector else Leaf("", 0, 0, 0, "")
            mat_prefix = _MATRIX_PREFIX.get((col.base_type, col.width))
            if mat_prefix is None or not 2 <= ops[2] <= 4:
                raise ReflectionError(
                    f"SPIR-V: OpTypeMatrix at {sp.where(t.word)} has {ops[2]} columns of type "
                    f"%{ops[1]}; 2-4 float vectors expected"
                )
            cols, rows = ops[2], col.vecsize
            name = f"{mat_prefix}{cols}" if cols == rows else f"{mat_prefix}{cols}x{rows}"
            return Leaf(col.base_type, col.width, rows, cols, name)
        else:
            raise ReflectionError(
                f"SPIR-V: type %{type_id} at {sp.where(t.word)} (opcode {t.opcode}) is not a "
                f"scalar, vector or matrix type where one is needed (near {sp.where(at)})"
            )
        if key not in _SCALAR_NAMES:
            raise ReflectionError(
                f"SPIR-V: scalar type %{type_id} at {sp.where(t.word)} has width {ops[1]}"
            )
        return Leaf(key[0], key[1], 1, 1, _SCALAR_NAMES[key])

    def image_name(self, image: sp.Instruction, *, combined: bool) -> str:
        """GLSL name of an image type, as spirv-cross spells it (``sampler2DArrayShadow``...)."""
        _, sampled_type, dim, depth, arrayed, ms, sampled = image.operands[:7]
        comp = self.leaf(sampled_type, image.word)
        prefix = _IMAGE_PREFIX.get((comp.base_type, comp.width))
        if prefix is None or comp.vecsize != 1:
            raise ReflectionError(
                f"SPIR-V: image type at {sp.where(image.word)} has an unsupported sampled type"
            )
        ms_text = "MS" if ms else ""
        if dim == 6:
            return f"{prefix}subpassInput{ms_text}"
        if dim not in _DIM_NAMES:
            raise ReflectionError(f"SPIR-V: image type at {sp.where(image.word)} has dim {dim}")
        base = "sampler" if combined else ("image" if sampled == 2 else "texture")
        shadow = "Shadow" if combined and depth == 1 else ""
        return f"{prefix}{base}{_DIM_NAMES[dim]}{ms_text}{'Array' if arrayed else ''}{shadow}"

    def members(self, struct_id: int, at: int, depth: int) -> tuple[BlockMember, ...]:
        """The laid-out members of a block struct (memoised; cycles and depth are checked)."""
        cached = self._members.get(struct_id)
        if cached is not None:
            return cached
        if depth > MAX_DEPTH or struct_id in self._visiting:
            raise ReflectionError(
                f"SPIR-V: struct %{struct_id} (near {sp.where(at)}) contains itself or is nested "
                f"deeper than {MAX_DEPTH} levels"
            )
        t = self.get(struct_id, at)
        if t.opcode != sp.OP_TYPE_STRUCT:
            raise ReflectionError(f"SPIR-V: type %{struct_id} at {sp.where(t.word)} is no struct")
        self._visiting.add(struct_id)
        try:
            result = tuple(
                self._member(struct_id, index, member_type, t.word, depth)
                for index, member_type in enumerate(t.operands[1:])
            )
        finally:
            self._visiting.discard(struct_id)
        self._members[struct_id] = result
        return result

    def _member(self, sid: int, index: int, type_id: int, at: int, depth: int) -> BlockMember:
        name = self.mod.member_names.get((sid, index)) or f"_m{index}"
        decos = self.mod.member_decorations.get((sid, index), {})
        where = f"member {index} ('{name}') of struct '{self.struct_name(sid)}' (%{sid})"
        offset = decos.get(_OFFSET)
        if not offset:
            raise ReflectionError(
                f"SPIR-V: {where} at {sp.where(at)} has no Offset decoration (explicit layout "
                f"needed)"
            )
        elem, dims, array_ids = self.strip_arrays(type_id, at)
        strides: list[int] = []
        for aid in array_ids:
            stride = self.mod.decorations.get(aid, {}).get(_ARRAY_STRIDE)
            if not stride:
                raise ReflectionError(
                    f"SPIR-V: the array type %{aid} of {where} has no ArrayStride decoration"
                )
            strides.append(stride[0])
        matrix_stride = (decos.get(_MATRIX_STRIDE) or (0,))[0]
        row_major = _ROW_MAJOR in decos
        et = self.get(elem, at)
        members: tuple[BlockMember, ...] = ()
        if et.opcode == sp.OP_TYPE_STRUCT:
            members = self.members(elem, at, depth + 1)
            leaf = Leaf("struct", 0, 1, 1, self.struct_name(elem))
            natural = declared_size(members)[0]
        elif et.opcode == sp.OP_TYPE_POINTER:  # buffer_reference: an 8-byte device address
            pointee = self.mod.names.get(et.operands[2]) or f"_{et.operands[2]}"
            leaf = Leaf("pointer", 64, 1, 1, pointee)
            natural = 8
        else:
            leaf = self.leaf(elem, at)
            if leaf.columns > 1:
                if not matrix_stride:
                    raise ReflectionError(f"SPIR-V: matrix {where} has no MatrixStride decoration")
                natural = matrix_stride * (leaf.vecsize if row_major else leaf.columns)
            else:
                natural = leaf.width // 8 * leaf.vecsize
        size = strides[0] * dims[0] if dims else natural
        return BlockMember(
            name=name, offset=offset[0], size=size, type_name=leaf.name, array_dims=tuple(dims),
            array_stride=strides[0] if strides else 0, matrix_stride=matrix_stride,
            row_major=row_major, members=members, base_type=leaf.base_type, vecsize=leaf.vecsize,
            columns=leaf.columns, array_strides=tuple(strides), width=leaf.width,
        )
