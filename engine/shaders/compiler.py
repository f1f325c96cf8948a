"""GLSL -> SPIR-V with ``glslangValidator -V``, cached on disk.

Names are never stripped (no ``-g0``): reflection binds by block and variable name.
One compiler call costs about 140 ms, so every result is cached in a directory keyed by the
sha256 of (source text, texts of ``#include``\\d files, stage, target environment, the compiler's
``--version`` output). The cache lives in ``$ENGINE_SHADER_CACHE`` if set, else
``~/.cache/vkbuffers/spirv``; a second run compiles nothing. :func:`compile_count` counts the
real compiler invocations of this process (tests assert on it).

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
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from engine.errors import ShaderCompileError

__all__ = ["GLSL_DIR", "compile_count", "compile_glsl", "compile_glsl_source", "shader_path"]

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


def compile_count() -> int:
    """How many times this process has run the compiler on a shader (cache hits excluded)."""
    return _compile_count


def shader_path(name: str) -> Path:
    """Path of ``name`` (e.g. ``"particles.comp"``) inside the package folder ``engine/glsl/``.

    Raises :class:`ShaderCompileError` if the file does not exist (listing those that do) or if
    ``name`` points outside the folder.
    """
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
    file = Path(path)
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
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ShaderCompileError(
            f"compile_glsl({str(file)!r}): cannot read the shader: {exc}"
        ) from None
    return _compile(source, _stage(stage, str(file)), str(file), file, target_env)


def compile_glsl_source(
    source: str, stage: str, *, name: str = "<string>", target_env: str | None = None
) -> bytes:
    """Compile GLSL ``source`` for ``stage`` (``'vert'``, ``'frag'``, ``'comp'``...).

    ``name`` stands for the source in error messages; ``#include`` is resolved in ``engine/glsl/``.
    """
    return _compile(source, _stage(stage, name), name, None, target_env)


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
        "vkbuffers-spirv-v1", stage, target_env or "", _compiler_version(exe), source,
        *_include_texts(source, folder),
    ):
        key.update(part.encode("utf-8", "surrogatepass") + b"\0\xff")
    cached = cache_dir() / f"{key.hexdigest()}.spv"
    try:
        code = cached.read_bytes()
        if len(code) >= 20 and len(code) % 4 == 0 and code[:4] == _SPIRV_MAGIC:
            return code
    except OSError:
        pass
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
    _store(cached, code)
    return code


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
