"""GLSL -> SPIR-V with ``glslangValidator -V``, cached on disk.

Names are never stripped (no ``-g0``): reflection binds by block and variable name.
One compiler call costs about 140 ms, so every result is cached in a directory keyed by the
sha256 of (source text, texts of ``#include``\\d files, stage, target environment, the compiler's
``--version`` output). The cache lives in ``$ENGINE_SHADER_CACHE`` if set, else
``~/.cache/vkbuffers/spirv``; a second run compiles nothing. :func:`compile_count` counts the
real compiler invocations of this process (tests assert on it).

A cache entry is the file ``<key>-<sha256 of its content>.spv`` (plain SPIR-V), written to a
temporary file and renamed, so no reader sees half an entry. An entry whose content does not
hash to its name (a flipped bit, truncation, trailing bytes, zero length), that cannot be read,
or that is not a file is damaged: it is removed, the shader is recompiled and stored again, and
a ``logging`` warning on the ``engine.shaders.compiler`` logger names the file;
:func:`cache_repairs` counts those entries. An unwritable cache only costs recompiles. The
module bytes returned (from the compiler or a verified entry) are registered with
:func:`engine.shaders.validate.trust`, so creating a shader module from them does not run
``spirv-val``.

``#include "file"`` works when the shader enables ``GL_GOOGLE_include_directive``: paths are
resolved next to the including file, then in the package folder ``engine/glsl/``.

Every failure raises :class:`~engine.errors.ShaderCompileError`: a missing compiler (install the
Debian package ``glslang-tools``), an unknown stage, a missing file, or a rejected shader, whose
message has ``path:line: compiler message`` for each error.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from engine.errors import ShaderCompileError
from engine.shaders.validate import trust

__all__ = ["GLSL_DIR", "TARGET_ENVS", "cache_dir", "cache_repairs", "compile_count",
           "compile_engine_shader", "compile_glsl", "compile_glsl_source", "shader_path"]

#: Values ``target_env`` accepts (``--target-env`` of glslangValidator); None means vulkan1.0.
TARGET_ENVS = ("vulkan1.0", "vulkan1.1", "vulkan1.2", "vulkan1.3", "spirv1.0", "spirv1.1",
               "spirv1.2", "spirv1.3", "spirv1.4", "spirv1.5", "spirv1.6")
_log = logging.getLogger(__name__)

#: Package folder of the engine's GLSL shaders (package data).
GLSL_DIR = Path(__file__).resolve().parents[1] / "glsl"

_STAGES = {
    "vert": "vert", "vertex": "vert", "frag": "frag", "fragment": "frag", "comp": "comp",
    "compute": "comp", "geom": "geom", "geometry": "geom", "tesc": "tesc", "tese": "tese",
}
_STAGE_WORDS = {"vert": "vertex", "frag": "fragment", "comp": "compute", "geom": "geometry",
                "tesc": "tessellation control", "tese": "tessellation evaluation"}
_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+["<]([^">]+)[">]', re.MULTILINE)
_DIAGNOSTIC = re.compile(r"^(ERROR|WARNING): (.*?):(\d+): (.*)$")
_NOISE = re.compile(r"compilation terminated|\d+ compilation errors?\.|No code generated")
_MAX_INCLUDES = 64
_SPIRV_MAGIC = b"\x03\x02\x23\x07"

_lock = threading.Lock()
_compile_count = 0
_cache_repairs = 0


def compile_count() -> int:
    """How many times this process has run the compiler on a shader (cache hits excluded)."""
    return _compile_count


def cache_repairs() -> int:
    """How many damaged cache entries this process has found and replaced (or tried to)."""
    return _cache_repairs


def _text(value: object, call: str, arg: str, fix: str) -> str:
    """``value`` if it is a str that UTF-8 can encode and that has no NUL; else raise."""
    if not isinstance(value, str):
        raise ShaderCompileError(
            f"{call}: {arg} must be a str, got {type(value).__name__} {_short(value)}; {fix}")
    nul = value.find("\0")
    if nul >= 0:
        raise ShaderCompileError(
            f"{call}: {arg} contains a NUL character at index {nul}; remove it")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ShaderCompileError(
            f"{call}: {arg} has a character UTF-8 cannot encode ({exc.object[exc.start]!r} at "
            f"index {exc.start}, a lone surrogate?); pass text decoded from UTF-8") from None
    return value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _path(path: object, call: str) -> Path:
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise ShaderCompileError(
            f"{call}: the path must be a str or os.PathLike, got {type(path).__name__} "
            f"{_short(path)}; pass e.g. shader_path('particles.comp')")
    text = os.fspath(path)
    if not isinstance(text, str):
        raise ShaderCompileError(f"{call}: the path must name a str path, got {_short(text)}")
    return Path(_text(text, call, "the path", "pass a str path"))


def _target(target_env: object, call: str) -> str | None:
    if target_env is None:
        return None
    if not isinstance(target_env, str) or target_env not in TARGET_ENVS:
        raise ShaderCompileError(
            f"{call}: unknown target_env {_short(target_env)}; use None (vulkan1.0) or one of "
            f"{', '.join(TARGET_ENVS)}")
    return target_env


def shader_path(name: str) -> Path:
    """Path of ``name`` (e.g. ``"particles.comp"``) inside the package folder ``engine/glsl/``.

    Raises :class:`~engine.errors.ShaderCompileError` if the file does not exist (listing those that
    do) or if ``name`` points outside the folder.
    """
    _text(name, f"shader_path({_short(name)})", "name", "pass a file name such as 'minimal.vert'")
    path = (GLSL_DIR / name).resolve()
    if GLSL_DIR not in path.parents:
        raise ShaderCompileError(
            f"shader_path({name!r}): the name leaves the engine's GLSL folder {GLSL_DIR}; "
            f"pass a name relative to it"
        )
    if not path.is_file():
        known = sorted(p.name for p in GLSL_DIR.glob("*") if p.is_file() and p.suffix != ".md")
        raise ShaderCompileError(
            f"shader_path({name!r}): no such shader in {GLSL_DIR}; shaders there: "
            f"{', '.join(known) or '(none)'}"
        )
    return path


def compile_glsl(
    path: str | os.PathLike[str], stage: str | None = None, *, target_env: str | None = None
) -> bytes:
    """Compile the GLSL file at ``path`` to SPIR-V and return the module bytes.

    ``stage`` is taken from the extension (``.vert``, ``.frag``, ``.comp``, ``.geom``, ``.tesc``,
    ``.tese``, also before a final ``.glsl``) unless given. ``target_env`` is passed to
    ``--target-env`` (e.g. ``"vulkan1.2"``); None keeps glslang's default (Vulkan 1.0).
    """
    call = f"compile_glsl({_short(path)})"
    file = _path(path, call)
    target_env = _target(target_env, call)
    if stage is None:
        suffixes = [s.lstrip(".") for s in file.suffixes]
        if suffixes[-1:] == ["glsl"]:
            suffixes.pop()
        if not suffixes or suffixes[-1] not in _STAGES:
            raise ShaderCompileError(
                f"compile_glsl({str(file)!r}): cannot tell the shader stage from the file name; "
                f"use a .vert/.frag/.comp extension or pass stage='vert'|'frag'|'comp'"
            )
        stage = suffixes[-1]
    if not file.is_file():
        raise ShaderCompileError(
            f"compile_glsl({str(file)!r}): cannot read the shader: "
            f"{'it is not a file' if file.exists() else 'no such file'}; pass a GLSL file's path")
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ShaderCompileError(
            f"compile_glsl({str(file)!r}): cannot read the shader: {exc}"
        ) from None
    _text(source, f"compile_glsl({str(file)!r})", "the file's text", "save it as UTF-8")
    return _compile(source, _stage(stage, str(file)), str(file), file, target_env)


def compile_glsl_source(
    source: str, stage: str, *, name: str = "<string>", target_env: str | None = None
) -> bytes:
    """Compile GLSL ``source`` for ``stage`` (``'vert'``, ``'frag'``, ``'comp'``...).

    ``name`` stands for the source in error messages; ``#include`` is resolved in ``engine/glsl/``.
    Raises :class:`~engine.errors.ShaderCompileError` for a ``source`` or ``name`` that is not a
    str, has a NUL or a character UTF-8 cannot encode, an unknown stage or ``target_env``, or a
    rejected shader.
    """
    call = f"compile_glsl_source(stage={_short(stage)})"
    _text(name, call, "name", "pass a str such as 'my_shader.comp'")
    _text(source, call, "source", "pass the GLSL text (decode bytes with .decode('utf-8'))")
    return _compile(source, _stage(stage, name), name, None, _target(target_env, call))


def compile_engine_shader(name: str, defines: dict[str, int] | None = None) -> bytes:
    """SPIR-V of the engine shader ``name`` (in ``engine/glsl/``) with each of ``defines``
    added as ``#define NAME VALUE`` after its ``#version`` line (the stage comes from the file
    name; the cache keys on the resulting text, so each set of defines is compiled once)."""
    path = shader_path(name)
    if not defines:
        return compile_glsl(path)
    source = path.read_text(encoding="utf-8")
    first, _, rest = source.partition("\n")
    lines = "".join(f"#define {key} {int(value)}\n" for key, value in sorted(defines.items()))
    return compile_glsl_source(f"{first}\n{lines}{rest}", name.rsplit(".", 1)[1], name=name)


def _stage(stage: str, name: str) -> str:
    found = _STAGES.get(stage.lower().lstrip(".")) if isinstance(stage, str) else None
    if found is None:
        raise ShaderCompileError(
            f"compile {name}: unknown shader stage {stage!r}; use one of "
            f"{', '.join(sorted(set(_STAGES.values())))}"
        )
    return found


def _glslang() -> str:
    exe = shutil.which("glslangValidator")
    if exe is None:
        raise ShaderCompileError(
            "glslangValidator was not found on PATH; install it (Debian/Ubuntu: "
            "`sudo apt-get install glslang-tools`) to compile GLSL shaders"
        )
    return exe


@functools.cache
def _compiler_version(exe: str) -> str:
    try:
        done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ShaderCompileError(f"could not run {exe} --version: {exc}") from None
    return done.stdout + done.stderr


def cache_dir() -> Path:
    """The SPIR-V cache folder: ``$ENGINE_SHADER_CACHE`` or ``~/.cache/vkbuffers/spirv``."""
    env = os.environ.get("ENGINE_SHADER_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "vkbuffers" / "spirv"


def _include_texts(source: str, folder: Path | None) -> list[str]:
    """Texts of the files ``source`` includes, transitively (bounded; missing ones skipped)."""
    texts: list[str] = []
    pending: list[tuple[str, Path | None]] = [(source, folder)]
    seen: set[Path] = set()
    while pending and len(seen) < _MAX_INCLUDES:
        text, here = pending.pop()
        for name in _INCLUDE.findall(text):
            for base in ([here] if here else []) + [GLSL_DIR]:
                candidate = (base / name).resolve()
                if candidate.is_file():
                    if candidate not in seen:
                        seen.add(candidate)
                        try:
                            content = candidate.read_text(encoding="utf-8", errors="replace")
                        except OSError:  # glslang will report it; nothing to key on
                            break
                        texts.append(f"{candidate}\0{content}")
                        pending.append((content, candidate.parent))
                    break
    return texts


def _compile(
    source: str, stage: str, name: str, file: Path | None, target_env: str | None
) -> bytes:
    global _compile_count
    exe = _glslang()
    folder = file.resolve().parent if file is not None else None
    key = hashlib.sha256()
    for part in (
        "vkbuffers-spirv-v2", stage, target_env or "", _compiler_version(exe), source,
        *_include_texts(source, folder),
    ):
        key.update(part.encode("utf-8", "surrogatepass") + b"\0\xff")
    folder_cache, key_hex = cache_dir(), key.hexdigest()
    cached_code = _load(folder_cache, key_hex)
    if cached_code is not None:
        trust(cached_code)
        return cached_code
    with tempfile.TemporaryDirectory(prefix="vkbuffers-glslang-") as tmp:
        out = Path(tmp) / "out.spv"
        # Never -g0: reflection needs OpName/OpMemberName. --stdin must precede -S.
        args = [exe, "-V", *(["--stdin"] if file is None else []), "-S", stage, "-o", str(out)]
        if target_env:
            args += ["--target-env", target_env]
        args += [f"-I{d}" for d in (folder, GLSL_DIR) if d is not None]
        if file is not None:
            args.append(str(file))
        with _lock:
            _compile_count += 1
        try:
            done = subprocess.run(
                args, input=None if file is not None else source, capture_output=True,
                text=True, timeout=120,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise ShaderCompileError(
                f"compile {name}: could not run glslangValidator: {exc}"
            ) from None
        if done.returncode != 0 or not out.is_file():
            raise ShaderCompileError(_error_message(name, stage, done.stdout + done.stderr))
        code = out.read_bytes()
    _store(folder_cache / f"{key_hex}-{hashlib.sha256(code).hexdigest()}.spv", code)
    trust(code)
    return code


def _load(folder: Path, key: str) -> bytes | None:
    """The verified entry for ``key``, or None; damaged entries are reported and removed."""
    try:
        entries = sorted(folder.glob(f"{key}-*.spv"))
    except OSError:
        return None
    found: bytes | None = None
    for path in entries:
        expected = path.name[len(key) + 1 : -len(".spv")]
        try:
            data = path.read_bytes()
        except OSError as exc:
            _damaged(path, f"cannot be read ({exc.strerror or exc})")
            continue
        if found is None and hashlib.sha256(data).hexdigest() == expected and \
                data[:4] == _SPIRV_MAGIC:
            found = data
        elif found is None:
            _damaged(path, f"its {len(data)} bytes do not hash to the sha256 in its name")
    return found


def _damaged(path: Path, reason: str) -> None:
    """Count, report and remove a damaged entry (an empty directory is removed too)."""
    global _cache_repairs
    with _lock:
        _cache_repairs += 1
    removed = True
    try:
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink()
    except OSError:
        removed = False
    _log.warning("SPIR-V cache entry %s is damaged: %s; %s", path, reason,
                 "removed it, recompiling the shader and storing it again" if removed else
                 "could not remove it (delete it by hand); recompiling the shader")


def _store(path: Path, code: bytes) -> None:
    """Write a cache entry atomically; an unwritable cache only costs a recompile later."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(code)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _error_message(name: str, stage: str, output: str) -> str:
    """``path:line: message`` lines from glslang's output (``stdin`` renamed to ``name``)."""
    lines: list[str] = []
    for raw in output.splitlines():
        text = raw.strip()
        match = _DIAGNOSTIC.match(text)
        if match:
            kind, source, line, message = match.groups()
            if _NOISE.search(message) or kind == "WARNING":
                continue
            where = name if source in ("stdin", "0") else source
            lines.append(f"{where}:{line}: {message.strip()}")
        elif text.startswith("ERROR:") and not _NOISE.search(text):
            lines.append(f"{name}: {text[len('ERROR:'):].strip()}")
    if not lines:
        lines = [f"{name}: {output.strip() or 'glslangValidator failed without a message'}"]
    return (
        f"glslangValidator rejected the {_STAGE_WORDS[stage]} shader {name}:\n  "
        + "\n  ".join(lines)
    )
