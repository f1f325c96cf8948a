"""engine.shaders.std_layout: Python-declared std140/std430 dtypes against glslang's reflected
layouts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import LayoutMismatchError
from engine.shaders.compiler import compile_glsl, compile_glsl_source
from engine.shaders.reflect import Block, ShaderReflection, reflect_spirv
from engine.shaders.std_layout import (
    Field,
    block_dtype,
    check_dtype,
    check_element_dtype,
    runtime_element_dtype,
    std140,
    std430,
)

SHADERS = Path(__file__).parent / "shaders"

LIGHT: list[Field] = [("position", "vec3"), ("radius", "float"), ("color", "vec4")]
GLOBAL_UBO: list[Field] = [
    ("viewProj", "mat4"), ("view", "mat4"), ("cameraPos", "vec3"), ("time", "float"),
    ("lights", LIGHT, 4), ("lightCount", "int"),
]
EMITTER: list[Field] = [("position", "vec3"), ("rate", "float"), ("velocity", "vec3"),
                        ("seed", "uint"), ("lifeRange", "vec2")]
POINT_LIGHT: list[Field] = [("position", "vec3"), ("radius", "float"), ("color", "vec3"),
                            ("intensity", "float")]
PARTICLE: list[Field] = [("position", "vec3"), ("life", "float"), ("velocity", "vec3"),
                         ("size", "float"), ("color", "vec4")]
SIM_PARAMS: list[Field] = [
    ("dt", "float"), ("count", "uint"), ("gravity", "vec3"), ("drag", "float"),
    ("bounds", "vec4[2]"), ("weights", "float", 4), ("rotation", "mat3"), ("emitters", EMITTER, 2),
]
PARTICLE_BUFFER: list[Field] = [
    ("origin", "vec3"), ("pad0", "float"), ("extent", "vec3"), ("emitters", EMITTER, 4),
    ("tints", "vec3[3]"), ("weights", "float[4]"), ("particles", PARTICLE, 0),
]
COUNTERS: list[Field] = [("alive", "uint"), ("dead", "uint"), ("cursor", "ivec2"),
                         ("accum", "dvec2"), ("grid", "float", (2, 3)), ("basis", "mat2x3"),
                         ("basisT", "mat3x2")]
INNER: list[Field] = [("uv", "vec2"), ("w", "float")]
OUTER: list[Field] = [("a", "float"), ("inner", INNER), ("inners", INNER, 2), ("flag", "bool")]
STD140_BLOCK: list[Field] = [
    ("rm", "row_major mat3"), ("f", "float[3]"), ("v2", "vec2"), ("v2s", "vec2[2]"),
    ("v3s", "vec3[2]"), ("outer", OUTER), ("b", "bool"), ("bb", "bvec2"), ("grid", "float[2][3]"),
    ("m2", "mat2"), ("rm23", "row_major mat2x3"),
]
STD430_BLOCK: list[Field] = [
    ("outers", OUTER, 5), ("f", "float[3]"), ("v2s", "vec2[2]"), ("v3s", "vec3[2]"),
    ("m3", "mat3"), ("rm3", "row_major mat3"), ("counts", "uvec3"), ("tail", "float"),
]


@pytest.fixture(scope="module")
def shaders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ShaderReflection]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENGINE_SHADER_CACHE", str(tmp_path_factory.mktemp("spirv-cache")))
        yield {name: reflect_spirv(compile_glsl(SHADERS / name))
               for name in ("scene.vert", "particles.comp", "layouts.comp", "lighting.frag")}


def leaves(dt: np.dtype[Any], prefix: str = "", base: int = 0) -> list[tuple[Any, ...]]:
    """Every field as (path, absolute offset, shape, scalar type or struct element size).

    Nested non-array structs are left out of the comparison's sizes: std140()/std430() round
    their itemsize up to the struct alignment, block_dtype() keeps spirv-cross's declared size.
    """
    out: list[tuple[Any, ...]] = []
    for name in dt.names or ():
        fdt, off = dt.fields[name][0], dt.fields[name][1]  # type: ignore[index]
        shape: tuple[int, ...] = ()
        while fdt.subdtype is not None:
            fdt, inner = fdt.subdtype
            shape += inner
        if fdt.names is None:
            out.append((prefix + name, base + off, shape, fdt.str))
        else:
            out.append((prefix + name, base + off, shape, fdt.itemsize if shape else "struct"))
            out += leaves(fdt, f"{prefix}{name}.", base + off)
    return out


def block(shaders: dict[str, ShaderReflection], shader: str, name: str) -> Block:
    b = shaders[shader].binding(name).block
    assert b is not None
    return b


@pytest.mark.parametrize(
    ("shader", "name", "fields", "rule"),
    [
        ("scene.vert", "GlobalUbo", GLOBAL_UBO, "std140"),
        ("particles.comp", "SimParams", SIM_PARAMS, "std140"),
        ("particles.comp", "ParticleBuffer", PARTICLE_BUFFER, "std430"),
        ("particles.comp", "Counters", COUNTERS, "std430"),
        ("layouts.comp", "Std140Block", STD140_BLOCK, "std140"),
        ("layouts.comp", "Std430Block", STD430_BLOCK, "std430"),
        ("lighting.frag", "LightBuffer", [("count", "uint"), ("lights", POINT_LIGHT, 0)],
         "std430"),
    ],
)
def test_declared_layout_equals_reflection(shaders: dict[str, ShaderReflection], shader: str,
                                           name: str, fields: list[Field], rule: str) -> None:
    b = block(shaders, shader, name)
    declared = std140(fields) if rule == "std140" else std430(fields)
    check_dtype(declared, b, rule=rule)
    reflected = block_dtype(b)
    check_dtype(reflected, b, rule=rule)
    assert leaves(declared) == leaves(reflected)  # same offsets, shapes, kinds, strides
    assert reflected.itemsize == b.size
    assert declared.itemsize >= b.size
    assert [declared.fields[m.name][1] for m in b.members if m.array_dims[:1] != (0,)] == [
        m.offset for m in b.members if m.array_dims[:1] != (0,)]


def test_runtime_array_elements(shaders: dict[str, ShaderReflection]) -> None:
    particles = block(shaders, "particles.comp", "ParticleBuffer")
    check_element_dtype(std430(PARTICLE), particles)
    assert runtime_element_dtype(particles) == std430(PARTICLE) and std430(PARTICLE).itemsize == 48
    lights = block(shaders, "lighting.frag", "LightBuffer")
    check_element_dtype(std430(POINT_LIGHT), lights)
    assert std430([("count", "uint"), ("lights", "vec4[]")]).itemsize == 16
    with pytest.raises(LayoutMismatchError, match=r"fixed part is 16 bytes \(the runtime array "
                                                  r"'lights' starts at offset 16\) but the "
                                                  r"dtype's itemsize is 4 bytes"):
        check_dtype(std430([("count", "uint")]), lights)
    floats = block(shaders, "particles.comp", "InBuf")
    assert runtime_element_dtype(floats) == np.dtype("<f4")
    check_element_dtype(np.dtype("<f4"), floats)
    with pytest.raises(LayoutMismatchError, match=r"'data\[\]'.*stride of 4 bytes.*itemsize is 8"):
        check_element_dtype(np.dtype("<f8"), floats)
    with pytest.raises(LayoutMismatchError, match=r"'data\[\]'.*components of float32.*int32"):
        check_element_dtype(np.dtype("<i4"), floats)
    with pytest.raises(LayoutMismatchError, match="no runtime-sized array"):
        runtime_element_dtype(block(shaders, "scene.vert", "GlobalUbo"))
    with pytest.raises(LayoutMismatchError, match=r"'particles\[\].life' is at dtype offset 28 "
                                                  r"but at reflected offset 12"):
        check_element_dtype(np.dtype({"names": ["position", "life", "velocity", "size", "color"],
                                      "formats": [("<f4", (3,)), "<f4", ("<f4", (3,)), "<f4",
                                                  ("<f4", (4,))],
                                      "offsets": [0, 28, 16, 12, 32], "itemsize": 48}), particles)


def test_padded_arrays_and_matrices_shapes(shaders: dict[str, ShaderReflection]) -> None:
    data = np.zeros(1, block_dtype(block(shaders, "layouts.comp", "Std140Block")))
    assert data["f"].shape == (1, 3, 4)  # std140 float[3]: one 16-byte slot per element
    assert data["grid"].shape == (1, 2, 3, 4)
    assert data["rm"].shape == (1, 3, 4) and data["m2"].shape == (1, 2, 4)
    assert data["rm23"].shape == (1, 3, 4)  # row-major 2x3: 3 rows of 2, padded to 16 bytes
    assert data["outer"]["inners"]["uv"].shape == (1, 2, 2)
    s430 = np.zeros(1, block_dtype(block(shaders, "layouts.comp", "Std430Block")))
    assert s430["f"].shape == (1, 3) and s430["v3s"].shape == (1, 2, 4)
    assert s430["outers"].shape == (1, 5) and s430["outers"].dtype.itemsize == 64


def test_wrong_offset_names_member_both_offsets_rule_and_block(
    shaders: dict[str, ShaderReflection],
) -> None:
    ubo = block(shaders, "scene.vert", "GlobalUbo")
    wrong = np.dtype({
        "names": ["viewProj", "view", "cameraPos", "time", "lights", "lightCount"],
        "formats": [("<f4", (4, 4)), ("<f4", (4, 4)), ("<f4", (3,)), "<f4",
                    (std140(LIGHT), (4,)), "<i4"],
        "offsets": [0, 64, 132, 144, 144, 272],
    })
    with pytest.raises(LayoutMismatchError) as info:
        check_dtype(wrong, ubo, rule="std140")
    text = str(info.value)
    for part in ("'GlobalUbo'", "std140", "'cameraPos'", "dtype offset 132",
                 "reflected offset 128"):
        assert part in text
    # vec3 declared as vec4 (a common mistake) shifts every later member
    with pytest.raises(LayoutMismatchError, match=r"'cameraPos'.*16 bytes in the dtype but 12"):
        check_dtype(std140([*GLOBAL_UBO[:2], ("cameraPos", "vec4"), *GLOBAL_UBO[3:]]), ubo)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([f for f in GLOBAL_UBO if f[0] != "time"], r"member 'time' \(float, reflected offset "
                                                    r"140\) is missing from the dtype"),
        ([*GLOBAL_UBO[:3], ("time", "int"), *GLOBAL_UBO[4:]],
         r"'time' \(dtype offset 140, reflected offset 140\) has components of float32"),
        ([*GLOBAL_UBO[:4], ("lights", LIGHT, 3), GLOBAL_UBO[5]],
         r"'lights'.*Light\[4\] with array stride 32 bytes in the shader but 3 elements"),
        ([*GLOBAL_UBO[:4], ("lights", [("position", "vec4"), *LIGHT[1:]], 4), GLOBAL_UBO[5]],
         r"'lights.position'.*16 bytes in the dtype but 12 bytes"),
        ([*GLOBAL_UBO, ("extra", "float")], r"'extra' is a dtype field \(offset 276\) with no "
                                            r"reflected member"),
        ([*GLOBAL_UBO, ("_pad", "float")], ""),
    ],
    ids=["missing", "scalar-kind", "count", "nested-size", "extra", "padding-ok"],
)
def test_mismatches(
    shaders: dict[str, ShaderReflection], fields: list[Field], message: str
) -> None:
    ubo = block(shaders, "scene.vert", "GlobalUbo")
    if not message:
        check_dtype(std140(fields), ubo, rule="std140")
        return
    with pytest.raises(LayoutMismatchError, match=message):
        check_dtype(std140(fields), ubo, rule="std140")


def test_mat3_as_3x3_and_short_dtypes_are_rejected(shaders: dict[str, ShaderReflection]) -> None:
    params = block(shaders, "particles.comp", "SimParams")
    good = std140(SIM_PARAMS)
    fields = dict(good.fields or {})
    formats = [fields[n][0] for n in good.names or ()]
    formats[good.names.index("rotation")] = np.dtype(("<f4", (3, 3)))
    bad = np.dtype({"names": good.names, "formats": formats,
                    "offsets": [fields[n][1] for n in good.names or ()], "itemsize": good.itemsize})
    with pytest.raises(LayoutMismatchError, match=r"'rotation'.*36 bytes in the dtype but 48 bytes"
                                                  r".*matrix stride 16"):
        check_dtype(bad, params, rule="std140")
    with pytest.raises(LayoutMismatchError, match="has no fields"):
        check_dtype(np.dtype("<f4"), params)
    with pytest.raises(LayoutMismatchError, match=r"'emitters'.*is missing from the dtype"):
        check_dtype(_shrunk(good, 192), params)
    with pytest.raises(ValueError, match="rule must be one of"):
        check_dtype(good, params, rule="std999")


def _shrunk(dt: np.dtype[Any], itemsize: int) -> np.dtype[Any]:
    """``dt`` without its last field, with a smaller itemsize."""
    names = list(dt.names or ())[:-1]
    fields = dt.fields or {}
    return np.dtype({"names": names, "formats": [fields[n][0] for n in names],
                     "offsets": [fields[n][1] for n in names], "itemsize": itemsize})


def test_spec_rules_by_hand() -> None:
    fields: list[Field] = [("a", "float"), ("b", "vec3"), ("c", "float"), ("d", "float[2]"),
                           ("e", "mat3"), ("f", "vec2"), ("g", [("x", "float")]), ("h", "float")]
    s140 = std140(fields)
    assert [s140.fields[n][1] for n in "abcdefgh"] == [0, 16, 28, 32, 64, 112, 128, 144]
    assert s140.itemsize == 160
    s430 = std430(fields)
    assert [s430.fields[n][1] for n in "abcdefgh"] == [0, 16, 28, 32, 48, 96, 104, 108]
    assert s430.itemsize == 112
    assert std430([("v", "vec3")]).itemsize == 16 and std430([("x", "float")]).itemsize == 4
    assert std140([("x", "float")]).itemsize == 16
    assert std430([("d", "dvec3"), ("f", "float")]).fields["f"][1] == 24


@pytest.mark.parametrize(
    "fields",
    [[("a", "vec5")], [("a", "float", 0), ("b", "int")], [("a", [("x", "float", 0)])],
     [("a", "float[2]", 3)], [("a", "float"), ("a", "int")],
     [("a b", "float")], [("a", [])], [("a", 3)], ["a"], [], [("v", "row_major vec3")]],
)
def test_bad_declarations(fields: Any) -> None:
    with pytest.raises(ValueError):
        std430(fields)


# --- random layouts, compiled by glslang ------------------------------------------------------

LEAVES = ["float", "int", "uint", "bool", "vec2", "vec3", "vec4", "ivec2", "uvec3", "bvec4",
          "mat2", "mat3", "mat4", "mat2x3", "mat3x2", "mat4x3", "double", "dvec2", "dvec3",
          "dmat2", "dmat3x2"]
DIMS = st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 2)))


def _fields(depth: int) -> st.SearchStrategy[list[tuple[str, Any, Any]]]:
    leaf = st.tuples(st.just("leaf"), st.sampled_from(LEAVES), DIMS)
    kinds = leaf if depth == 0 else st.one_of(leaf, leaf, st.tuples(st.just("struct"),
                                                                   _fields(depth - 1), DIMS))
    return st.lists(kinds, min_size=1, max_size=4)


class _Glsl:
    """Render random field trees as GLSL and as std_layout declarations."""

    def __init__(self) -> None:
        self.structs: list[str] = []

    def fields(self, tree: list[tuple[str, Any, Any]], top: bool) -> tuple[str, list[Field]]:
        glsl, py = [], []
        for i, (kind, what, dims) in enumerate(tree):
            name = f"m{i}"
            suffix = "".join(f"[{d}]" for d in ((dims,) if isinstance(dims, int) else dims or ()))
            count = dims if dims is None or isinstance(dims, int) else tuple(dims)
            if kind == "struct":
                body, inner = self.fields(what, top=False)
                type_name = f"S{len(self.structs)}"
                self.structs.append(f"struct {type_name} {{ {body} }};")
                glsl.append(f"{type_name} {name}{suffix};")
                py.append((name, inner) if count is None else (name, inner, count))
            else:
                row_major = top and what.startswith(("mat", "dmat")) and i % 2 == 1
                glsl.append(f"{'layout(row_major) ' if row_major else ''}{what} {name}{suffix};")
                decl = f"row_major {what}" if row_major else what
                py.append((name, decl) if count is None else (name, decl, count))
        return " ".join(glsl), py


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(blocks=st.lists(st.tuples(st.sampled_from(["std140", "std430"]), _fields(2)),
                       min_size=1, max_size=6))
def test_random_layouts_match_glslang(blocks: list[tuple[str, Any]], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_SHADER_CACHE", str(tmp_path / "cache"))
    gen = _Glsl()
    decls, expected = [], []
    for index, (rule, tree) in enumerate(blocks):
        body, fields = gen.fields(tree, top=True)
        storage = "uniform" if rule == "std140" else "buffer"
        decls.append(f"layout({rule}, binding = {index}) {storage} B{index} {{ {body} }} b{index};")
        expected.append((rule, fields))
    source = "\n".join(["#version 450", "layout(local_size_x = 1) in;", *gen.structs, *decls,
                        "void main() {}"])
    reflection = reflect_spirv(compile_glsl_source(source, "comp", name="random.comp"))
    for (rule, fields), binding in zip(expected, reflection.bindings, strict=True):
        assert binding.block is not None
        declared = std140(fields) if rule == "std140" else std430(fields)
        try:
            check_dtype(declared, binding.block, rule=rule)
        except LayoutMismatchError as exc:
            raise AssertionError(f"{exc}\n{source}") from None
        assert leaves(declared) == leaves(block_dtype(binding.block))
        assert re.fullmatch(r"B\d+", binding.type_name)
