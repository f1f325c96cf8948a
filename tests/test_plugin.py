"""The vkbuffers pytest plugin (engine.testing): its fixtures, its failures, its installation.

- Each fixture is exercised here (the rest of the suite uses them as well).
- A test file written only with the plugin catches deliberately wrong systems: it runs in a
  subprocess pytest in a temporary folder, and each of its tests must FAIL with a clear message.
- Done when: in a fresh venv, a pip install of the project gives the fixtures to a folder that
  holds nothing but the example test.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import esper
import numpy as np
import pytest

from engine import BufferUsage, GlobalUboSet, Phase, add_system, errors
from engine.device.vk import ffi, lib, vk
from engine.render import OffscreenTarget
from engine.shaders.compiler import compile_glsl_source
from games.minimal import SPIN, TrianglePass

ROOT = Path(__file__).resolve().parents[1]
ITEMS_COMP = """#version 450
layout(local_size_x = 1) in;
struct Item { vec3 position; uint id; };
layout(std430, set = 0, binding = 0) buffer Items { uint count; float scale; Item items[]; } data;
void main() { data.items[0].id = data.count; }
"""


def test_vk_context_is_validated_and_the_manager_binder_and_world_belong_to_the_test(
        vk_context, buffer_manager, resource_binder, ecs_world):
    assert vk_context.validation and vk_context.sync_validation, "both on by default"
    assert buffer_manager.context is vk_context and resource_binder.context is vk_context
    assert resource_binder.frames_in_flight == buffer_manager.frames_in_flight == 3
    assert esper.current_world == ecs_world and ecs_world.startswith("test-")


def test_frame_driver_steps_the_real_schedule_once_the_engine_systems_are_installed(
        buffer_manager, resource_binder, frame_driver):
    target = OffscreenTarget(buffer_manager.context, 16, 16)
    try:
        spin = GlobalUboSet(buffer_manager, SPIN)  # bound to minimal.vert's "Spin" block
        TrianglePass(resource_binder, target, spin)  # built for the target's scene phase
        frame_driver.install(buffer_manager, resource_binder)
        seen: list[tuple[str, int, bool]] = []
        for phase in (Phase.INPUT, Phase.SIMULATE, Phase.RENDER):
            add_system(Recorder(seen, phase.name, buffer_manager), phase, 50)

        frame_driver.step(4)

        assert frame_driver.frames == 4 and buffer_manager.frame_number == 3
        assert frame_driver.frame_index == 0, "frame 3 of 3 slots"
        assert [s[0] for s in seen[:3]] == ["INPUT", "SIMULATE", "RENDER"]
        assert all(open_ for _, _, open_ in seen), "inside begin_frame ... end_frame"
        assert not buffer_manager.frames.frame_open, "END phase ran: end_frame"
        assert frame_driver.binding_system is not None
        assert frame_driver.binding_system.writes_total == 3, "one write per slot, then none"
    finally:
        target.destroy()


def test_frame_driver_without_install_just_runs_the_worlds_processors(frame_driver):
    seen: list[tuple[str, int, bool]] = []
    esper.add_processor(Recorder(seen, "any", None))
    frame_driver.step(2)
    assert len(seen) == 2 and frame_driver.frames == 2
    with pytest.raises(RuntimeError, match="install"):
        _ = frame_driver.frame_index


def test_read_back_types_a_buffer_by_the_shaders_reflected_block(
        buffer_manager, resource_binder, read_back):
    spirv = compile_glsl_source(ITEMS_COMP, "comp", name="items.comp")
    pid = resource_binder.register_pipeline("items", spirv)
    header_dt, item_dt = read_back.dtype(pid, "Items"), read_back.element_dtype(spirv, "data")
    assert header_dt.names == ("count", "scale") and header_dt.itemsize == 16
    assert item_dt.names == ("position", "id") and item_dt.itemsize == 16, "std430 vec3 + uint"
    header, items = np.zeros((), header_dt), np.zeros(2, item_dt)
    header["count"], header["scale"] = 2, 0.5
    items["position"], items["id"] = [[1, 2, 3], [4, 5, 6]], [7, 9]
    buf = buffer_manager.create_and_upload(
        "items", header.tobytes() + items.tobytes(), usage=BufferUsage.STORAGE)

    block = read_back.block(buf, pid, "Items")          # by pipeline id (resource_binder)
    same = read_back.block(buf, spirv, "data")          # or by SPIR-V and variable name
    assert block.shape == () and int(block["count"]) == 2 and block["scale"] == 0.5
    assert same.tolist() == block.tolist()
    got = read_back.elements(buf, pid, "Items")
    assert got["id"].tolist() == [7, 9] and got["position"][1].tolist() == [4, 5, 6]
    assert read_back.array(buf, np.uint32, count=1).tolist() == [2]
    with pytest.raises(errors.UnknownBindingError, match="Items"):
        read_back.block(buf, pid, "Nope")


def test_validation_messages_carry_the_test_phase_or_block_and_the_calling_line(
        vk_context, validation):
    info = ffi.new("VkFenceCreateInfo*", {
        "sType": vk.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO, "flags": 0x80})  # not a valid flag
    fence = ffi.new("VkFence*")
    lib.vkCreateFence(vk_context.device, info, ffi.NULL, fence)
    lib.vkDestroyFence(vk_context.device, fence[0], ffi.NULL)
    with validation.during("the second fence"):
        lib.vkCreateFence(vk_context.device, info, ffi.NULL, fence)
    lib.vkDestroyFence(vk_context.device, fence[0], ffi.NULL)

    first, second = validation.expect("VUID-VkFenceCreateInfo-flags")
    assert validation.messages == [], "expect() consumed them: the test stays green"
    where = validation.origin(first)
    assert where.when == "test call"
    assert re.search(r"test_plugin\.py:\d+ in test_validation.*vkCreateFence", where.call)
    assert validation.origin(second).when == "the second fence"
    assert "the second fence" in validation.format([second])


def test_wrong_systems_written_with_the_plugin_fail_with_clear_messages(tmp_path):
    (tmp_path / "test_wrong_systems.py").write_text(WRONG_SYSTEMS)
    run = run_pytest(tmp_path, "--junitxml=report.xml")
    assert run.returncode == 1, run.stdout[-3000:]
    report = junit(tmp_path / "report.xml")

    overrun = report["test_trail_writes_past_the_end_of_its_buffer"]
    assert "OutOfBoundsError" in overrun
    assert "update_buffer('trail'): 16 bytes at offset 64 exceed the buffer's 64 bytes" in overrun
    assert "raised in frame 4, SIMULATE phase, TrailSystem.process" in overrun

    hazard = report["test_camera_forgets_the_per_frame_buffer_set"]
    assert "HostWriteHazardError" in hazard
    assert "update_buffer('camera'): host-visible buffer written in frame 0" in hazard
    assert "Use one buffer per frame slot (BufferSet / GlobalUboSet)" in hazard
    assert "raised in frame 1, SIMULATE phase, CameraSystem.process" in hazard

    barrier = report["test_barrier_without_stage_masks"]
    assert "validation message(s) by frame 0" in barrier
    assert "VUID-vkCmdPipelineBarrier-srcStageMask-03937" in barrier
    assert "when:   frame 0, RENDER phase, BarrierSystem.process" in barrier
    assert re.search(r"call: +\S*test_wrong_systems\.py:\d+ in process: lib\.vkCmdPipeline",
                     barrier)

    leak = report["test_leaks_a_fence"]
    assert "at teardown (leaked objects are reported when the device closes)" in leak
    assert "VK_OBJECT_TYPE_FENCE" in leak and "teardown: vk_context.close()" in leak
    assert report["test_the_same_systems_done_right_pass"] == "passed"


def test_plugin_options_are_documented_work_and_need_no_display(tmp_path):
    (tmp_path / "test_options.py").write_text(textwrap.dedent("""
        import sys

        def test_options_reach_the_context(vk_context, pytestconfig):
            assert vk_context.validation and not vk_context.sync_validation
            assert pytestconfig.getoption("--vk-device") == "0"
            assert "glfw" not in sys.modules, "the plugin imported a window system"
        """))
    helped = run_pytest(tmp_path, "--help")
    assert re.search(r"--vk-device=NAME\s+physical device for vk_context", helped.stdout)
    assert re.search(r"--no-sync-validation\s+turn synchronisation validation off",
                     helped.stdout)
    run = run_pytest(tmp_path, "--vk-device", "0", "--no-sync-validation", "-rA",
                     drop=("DISPLAY", "WAYLAND_DISPLAY"))
    assert run.returncode == 0, run.stdout[-3000:]
    assert "vkbuffers: vk_context device=0, validation on, sync validation off" in run.stdout


def test_readme_shows_the_example_test_that_the_suite_runs():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Test your systems", 1)[1].split("\n## ", 1)[0]
    shown = re.findall(r"```python\n(.*?)```", section, re.S)
    assert shown, "README: a python block under 'Test your systems'"
    source = (ROOT / "tests" / "test_minimal_example.py").read_text()
    missing = [line for line in shown[0].splitlines() if line.strip() and line not in source]
    assert not missing, f"README lines not in tests/test_minimal_example.py: {missing}"


@pytest.mark.slow  # about 5 s: a venv, a wheel, a pip install and a pytest run
def test_a_pip_install_in_a_fresh_venv_gives_the_fixtures_to_an_unrelated_folder(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    purelib = run_python(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    link_dependencies(tmp_path / "deps", Path(purelib.strip()))
    wheel, how = build_wheel(tmp_path)
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--no-build-isolation", str(wheel)], check=True, env=clean_env())

    where = run_python(python, textwrap.dedent("""
        import importlib.metadata as md
        import engine
        [ep] = [e for e in md.entry_points(group="pytest11") if e.name == "vkbuffers"]
        print(ep.value, ep.dist.locate_file(""), engine.__file__)
        """)).split()
    site = Path(purelib.strip()).resolve()
    assert where[0] == "engine.testing.plugin"
    assert Path(where[1]).resolve() == site, f"the entry point of the fresh install ({how})"
    assert Path(where[2]).resolve().is_relative_to(site), "engine imported from the install"

    folder = tmp_path / "elsewhere"
    folder.mkdir()
    shutil.copy(ROOT / "tests" / "test_minimal_example.py", folder)
    run = subprocess.run([python, "-m", "pytest", "-p", "no:cacheprovider", "-rA"],
                         cwd=folder, env=clean_env(), capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "vkbuffers: vk_context device=auto" in run.stdout, "the plugin was loaded"
    assert "PASSED test_minimal_example.py::test_spin_system_writes_each_frame" in run.stdout
    assert "PASSED test_minimal_example.py::test_the_example_runs_headless" in run.stdout


# --- helpers ---------------------------------------------------------------------------------

class Recorder(esper.Processor):
    """Appends ``(label, frame_number, frame_open)`` each frame."""

    def __init__(self, seen: list[tuple[str, int, bool]], label: str, manager: object) -> None:
        self.seen, self.label, self.manager = seen, label, manager

    def process(self, *args: object) -> None:
        frames = getattr(self.manager, "frames", None)
        self.seen.append((self.label, getattr(frames, "frame_number", -1),
                          bool(getattr(frames, "frame_open", True))))


def _project_path(entry: str) -> bool:
    path = Path(entry or ".").resolve()
    return path == ROOT.resolve()


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the checkout on PYTHONPATH (the Makefile puts it there); other
    entries (e.g. the GPU machine's package folder) stay."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    kept = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
            if p and not _project_path(p)]
    if kept:
        env["PYTHONPATH"] = os.pathsep.join(kept)
    return {**env, **extra}


def run_python(python: str, code: str) -> str:
    return subprocess.run([python, "-c", code], check=True, capture_output=True, text=True,
                          env=clean_env(), cwd="/").stdout


def plugin_args() -> list[str]:
    """``-p engine.testing.plugin`` where the project is not installed (no entry point)."""
    installed = any(ep.value == "engine.testing.plugin"
                    for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if installed else ["-p", "engine.testing.plugin"]


def run_pytest(folder: Path, *args: str, drop: tuple[str, ...] = ()
               ) -> subprocess.CompletedProcess[str]:
    """pytest in ``folder`` (its own rootdir, no conftest) with this interpreter; ``drop``
    names environment variables to remove."""
    full_env = {k: v for k, v in os.environ.items() if k not in drop}
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plugin_args(),
         "--rootdir", str(folder), *args], cwd=folder, env=full_env, capture_output=True,
        text=True, timeout=300)


def junit(path: Path) -> dict[str, str]:
    """Test name -> "passed", or the text of its failure/error (message and details)."""
    out: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        problems = [f"{p.get('message', '')}\n{p.text or ''}" for p in case
                    if p.tag in ("failure", "error")]
        out[case.get("name", "")] = "\n".join(problems) or "passed"
    return out


def link_dependencies(deps: Path, purelib: Path) -> None:
    """Give the fresh venv this environment's packages (not the project) without a network:
    symlinks in ``deps`` and a .pth file that puts ``deps`` on its path."""
    deps.mkdir()
    project = ("vkbuffers", "__editable__", "engine", "components", "systems", "games")
    import vulkan  # where the dependencies really are (a venv, or a plain folder on PYTHONPATH)

    sites = {Path(p) for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    sites.add(Path(vulkan.__file__).resolve().parent.parent)
    for site in sites:
        for entry in site.iterdir():
            if entry.name.startswith(project) or (deps / entry.name).exists():
                continue
            (deps / entry.name).symlink_to(entry)
    (purelib / "vkbuffers-test-deps.pth").write_text(f"{deps}\n")


def build_wheel(tmp_path: Path) -> tuple[Path, str]:
    """A wheel of a copy of this checkout; returns it and how it was built.

    With a build backend that can make wheels offline (setuptools >= 70.1, or ``wheel``
    installed), ``pip wheel --no-build-isolation``. Otherwise (setuptools 65 without ``wheel``,
    as Python 3.11's ensurepip leaves a venv) setuptools itself builds the package files and
    the metadata (``build_py``, ``egg_info``, both from pyproject.toml) and they are zipped.
    """
    src, dist = tmp_path / "src", tmp_path / "dist"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in ("engine", "components", "systems", "games"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    version = tuple(int(x) for x in re.findall(r"\d+", importlib.metadata.version(
        "setuptools"))[:2])
    if version >= (70, 1) or importlib.util.find_spec("wheel") is not None:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index",
                        "--no-build-isolation", "-w", str(dist), str(src)], check=True,
                       env=clean_env())
        return next(dist.glob("vkbuffers-*.whl")), "pip wheel"
    return zip_setuptools_build(src, dist), "setuptools build_py + egg_info, zipped"


def zip_setuptools_build(src: Path, dist: Path) -> Path:
    """Package files and metadata from setuptools; the wheel (PEP 427) zipped here."""
    import base64
    import hashlib
    import zipfile

    lib_dir, meta_dir = src / "build" / "lib", src / "build" / "meta"
    meta_dir.mkdir(parents=True)
    subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q",
                    "egg_info", "--egg-base", str(meta_dir), "build_py", "--build-lib",
                    str(lib_dir)], cwd=src, check=True, env=clean_env(),
                   capture_output=True)
    [egg] = meta_dir.glob("*.egg-info")
    pkg_info = (egg / "PKG-INFO").read_text()
    name = re.search(r"^Name: (.+)$", pkg_info, re.M).group(1)  # type: ignore[union-attr]
    ver = re.search(r"^Version: (.+)$", pkg_info, re.M).group(1)  # type: ignore[union-attr]
    info = f"{name}-{ver}.dist-info"
    files = {str(p.relative_to(lib_dir)): p.read_bytes() for p in lib_dir.rglob("*")
             if p.is_file()}
    files[f"{info}/METADATA"] = pkg_info.encode()
    files[f"{info}/entry_points.txt"] = (egg / "entry_points.txt").read_bytes()
    files[f"{info}/top_level.txt"] = (egg / "top_level.txt").read_bytes()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: vkbuffers-tests\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    dist.mkdir(exist_ok=True)
    wheel = dist / f"{name}-{ver}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


WRONG_SYSTEMS = '''
"""A user's own systems, tested with nothing but the vkbuffers plugin. Four are wrong."""
import esper
import numpy as np

from engine import BufferConfig, BufferStrategy, BufferUsage, FrameCommands, GlobalUboSet
from engine import Phase, add_system
from engine.render import OffscreenTarget, Renderer
from engine.device.vk import ffi, lib, vk
from games.minimal import SPIN, TrianglePass
from systems import RenderSystem


class TrailSystem(esper.Processor):
    """Appends one 16-byte point per frame to a 4-point trail: past its end in frame 4."""
    def __init__(self, manager, trail):
        self.manager, self.trail, self.points = manager, trail, 0

    def process(self, dt):
        offset = self.points * 16  # wrong: no wrap-around, no resize
        self.manager.update_buffer(self.trail, np.ones(4, np.float32), offset=offset)
        self.points += 1


def test_trail_writes_past_the_end_of_its_buffer(buffer_manager, frame_driver):
    trail = buffer_manager.create_buffer(BufferConfig(
        "trail", 64, BufferStrategy.DEVICE_LOCAL, BufferUsage.STORAGE))
    frame_driver.install(buffer_manager)
    add_system(TrailSystem(buffer_manager, trail), Phase.SIMULATE)
    frame_driver.step(8)


class CameraSystem(esper.Processor):
    """Writes the camera block every frame into one host-visible buffer (wrong)."""
    def __init__(self, manager, camera):
        self.manager, self.camera = manager, camera

    def process(self, dt):
        self.manager.update_buffer(self.camera, np.zeros((), SPIN))


class CameraSetSystem(CameraSystem):
    """The same, into this frame slot's buffer of a GlobalUboSet (right)."""
    def process(self, dt):
        self.manager.update_buffer(self.camera.get_buffer(), np.zeros((), SPIN))


def run_frames(vk_context, buffer_manager, resource_binder, frame_driver, camera, system):
    target = OffscreenTarget(vk_context, 32, 32)
    renderer = Renderer(buffer_manager, target)
    try:
        renderer.add_pass(TrianglePass(resource_binder, renderer, camera), phase="scene")
        frame_driver.install(buffer_manager, resource_binder)
        add_system(system(buffer_manager, camera), Phase.SIMULATE)
        add_system(RenderSystem(renderer, buffer_manager), Phase.RENDER)
        frame_driver.step(4)
    finally:
        renderer.destroy()
        target.destroy()


def test_camera_forgets_the_per_frame_buffer_set(
        vk_context, buffer_manager, resource_binder, frame_driver):
    camera = buffer_manager.create_buffer(BufferConfig(  # wrong: one buffer for every frame
        "camera", SPIN.itemsize, BufferStrategy.HOST_VISIBLE, BufferUsage.UNIFORM, SPIN))
    run_frames(vk_context, buffer_manager, resource_binder, frame_driver, camera, CameraSystem)


class BarrierSystem(esper.Processor):
    """Records a pipeline barrier with no stage masks (invalid without synchronization2)."""
    def __init__(self, commands):
        self.commands = commands

    def process(self, dt):
        cmd = self.commands.begin()
        lib.vkCmdPipelineBarrier(cmd, 0, 0, 0, 0, ffi.NULL, 0, ffi.NULL, 0, ffi.NULL)
        self.commands.submit(cmd)


def test_barrier_without_stage_masks(buffer_manager, frame_driver):
    frame_driver.install(buffer_manager)
    add_system(BarrierSystem(FrameCommands(buffer_manager)), Phase.RENDER)
    frame_driver.step(3)


def test_leaks_a_fence(vk_context):
    info = ffi.new("VkFenceCreateInfo*", {"sType": vk.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO})
    lib.vkCreateFence(vk_context.device, info, ffi.NULL, ffi.new("VkFence*"))  # never destroyed


def test_the_same_systems_done_right_pass(
        vk_context, buffer_manager, resource_binder, frame_driver):
    camera = GlobalUboSet(buffer_manager, SPIN, name="camera")  # one buffer per frame slot
    run_frames(vk_context, buffer_manager, resource_binder, frame_driver, camera, CameraSetSystem)
'''
