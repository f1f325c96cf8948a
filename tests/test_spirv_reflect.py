"""engine.shaders.reflect: agreement with spirv-cross, exact layouts, and robustness to bad input.

Every shader in tests/shaders/ and every *.vert/*.frag/*.comp in engine/glsl/ (globbed at test
time) is compiled and reflected, and the result is compared field by field with
``spirv-cross --reflect`` and with the names ``spirv-dis`` prints. A first-line comment
``// target-env: vulkan1.2`` selects the SPIR-V target of a shader.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import signal
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import EngineError, ReflectionError
from engine.shaders.compiler import GLSL_DIR, compile_glsl
from engine.shaders.reflect import (
    BlockMember,
    DescriptorKind,
    ShaderReflection,
    reflect_spirv,
)

SHADERS = Path(__file__).parent / "shaders"
MODE_BITS = {"vert": 0x1, "tesc": 0x2, "tese": 0x4, "geom": 0x8, "frag": 0x10, "comp": 0x20}
# spirv-cross 2021.01 spells two opaque types differently from GLSL: a separate texel buffer
# ("textureBuffer" in GLSL) and the acceleration structure (the NV name).
SPIRV_CROSS_NAMES = {"textureBuffer": "samplerBuffer",
                     "accelerationStructureEXT": "accelerationStructureNV"}

needs_spirv_cross = pytest.mark.skipif(
    shutil.which("spirv-cross") is None or shutil.which("spirv-dis") is None,
    reason="spirv-cross / spirv-dis (Debian packages spirv-cross, spirv-tools) not installed",
)


def target_env(path: Path) -> str | None:
    match = re.match(r"\s*//\s*target-env:\s*(\S+)", path.read_text().splitlines()[0])
    return match.group(1) if match else None


def shader_cases() -> list[tuple[Path, str | None]]:
    stages = (".vert", ".frag", ".comp", ".geom")
    files = sorted(p for p in SHADERS.rglob("*") if p.suffix in stages)
    files += sorted(p for ext in ("vert", "frag", "comp") for p in GLSL_DIR.glob(f"**/*.{ext}"))
    cases = [(p, target_env(p)) for p in files]
    # SPIR-V 1.0 uses Uniform+BufferBlock for SSBOs, 1.3+ StorageBuffer: cover both.
    cases += [(SHADERS / name, "vulkan1.3") for name in ("particles.comp", "lighting.frag")]
    return cases


CASES = shader_cases()
CASE_IDS = [f"{p.parent.name}/{p.name}@{env or 'vulkan1.0'}" for p, env in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS), "two shaders with the same folder and file name"


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, bytes]]:
    """Every case compiled once (into a private SPIR-V cache), keyed by case id."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENGINE_SHADER_CACHE", str(tmp_path_factory.mktemp("spirv-cache")))
        yield {cid: compile_glsl(p, target_env=env)
               for cid, (p, env) in zip(CASE_IDS, CASES, strict=True)}


def reflect(modules: dict[str, bytes], name: str) -> ShaderReflection:
    return reflect_spirv(modules[f"shaders/{name}@{target_env(SHADERS / name) or 'vulkan1.0'}"])


# --- the spirv-cross oracle -------------------------------------------------------------------


def spirv_cross(code: bytes, tmp: Path) -> tuple[dict[str, Any], dict[tuple[int, int], str]]:
    """spirv-cross's JSON reflection and, from spirv-dis, (set, binding) -> variable name."""
    spv = tmp / "module.spv"
    spv.write_bytes(code)
    ref = json.loads(subprocess.run(["spirv-cross", str(spv), "--reflect"], check=True,
                                    capture_output=True, text=True).stdout)
    dis = subprocess.run(["spirv-dis", "--raw-id", str(spv)], check=True, capture_output=True,
                         text=True).stdout
    names = dict(re.findall(r'OpName %(\d+) "([^"]*)"', dis))
    sets = dict(re.findall(r"OpDecorate %(\d+) DescriptorSet (\d+)", dis))
    slots = {(int(sets.get(i, 0)), int(b)): names.get(i, "")
             for i, b in re.findall(r"OpDecorate %(\d+) Binding (\d+)", dis)}
    return ref, slots


def dims_of(entry: dict[str, Any], spec: dict[int, int]) -> tuple[int, ...]:
    """spirv-cross lists array sizes innermost first; ours are outermost first."""
    sizes = entry.get("array", [])
    literal = entry.get("array_size_is_literal", [True] * len(sizes))
    return tuple(reversed([s if lit else spec[s] for s, lit in zip(sizes, literal, strict=True)]))


def json_declared_size(t: dict[str, Any], types: dict[str, Any], spec: dict[int, int]) -> int:
    """spirv-cross's declared-size rule, evaluated on its own JSON (an independent oracle)."""
    last = max(t["members"], key=lambda m: m["offset"])  # first of ties, like spirv-cross
    dims = dims_of(last, spec)
    if dims:
        return int(last["offset"] + last["array_stride"] * dims[0])
    if last["type"] in types:
        return int(last["offset"] + json_declared_size(types[last["type"]], types, spec))
    match = re.fullmatch(r"(d?)(?:[iub]?)(vec|mat)(\d)(?:x(\d))?", last["type"])
    if match is None:
        return int(last["offset"] + (8 if last["type"] == "double" else 4))
    comp = 8 if match.group(1) else 4
    n = int(match.group(3))
    if match.group(2) == "vec":
        return int(last["offset"] + comp * n)
    rows = int(match.group(4) or n)
    return int(last["offset"] + last["matrix_stride"] * (rows if last.get("row_major") else n))


def compare_members(ours: tuple[BlockMember, ...], t: dict[str, Any], types: dict[str, Any],
                    spec: dict[int, int], path: str) -> None:
    assert [m.name for m in ours] == [m["name"] for m in t["members"]], path
    for m, ref in zip(ours, t["members"], strict=True):
        where = f"{path}.{m.name}"
        assert m.offset == ref["offset"], where
        assert m.array_dims == dims_of(ref, spec), where
        assert m.array_stride == ref.get("array_stride", 0), where
        assert m.matrix_stride == ref.get("matrix_stride", 0), where
        assert m.row_major == ref.get("row_major", False), where
        if ref["type"] in types:
            assert m.base_type == "struct", where
            assert m.type_name == types[ref["type"]]["name"], where
            compare_members(m.members, types[ref["type"]], types, spec, where)
            assert m.size == (m.array_stride * m.array_dims[0] if m.array_dims
                              else json_declared_size(types[ref["type"]], types, spec)), where
        else:
            assert m.type_name == ref["type"], where
            assert m.members == (), where


SECTIONS = {"ubos", "ssbos", "textures", "separate_images", "images", "separate_samplers",
            "acceleration_structures", "subpass_inputs"}


def expected_kind(section: str, type_name: str) -> DescriptorKind:
    buffer = type_name.endswith("Buffer")
    return {
        "ubos": DescriptorKind.UNIFORM_BUFFER,
        "ssbos": DescriptorKind.STORAGE_BUFFER,
        "textures": (DescriptorKind.UNIFORM_TEXEL_BUFFER if buffer
                     else DescriptorKind.COMBINED_IMAGE_SAMPLER),
        "separate_images": (DescriptorKind.UNIFORM_TEXEL_BUFFER if buffer
                            else DescriptorKind.SAMPLED_IMAGE),
        "images": (DescriptorKind.STORAGE_TEXEL_BUFFER if buffer
                   else DescriptorKind.STORAGE_IMAGE),
        "separate_samplers": DescriptorKind.SAMPLER,
        "acceleration_structures": DescriptorKind.ACCELERATION_STRUCTURE,
        "subpass_inputs": DescriptorKind.INPUT_ATTACHMENT,
    }[section]


@needs_spirv_cross
@pytest.mark.parametrize("case", CASE_IDS)
def test_matches_spirv_cross(case: str, modules: dict[str, bytes], tmp_path: Path) -> None:
    ours = reflect_spirv(modules[case])
    ref, var_names = spirv_cross(modules[case], tmp_path)
    types = ref.get("types", {})
    spec = {c["variable_id"]: c["default_value"] for c in ref.get("specialization_constants", [])}
    spec_ids = {c["id"]: c["default_value"] for c in ref.get("specialization_constants", [])}

    assert set(ref) - {"types", "inputs", "outputs", "push_constants", "entryPoints",
                       "specialization_constants"} <= SECTIONS, "unknown spirv-cross section"
    assert ours.entry_points == tuple((e["name"], MODE_BITS[e["mode"]]) for e in ref["entryPoints"])
    assert (ours.entry_point, ours.stage) == ours.entry_points[0]
    first = ref["entryPoints"][0]
    if first.get("workgroup_size") == [0, 0, 0]:
        # spirv-cross 2021.01 does not read OpExecutionModeId LocalSizeId (glslang's output for
        # vulkan1.3): take the literal sizes from the GLSL source instead.
        source = CASES[CASE_IDS.index(case)][0].read_text()
        sizes = dict(re.findall(r"local_size_([xyz])\s*=\s*(\d+)", source))
        assert "LocalSizeId" in subprocess.run(["spirv-dis", str(tmp_path / "module.spv")],
                                               capture_output=True, text=True).stdout
        assert ours.local_size == tuple(int(sizes.get(axis, 1)) for axis in "xyz")
    elif "workgroup_size" in first:
        flags = first.get("workgroup_size_is_spec_constant_id", [False] * 3)
        sizes_ids = zip(first["workgroup_size"], flags, strict=True)
        assert ours.local_size == tuple(spec_ids[v] if is_id else v for v, is_id in sizes_ids)
    else:
        assert ours.local_size is None

    expected = [(r["set"], r["binding"], s, r) for s in SECTIONS for r in ref.get(s, [])]
    assert sorted((b.set, b.binding) for b in ours.bindings) == sorted(e[:2] for e in expected)
    slot = {(b.set, b.binding): b for b in ours.bindings}
    for set_, binding, section, r in expected:
        b = slot[(set_, binding)]
        assert b.kind is expected_kind(section, r["type"]), (b, section)
        assert b.count == math.prod(dims_of(r, spec)), b
        assert b.readonly == r.get("readonly", False), b
        assert b.writeonly == r.get("writeonly", False), b
        assert b.stages == ours.stage
        assert b.variable_name == var_names[(set_, binding)]
        if section in ("ubos", "ssbos"):
            assert b.block is not None
            assert b.type_name == b.block.type_name == r["name"] == types[r["type"]]["name"]
            assert b.block.size == r["block_size"] == json_declared_size(types[r["type"]], types,
                                                                         spec)
            compare_members(b.block.members, types[r["type"]], types, spec, b.type_name)
            runtime = [m for m in types[r["type"]]["members"] if dims_of(m, spec)[:1] == (0,)]
            assert b.block.runtime_array_stride == (runtime[0]["array_stride"] if runtime else 0)
        else:
            assert b.block is None
            assert SPIRV_CROSS_NAMES.get(b.type_name, b.type_name) == r["type"]
            assert b.variable_name == r["name"]

    pushes = ref.get("push_constants", [])
    assert [p.name for p in ours.push_constants] == [p["name"] for p in pushes]
    for p, r in zip(ours.push_constants, pushes, strict=True):
        t = types[r["type"]]
        assert p.type_name == p.block.type_name == t["name"]
        compare_members(p.block.members, t, types, spec, p.type_name)
        assert p.block.size == json_declared_size(t, types, spec)
        assert p.offset == min(m["offset"] for m in t["members"])
        assert p.offset + p.size == -(-p.block.size // 4) * 4

    for mine, key in ((ours.inputs, "inputs"), (ours.outputs, "outputs")):
        assert [(i.location, i.name, i.type_name, i.array_dims) for i in mine] == sorted(
            (r["location"], r["name"], types.get(r["type"], {}).get("name", r["type"]),
             dims_of(r, spec)) for r in ref.get(key, []))


# --- exact values (independent of spirv-cross) ------------------------------------------------


def test_scene_vert_std140_layout(modules: dict[str, bytes]) -> None:
    r = reflect(modules, "scene.vert")
    assert (r.stage, r.entry_point, r.local_size) == (0x1, "main", None)
    ubo = r.binding("GlobalUbo")
    assert r.binding("ubo") is ubo
    assert (ubo.set, ubo.binding, ubo.kind.vk_type, ubo.count) == (0, 0, 6, 1)
    assert ubo.block is not None and ubo.block.size == 276
    offsets = {m.name: m.offset for m in ubo.block.members}
    assert offsets == {"viewProj": 0, "view": 64, "cameraPos": 128, "time": 140, "lights": 144,
                       "lightCount": 272}
    lights = ubo.block.member("lights")
    assert (lights.type_name, lights.array_dims, lights.array_stride, lights.size) == (
        "Light", (4,), 32, 128)
    assert [(m.name, m.offset, m.size) for m in lights.members] == [
        ("position", 0, 12), ("radius", 12, 4), ("color", 16, 16)]
    view_proj = ubo.block.member("viewProj")
    assert (view_proj.columns, view_proj.vecsize, view_proj.matrix_stride) == (4, 4, 16)
    mats = r.binding("ModelMats")
    assert (mats.count, mats.variable_name, mats.block and mats.block.size) == (3, "mats", 112)
    (push,) = r.push_constants
    assert (push.name, push.type_name, push.offset, push.size, push.stages) == (
        "push", "DrawPush", 0, 72, 0x1)
    assert [(i.location, i.name, i.type_name, i.vecsize, i.columns) for i in r.inputs][-2:] == [
        (4, "inInstance", "mat4", 4, 4), (8, "inBones", "ivec4", 4, 1)]
    with pytest.raises(KeyError, match="GlobalUbo"):
        r.binding("Nope")


def test_compute_storage_buffers(modules: dict[str, bytes]) -> None:
    r = reflect(modules, "particles.comp")
    assert (r.stage, r.local_size) == (0x20, (64, 1, 1))
    pbuf = r.binding("ParticleBuffer")
    assert pbuf.kind is DescriptorKind.STORAGE_BUFFER and pbuf.kind.vk_type == 7
    assert pbuf.block is not None
    assert (pbuf.block.size, pbuf.block.runtime_array_stride) == (288, 48)
    assert [(m.name, m.offset) for m in pbuf.block.members] == [
        ("origin", 0), ("pad0", 12), ("extent", 16), ("emitters", 32), ("tints", 224),
        ("weights", 272), ("particles", 288)]
    runtime = pbuf.block.runtime_array
    assert runtime is not None and runtime.array_dims == (0,) and runtime.size == 0
    assert [(b.readonly, b.writeonly) for b in (r.binding("InBuf"), r.binding("OutBuf"))] == [
        (True, False), (False, True)]
    counters = r.binding("Counters").block
    assert counters is not None
    grid = counters.member("grid")
    assert (grid.array_dims, grid.array_strides, grid.size) == ((2, 3), (12, 4), 24)
    accum = counters.member("accum")
    assert (accum.base_type, accum.width, accum.type_name, accum.size) == (
        "double", 64, "dvec2", 16)


def test_opaque_descriptor_kinds(modules: dict[str, bytes]) -> None:
    r = reflect(modules, "lighting.frag")
    kinds = {b.variable_name: (b.kind.vk_type, b.type_name, b.count) for b in r.bindings}
    assert kinds == {
        "lightData": (7, "LightBuffer", 1), "albedoTex": (1, "sampler2D", 1),
        "normalTex": (2, "texture2D", 1), "linearSampler": (0, "sampler", 1),
        "debugImage": (3, "image2D", 1), "shadowLayers": (1, "sampler2DArray", 1),
        "envMaps": (1, "samplerCube", 2), "shadowMap": (1, "sampler2DShadow", 1),
        "gbuffer": (10, "subpassInput", 1),
    }
    (push,) = r.push_constants
    assert (push.offset, push.size, push.block.size) == (64, 24, 88)
    assert reflect(modules, "rayquery.comp").binding("scene").kind.vk_type == 1000150000
    assert reflect(modules, "layouts.comp").local_size == (1, 4, 1)  # spec constant default


def test_descriptor_kind_vk_types() -> None:
    assert {k.name: k.vk_type for k in DescriptorKind} == {
        "SAMPLER": 0, "COMBINED_IMAGE_SAMPLER": 1, "SAMPLED_IMAGE": 2, "STORAGE_IMAGE": 3,
        "UNIFORM_TEXEL_BUFFER": 4, "STORAGE_TEXEL_BUFFER": 5, "UNIFORM_BUFFER": 6,
        "STORAGE_BUFFER": 7, "INPUT_ATTACHMENT": 10, "ACCELERATION_STRUCTURE": 1000150000}


def test_big_endian_module_reflects_the_same(modules: dict[str, bytes]) -> None:
    for code in modules.values():
        words = struct.unpack(f"<{len(code) // 4}I", code)
        assert reflect_spirv(struct.pack(f">{len(words)}I", *words)) == reflect_spirv(code)


# --- malformed input --------------------------------------------------------------------------


def word(op: int, *operands: int) -> list[int]:
    return [(len(operands) + 1) << 16 | op, *operands]


def literal(text: str) -> list[int]:
    raw = text.encode() + b"\0" * (4 - len(text) % 4)
    return list(struct.unpack(f"<{len(raw) // 4}I", raw))


def module(*body: list[int], bound: int = 1000, version: int = 0x00010000,
           interface: tuple[int, ...] = ()) -> bytes:
    """A minimal GLCompute module around ``body`` (ids 1-4 are taken)."""
    words = [0x07230203, version, 0, bound, 0]
    words += word(17, 1) + word(14, 0, 1)  # OpCapability Shader, OpMemoryModel Logical GLSL450
    words += word(15, 5, 1, *literal("main"), *interface) + word(16, 1, 17, 1, 1, 1)
    for part in body:
        words += part
    words += word(19, 2) + word(33, 3, 2)  # void, fn type
    words += word(54, 2, 1, 0, 3) + word(248, 4) + word(253) + word(56)
    return struct.pack(f"<{len(words)}I", *words)


def uniform_var(struct_type: int) -> list[int]:
    """Block decoration and a Uniform variable %61 of pointer %60 to ``struct_type``."""
    return word(71, struct_type, 2) + word(32, 60, 2, struct_type) + word(59, 60, 61, 2)


def test_handmade_module_reflects() -> None:
    float_t = word(22, 10, 32)
    body = word(72, 11, 0, 35, 0) + float_t + word(30, 11, 10) + uniform_var(11)
    r = reflect_spirv(module(body))
    assert r.bindings[0].block is not None
    assert (r.bindings[0].type_name, r.bindings[0].block.size, r.local_size) == (
        "_11", 4, (1, 1, 1))


def test_large_module_reflects_in_linear_time() -> None:
    """5000 buffers of one 500-member block, all in a SPIR-V 1.4 interface: no quadratic work."""
    members = 500
    body = word(22, 10, 32) + word(30, 11, *[10] * members) + word(71, 11, 2)
    for i in range(members):
        body += word(72, 11, i, 35, 4 * i) + word(72, 11, i, 24)
    body += word(32, 60, 12, 11)
    variables = list(range(100, 5100))
    for i, var in enumerate(variables):
        body += word(59, 60, var, 12) + word(71, var, 33, i)
    code = module(body, bound=6000, version=0x00010400, interface=tuple(variables))
    r, calls = counted(reflect_spirv, code)
    assert calls <= work_bound(code), f"{calls} calls for {len(code) // 4} words: not linear"
    assert len(r.bindings) == 5000 and all(b.readonly and b.stages == 0x20 for b in r.bindings)
    assert r.bindings[-1].block is r.bindings[0].block and r.bindings[0].block.size == 4 * members


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (word(30, 11, 11) + word(72, 11, 0, 35, 0) + uniform_var(11), "contains itself"),
        (word(30, 11, 12) + word(72, 11, 0, 35, 0) + uniform_var(11), "%12, which the module"),
        (word(22, 10, 32) + word(23, 12, 10, 1000) + word(30, 11, 12) + word(72, 11, 0, 35, 0)
         + uniform_var(11), "2-4 scalars"),
        (word(22, 10, 32) + word(21, 13, 32, 0) + word(43, 13, 14, 0) + word(28, 12, 10, 14)
         + word(71, 12, 6, 4) + word(30, 11, 12) + word(72, 11, 0, 35, 0) + uniform_var(11),
         "length 0"),
        (word(22, 10, 32) + word(21, 13, 32, 1) + word(43, 13, 14, 0xFFFFFFFF)
         + word(28, 12, 10, 14) + word(30, 11, 12) + word(72, 11, 0, 35, 0) + uniform_var(11),
         "length -1"),
        (word(22, 10, 32) + word(21, 13, 32, 0) + word(50, 13, 15, 2)
         + word(52, 13, 14, 128, 15, 15)
         + word(28, 12, 10, 14) + word(30, 11, 12) + word(72, 11, 0, 35, 0) + uniform_var(11),
         "specialization-constant expressions"),
        (word(22, 10, 32) + word(30, 11, 10) + uniform_var(11), "no Offset"),
        (word(22, 10, 32) + word(21, 13, 32, 0) + word(43, 13, 14, 2)
         + [w for k in range(100) for w in word(28, 200 + k, 199 + k if k else 10, 14)]
         + word(30, 11, 299) + word(72, 11, 0, 35, 0) + uniform_var(11), "deeper than 64"),
        (word(22, 10, 32) + word(21, 13, 32, 0) + word(43, 13, 14, 2) + word(28, 12, 12, 14)
         + word(30, 11, 12) + word(72, 11, 0, 35, 0) + uniform_var(11), "cyclic type?"),
        (word(22, 10, 32) + word(22, 10, 32), "defined twice"),
        (word(22, 5000, 32), "outside the module's id bound"),
        (word(5, 1, 0x6E69616D), "no terminating nul"),
        (word(71, 11, 33), ""),  # a decoration of a missing target: ignored, no error
    ],
    ids=["cyclic-struct", "dangling-member-type", "absurd-vector", "zero-length-array",
         "negative-array", "spec-op-length", "missing-offset", "deep-arrays", "cyclic-array",
         "duplicate-id", "id-over-bound", "unterminated-string", "harmless"],
)
def test_malformed_modules_raise_reflection_error(body: list[int], message: str) -> None:
    if not message:
        reflect_spirv(module(body))
        return
    with pytest.raises(ReflectionError, match=re.escape(message)):
        reflect_spirv(module(body))


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (b"", "at least the 20-byte header"),
        (b"#version 450\nvoid main(){}\n", "wrong magic number"),
        (module()[:-2], "not a whole number of 4-byte words"),
        (module()[:20] + struct.pack("<I", 0x00000011), "word count of 0"),
        (module()[:20] + struct.pack("<I", 0x00090011), "runs past the end"),
        (module()[:-4], "no OpFunctionEnd"),
        (module()[:20], "no OpEntryPoint"),
        (b"\x03\x02\x23\x07" + b"\x00\x00\x09\x00" + bytes(12), "unsupported version"),
        (bytearray(module()), ""),
        ("not bytes", "needs the SPIR-V module as bytes"),
    ],
    ids=["empty", "glsl-text", "odd-length", "zero-word-count", "past-the-end", "cut-function",
         "header-only", "bad-version", "bytearray-ok", "str"],
)
def test_bad_binaries(code: Any, message: str) -> None:
    if not message:
        assert reflect_spirv(code).local_size == (1, 1, 1)
        return
    with pytest.raises(ReflectionError, match=re.escape(message)) as info:
        reflect_spirv(code)
    assert isinstance(info.value, EngineError)


def test_truncations_raise(modules: dict[str, bytes]) -> None:
    """Cutting a module anywhere raises: at ~200 evenly spread word boundaries per module (every
    one for small modules), the last 64 word boundaries, and odd byte lengths."""
    for cid, code in modules.items():
        words = len(code) // 4
        cuts = {*range(0, words, max(1, words // 200)), *range(max(0, words - 64), words)}
        for cut in sorted(cuts):
            with pytest.raises(ReflectionError):
                reflect_spirv(code[: 4 * cut])
        for cut in (len(code) - 1, len(code) - 2, 21, 4 * (words // 2) + 3):
            with pytest.raises(ReflectionError):
                reflect_spirv(code[:cut])
        assert cid  # keeps the case id in a failure's locals


def mutated(code: bytes, index: int, value: int) -> bytes:
    words = list(struct.unpack(f"<{len(code) // 4}I", code))
    words[index % len(words)] = value
    return struct.pack(f"<{len(words)}I", *words)


FUZZ = settings(max_examples=400, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
WORD = st.one_of(
    st.integers(0, 2**32 - 1),
    st.integers(0, 64),
    st.builds(lambda n, op: n << 16 | op, st.integers(0, 12), st.integers(0, 80)),
)


def counted(fn, *args):  # type: ignore[no-untyped-def]
    """``fn(*args)`` and how many Python function calls it made: a measure of work that does
    not depend on how fast the machine is."""
    calls = [0]

    def profile(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "call":
            calls[0] += 1

    sys.setprofile(profile)
    try:
        result = fn(*args)
    finally:
        sys.setprofile(None)
    return result, calls[0]


def work_bound(code: bytes) -> int:
    """Linear in the module's words (a real module takes about 0.2 calls per word)."""
    return 8 * (len(code) // 4) + 2000


def only_reflection_errors(code: bytes) -> None:
    """Reflect ``code``: success and ReflectionError are fine, any other exception fails, and so
    does work beyond a linear bound in the module's size (a pathological loop)."""
    def reflect() -> None:
        with contextlib.suppress(ReflectionError):
            reflect_spirv(code)

    _, calls = counted(reflect)
    assert calls <= work_bound(code), f"{calls} calls for {len(code) // 4} words"


class ReflectionHangError(Exception):
    """Raised by the alarm of :func:`no_hangs`."""


@pytest.fixture(autouse=True)
def no_hangs() -> Iterator[None]:
    """Fail (instead of hanging) any test of this module that runs over 30 s: a reflector loop
    that stops advancing must show up as a failure."""
    def alarm(signum: int, frame: object) -> None:
        raise ReflectionHangError("test ran over 30 s: reflect_spirv() does not terminate")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, 30.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@FUZZ
@given(data=st.data())
def test_fuzz_single_word_mutations(modules: dict[str, bytes], data: st.DataObject) -> None:
    code = modules[data.draw(st.sampled_from(sorted(modules)))]
    index = data.draw(st.integers(0, len(code) // 4 - 1))
    only_reflection_errors(mutated(code, index, data.draw(WORD)))


@FUZZ
@given(data=st.data())
def test_fuzz_truncated_and_mutated(modules: dict[str, bytes], data: st.DataObject) -> None:
    code = modules[data.draw(st.sampled_from(sorted(modules)))]
    code = mutated(code, data.draw(st.integers(0, len(code) // 4 - 1)), data.draw(WORD))
    cut = data.draw(st.integers(0, len(code)))
    only_reflection_errors(code[:cut])


@FUZZ
@given(raw=st.binary(max_size=2048))
def test_fuzz_random_bytes(raw: bytes) -> None:
    only_reflection_errors(raw)
    only_reflection_errors(module()[:20] + raw[: len(raw) // 4 * 4])


@FUZZ
@given(words=st.lists(WORD, max_size=64))
def test_fuzz_random_instructions_inside_a_module(words: list[int]) -> None:
    only_reflection_errors(module(words))
