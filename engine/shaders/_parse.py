"""Low-level SPIR-V module reader used by :mod:`engine.shaders.reflect` (internal).

It walks the instruction stream once and keeps what reflection needs: names, decorations, types,
constants, global variables, entry points and execution modes. Nothing else of the module is
interpreted, but every instruction's word count is checked, so a truncated or corrupted stream
raises :class:`~engine.errors.ReflectionError` naming the word (and byte) offset. Every loop is
bounded by the module's length.

Offsets in messages are word indices into the module (a word is 4 bytes), with the byte offset in
parentheses. Both byte orders of the magic number are accepted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from engine.errors import ReflectionError

MAGIC = 0x07230203
MAGIC_SWAPPED = 0x03022307
#: SPIR-V's universal limit on the id bound (spec, "Universal Limits").
MAX_ID_BOUND = 0x3FFFFF

# Opcodes (SPIR-V 1.6 unified spec, section 3.49).
OP_NAME = 5
OP_MEMBER_NAME = 6
OP_ENTRY_POINT = 15
OP_EXECUTION_MODE = 16
OP_TYPE_VOID = 19
OP_TYPE_BOOL = 20
OP_TYPE_INT = 21
OP_TYPE_FLOAT = 22
OP_TYPE_VECTOR = 23
OP_TYPE_MATRIX = 24
OP_TYPE_IMAGE = 25
OP_TYPE_SAMPLER = 26
OP_TYPE_SAMPLED_IMAGE = 27
OP_TYPE_ARRAY = 28
OP_TYPE_RUNTIME_ARRAY = 29
OP_TYPE_STRUCT = 30
OP_TYPE_OPAQUE = 31
OP_TYPE_POINTER = 32
OP_TYPE_FUNCTION = 33
OP_TYPE_FORWARD_POINTER = 39
OP_CONSTANT_TRUE = 41
OP_CONSTANT_FALSE = 42
OP_CONSTANT = 43
OP_CONSTANT_COMPOSITE = 44
OP_CONSTANT_NULL = 46
OP_SPEC_CONSTANT_TRUE = 48
OP_SPEC_CONSTANT_FALSE = 49
OP_SPEC_CONSTANT = 50
OP_SPEC_CONSTANT_COMPOSITE = 51
OP_SPEC_CONSTANT_OP = 52
OP_FUNCTION = 54
OP_FUNCTION_END = 56
OP_FUNCTION_CALL = 57
OP_VARIABLE = 59
OP_DECORATE = 71
OP_MEMBER_DECORATE = 72
OP_EXECUTION_MODE_ID = 331
OP_TYPE_RAY_QUERY_KHR = 4472
OP_TYPE_ACCELERATION_STRUCTURE_KHR = 5341

#: Type-declaring opcodes whose result id is the first operand.
TYPE_OPCODES = frozenset(
    {
        OP_TYPE_VOID, OP_TYPE_BOOL, OP_TYPE_INT, OP_TYPE_FLOAT, OP_TYPE_VECTOR, OP_TYPE_MATRIX,
        OP_TYPE_IMAGE, OP_TYPE_SAMPLER, OP_TYPE_SAMPLED_IMAGE, OP_TYPE_ARRAY,
        OP_TYPE_RUNTIME_ARRAY, OP_TYPE_STRUCT, OP_TYPE_OPAQUE, OP_TYPE_POINTER,
        OP_TYPE_FUNCTION, OP_TYPE_RAY_QUERY_KHR, OP_TYPE_ACCELERATION_STRUCTURE_KHR,
    }
)
#: Constant-declaring opcodes: operands are (result type, result id, ...).
CONSTANT_OPCODES = frozenset(
    {
        OP_CONSTANT_TRUE, OP_CONSTANT_FALSE, OP_CONSTANT, OP_CONSTANT_COMPOSITE, OP_CONSTANT_NULL,
        OP_SPEC_CONSTANT_TRUE, OP_SPEC_CONSTANT_FALSE, OP_SPEC_CONSTANT,
        OP_SPEC_CONSTANT_COMPOSITE, OP_SPEC_CONSTANT_OP,
    }
)

# Minimum word counts (opcode word included) of the instructions this reader looks into.
_MIN_WORDS: dict[int, int] = {
    OP_NAME: 3, OP_MEMBER_NAME: 4, OP_ENTRY_POINT: 4, OP_EXECUTION_MODE: 3,
    OP_EXECUTION_MODE_ID: 3, OP_TYPE_VOID: 2, OP_TYPE_BOOL: 2, OP_TYPE_INT: 4,
    OP_TYPE_FLOAT: 3, OP_TYPE_VECTOR: 4, OP_TYPE_MATRIX: 4, OP_TYPE_IMAGE: 9,
    OP_TYPE_SAMPLER: 2, OP_TYPE_SAMPLED_IMAGE: 3, OP_TYPE_ARRAY: 4, OP_TYPE_RUNTIME_ARRAY: 3,
    OP_TYPE_STRUCT: 2, OP_TYPE_OPAQUE: 3, OP_TYPE_POINTER: 4, OP_TYPE_FUNCTION: 3,
    OP_TYPE_RAY_QUERY_KHR: 2, OP_TYPE_ACCELERATION_STRUCTURE_KHR: 2, OP_CONSTANT_TRUE: 3,
    OP_CONSTANT_FALSE: 3, OP_CONSTANT: 4, OP_CONSTANT_COMPOSITE: 3, OP_CONSTANT_NULL: 3,
    OP_SPEC_CONSTANT_TRUE: 3, OP_SPEC_CONSTANT_FALSE: 3, OP_SPEC_CONSTANT: 4,
    OP_SPEC_CONSTANT_COMPOSITE: 3, OP_SPEC_CONSTANT_OP: 4, OP_FUNCTION: 5, OP_FUNCTION_END: 1,
    OP_FUNCTION_CALL: 4, OP_VARIABLE: 4, OP_DECORATE: 3, OP_MEMBER_DECORATE: 4,
}


def where(word: int) -> str:
    """Format a word index as ``word N (byte 4N)`` for error messages."""
    return f"word {word} (byte {4 * word})"


@dataclass(frozen=True, slots=True)
class Instruction:
    """One type instruction: ``operands`` are the words after the opcode word."""

    opcode: int
    word: int
    operands: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Constant:
    """A (spec) constant: ``values`` are its literal words, or constituent ids for composites."""

    id: int
    type_id: int
    opcode: int
    values: tuple[int, ...]
    word: int


@dataclass(frozen=True, slots=True)
class Variable:
    """A module-scope ``OpVariable``."""

    id: int
    pointer_type: int
    storage_class: int
    word: int


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """An ``OpEntryPoint``: execution model, function id, name and interface ids."""

    model: int
    function: int
    name: str
    interface: tuple[int, ...]
    word: int


@dataclass(frozen=True, slots=True)
class ExecutionMode:
    """An ``OpExecutionMode`` (literal operands) or ``OpExecutionModeId`` (id operands)."""

    mode: int
    operands: tuple[int, ...]
    operands_are_ids: bool
    word: int


@dataclass(slots=True)
class SpirvModule:
    """What :func:`parse_module` keeps of a module (all ids are result ids)."""

    version: tuple[int, int]
    generator: int
    bound: int
    names: dict[int, str] = field(default_factory=dict)
    member_names: dict[tuple[int, int], str] = field(default_factory=dict)
    decorations: dict[int, dict[int, tuple[int, ...]]] = field(default_factory=dict)
    member_decorations: dict[tuple[int, int], dict[int, tuple[int, ...]]] = field(
        default_factory=dict
    )
    types: dict[int, Instruction] = field(default_factory=dict)
    constants: dict[int, Constant] = field(default_factory=dict)
    variables: list[Variable] = field(default_factory=list)
    entry_points: list[EntryPoint] = field(default_factory=list)
    execution_modes: dict[int, list[ExecutionMode]] = field(default_factory=dict)
    functions: set[int] = field(default_factory=set)


def _string(words: tuple[int, ...], start: int, end: int, at: int) -> tuple[str, int]:
    """Decode the nul-terminated UTF-8 literal at ``words[start:end]``; return it and its words."""
    raw = struct.pack(f"<{end - start}I", *words[start:end])
    nul = raw.find(b"\0")
    if nul < 0:
        raise ReflectionError(
            f"SPIR-V: the literal string of the instruction at {where(at)} has no terminating "
            f"nul byte inside the instruction (corrupted module?)"
        )
    try:
        text = raw[:nul].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReflectionError(
            f"SPIR-V: the literal string of the instruction at {where(at)} is not UTF-8 ({exc})"
        ) from None
    return text, nul // 4 + 1


def _words(code: bytes | bytearray | memoryview) -> tuple[int, ...]:
    """Check the header's size and magic and return the module as words in host order."""
    if not isinstance(code, bytes | bytearray | memoryview):
        raise ReflectionError(
            f"reflect_spirv() needs the SPIR-V module as bytes, got {type(code).__name__}"
        )
    data = bytes(code)
    if len(data) < 20:
        raise ReflectionError(
            f"SPIR-V module is {len(data)} bytes; it needs at least the 20-byte header "
            f"(truncated or not SPIR-V)"
        )
    magic = int.from_bytes(data[:4], "little")
    if magic == MAGIC:
        order = "<"
    elif magic == MAGIC_SWAPPED:
        order = ">"
    else:
        raise ReflectionError(
            f"SPIR-V: wrong magic number 0x{magic:08x} at byte 0 (expected 0x{MAGIC:08x}); "
            f"this is not a SPIR-V module (GLSL source or a text disassembly?)"
        )
    if len(data) % 4:
        raise ReflectionError(
            f"SPIR-V module is {len(data)} bytes, not a whole number of 4-byte words "
            f"(truncated or not SPIR-V)"
        )
    return struct.unpack(f"{order}{len(data) // 4}I", data)


def parse_module(code: bytes | bytearray | memoryview) -> SpirvModule:
    """Parse a SPIR-V binary; raise :class:`~engine.errors.ReflectionError` on any structural
    problem."""
    words = _words(code)
    n = len(words)
    version, generator, bound = words[1], words[2], words[3]
    major, minor = (version >> 16) & 0xFF, (version >> 8) & 0xFF
    if major != 1 or version & 0xFF0000FF:
        raise ReflectionError(f"SPIR-V: unsupported version word 0x{version:08x} at byte 4")
    if not 0 < bound <= MAX_ID_BOUND:
        raise ReflectionError(
            f"SPIR-V: id bound {bound} at byte 12 is outside 1..{MAX_ID_BOUND} (corrupted header)"
        )
    mod = SpirvModule(version=(major, minor), generator=generator, bound=bound)
    defined: set[int] = set()
    called: dict[int, int] = {}
    in_function = 0  # result id of the function being read, 0 outside functions

    def define(result: int, at: int) -> None:
        if not 0 < result < bound:
            raise ReflectionError(
                f"SPIR-V: result id %{result} of the instruction at {where(at)} is outside the "
                f"module's id bound 1..{bound - 1}"
            )
        if result in defined:
            raise ReflectionError(f"SPIR-V: id %{result} is defined twice (again at {where(at)})")
        defined.add(result)

    i = 5
    while i < n:
        head = words[i]
        count, op = head >> 16, head & 0xFFFF
        if count == 0:
            raise ReflectionError(
                f"SPIR-V: instruction at {where(i)} (opcode {op}) has a word count of 0"
            )
        end = i + count
        if end > n:
            raise ReflectionError(
                f"SPIR-V: instruction at {where(i)} (opcode {op}) has {count} words and runs past "
                f"the end of the module ({n} words); the module is truncated or corrupted"
            )
        need = _MIN_WORDS.get(op)
        if need is None:  # not an instruction reflection reads (most of a function body)
            i = end
            continue
        if count < need:
            raise ReflectionError(
                f"SPIR-V: instruction at {where(i)} (opcode {op}) has {count} words; it needs at "
                f"least {need}"
            )
        if op in TYPE_OPCODES:
            define(words[i + 1], i)
            mod.types[words[i + 1]] = Instruction(op, i, words[i + 1 : end])
        elif op in CONSTANT_OPCODES:
            define(words[i + 2], i)
            mod.constants[words[i + 2]] = Constant(
                words[i + 2], words[i + 1], op, words[i + 3 : end], i
            )
        elif op == OP_VARIABLE:
            define(words[i + 2], i)
            if not in_function:
                mod.variables.append(Variable(words[i + 2], words[i + 1], words[i + 3], i))
        elif op == OP_NAME:
            mod.names[words[i + 1]] = _string(words, i + 2, end, i)[0]
        elif op == OP_MEMBER_NAME:
            mod.member_names[(words[i + 1], words[i + 2])] = _string(words, i + 3, end, i)[0]
        elif op == OP_DECORATE:
            mod.decorations.setdefault(words[i + 1], {})[words[i + 2]] = words[i + 3 : end]
        elif op == OP_MEMBER_DECORATE:
            key = (words[i + 1], words[i + 2])
            mod.member_decorations.setdefault(key, {})[words[i + 3]] = words[i + 4 : end]
        elif op == OP_ENTRY_POINT:
            name, used = _string(words, i + 3, end, i)
            interface = words[i + 3 + used : end]
            mod.entry_points.append(EntryPoint(words[i + 1], words[i + 2], name, interface, i))
        elif op in (OP_EXECUTION_MODE, OP_EXECUTION_MODE_ID):
            mod.execution_modes.setdefault(words[i + 1], []).append(
                ExecutionMode(words[i + 2], words[i + 3 : end], op == OP_EXECUTION_MODE_ID, i)
            )
        elif op == OP_FUNCTION:
            if in_function:
                raise ReflectionError(
                    f"SPIR-V: OpFunction at {where(i)} starts inside function %{in_function}, "
                    f"which has no OpFunctionEnd"
                )
            define(words[i + 2], i)
            in_function = words[i + 2]
            mod.functions.add(in_function)
        elif op == OP_FUNCTION_END:
            if not in_function:
                raise ReflectionError(f"SPIR-V: OpFunctionEnd at {where(i)} outside a function")
            in_function = 0
        elif op == OP_FUNCTION_CALL:
            called.setdefault(words[i + 3], i)
        i = end

    if in_function:
        raise ReflectionError(
            f"SPIR-V: the module ends inside function %{in_function} (no OpFunctionEnd): it is "
            f"truncated"
        )
    if not mod.entry_points:
        raise ReflectionError("SPIR-V: the module has no OpEntryPoint (truncated or a library?)")
    for ep in mod.entry_points:
        if ep.function not in mod.functions:
            raise ReflectionError(
                f"SPIR-V: entry point '{ep.name}' at {where(ep.word)} names function "
                f"%{ep.function}, which the module does not define (truncated?)"
            )
    for callee, at in called.items():
        if callee not in mod.functions:
            raise ReflectionError(
                f"SPIR-V: OpFunctionCall at {where(at)} calls function %{callee}, which the "
                f"module does not define (truncated?)"
            )
    return mod
