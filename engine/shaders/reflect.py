"""Pure-Python SPIR-V reflection: descriptor bindings, buffer block layouts, push constants, I/O.

:func:`reflect_spirv` reads a SPIR-V binary (as written by ``glslangValidator -V``; do not strip
names with ``-g0``, or every name comes out empty) and returns a :class:`ShaderReflection`. The
result agrees with ``spirv-cross --reflect``:

* set, binding, descriptor kind and array count of every descriptor variable (a runtime-sized
  descriptor array has ``count == 0``);
* buffer blocks with their members' byte offsets, sizes, array strides and matrix strides, exactly
  as decorated in the module (std140, std430 or any explicit layout);
* a block's ``size`` in bytes is spirv-cross's declared size: the offset of the member with the
  highest offset plus that member's size, where a runtime array counts as 0 bytes (so an SSBO's
  size excludes its trailing runtime array, whose stride is ``Block.runtime_array_stride``);
* push-constant blocks, stage inputs/outputs (built-ins excluded) and the compute local size.

All sizes, offsets and strides are in bytes. Anything malformed (truncated, wrong magic, bad word
counts, dangling ids, cyclic or absurd types) raises :class:`~engine.errors.ReflectionError` with
the word and byte offset; nothing else escapes, and every loop is bounded by the module size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import engine.shaders._parse as sp
from engine.errors import ReflectionError
from engine.shaders._types import (
    MAX_DEPTH,
    BlockMember,
    TypeReader,
    declared_size,
)

__all__ = [
    "Block",
    "BlockMember",
    "DescriptorBinding",
    "DescriptorKind",
    "PushConstantRange",
    "ShaderReflection",
    "StageInput",
    "reflect_spirv",
]

# VkShaderStageFlagBits.
STAGE_VERTEX = 0x1
STAGE_TESSELLATION_CONTROL = 0x2
STAGE_TESSELLATION_EVALUATION = 0x4
STAGE_GEOMETRY = 0x8
STAGE_FRAGMENT = 0x10
STAGE_COMPUTE = 0x20

# SPIR-V execution model -> VkShaderStageFlagBits.
_STAGE_OF_MODEL: dict[int, int] = {
    0: STAGE_VERTEX, 1: STAGE_TESSELLATION_CONTROL, 2: STAGE_TESSELLATION_EVALUATION,
    3: STAGE_GEOMETRY, 4: STAGE_FRAGMENT, 5: STAGE_COMPUTE, 6: STAGE_COMPUTE,
    5267: 0x40, 5268: 0x80, 5364: 0x40, 5365: 0x80,  # task / mesh (NV, EXT)
    5313: 0x100, 5314: 0x1000, 5315: 0x200, 5316: 0x400, 5317: 0x800, 5318: 0x2000,  # ray tracing
}
_COMPUTE_MODELS = frozenset({5, 6, 5267, 5268, 5364, 5365})

# Storage classes.
_UNIFORM_CONSTANT, _INPUT, _UNIFORM, _OUTPUT, _PUSH_CONSTANT, _STORAGE_BUFFER = 0, 1, 2, 3, 9, 12
# Decorations.
_BLOCK, _BUFFER_BLOCK, _BUILTIN, _NON_WRITABLE, _NON_READABLE = 2, 3, 11, 24, 25
_LOCATION, _BINDING, _DESCRIPTOR_SET = 30, 33, 34
# Execution modes and built-ins.
_LOCAL_SIZE, _LOCAL_SIZE_ID, _BUILTIN_WORKGROUP_SIZE = 17, 38, 25


class DescriptorKind(Enum):
    """Descriptor type of a binding; ``.vk_type`` is the ``VkDescriptorType`` value."""

    SAMPLER = 0
    COMBINED_IMAGE_SAMPLER = 1
    SAMPLED_IMAGE = 2
    STORAGE_IMAGE = 3
    UNIFORM_TEXEL_BUFFER = 4
    STORAGE_TEXEL_BUFFER = 5
    UNIFORM_BUFFER = 6
    STORAGE_BUFFER = 7
    INPUT_ATTACHMENT = 10
    ACCELERATION_STRUCTURE = 1000150000  # VK_DESCRIPTOR_TYPE_ACCELERATION_STRUCTURE_KHR

    @property
    def vk_type(self) -> int:
        """The ``VkDescriptorType`` integer of this kind."""
        return int(self.value)

    @property
    def is_buffer(self) -> bool:
        """True for uniform and storage buffers (the kinds that carry a :class:`Block`)."""
        return self in (DescriptorKind.UNIFORM_BUFFER, DescriptorKind.STORAGE_BUFFER)


@dataclass(frozen=True, slots=True)
class Block:
    """A buffer or push-constant block layout.

    ``size`` (bytes) is the offset of the member with the highest offset plus its size, a trailing
    runtime array counting 0 bytes; ``runtime_array_stride`` is that runtime array's stride in
    bytes (0 when the block has none).
    """

    type_name: str
    size: int
    members: tuple[BlockMember, ...]
    runtime_array_stride: int = 0

    def member(self, name: str) -> BlockMember:
        """The top-level member called ``name``; raise ``KeyError`` listing the names if absent."""
        for m in self.members:
            if m.name == name:
                return m
        raise KeyError(f"{self.type_name} has no member {name!r}; members: "
                       f"{', '.join(m.name for m in self.members)}")

    @property
    def runtime_array(self) -> BlockMember | None:
        """The trailing runtime-sized array member, or None."""
        if not self.runtime_array_stride:
            return None
        return max(self.members, key=lambda m: m.offset)


@dataclass(frozen=True, slots=True)
class DescriptorBinding:
    """One descriptor variable of a shader.

    ``type_name`` is the block type name for buffers (e.g. ``GlobalUbo``), else the GLSL type
    name (``sampler2D``, ``image2D``, ``texture2D``...). ``count`` is 1, N for an array (product
    of all dimensions) or 0 for a runtime-sized array. ``readonly``/``writeonly`` reflect
    NonWritable/NonReadable on the variable or on every member. ``stages`` is a
    VkShaderStageFlags mask.
    """

    set: int
    binding: int
    kind: DescriptorKind
    type_name: str
    variable_name: str
    count: int
    block: Block | None
    readonly: bool
    writeonly: bool
    stages: int


@dataclass(frozen=True, slots=True)
class PushConstantRange:
    """A push-constant block: ``offset`` is its lowest member offset and ``offset + size`` its
    end (block size rounded up to 4 bytes, as ``VkPushConstantRange`` requires), in bytes."""

    name: str
    type_name: str
    offset: int
    size: int
    block: Block
    stages: int


@dataclass(frozen=True, slots=True)
class StageInput:
    """A user stage input or output (built-ins are excluded). I/O blocks are named by type."""

    location: int
    name: str
    type_name: str
    vecsize: int
    base_type: str
    columns: int = 1
    array_dims: tuple[int, ...] = ()
    width: int = 32


@dataclass(frozen=True, slots=True)
class ShaderReflection:
    """Everything :func:`reflect_spirv` found; ``stage`` and ``entry_point`` are the first entry
    point's; ``local_size`` is None except for compute-like stages."""

    stage: int
    entry_point: str
    entry_points: tuple[tuple[str, int], ...]
    bindings: tuple[DescriptorBinding, ...]
    push_constants: tuple[PushConstantRange, ...]
    inputs: tuple[StageInput, ...]
    outputs: tuple[StageInput, ...]
    local_size: tuple[int, int, int] | None

    def binding(self, name: str) -> DescriptorBinding:
        """The first binding whose variable name, or block type name for buffers, is ``name``.

        Raises ``KeyError`` listing the names that exist.
        """
        for b in self.bindings:
            if name == b.variable_name or (b.block is not None and name == b.type_name):
                return b
        known = sorted({n for b in self.bindings for n in (b.variable_name, b.block and b.type_name)
                        if n})
        raise KeyError(f"no binding named {name!r}; bindings: {', '.join(known)}")


def reflect_spirv(code: bytes | bytearray | memoryview) -> ShaderReflection:
    """Reflect a SPIR-V module (bytes, either byte order).

    Raises :class:`~engine.errors.ReflectionError` for malformed or truncated modules and for
    constructs the reflector cannot read (e.g. an array length that is a specialization-constant
    expression).
    """
    try:
        return _Reflector(sp.parse_module(code)).reflect()
    except RecursionError:  # pragma: no cover - depth is bounded by MAX_DEPTH; belt and braces
        raise ReflectionError(f"SPIR-V: types nested deeper than {MAX_DEPTH} levels") from None


class _Reflector:
    """Turns a parsed module into a :class:`ShaderReflection`."""

    def __init__(self, mod: sp.SpirvModule) -> None:
        self.mod = mod
        self.types = TypeReader(mod)
        self.interfaces = [frozenset(ep.interface) for ep in mod.entry_points]
        self.blocks: dict[int, Block] = {}
        self.access: dict[int, tuple[bool, bool]] = {}

    def reflect(self) -> ShaderReflection:
        mod = self.mod
        entries: list[tuple[str, int]] = []
        for ep in mod.entry_points:
            stage = _STAGE_OF_MODEL.get(ep.model)
            if stage is None:
                raise ReflectionError(
                    f"SPIR-V: entry point '{ep.name}' at {sp.where(ep.word)} has unknown "
                    f"execution model {ep.model}"
                )
            entries.append((ep.name, stage))
        all_stages = 0
        for _, stage in entries:
            all_stages |= stage
        bindings: list[tuple[int, int, int, DescriptorBinding]] = []
        pushes: list[PushConstantRange] = []
        for var in mod.variables:
            if var.storage_class in (_UNIFORM_CONSTANT, _UNIFORM, _STORAGE_BUFFER):
                b = self._binding(var, self._stages_of(var.id, entries, all_stages))
                bindings.append((b.set, b.binding, var.id, b))
            elif var.storage_class == _PUSH_CONSTANT:
                stages = self._stages_of(var.id, entries, all_stages)
                pushes.append(self._push_constant(var, stages))
        bindings.sort(key=lambda item: item[:3])
        first = mod.entry_points[0]
        return ShaderReflection(
            stage=entries[0][1],
            entry_point=first.name,
            entry_points=tuple(entries),
            bindings=tuple(item[3] for item in bindings),
            push_constants=tuple(pushes),
            inputs=self._interface(first, _INPUT),
            outputs=self._interface(first, _OUTPUT),
            local_size=self._local_size(first),
        )

    def _stages_of(self, var_id: int, entries: list[tuple[str, int]], all_stages: int) -> int:
        """Stages using a global: from entry-point interfaces on SPIR-V >= 1.4, else all."""
        if self.mod.version < (1, 4):
            return all_stages
        stages = 0
        for interface, (_, stage) in zip(self.interfaces, entries, strict=True):
            if var_id in interface:
                stages |= stage
        return stages or all_stages

    def _pointee(self, var: sp.Variable) -> int:
        ptr = self.types.get(var.pointer_type, var.word)
        if ptr.opcode != sp.OP_TYPE_POINTER:
            raise ReflectionError(
                f"SPIR-V: OpVariable %{var.id} at {sp.where(var.word)} has type "
                f"%{var.pointer_type}, which is not a pointer type"
            )
        return ptr.operands[2]

    def _decoration(self, target: int, decoration: int, at: int) -> int | None:
        values = self.mod.decorations.get(target, {}).get(decoration)
        if values is None:
            return None
        if not values:
            raise ReflectionError(
                f"SPIR-V: decoration {decoration} of %{target} has no operand (near {sp.where(at)})"
            )
        return values[0]

    def _binding(self, var: sp.Variable, stages: int) -> DescriptorBinding:
        elem, dims, _ = self.types.strip_arrays(self._pointee(var), var.word)
        t = self.types.get(elem, var.word)
        block: Block | None = None
        decos = self.mod.decorations
        readonly = _NON_WRITABLE in decos.get(var.id, {})
        writeonly = _NON_READABLE in decos.get(var.id, {})
        if var.storage_class in (_UNIFORM, _STORAGE_BUFFER):
            if t.opcode != sp.OP_TYPE_STRUCT:
                raise ReflectionError(
                    f"SPIR-V: buffer variable %{var.id} at {sp.where(var.word)} has a non-struct "
                    f"type %{elem}"
                )
            struct_decos = decos.get(elem, {})
            if var.storage_class == _STORAGE_BUFFER or _BUFFER_BLOCK in struct_decos:
                kind = DescriptorKind.STORAGE_BUFFER
            elif _BLOCK in struct_decos:
                kind = DescriptorKind.UNIFORM_BUFFER
            else:
                raise ReflectionError(
                    f"SPIR-V: Uniform variable %{var.id} at {sp.where(var.word)} has struct type "
                    f"%{elem} without a Block or BufferBlock decoration"
                )
            block = self._block(elem, var.word)
            all_readonly, all_writeonly = self._member_access(elem, len(t.operands) - 1)
            readonly |= all_readonly
            writeonly |= all_writeonly
            type_name = block.type_name
        else:
            kind, type_name = self._opaque_kind(elem, var)
        binding = self._decoration(var.id, _BINDING, var.word)
        set_ = self._decoration(var.id, _DESCRIPTOR_SET, var.word)
        return DescriptorBinding(
            set=set_ or 0,
            binding=binding or 0,
            kind=kind,
            type_name=type_name,
            variable_name=self.mod.names.get(var.id, ""),
            count=math.prod(dims),
            block=block,
            readonly=readonly,
            writeonly=writeonly,
            stages=stages,
        )

    def _opaque_kind(self, elem: int, var: sp.Variable) -> tuple[DescriptorKind, str]:
        t = self.types.get(elem, var.word)
        if t.opcode == sp.OP_TYPE_SAMPLED_IMAGE:
            image = self.types.get(t.operands[1], t.word)
            if image.opcode != sp.OP_TYPE_IMAGE:
                raise ReflectionError(
                    f"SPIR-V: OpTypeSampledImage at {sp.where(t.word)} wraps %{t.operands[1]}, "
                    f"which is not an image type"
                )
            kind = DescriptorKind.COMBINED_IMAGE_SAMPLER
            if image.operands[2] == 5:  # Dim Buffer
                kind = DescriptorKind.UNIFORM_TEXEL_BUFFER
            return kind, self.types.image_name(image, combined=True)
        if t.opcode == sp.OP_TYPE_IMAGE:
            dim, sampled = t.operands[2], t.operands[6]
            if dim == 6:
                kind = DescriptorKind.INPUT_ATTACHMENT
            elif dim == 5:
                storage = sampled == 2
                kind = (DescriptorKind.STORAGE_TEXEL_BUFFER if storage
                        else DescriptorKind.UNIFORM_TEXEL_BUFFER)
            else:
                kind = (DescriptorKind.STORAGE_IMAGE if sampled == 2
                        else DescriptorKind.SAMPLED_IMAGE)
            return kind, self.types.image_name(t, combined=False)
        if t.opcode == sp.OP_TYPE_SAMPLER:
            return DescriptorKind.SAMPLER, "sampler"
        if t.opcode == sp.OP_TYPE_ACCELERATION_STRUCTURE_KHR:
            return DescriptorKind.ACCELERATION_STRUCTURE, "accelerationStructureEXT"
        raise ReflectionError(
            f"SPIR-V: UniformConstant variable %{var.id} at {sp.where(var.word)} has type "
            f"%{elem} (opcode {t.opcode}), which is not a descriptor type"
        )

    def _member_access(self, struct_id: int, n_members: int) -> tuple[bool, bool]:
        """(every member NonWritable, every member NonReadable) of a block struct."""
        cached = self.access.get(struct_id)
        if cached is None:
            decos = [self.mod.member_decorations.get((struct_id, i), {}) for i in range(n_members)]
            cached = (bool(decos) and all(_NON_WRITABLE in d for d in decos),
                      bool(decos) and all(_NON_READABLE in d for d in decos))
            self.access[struct_id] = cached
        return cached

    def _block(self, struct_id: int, at: int) -> Block:
        block = self.blocks.get(struct_id)
        if block is None:
            members = self.types.members(struct_id, at, 0)
            size, runtime_stride = declared_size(members)
            block = Block(self.types.struct_name(struct_id), size, members, runtime_stride)
            self.blocks[struct_id] = block
        return block

    def _push_constant(self, var: sp.Variable, stages: int) -> PushConstantRange:
        pointee = self._pointee(var)
        if self.types.get(pointee, var.word).opcode != sp.OP_TYPE_STRUCT:
            raise ReflectionError(
                f"SPIR-V: push-constant variable %{var.id} at {sp.where(var.word)} is not a struct"
            )
        block = self._block(pointee, var.word)
        offset = min((m.offset for m in block.members), default=0)
        end = -(-block.size // 4) * 4
        return PushConstantRange(
            name=self.mod.names.get(var.id, ""),
            type_name=block.type_name,
            offset=offset,
            size=max(end - offset, 0),
            block=block,
            stages=stages,
        )

    def _interface(self, ep: sp.EntryPoint, storage: int) -> tuple[StageInput, ...]:
        found: list[StageInput] = []
        interface = set(ep.interface)
        for var in self.mod.variables:
            if var.storage_class != storage or var.id not in interface:
                continue
            if _BUILTIN in self.mod.decorations.get(var.id, {}):
                continue
            elem, dims, _ = self.types.strip_arrays(self._pointee(var), var.word)
            t = self.types.get(elem, var.word)
            location = self._decoration(var.id, _LOCATION, var.word)
            if t.opcode == sp.OP_TYPE_STRUCT:
                n = len(t.operands) - 1
                member_decos = [self.mod.member_decorations.get((elem, i), {}) for i in range(n)]
                if any(_BUILTIN in d for d in member_decos):
                    continue  # gl_PerVertex and friends
                if location is None:
                    locations = [d[_LOCATION][0] for d in member_decos if d.get(_LOCATION)]
                    location = min(locations) if locations else None
                name = type_name = self.types.struct_name(elem)
                entry = StageInput(location or 0, name, type_name, 1, "struct", 1, tuple(dims), 0)
            else:
                leaf = self.types.leaf(elem, var.word)
                entry = StageInput(
                    location or 0, self.mod.names.get(var.id, ""), leaf.name, leaf.vecsize,
                    leaf.base_type, leaf.columns, tuple(dims), leaf.width,
                )
            if location is not None:
                found.append(entry)
        found.sort(key=lambda s: (s.location, s.name))
        return tuple(found)

    def _local_size(self, ep: sp.EntryPoint) -> tuple[int, int, int] | None:
        if ep.model not in _COMPUTE_MODELS:
            return None
        size: Sequence[int] | None = None
        for mode in self.mod.execution_modes.get(ep.function, []):
            if mode.mode == _LOCAL_SIZE and not mode.operands_are_ids:
                size = mode.operands[:3]
            elif mode.mode == _LOCAL_SIZE_ID and mode.operands_are_ids:
                size = [self.types.constant_int(c, mode.word) for c in mode.operands[:3]]
            else:
                continue
            if len(size) != 3:
                raise ReflectionError(
                    f"SPIR-V: local size execution mode at {sp.where(mode.word)} needs 3 operands"
                )
        for target, decos in self.mod.decorations.items():
            if decos.get(_BUILTIN) != (_BUILTIN_WORKGROUP_SIZE,):
                continue
            const = self.mod.constants.get(target)
            if const is None or len(const.values) != 3:
                raise ReflectionError(
                    f"SPIR-V: the WorkgroupSize built-in %{target} is not a 3-component constant"
                )
            size = [self.types.constant_int(c, const.word) for c in const.values]
        if size is None:
            if ep.model == 5:
                raise ReflectionError(
                    f"SPIR-V: compute entry point '{ep.name}' has no LocalSize execution mode"
                )
            return None
        if not all(1 <= s <= 0xFFFFFFFF for s in size):
            raise ReflectionError(f"SPIR-V: local size {tuple(size)} of '{ep.name}' is invalid")
        return (size[0], size[1], size[2])
