"""engine.shaders.compiler: glslangValidator calls, the on-disk SPIR-V cache and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine.shaders.compiler as shader_compiler
from engine.errors import EngineError, ShaderCompileError
from engine.shaders.compiler import (
    GLSL_DIR,
    compile_count,
    compile_glsl,
    compile_glsl_source,
    shader_path,
)
from engine.shaders.reflect import reflect_spirv

COMPUTE = """#version 450
layout(local_size_x = 32) in;
layout(std430, set = 0, binding = 0) buffer Values { float data[]; } values;
void main() { values.data[gl_GlobalInvocationID.x] *= SCALE; }
"""
BROKEN = """#version 450
void main() {
    undefinedThing = 1.0;
}
"""


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, private SPIR-V cache folder for every test."""
    folder = tmp_path / "spirv-cache"
    monkeypatch.setenv("ENGINE_SHADER_CACHE", str(folder))
    return folder


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_compile_returns_spirv_with_names_and_caches(tmp_path: Path, cache: Path) -> None:
    path = write(tmp_path, "scale.comp", COMPUTE.replace("SCALE", "2.0"))
    before = compile_count()
    code = compile_glsl(path)
    assert compile_count() == before + 1
    assert code[:4] == b"\x03\x02\x23\x07" and len(code) % 4 == 0
    r = reflect_spirv(code)
    assert (r.local_size, r.bindings[0].type_name, r.bindings[0].variable_name) == (
        (32, 1, 1), "Values", "values")  # names kept: no -g0
    assert [p.suffix for p in cache.iterdir()] == [".spv"]

    assert compile_glsl(path) == code
    assert compile_glsl(str(path), "comp") == code
    assert compile_glsl_source(COMPUTE.replace("SCALE", "2.0"), "comp") == code
    assert compile_count() == before + 1  # three cache hits, no compiler run


def test_changed_source_stage_or_target_recompiles(tmp_path: Path) -> None:
    path = write(tmp_path, "scale.comp", COMPUTE.replace("SCALE", "2.0"))
    first = compile_glsl(path)
    before = compile_count()
    path.write_text(COMPUTE.replace("SCALE", "3.0"))
    assert compile_glsl(path) != first
    assert compile_count() == before + 1
    assert compile_glsl(path, target_env="vulkan1.2") != first
    assert compile_count() == before + 2
    compile_glsl(path, target_env="vulkan1.2")
    assert compile_count() == before + 2


def test_stage_is_part_of_the_key() -> None:
    source = "#version 450\nvoid main() {}\n"
    before = compile_count()
    vert = reflect_spirv(compile_glsl_source(source, "vert"))
    frag = reflect_spirv(compile_glsl_source(source, "frag"))
    assert (vert.stage, frag.stage) == (0x1, 0x10)
    assert compile_count() == before + 2


def test_compiler_version_is_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "scale.comp", COMPUTE.replace("SCALE", "2.0"))
    compile_glsl(path)
    before = compile_count()
    monkeypatch.setattr(shader_compiler, "_compiler_version", lambda exe: "Glslang Version: 99")
    compile_glsl(path)
    assert compile_count() == before + 1


def test_corrupt_cache_entry_is_recompiled(tmp_path: Path, cache: Path) -> None:
    path = write(tmp_path, "scale.comp", COMPUTE.replace("SCALE", "2.0"))
    good = compile_glsl(path)
    (entry,) = cache.iterdir()
    entry.write_bytes(b"garbage!")
    before = compile_count()
    assert compile_glsl(path) == good
    assert compile_count() == before + 1
    assert entry.read_bytes() == good


def test_compile_error_names_path_line_and_message(tmp_path: Path, cache: Path) -> None:
    path = write(tmp_path, "broken.frag", BROKEN)
    with pytest.raises(ShaderCompileError) as info:
        compile_glsl(path)
    text = str(info.value)
    assert f"{path}:3: 'undefinedThing' : undeclared identifier" in text
    assert "fragment shader" in text
    assert "compilation terminated" not in text
    assert isinstance(info.value, EngineError)
    before = compile_count()
    with pytest.raises(ShaderCompileError):
        compile_glsl(path)
    assert compile_count() == before + 1  # failures are not cached
    assert not cache.exists() or not list(cache.iterdir())


def test_source_compile_error_uses_the_given_name() -> None:
    with pytest.raises(ShaderCompileError, match=r"inline\.frag:3: 'undefinedThing'"):
        compile_glsl_source(BROKEN, "frag", name="inline.frag")
    with pytest.raises(ShaderCompileError, match=r"<string>:3:"):
        compile_glsl_source(BROKEN, "fragment")


def test_stage_from_extension_or_argument(tmp_path: Path) -> None:
    vert = "#version 450\nvoid main() { gl_Position = vec4(0.0); }\n"
    assert reflect_spirv(compile_glsl(write(tmp_path, "a.vert", vert))).stage == 0x1
    assert reflect_spirv(compile_glsl(write(tmp_path, "b.vert.glsl", vert))).stage == 0x1
    assert reflect_spirv(compile_glsl(write(tmp_path, "c.shader", vert), "vertex")).stage == 0x1
    with pytest.raises(ShaderCompileError, match="cannot tell the shader stage"):
        compile_glsl(write(tmp_path, "d.shader", vert))
    with pytest.raises(ShaderCompileError, match="unknown shader stage 'pixel'"):
        compile_glsl_source(vert, "pixel")
    with pytest.raises(ShaderCompileError, match="cannot read the shader"):
        compile_glsl(tmp_path / "missing.vert")


def test_include_files_are_part_of_the_key(tmp_path: Path) -> None:
    common = write(tmp_path, "common.glsl", "const float SCALE = 2.0;\n")
    main = write(tmp_path, "main.comp", COMPUTE.replace(
        "layout(local_size_x", '#extension GL_GOOGLE_include_directive : require\n'
        '#include "common.glsl"\nlayout(local_size_x'))
    first = compile_glsl(main)
    before = compile_count()
    assert compile_glsl(main) == first
    assert compile_count() == before
    common.write_text("const float SCALE = 4.0;\n")
    assert compile_glsl(main) != first
    assert compile_count() == before + 1


def test_missing_compiler_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ShaderCompileError, match="glslang-tools"):
        compile_glsl_source(COMPUTE, "comp")


def test_default_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENGINE_SHADER_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert shader_compiler.cache_dir() == tmp_path / ".cache" / "vkbuffers" / "spirv"
    compile_glsl_source(COMPUTE.replace("SCALE", "5.0"), "comp")
    assert len(list((tmp_path / ".cache" / "vkbuffers" / "spirv").glob("*.spv"))) == 1


def test_unwritable_cache_still_compiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = write(tmp_path, "not-a-dir", "")
    monkeypatch.setenv("ENGINE_SHADER_CACHE", str(blocker / "sub"))
    before = compile_count()
    assert compile_glsl_source(COMPUTE.replace("SCALE", "6.0"), "comp")[:4] == b"\x03\x02\x23\x07"
    compile_glsl_source(COMPUTE.replace("SCALE", "6.0"), "comp")
    assert compile_count() == before + 2


def test_shader_path() -> None:
    assert shader_path("README.md") == GLSL_DIR / "README.md"
    assert GLSL_DIR.name == "glsl" and GLSL_DIR.parent.name == "engine"
    with pytest.raises(ShaderCompileError, match="no such shader"):
        shader_path("does-not-exist.comp")
    with pytest.raises(ShaderCompileError, match="leaves the engine's GLSL folder"):
        shader_path("../errors.py")
