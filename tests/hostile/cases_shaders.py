"""Hostile cases for shaders: bytes from disk (class 3) and raw exceptions / messages (class 12).

Every case that touches the SPIR-V cache points ``ENGINE_SHADER_CACHE`` at its own temporary
folder first (the ``_SETUP`` prelude), so no case sees another's damage. Damaged cache entries
must be detected by their content hash, replaced, reported by a logging warning naming the file
and counted by ``cache_repairs()``; the recompiled module must then run (a doubling compute
dispatch, read back) with a clean validation layer. SPIR-V passed straight to the binder or a
pipeline must never crash the driver: it is refused with an ``EngineError``.
"""

from __future__ import annotations

import random

from hostile_harness import Case

_SETUP = '''
import logging, tempfile
from pathlib import Path
from engine.shaders import compiler as C
from engine.shaders import std_layout as L
from engine.shaders.module import create_shader_module
from engine.shaders.validate import validate_spirv
CACHE = Path(tempfile.mkdtemp(prefix="hostile-spv-"))
os.environ["ENGINE_SHADER_CACHE"] = str(CACHE)
SRC = """#version 450
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) buffer Values { float data[]; } values;
void main() { values.data[gl_GlobalInvocationID.x] *= 2.0; }
"""
class _Grab(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []
    def emit(self, record):
        self.messages.append(record.getMessage())
grab = _Grab()
logging.getLogger("engine.shaders.compiler").addHandler(grab)

def entry():
    files = sorted(CACHE.glob("*.spv"))
    check(len(files) == 1, f"one cache entry expected, found {files}")
    return files[0]

def run(code):
    """Register, build, dispatch: 64 floats doubled on the GPU, read back."""
    m = BufferManager(ctx, frames_in_flight=1)
    b = ResourceBinder(ctx, frames_in_flight=1)
    pid = b.register_pipeline("double", [code])
    pipe = ComputePipeline(b, pid)
    commands = FrameCommands(m)
    values = m.create_and_upload("values", np.arange(64, dtype=np.float32),
                                 usage=BufferUsage.STORAGE)
    b.bind_storage_buffer_named(pid, "Values", values)
    m.begin_frame()
    b.update_frame(pid, m.frame_index)
    m.submit_uploads()
    cmd = commands.begin()
    pipe.record(cmd, m.frame_index, pipe.groups_for(64))
    commands.submit(cmd, what="double")
    m.end_frame()
    got = m.read_array(values, np.float32, count=64)
    check(np.array_equal(got, np.arange(64, dtype=np.float32) * 2), f"doubled values: {got}")

def damage_then_recover(mutate):
    """Compile, damage the entry with ``mutate(path)``, compile again: warned, fixed, runs."""
    first = C.compile_glsl_source(SRC, "comp")
    path = entry()
    mutate(path)
    repairs, compiles = C.cache_repairs(), C.compile_count()
    again = C.compile_glsl_source(SRC, "comp")
    check(again == first, "the recompiled module equals the first compile")
    check(C.cache_repairs() == repairs + 1, "cache_repairs() counted the damaged entry")
    check(C.compile_count() == compiles + 1, "the damaged entry was recompiled")
    check(any(str(path) in text for text in grab.messages), f"names {path}: {grab.messages}")
    check(entry().read_bytes() == first, "the cache holds the fresh module again")
    C.compile_glsl_source(SRC, "comp")
    check(C.compile_count() == compiles + 1, "the repaired entry is a cache hit")
    run(again)

def flip(bit):
    def mutate(path):
        data = bytearray(path.read_bytes())
        bit_at = bit % (len(data) * 8)
        data[bit_at // 8] ^= 1 << (bit_at % 8)
        path.write_bytes(bytes(data))
    return mutate

def refused(code, error=ReflectionError):
    """``code`` straight to register_pipeline + ComputePipeline: refused, never a crash."""
    b = ResourceBinder(ctx, frames_in_flight=1)
    try:
        pid = b.register_pipeline("hostile", [code])
    except ReflectionError as exc:
        check(str(exc).strip() != "", "a message")
        return
    with raises(error):
        ComputePipeline(b, pid)
'''


def _case(cls: int, name: str, body: str, *, wrong_data: bool = False) -> Case:
    return Case(cls, name, _SETUP + body, wrong_data=wrong_data)


def _mutants(seed: int, count: int) -> str:
    """Code for ``count`` seeded mutations (bit flips, word swaps, splices) of a real module."""
    return f'''
rng = __import__("random").Random({seed})
good = C.compile_glsl_source(SRC, "comp")
for _ in range({count}):
    data = bytearray(good)
    kind = rng.randrange(4)
    if kind == 0:
        for _ in range(rng.randrange(1, 4)):
            bit = rng.randrange(160, len(data) * 8)
            data[bit // 8] ^= 1 << (bit % 8)
    elif kind == 1:
        at = rng.randrange(5, len(data) // 4) * 4
        data[at:at + 4] = rng.getrandbits(32).to_bytes(4, "little")
    elif kind == 2:
        at = rng.randrange(5, len(data) // 4) * 4
        data[at:at + 2] = rng.getrandbits(16).to_bytes(2, "little")
    else:
        at = rng.randrange(5, len(data) // 4) * 4
        del data[at:at + 4 * rng.randrange(1, 4)]
    try:
        validate_spirv(bytes(data), what="mutant")
    except ReflectionError:
        continue
    b = ResourceBinder(ctx, frames_in_flight=1)
    try:
        ComputePipeline(b, b.register_pipeline("mutant", [bytes(data)]))
    except EngineError:
        pass
'''


_rng = random.Random(20240611)
_FLIP_BITS = [*sorted(_rng.randrange(0, 1500 * 8) for _ in range(12)), 0, 33, 130, 160]

CASES: list[Case] = [
    # --- class 3: damaged cache entries --------------------------------------------------------
    *[_case(3, f"cache-bit-flip-{bit}", f"damage_then_recover(flip({bit}))", wrong_data=True)
      for bit in _FLIP_BITS],
    _case(3, "cache-bit-flip-last-word", "damage_then_recover(lambda p: flip(len(p.read_bytes()) "
             "* 8 - 3)(p))", wrong_data=True),
    _case(3, "cache-truncated-half", "damage_then_recover(lambda p: p.write_bytes("
             "p.read_bytes()[: len(p.read_bytes()) // 2]))", wrong_data=True),
    _case(3, "cache-truncated-to-header", "damage_then_recover(lambda p: p.write_bytes("
             "p.read_bytes()[:20]))", wrong_data=True),
    _case(3, "cache-zero-length", "damage_then_recover(lambda p: p.write_bytes(b''))",
          wrong_data=True),
    _case(3, "cache-garbage", "damage_then_recover(lambda p: p.write_bytes(os.urandom(4096)))",
          wrong_data=True),
    _case(3, "cache-wrong-magic", "damage_then_recover(lambda p: p.write_bytes(b'\\x07\\x23"
             "\\x02\\x03' + p.read_bytes()[4:]))", wrong_data=True),
    _case(3, "cache-trailing-words", "damage_then_recover(lambda p: p.write_bytes("
             "p.read_bytes() + bytes(8)))", wrong_data=True),
    _case(3, "cache-length-not-multiple-of-4", "damage_then_recover(lambda p: p.write_bytes("
             "p.read_bytes() + b'\\x01'))", wrong_data=True),
    _case(3, "cache-glsl-text-instead", "damage_then_recover(lambda p: p.write_text(SRC))",
          wrong_data=True),
    _case(3, "cache-unreadable-file", """
        if os.geteuid() == 0:
            damage_then_recover(lambda p: p.write_bytes(b"x"))  # root reads anything
        else:
            damage_then_recover(lambda p: p.chmod(0))
    """, wrong_data=True),
    _case(3, "cache-entry-is-a-directory", """
        first = C.compile_glsl_source(SRC, "comp")
        path = entry()
        path.unlink()
        path.mkdir()
        (path / "inside").write_text("user data")  # not empty: must not be deleted
        repairs = C.cache_repairs()
        again = C.compile_glsl_source(SRC, "comp")
        check(again == first, "compiles despite the directory")
        check(C.cache_repairs() == repairs + 1, "counted")
        check(any(str(path) in t and "by hand" in t for t in grab.messages), str(grab.messages))
        check((path / "inside").read_text() == "user data", "a user's directory is kept")
        run(again)
    """, wrong_data=True),
    _case(3, "cache-entry-is-an-empty-directory", """
        first = C.compile_glsl_source(SRC, "comp")
        path = entry()
        path.unlink()
        path.mkdir()
        check(C.compile_glsl_source(SRC, "comp") == first, "compiles")
        check(path.is_file() and path.read_bytes() == first, "the empty directory was replaced")
    """, wrong_data=True),
    _case(3, "cache-dir-is-a-file", """
        blocker = CACHE / "file"
        blocker.write_text("")
        os.environ["ENGINE_SHADER_CACHE"] = str(blocker / "sub")
        code = C.compile_glsl_source(SRC, "comp")
        run(code)
    """, wrong_data=True),
    _case(3, "cache-dir-unwritable", """
        CACHE.chmod(0o500)
        try:
            n = C.compile_count()
            code = C.compile_glsl_source(SRC, "comp")
            check(C.compile_count() == n + 1, "compiled")
            check(not list(CACHE.glob("*.tmp")), "no temporary file left")
            run(code)
        finally:
            CACHE.chmod(0o700)
    """, wrong_data=True),
    _case(3, "cache-stray-tmp-and-foreign-files", """
        first = C.compile_glsl_source(SRC, "comp")
        path = entry()
        (CACHE / (path.stem + "deadbeef.tmp")).write_bytes(b"half")
        (CACHE / "README").write_text("not ours")
        n = C.compile_count()
        check(C.compile_glsl_source(SRC, "comp") == first and C.compile_count() == n, "a hit")
    """),
    _case(3, "cache-two-entries-one-damaged", """
        first = C.compile_glsl_source(SRC, "comp")
        path = entry()
        key = path.name.split("-")[0]
        bogus = CACHE / f"{key}-{'0' * 64}.spv"
        bogus.write_bytes(first)
        n = C.compile_count()
        check(C.compile_glsl_source(SRC, "comp") == first and C.compile_count() == n, "a hit")
    """),
    _case(3, "spv-file-bit-flips-to-binder", """
        good = C.compile_glsl_source(SRC, "comp")
        rng = __import__("random").Random(3)
        for _ in range(40):
            data = bytearray(good)
            bit = rng.randrange(160, len(data) * 8)
            data[bit // 8] ^= 1 << (bit % 8)
            try:
                validate_spirv(bytes(data), what="flip")
            except ReflectionError:
                continue
            b = ResourceBinder(ctx, frames_in_flight=1)
            try:
                ComputePipeline(b, b.register_pipeline("flip", [bytes(data)]))
            except EngineError:
                pass
    """),
    _case(3, "spv-mutants-seed-1", _mutants(1, 40)),
    _case(3, "spv-mutants-seed-2", _mutants(2, 40)),
    _case(3, "spv-random-bytes", """
        rng = __import__("random").Random(5)
        for n in (0, 3, 4, 19, 20, 21, 64, 1000):
            refused(bytes(rng.getrandbits(8) for _ in range(n)))
        refused(b"\\x03\\x02\\x23\\x07" + bytes(rng.getrandbits(8) for _ in range(400)))
    """),
    _case(3, "spv-header-only", "refused(b'\\x03\\x02\\x23\\x07' + bytes([0, 0, 1, 0]) "
             "+ bytes(4) + bytes([10, 0, 0, 0]) + bytes(4))"),
    _case(3, "spv-byte-swapped", """
        good = C.compile_glsl_source(SRC, "comp")
        import struct
        swapped = struct.pack(f">{len(good) // 4}I", *struct.unpack(f"<{len(good) // 4}I", good))
        with raises(SpirvValidationError, match="byte-swapped"):
            validate_spirv(swapped)
        refused(swapped, SpirvValidationError)
    """),
    _case(3, "spv-trailing-bytes-and-odd-length", """
        good = C.compile_glsl_source(SRC, "comp")
        refused(good + b"\\x01")
        refused(good + bytes(4))
        refused(good[:-4])
    """),
    _case(3, "spv-bound-too-small", """
        good = bytearray(C.compile_glsl_source(SRC, "comp"))
        good[12:16] = (10).to_bytes(4, "little")
        refused(bytes(good))
    """),
    _case(3, "spv-no-memory-model", """
        import struct
        good = C.compile_glsl_source(SRC, "comp")
        words = list(struct.unpack(f"<{len(good) // 4}I", good))
        i = 5
        while words[i] & 0xFFFF != 14:
            i += words[i] >> 16
        del words[i:i + (words[i] >> 16)]
        with raises(SpirvValidationError, match="OpMemoryModel"):
            validate_spirv(struct.pack(f"<{len(words)}I", *words))
    """),
    _case(3, "spv-opcode-flipped-into-longer-one", """
        import struct
        good = C.compile_glsl_source(SRC, "comp")
        words = list(struct.unpack(f"<{len(good) // 4}I", good))
        i = 5
        while words[i] & 0xFFFF != 61:  # the first OpLoad (4 words)
            i += words[i] >> 16
        words[i] = (words[i] & 0xFFFF0000) | 189  # OpFUnordLessThanEqual needs 5
        with raises(SpirvValidationError, match="at least 5"):
            validate_spirv(struct.pack(f"<{len(words)}I", *words))
    """),
    _case(3, "spv-validated-once-per-content", """
        from engine.shaders import validate as V
        good = bytearray(C.compile_glsl_source(SRC, "comp"))
        good[8:12] = (0x12345678).to_bytes(4, "little")  # another generator word: not trusted
        code = bytes(good)
        runs = V.validator_runs()
        for _ in range(3):
            validate_spirv(code)
        expected = 1 if V.spirv_val_path() else 0
        check(V.validator_runs() == runs + expected, "spirv-val ran at most once")
        run(code)
    """, wrong_data=True),
    _case(3, "render-pipeline-refuses-bad-spirv", """
        from engine.render.graphics_pipeline import GraphicsPipelineDesc, create_graphics_pipeline
        frag = C.compile_glsl_source("#version 450\\nlayout(location=0) out vec4 c;\\n"
                                     "void main() { c = vec4(1); }\\n", "frag")
        with raises(ReflectionError):
            create_graphics_pipeline(ctx, GraphicsPipelineDesc("bad"),
                                     {"vert": b"\\x03\\x02\\x23\\x07" + bytes(60), "frag": frag},
                                     None, None)
    """),
    # --- class 12: raw exceptions and messages ------------------------------------------------
    _case(12, "compile-lone-surrogate", """
        with raises(ShaderCompileError, match="surrogate"):
            C.compile_glsl_source(SRC + "// \\udc80\\n", "comp")
        check(not list(CACHE.glob("*")), "nothing cached")
    """),
    _case(12, "compile-nul-in-source", """
        with raises(ShaderCompileError, match="NUL"):
            C.compile_glsl_source(SRC + "\\0", "comp")
    """),
    _case(12, "compile-non-str-sources", """
        for source in (SRC.encode(), bytearray(b"x"), None, 3, 2.5, True, ["x"]):
            with raises(ShaderCompileError, match="must be a str"):
                C.compile_glsl_source(source, "comp")
        check(C.compile_glsl_source(np.str_(SRC), "comp")[:4] == b"\\x03\\x02\\x23\\x07", "np.str_")
    """),
    _case(12, "compile-bad-stages", """
        for stage in (None, b"comp", "", "comp\\0", "pixel", 5, True, np.int64(1), ["comp"]):
            with raises(ShaderCompileError, match="unknown shader stage"):
                C.compile_glsl_source(SRC, stage)
    """),
    _case(12, "compile-bad-target-env", """
        for env in ("bogus", "--help", "vulkan1.2\\0", 5, b"vulkan1.0", "opengl"):
            with raises(ShaderCompileError, match="target_env"):
                C.compile_glsl_source(SRC, "comp", target_env=env)
        check(C.compile_glsl_source(SRC, "comp", target_env="vulkan1.2")[:4]
              == b"\\x03\\x02\\x23\\x07", "vulkan1.2 works")
    """),
    _case(12, "compile-bad-names", """
        for name in (3, None, b"x", "a\\0b", "\\udc80"):
            with raises(ShaderCompileError, match="name"):
                C.compile_glsl_source(SRC, "comp", name=name)
    """),
    _case(12, "compile-glsl-bad-paths", """
        for path in (None, 3, b"/tmp/x.comp", "/tmp/x\\0.comp", 2.0):
            with raises(ShaderCompileError, match="path"):
                C.compile_glsl(path)
        folder = CACHE / "dir.comp"
        folder.mkdir()
        with raises(ShaderCompileError, match="not a file"):
            C.compile_glsl(folder)
        with raises(ShaderCompileError, match="no such file"):
            C.compile_glsl(CACHE / "missing.comp")
        bad = CACHE / "latin1.comp"
        bad.write_bytes(SRC.encode() + b"// \\xe9\\n")
        with raises(ShaderCompileError, match="cannot read"):
            C.compile_glsl(bad)
    """),
    _case(12, "shader-path-odd-names", """
        for name in (None, b"minimal.vert", 3, "a\\0b"):
            with raises(ShaderCompileError, match="shader_path"):
                C.shader_path(name)
    """),
    _case(12, "compile-error-leaves-no-cache-file", """
        with raises(ShaderCompileError, match="<string>:"):
            C.compile_glsl_source("#version 450\\nvoid main() { nope = 1; }\\n", "comp")
        check(not list(CACHE.glob("*")), f"nothing written: {list(CACHE.glob('*'))}")
    """),
    _case(12, "std-layout-duplicate-fields", """
        for fields in ([("a", "float"), ("a", "float")],
                       [("a", "vec4"), ("b", "float"), ("a", "int", 2)],
                       [("s", [("x", "float"), ("x", "int")])],
                       [("a", "float"), ("a", "float", 0)]):
            for decl in (L.std140, L.std430):
                with raises(LayoutDeclarationError, match="appears twice"):
                    decl(fields)
    """),
    _case(12, "std-layout-odd-arguments", """
        for fields in (None, {}, {"a": "float"}, "float a;", [], 3, [["a", "float"]],
                       [(b"a", "float")], [("a", None)], [("a", b"float")], [("1a", "float")]):
            with raises(LayoutDeclarationError):
                L.std430(fields)
        for count in (True, 2.0, -1, 0.5, "3", None, 10**30, np.bool_(True)):
            with raises(LayoutDeclarationError):
                L.std140([("a", "vec4", count), ("b", "float")])
        with raises(LayoutDeclarationError, match="32-bit"):
            L.std430([("a", "float[" + "9" * 5000 + "]")])
        check(L.std140([("a", "float", np.int64(3))]).itemsize == 48, "numpy count accepted")
    """),
    _case(12, "std-layout-check-odd-arguments", """
        from engine.shaders.reflect import reflect_spirv
        block = reflect_spirv(C.compile_glsl_source(SRC, "comp")).binding("Values").block
        for bad in (None, "Values", 3):
            with raises(LayoutDeclarationError, match="reflected Block"):
                L.block_dtype(bad)
            with raises(LayoutDeclarationError, match="reflected Block"):
                L.check_dtype(np.dtype("f4"), bad)
            with raises(LayoutDeclarationError, match="reflected Block"):
                L.runtime_element_dtype(bad)
        for dtype in ("garbage", object(), 3.5):
            with raises(LayoutDeclarationError, match="not a numpy dtype"):
                L.check_element_dtype(dtype, block)
        with raises(LayoutDeclarationError, match="rule"):
            L.check_element_dtype(np.dtype("f4"), block, rule=["std430"])
        L.check_element_dtype(np.dtype("f4"), block)
    """),
    _case(12, "validate-and-module-odd-arguments", """
        for code in (None, "spirv", 3, [1, 2], np.zeros(8, np.uint32)):
            with raises(SpirvValidationError, match="must be bytes"):
                validate_spirv(code)
            with raises(SpirvValidationError, match="must be bytes"):
                create_shader_module(ctx, code, what="odd")
        b = ResourceBinder(ctx, frames_in_flight=1)
        for code in (None, "spirv", 3):
            with raises(ReflectionError):
                b.register_pipeline("odd", [code])
    """),
    _case(12, "messages-name-call-and-fix", """
        try:
            validate_spirv(b"\\x03\\x02\\x23\\x07" + bytes(16), what="ComputePipeline('x')")
        except SpirvValidationError as exc:
            text = str(exc)
            check(text.startswith("ComputePipeline('x')") and "compile_glsl" in text, text)
        else:
            check(False, "accepted a header-only module")
    """),
]
