"""Strict structural check of a SPIR-V binary, in pure Python (no external tool).

:func:`check_structure` is the part of :func:`engine.shaders.validate.validate_spirv` that runs
whether or not ``spirv-val`` is installed. It refuses, with
:class:`~engine.errors.SpirvValidationError` naming the word and byte offset:

* a size below the 20-byte header or not a multiple of 4 bytes; a wrong or byte-swapped magic
  number (Vulkan takes little-endian modules); a version other than 1.0-1.6; an id bound of 0 or
  above SPIR-V's limit of 0x3FFFFF; a non-zero schema word;
* a word count of 0 or one that runs past the end; an opcode the SPIR-V grammar does not define
  (tables in ``engine.shaders._opcodes``); a typed instruction shorter than its operands
  need; a result id outside ``1 .. bound - 1`` or defined
  twice; a result type that is not a type declared earlier;
* preamble instructions (capabilities, extensions, imports, the memory model, entry points,
  execution modes, debug names, decorations) out of the order the spec's logical layout
  prescribes or after the first type; not exactly one ``OpMemoryModel``; no ``OpCapability``;
* ``OpFunction``/``OpFunctionEnd`` unbalanced or nested; ``OpLabel`` outside a function;
* an entry point whose function, interface variable or execution-mode target is not defined,
  or whose name is not nul-terminated UTF-8.

It does not follow every id operand (the grammar's operand kinds are not tabled here): that, the
type rules and the control-flow rules are ``spirv-val``'s part. Cost: one pass over the words,
about 1 ms for a 10 KiB module.
"""

from __future__ import annotations

import struct

from engine.errors import SpirvValidationError
from engine.shaders import _opcodes as ops

__all__ = ["check_structure"]

MAGIC = 0x07230203
MAX_ID_BOUND = 0x3FFFFF
_OP_FUNCTION, _OP_FUNCTION_END, _OP_LABEL, _OP_VARIABLE = 54, 56, 248, 59
_OP_ENTRY_POINT, _OP_EXECUTION_MODE, _OP_EXECUTION_MODE_ID = 15, 16, 331
_OP_CAPABILITY, _OP_MEMORY_MODEL = 17, 14
#: Logical-layout rank of preamble opcodes (spec section 2.4); anything else ranks 8.
_RANK = {
    17: 0,                                        # OpCapability
    10: 1,                                        # OpExtension
    11: 2,                                        # OpExtInstImport
    14: 3,                                        # OpMemoryModel
    15: 4,                                        # OpEntryPoint
    16: 5, 331: 5,                                # OpExecutionMode(Id)
    2: 6, 3: 6, 4: 6, 7: 6,                       # OpSource*, OpString
    5: 6, 6: 6, 330: 6,                           # OpName, OpMemberName, OpModuleProcessed
    71: 7, 72: 7, 73: 7, 74: 7, 75: 7, 332: 7,    # decorations
    5632: 7, 5633: 7,                             # OpDecorateString, OpMemberDecorateString
}
_RANK_NAMES = ("OpCapability", "OpExtension", "OpExtInstImport", "OpMemoryModel",
               "OpEntryPoint", "OpExecutionMode", "debug (OpSource/OpName)",
               "annotation (OpDecorate)", "types, constants, variables and functions")
_FIX = "recompile it from GLSL with compile_glsl(), or check it with `spirv-val`"


def _where(word: int) -> str:
    return f"word {word} (byte {4 * word})"


def check_structure(code: bytes, what: str = "check_structure") -> None:
    """Raise :class:`~engine.errors.SpirvValidationError` unless ``code`` passes the checks listed
    above.

    ``what`` starts every message (e.g. ``"ComputePipeline('p#1')"``).
    """
    words = _words(code, what)
    _Walk(words, what).run()


def _words(code: bytes, what: str) -> tuple[int, ...]:
    if not isinstance(code, bytes | bytearray | memoryview):
        raise SpirvValidationError(
            f"{what}: SPIR-V must be bytes, got {type(code).__name__}; pass compile_glsl(...) "
            f"results or a file's read_bytes()")
    data = bytes(code)
    if len(data) < 20 or len(data) % 4:
        raise SpirvValidationError(
            f"{what}: the SPIR-V module is {len(data)} bytes; a module is a 20-byte header plus "
            f"whole 4-byte words (truncated or not SPIR-V); {_FIX}")
    magic = int.from_bytes(data[:4], "little")
    if magic != MAGIC:
        swapped = " (byte-swapped: Vulkan takes little-endian SPIR-V)" if int.from_bytes(
            data[:4], "big") == MAGIC else ""
        raise SpirvValidationError(
            f"{what}: wrong SPIR-V magic number 0x{magic:08x} at byte 0, expected "
            f"0x{MAGIC:08x}{swapped}; {_FIX}")
    words = struct.unpack(f"<{len(data) // 4}I", data)
    version, bound, schema = words[1], words[3], words[4]
    if version & 0xFF0000FF or (version >> 16) & 0xFF != 1 or (version >> 8) & 0xFF > 6:
        raise SpirvValidationError(
            f"{what}: SPIR-V version word 0x{version:08x} at byte 4 is not 1.0-1.6; {_FIX}")
    if not 0 < bound <= MAX_ID_BOUND:
        raise SpirvValidationError(
            f"{what}: id bound {bound} at byte 12 is outside 1..{MAX_ID_BOUND}; {_FIX}")
    if schema:
        raise SpirvValidationError(
            f"{what}: schema word 0x{schema:08x} at byte 16 must be 0; {_FIX}")
    return words


class _Walk:
    """One pass over the instruction stream (every loop bounded by the word count)."""

    def __init__(self, words: tuple[int, ...], what: str) -> None:
        self.words, self.what, self.bound = words, what, words[3]
        self.defined: set[int] = set()
        self.types: set[int] = set()
        self.functions: set[int] = set()
        self.variables: set[int] = set()
        self.entry_points: list[tuple[int, int, tuple[int, ...]]] = []
        self.mode_targets: list[tuple[int, int]] = []

    def fail(self, at: int, text: str) -> SpirvValidationError:
        return SpirvValidationError(f"{self.what}: SPIR-V instruction at {_where(at)} {text}; "
                                    f"{_FIX}")

    def result(self, rid: int, at: int, op: int) -> None:
        if not 0 < rid < self.bound:
            raise self.fail(at, f"(opcode {op}) has result id %{rid} outside the id bound "
                                f"1..{self.bound - 1}")
        if rid in self.defined:
            raise self.fail(at, f"(opcode {op}) defines id %{rid} a second time")
        self.defined.add(rid)

    def run(self) -> None:
        words, n = self.words, len(self.words)
        rank, in_function, memory_models, capabilities = 0, 0, 0, 0
        i = 5
        while i < n:
            count, op = words[i] >> 16, words[i] & 0xFFFF
            if count == 0 or i + count > n:
                raise self.fail(i, f"(opcode {op}) has a word count of {count}, which "
                                   f"{'is 0' if count == 0 else f'runs past the end ({n} words)'}")
            if op not in ops.KNOWN:
                raise self.fail(i, f"has opcode {op}, which the SPIR-V grammar does not define")
            here = _RANK.get(op, 8)
            if here < rank or (here < 8 and in_function):
                raise self.fail(i, f"(opcode {op}, a {_RANK_NAMES[here]} instruction) comes after "
                                   f"{_RANK_NAMES[rank]} instructions, against the module layout")
            rank = max(rank, here)
            if op in ops.TYPED:
                need = ops.MIN_WORDS.get(op, 3)
                if count < need:
                    raise self.fail(i, f"(opcode {op}) has {count} words; the grammar needs at "
                                       f"least {need} (result type, result id and operands)")
                if words[i + 1] not in self.types:
                    raise self.fail(i, f"(opcode {op}) has result type %{words[i + 1]}, which is "
                                       f"not a type declared before it")
                self.result(words[i + 2], i, op)
            elif op in ops.RESULT_ONLY:
                if count < 2:
                    raise self.fail(i, f"(opcode {op}) has {count} words; it needs a result id")
                self.result(words[i + 1], i, op)
                if op in ops.TYPES:
                    self.types.add(words[i + 1])
            if op == _OP_CAPABILITY:
                capabilities += 1
            elif op == _OP_MEMORY_MODEL:
                memory_models += 1
            elif op == _OP_ENTRY_POINT:
                self.entry_point(i, count)
            elif op in (_OP_EXECUTION_MODE, _OP_EXECUTION_MODE_ID):
                if count < 3:
                    raise self.fail(i, "(OpExecutionMode) needs a target and a mode")
                self.mode_targets.append((words[i + 1], i))
            elif op == _OP_FUNCTION:
                if in_function:
                    raise self.fail(i, f"(OpFunction) starts inside function %{in_function}")
                in_function = words[i + 2] if count >= 3 else 0
                self.functions.add(in_function)
            elif op == _OP_FUNCTION_END:
                if not in_function:
                    raise self.fail(i, "(OpFunctionEnd) is outside a function")
                in_function = 0
            elif op == _OP_LABEL and not in_function:
                raise self.fail(i, "(OpLabel) is outside a function")
            elif op == _OP_VARIABLE and not in_function and count >= 3:
                self.variables.add(words[i + 2])
            i += count
        if in_function:
            raise self.fail(n, f"ends inside function %{in_function} (no OpFunctionEnd: truncated)")
        if memory_models != 1 or not capabilities:
            raise SpirvValidationError(
                f"{self.what}: the SPIR-V module has {memory_models} OpMemoryModel and "
                f"{capabilities} OpCapability instructions; it needs exactly one and at least "
                f"one; {_FIX}")
        self.check_entry_points()

    def entry_point(self, at: int, count: int) -> None:
        words = self.words
        raw = struct.pack(f"<{count - 3}I", *words[at + 3 : at + count])
        nul = raw.find(b"\0")
        if nul < 0:
            raise self.fail(at, "(OpEntryPoint) has a name without a terminating nul byte")
        try:
            raw[:nul].decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(at, "(OpEntryPoint) has a name that is not UTF-8") from None
        interface = words[at + 3 + nul // 4 + 1 : at + count]
        self.entry_points.append((words[at + 2], at, tuple(interface)))

    def check_entry_points(self) -> None:
        if not self.entry_points:
            raise SpirvValidationError(
                f"{self.what}: the SPIR-V module has no OpEntryPoint; a shader needs one; {_FIX}")
        for function, at, interface in self.entry_points:
            if function not in self.functions:
                raise self.fail(at, f"(OpEntryPoint) names function %{function}, which the "
                                    f"module does not define")
            for var in interface:
                if var not in self.variables:
                    raise self.fail(at, f"(OpEntryPoint) lists interface id %{var}, which is not "
                                        f"a module-scope OpVariable")
        targets = {f for f, _, _ in self.entry_points}
        for target, at in self.mode_targets:
            if target not in targets:
                raise self.fail(at, f"(OpExecutionMode) targets %{target}, which is not an "
                                    f"entry point's function")
