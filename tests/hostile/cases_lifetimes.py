"""Class 1: lifetimes across objects.

Buffers bound in a ResourceBinder outliving their manager, a context closed under live
managers, binders, ComputePipelines, FrameCommands and BufferSets (then every method of each
called), two BufferManagers on one context sharing GPU work (frame completion must be per
queue, not per manager), close orders, double close, use after close.

Expected everywhere: an EngineError (ManagerClosedError, BufferDestroyedError...), never a
signal, a validation message, a freed handle handed to the driver, or a leaked object.
"""

import textwrap

from hostile_harness import Case
from hostile_rigs import rigged

# Everything alive, one frame run with a dispatch, and a command buffer left recording.
WORLD = """
m = BufferManager(ctx)
binder = ResourceBinder(ctx, frames_in_flight=3)
r = Rig(m, kind="storage", strategy=BufferStrategy.DEVICE_LOCAL, binder=binder)
hv = m.create_buffer(BufferConfig("hv", 64, BufferStrategy.HOST_VISIBLE, BufferUsage.STORAGE))
dl = m.create_buffer(BufferConfig("dl", 64))
bs = BufferSet(m, 64, name="set", usage=BufferUsage.STORAGE)
ubo = GlobalUboSet(m, 64)
m.update_buffer(dl, bytes(range(64)))
m.update_buffer(r.src, u4(1, 2, 3, 4))
m.begin_frame()
r.dispatch()
open_cmd = r.cmds.begin()
"""

CTX_CLOSED = WORLD + """
ctx.close()
"""

MANAGER_CLOSED = WORLD + """
m.end_frame()
m.close()
"""

BINDER_CLOSED = WORLD + """
m.end_frame()
binder.close()
"""

# Manager A owns the buffer; manager B's frames submit GPU work that reads it.
TWO = """
A = BufferManager(ctx)
B = BufferManager(ctx)
src = A.create_and_upload("a-src", u4(1, 2, 3, 4), usage=BufferUsage.STORAGE)
A.begin_frame()
A.end_frame()
r = Rig(B, kind="storage", src=src)
B.begin_frame()
r.dispatch(spin=20000, groups=16)
B.end_frame()
"""


def _indent(*names):
    """The shared prefixes, indented like the case bodies they are put in front of."""
    g = globals()
    for n in names:
        g[n] = textwrap.indent(g[n], " " * 8)


# The same with a host-visible buffer of A: A's resize copies on the host (no submission of A).
TWO_HOST = TWO.replace('usage=BufferUsage.STORAGE)',
                       'usage=BufferUsage.STORAGE, strategy=BufferStrategy.HOST_VISIBLE)')

_indent("WORLD", "CTX_CLOSED", "MANAGER_CLOSED", "BINDER_CLOSED", "TWO", "TWO_HOST")


def case(name, body, **kw):
    return Case(1, name, rigged(body), **kw)


CASES = [
    # --- a buffer bound in a ResourceBinder, then its manager closed -------------------------
    case("manager-closed-then-binder-update-frame", """
        m = BufferManager(ctx)
        binder = ResourceBinder(ctx, frames_in_flight=3)
        r = Rig(m, kind="storage", strategy=BufferStrategy.DEVICE_LOCAL, binder=binder)
        m.close()
        with raises(EngineError):
            binder.update_frame(r.pid, 0)
        with raises(EngineError):
            binder.update_frame(r.pid, 1)
    """),
    case("manager-closed-then-binder-update-all", """
        m = BufferManager(ctx)
        binder = ResourceBinder(ctx, frames_in_flight=3)
        r = Rig(m, kind="uniform", binder=binder)
        m.close()
        with raises(EngineError):
            binder.update_all(0)
    """),
    case("manager-closed-after-slot0-written-then-update-frame-slot1", """
        m = BufferManager(ctx)
        binder = ResourceBinder(ctx, frames_in_flight=3)
        r = Rig(m, kind="storage", binder=binder)
        m.begin_frame()
        check(binder.update_frame(r.pid, 0) == 2, "two descriptors written in slot 0")
        m.end_frame()
        m.close()
        with raises(EngineError):
            binder.update_frame(r.pid, 1)
        with raises(EngineError):
            binder.update_all(2)
    """),
    case("manager-closed-then-compute-record-and-submit", """
        m = BufferManager(ctx)
        binder = ResourceBinder(ctx, frames_in_flight=3)
        r = Rig(m, kind="storage", binder=binder)
        m.begin_frame()
        binder.update_frame(r.pid, 0)
        cmd = r.cmds.begin()
        m.close()
        closed_call("ComputePipeline.record after the manager closed",
                    lambda: r.pipe.record(cmd, 0, 1, push_constants=u4(0)))
        closed_call("FrameCommands.submit after the manager closed", lambda: r.cmds.submit(cmd))
        closed_call("FrameCommands.begin after the manager closed", r.cmds.begin)
    """),
    case("manager-closed-then-rebind-its-dead-buffer", """
        m = BufferManager(ctx)
        binder = ResourceBinder(ctx, frames_in_flight=3)
        r = Rig(m, kind="storage", binder=binder)
        m.close()
        with raises(EngineError):
            binder.bind_storage_buffer_named(r.pid, "Src", r.src)
        m2 = BufferManager(ctx)
        fresh = m2.create_buffer(BufferConfig("fresh", 16))
        binder.bind_storage_buffer_named(r.pid, "Src", fresh)
        binder.bind_storage_buffer_named(r.pid, "Dst", fresh)
        m2.begin_frame()
        check(binder.update_frame(r.pid, m2.frame_index) == 2, "rebinding live buffers works")
        m2.end_frame()
    """),
    case("destroyed-bound-buffer-freed-then-update-frame-and-record", """
        m = BufferManager(ctx)
        r = Rig(m, kind="storage")
        m.destroy_buffer(r.src)
        for _ in range(4):
            m.begin_frame()
            m.end_frame()
        m.begin_frame()
        with raises(BufferDestroyedError):
            binder_writes = r.binder.update_frame(r.pid, m.frame_index)
        cmd = r.cmds.begin()
        closed_call("record of a pipeline whose bound buffer is freed",
                    lambda: r.pipe.record(cmd, m.frame_index, 1, push_constants=u4(0)))
        r.cmds.submit(cmd)
        m.end_frame()
    """),
    # --- the context closed under everything, then every method ------------------------------
    case("ctx-closed-manager-mutations", CTX_CLOSED + """
        closed_call("create_buffer", lambda: m.create_buffer(BufferConfig("x", 16)))
        closed_call("create_and_upload", lambda: m.create_and_upload("x", b"1234"))
        closed_call("update_buffer host", lambda: m.update_buffer(hv, b"abcd"))
        closed_call("update_buffer device", lambda: m.update_buffer(dl, b"abcd"))
        closed_call("resize_buffer", lambda: m.resize_buffer(dl, 128))
        closed_call("destroy_buffer", lambda: m.destroy_buffer(dl))
        closed_call("write_when_slot_begins", lambda: m.write_when_slot_begins(hv, b"ab", 1))
        m.close()
        m.close()
    """),
    case("ctx-closed-manager-reads", CTX_CLOSED + """
        closed_call("read_buffer device", lambda: m.read_buffer(dl))
        closed_call("read_buffer host", lambda: m.read_buffer(hv))
        closed_call("read_array", lambda: m.read_array(dl, np.uint32))
    """),
    case("ctx-closed-manager-frames", CTX_CLOSED + """
        closed_call("end_frame", m.end_frame)
        closed_call("begin_frame", m.begin_frame)
        closed_call("begin_frame(1)", lambda: m.begin_frame(1))
        either(m.submit_uploads)
        closed_call("end_frame again", m.end_frame)
    """),
    case("ctx-closed-manager-queries", CTX_CLOSED + """
        import io, contextlib as cl
        either(m.statistics)
        with cl.redirect_stdout(io.StringIO()):
            either(m.print_statistics)
        either(m.live_buffers)
        either(lambda: m.frame_index)
        either(lambda: m.frame_number)
        check(m.closed, "a manager of a closed context reports closed")
        check(not hv.alive and not dl.alive, "its buffers report not alive")
    """),
    case("ctx-closed-binder-queries", CTX_CLOSED + """
        pid = r.pid
        for name, fn in [
            ("pipeline_layout", lambda: binder.pipeline_layout(pid)),
            ("set_layouts", lambda: binder.set_layouts(pid)),
            ("layout_info", lambda: binder.layout_info(pid)),
            ("shader_stages", lambda: binder.shader_stages(pid)),
            ("binding_names", lambda: binder.binding_names(pid)),
            ("descriptor_sets", lambda: binder.descriptor_sets(pid, 0)),
            ("descriptor_set_array", lambda: binder.descriptor_set_array(pid, 0)),
            ("missing_bindings", lambda: binder.missing_bindings(pid)),
            ("adopt", lambda: binder.adopt(pid, r.pipe)),
            ("release_pipeline", lambda: binder.release_pipeline(pid)),
        ]:
            closed_call(name, fn)
        either(binder.pipeline_ids)
        either(lambda: pid in binder)
        either(lambda: list(binder))
        check(binder.closed, "binder of a closed context reports closed")
        binder.close()
    """),
    case("ctx-closed-binder-binding-and-updates", CTX_CLOSED + """
        pid = r.pid
        closed_call("bind_storage_buffer_named",
                    lambda: binder.bind_storage_buffer_named(pid, "Src", dl))
        closed_call("bind_uniform_buffer_named",
                    lambda: binder.bind_uniform_buffer_named(pid, "Src", ubo))
        closed_call("bind_buffer_named", lambda: binder.bind_buffer_named(pid, "Dst", dl))
        closed_call("unbind", lambda: binder.unbind(pid, "Src"))
        closed_call("update_frame", lambda: binder.update_frame(pid, 1))
        closed_call("update_all", lambda: binder.update_all(1))
        closed_call("register_pipeline", lambda: binder.register_pipeline(
            "again", binder_code))
    """.replace("binder_code", "compile_glsl_source('#version 450\\nlayout(local_size_x=1) in;"
                               "\\nvoid main(){}', 'comp')")),
    case("ctx-closed-compute-pipeline", CTX_CLOSED + """
        closed_call("record into a command buffer of a closed context",
                    lambda: r.pipe.record(open_cmd, 0, 1, push_constants=u4(0)))
        check(r.pipe.groups_for(100) == (2, 1, 1), "groups_for is pure arithmetic")
        r.pipe.destroy()
        r.pipe.destroy()
        closed_call("ComputePipeline() on a closed binder", lambda: ComputePipeline(binder, r.pid))
    """),
    case("ctx-closed-frame-commands", CTX_CLOSED + """
        closed_call("FrameCommands.begin", r.cmds.begin)
        closed_call("FrameCommands.submit of a command buffer begun before the close",
                    lambda: r.cmds.submit(open_cmd))
        r.cmds.close()
        r.cmds.close()
        closed_call("FrameCommands() on a closed manager", lambda: FrameCommands(m))
    """),
    case("ctx-closed-bufferset-and-globaluboset", CTX_CLOSED + """
        for s in (bs, ubo):
            closed_call("BufferSet.update", lambda: s.update(bytes(64)))
            closed_call("BufferSet.update slot 1", lambda: s.update(bytes(64), 1))
            closed_call("BufferSet.update_all", lambda: s.update_all(bytes(64)))
            either(lambda: s.get_buffer(0))
            either(lambda: len(s))
            either(lambda: list(s))
            either(s.destroy)
            either(s.destroy)
        closed_call("BufferSet() on a closed manager", lambda: BufferSet(m, 16, name="n"))
        closed_call("GlobalUboSet() on a closed manager", lambda: GlobalUboSet(m, 16))
    """),
    case("ctx-closed-context-methods", CTX_CLOSED + """
        closed_call("require_open", lambda: ctx.require_open("test"))
        either(ctx.wait_idle)
        either(lambda: ctx.set_object_name(vk.VK_OBJECT_TYPE_BUFFER, ffi.NULL, "x"))
        either(ctx.describe)
        either(lambda: ctx.notify_buffer(dl, "destroyed"))
        check(ctx.closed, "closed")
        closed_call("BufferManager() on a closed context", lambda: BufferManager(ctx))
        closed_call("ResourceBinder() on a closed context",
                    lambda: ResourceBinder(ctx, frames_in_flight=3))
        ctx.close()
        ctx.close()
    """),
    case("ctx-closed-mid-frame-with-pending-uploads", """
        m = BufferManager(ctx)
        binder = ResourceBinder(ctx, frames_in_flight=3)
        r = Rig(m, kind="uniform", binder=binder)
        dl = m.create_buffer(BufferConfig("dl", 1 << 20))
        m.begin_frame()
        r.dispatch()
        m.update_buffer(dl, bytes(1 << 20))          # staged, not submitted
        m.resize_buffer(dl, 2 << 20)                 # old VkBuffer retired in this frame
        victim = m.create_buffer(BufferConfig("victim", 256))
        m.destroy_buffer(victim)
        open_cmd = r.cmds.begin()                    # left recording
        ctx.close()
        check(m.closed and binder.closed, "everything closed with the context")
    """),
    # --- manager closed (context open), then every method -------------------------------------
    case("manager-closed-manager-methods", MANAGER_CLOSED + """
        closed_call("create_buffer", lambda: m.create_buffer(BufferConfig("x", 16)))
        closed_call("create_and_upload", lambda: m.create_and_upload("x", b"1234"))
        closed_call("update_buffer", lambda: m.update_buffer(dl, b"abcd"))
        closed_call("resize_buffer", lambda: m.resize_buffer(dl, 128))
        closed_call("destroy_buffer", lambda: m.destroy_buffer(hv))
        closed_call("read_buffer", lambda: m.read_buffer(dl))
        closed_call("begin_frame", m.begin_frame)
        closed_call("end_frame", m.end_frame)
        closed_call("write_when_slot_begins", lambda: m.write_when_slot_begins(hv, b"ab", 1))
        either(m.submit_uploads)
        either(m.statistics)
        m.close()
    """),
    case("manager-closed-frame-commands-and-pipeline", MANAGER_CLOSED + """
        closed_call("FrameCommands.begin", r.cmds.begin)
        closed_call("FrameCommands.submit of a command buffer begun before the close",
                    lambda: r.cmds.submit(open_cmd))
        closed_call("FrameCommands() on a closed manager", lambda: FrameCommands(m))
        closed_call("update_frame with freed buffers", lambda: binder.update_frame(r.pid, 1))
    """),
    case("manager-closed-bufferset-methods", MANAGER_CLOSED + """
        closed_call("BufferSet.update", lambda: bs.update(bytes(64)))
        closed_call("BufferSet.update_all", lambda: bs.update_all(bytes(64)))
        closed_call("GlobalUboSet.update", lambda: ubo.update(bytes(64)))
        either(bs.destroy)
        either(bs.destroy)
        closed_call("BufferSet() on a closed manager", lambda: BufferSet(m, 16, name="n"))
    """),
    # --- binder closed, then its pipelines ---------------------------------------------------
    case("binder-closed-compute-pipeline-and-methods", BINDER_CLOSED + """
        closed_call("record on a closed binder", lambda: r.pipe.record(open_cmd, 0, 1))
        closed_call("ComputePipeline() on a closed binder", lambda: ComputePipeline(binder, r.pid))
        closed_call("update_frame", lambda: binder.update_frame(r.pid, 0))
        closed_call("bind", lambda: binder.bind_storage_buffer_named(r.pid, "Src", dl))
        closed_call("descriptor_sets", lambda: binder.descriptor_sets(r.pid, 0))
        with raises(FrameStateError):  # begun in a frame that has ended: refused, not sent
            r.cmds.submit(open_cmd)
        m.begin_frame()
        m.end_frame()
    """),
    case("release-pipeline-then-record-and-queries", """
        m = BufferManager(ctx)
        r = Rig(m, kind="uniform")
        m.begin_frame()
        r.dispatch()
        m.end_frame()
        r.binder.release_pipeline(r.pid)
        m.begin_frame()
        cmd = r.cmds.begin()
        with raises(UnknownPipelineError):
            r.pipe.record(cmd, m.frame_index, 1, push_constants=u4(0))
        with raises(UnknownPipelineError):
            r.binder.descriptor_sets(r.pid, 0)
        with raises(UnknownPipelineError):
            r.binder.update_frame(r.pid, 0)
        with raises(UnknownPipelineError):
            r.binder.release_pipeline(r.pid)
        r.cmds.submit(cmd)
        m.end_frame()
    """),
    # --- two managers on one context: completion is per queue, not per manager ---------------
    case("two-managers-b-dispatch-reads-a-buffer-then-a-destroys", TWO + """
        A.begin_frame()
        A.destroy_buffer(src)
        A.end_frame()
        for _ in range(4):
            A.begin_frame()
            A.end_frame()
        check(r.result(B) == [1, 2, 3, 4], "B's dispatch read A's buffer")
    """, wrong_data=True),
    case("two-managers-b-copy-reads-a-buffer-then-a-destroys", """
        from engine.binding.pipelines import memory_barrier
        A = BufferManager(ctx)
        B = BufferManager(ctx)
        src = A.create_and_upload("a-src", np.arange(1 << 16, dtype=np.uint32),
                                  usage=BufferUsage.STORAGE)
        dst = B.create_buffer(BufferConfig("b-dst", 1 << 18))
        r = Rig(B, kind="storage")
        A.begin_frame()
        A.end_frame()
        B.begin_frame()
        r.binder.update_frame(r.pid, B.frame_index)
        B.submit_uploads()
        cmd = r.cmds.begin()
        r.pipe.record(cmd, B.frame_index, 16, push_constants=u4(20000))   # keeps the GPU busy
        memory_barrier(cmd, vk.VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, vk.VK_ACCESS_MEMORY_WRITE_BIT,
                       vk.VK_PIPELINE_STAGE_TRANSFER_BIT, vk.VK_ACCESS_TRANSFER_READ_BIT)
        region = ffi.new("VkBufferCopy*", {"srcOffset": 0, "dstOffset": 0, "size": 1 << 18})
        lib.vkCmdCopyBuffer(cmd, src.handle, dst.handle, 1, region)
        r.cmds.submit(cmd)
        B.end_frame()
        A.begin_frame()
        A.destroy_buffer(src)
        A.end_frame()
        for _ in range(4):
            A.begin_frame()
            A.end_frame()
        got = B.read_array(dst, np.uint32)
        check(np.array_equal(got, np.arange(1 << 16, dtype=np.uint32)), "B's copy of A's data")
    """, wrong_data=True),
    case("two-managers-b-dispatch-reads-a-host-buffer-then-a-resizes", TWO_HOST + """
        A.begin_frame()
        A.resize_buffer(src, 64)          # the old VkBuffer is retired into A's frame
        A.end_frame()
        for _ in range(4):
            A.begin_frame()
            A.end_frame()
        check(r.result(B) == [1, 2, 3, 4], "B's dispatch read A's old buffer")
        check(A.read_array(src, np.uint32, count=4).tolist() == [1, 2, 3, 4], "resize kept data")
    """, wrong_data=True),
    case("two-managers-b-dispatch-reads-a-buffer-then-a-closes", TWO + """
        A.close()
        check(r.result(B) == [1, 2, 3, 4], "B's dispatch read A's buffer")
    """, wrong_data=True),
    case("two-managers-b-dispatch-reads-a-bufferset-then-a-destroys-it", """
        A = BufferManager(ctx)
        B = BufferManager(ctx)
        ubo = GlobalUboSet(A, 16)
        ubo.update_all(u4(9, 8, 7, 6))
        binder = ResourceBinder(ctx, frames_in_flight=3)
        r = Rig(B, kind="uniform", binder=binder, src=ubo)
        B.begin_frame()
        r.dispatch(spin=20000, groups=16)
        B.end_frame()
        ubo.destroy()
        for _ in range(4):
            A.begin_frame()
            A.end_frame()
        check(r.result(B) == [9, 8, 7, 6], "B's dispatch read A's set")
    """, wrong_data=True),
    case("two-managers-b-writes-a-buffer-then-a-reads-it", """
        A = BufferManager(ctx)
        B = BufferManager(ctx)
        dst = A.create_buffer(BufferConfig("a-dst", 16))
        A.begin_frame()
        A.end_frame()
        r = Rig(B, kind="storage", strategy=BufferStrategy.DEVICE_LOCAL, dst=dst)
        B.update_buffer(r.src, u4(5, 6, 7, 8))
        B.begin_frame()
        r.dispatch(spin=20000, groups=16)
        B.end_frame()
        check(A.read_array(dst, np.uint32).tolist() == [5, 6, 7, 8], "A sees B's GPU write")
    """, wrong_data=True),
    case("two-managers-foreign-and-closed-buffers", """
        A = BufferManager(ctx)
        B = BufferManager(ctx)
        a = A.create_buffer(BufferConfig("a", 16, BufferStrategy.HOST_VISIBLE))
        with raises(ForeignBufferError):
            B.update_buffer(a, b"1234")
        with raises(ForeignBufferError):
            B.destroy_buffer(a)
        A.close()
        with raises(EngineError):
            B.update_buffer(a, b"1234")
        with raises(EngineError):
            B.read_buffer(a)
        with raises(EngineError):
            B.write_when_slot_begins(a, b"12", 0)
        b = B.create_buffer(BufferConfig("b", 16))
        B.update_buffer(b, b"x" * 16)
        check(B.read_buffer(b) == b"x" * 16, "B unaffected by A's close")
    """, wrong_data=True),
    # --- close orders, double close, use after close -----------------------------------------
    case("close-order-binder-manager-context", WORLD + """
        r.cmds.submit(open_cmd)
        m.end_frame()
        binder.close()
        r.cmds.close()
        m.close()
        ctx.close()
    """),
    case("close-order-manager-binder-context", WORLD + """
        r.cmds.submit(open_cmd)
        m.end_frame()
        m.close()
        binder.close()
        r.cmds.close()
        ctx.close()
    """),
    case("close-order-frame-commands-first-with-open-command-buffer", WORLD + """
        r.cmds.close()
        closed_call("submit after FrameCommands.close", lambda: r.cmds.submit(open_cmd))
        m.end_frame()
        m.begin_frame()
        m.end_frame()
    """),
    case("double-close-everything", WORLD + """
        r.cmds.submit(open_cmd)
        m.end_frame()
        for obj in (binder, r.cmds, m, binder, r.cmds, m):
            obj.close()
        bs.destroy()
        bs.destroy()
        ctx.close()
        ctx.close()
        for obj in (binder, r.cmds, m):
            obj.close()
    """),
    case("with-blocks-unwinding-on-an-error", """
        try:
            with BufferManager(ctx) as m, ResourceBinder(ctx, frames_in_flight=3) as binder:
                r = Rig(m, kind="uniform", binder=binder)
                m.begin_frame()
                r.dispatch()
                open_cmd = r.cmds.begin()
                raise OutOfBoundsError("user error inside the with block")
        except OutOfBoundsError:
            pass
        check(m.closed and binder.closed, "both closed by their with blocks")
        closed_call("FrameCommands.submit after the manager's with block",
                    lambda: r.cmds.submit(open_cmd))
    """),
    case("descriptor-info-of-a-destroyed-buffer", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("b", 64))
        m.destroy_buffer(b)
        for _ in range(4):
            m.begin_frame()
            m.end_frame()
        closed_call("descriptor_info of a freed buffer (its handle is freed)",
                    lambda: b.descriptor_info())
    """),
    case("buffer-system-component-removed-after-manager-close", """
        from systems.buffer_system import BufferSystem
        esper.switch_world("hostile-c01")
        m = BufferManager(ctx)
        BufferSystem.install(m)
        b = m.create_buffer(BufferConfig("comp", 64))
        ent = esper.create_entity(b)
        esper.process(0.016)
        m.close()
        esper.remove_component(ent, ManagedBuffer)
        r = either(lambda: esper.process(0.016))
        esper.delete_entity(ent, immediate=True)
        either(lambda: esper.process(0.016))
        esper.clear_database()
    """),
    case("new-context-after-close-with-old-objects", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("old", 64))
        ctx.close()
        ctx2 = GraphicsContext.create(validation=True, sync_validation=True)
        try:
            m2 = BufferManager(ctx2)
            with raises(EngineError):
                m2.update_buffer(b, b"1234")
            with raises(EngineError):
                m2.destroy_buffer(b)
            binder2 = ResourceBinder(ctx2, frames_in_flight=3)
            r = Rig(m2, binder=binder2)
            with raises(EngineError):
                binder2.bind_uniform_buffer_named(r.pid, "Src", b)
            m2.begin_frame()
            r.dispatch()
            m2.end_frame()
        finally:
            ctx2.close()
    """),
]
