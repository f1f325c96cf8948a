"""The harness classifies what it must: a signal, a raw exception, wrong data, a leak."""

from __future__ import annotations

from hostile_harness import Case, run_case


def test_a_segfault_is_a_crash():
    out = run_case(Case(1, "segv", "import ctypes; ctypes.string_at(0)"))
    assert out.kind == "crash" and "SIGSEGV" in out.detail


def test_a_raw_exception_is_reported():
    assert run_case(Case(12, "raw", "{}['missing']")).kind == "raw_exception"


def test_a_failed_data_check_is_wrong_data():
    assert run_case(Case(4, "wd", "check(False, 'bytes differ')", wrong_data=True)).kind \
        == "wrong_data"


def test_a_leaked_vulkan_object_is_a_leak():
    code = """
        from engine.device.vk import ffi, lib, vk
        info = ffi.new("VkFenceCreateInfo*", {"sType": vk.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO})
        out = ffi.new("VkFence*")
        lib.vkCreateFence(ctx.device, info, ffi.NULL, out)
    """
    assert run_case(Case(1, "leak", code)).kind == "leak"
