"""Hostile cases of class 6 (ECS world changes) and class 11 (recovery) for the BufferSystem.

Every case runs whole frames with ``esper.process()`` and the real BufferSystem
(``BufferSystem.install``), changes the esper world in between or from inside a processor, and
checks through ``manager.statistics()`` / ``manager.live_buffers()`` that exactly the buffers
that went away were retired (once) and then freed. The rule is the one of
``systems/buffer_system.py``'s docstring.
"""

from __future__ import annotations

import textwrap

from hostile_harness import Case

SETUP = '''
import logging
from systems.buffer_system import BufferSystem
from engine.schedule import Phase, priority
esper.switch_world("hostile-main")
m = BufferManager(ctx, frames_in_flight=3)
bs = BufferSystem.install(m)

def mk(name, strategy=BufferStrategy.HOST_VISIBLE):
    return m.create_buffer(BufferConfig(name, 64, strategy))

def frames(n=1):
    for _ in range(n):
        esper.process()

def live():
    return sorted(b.name for b in m.live_buffers())

def expect_live(names, text):
    check(live() == sorted(names), f"{text}: live {live()}, expected {sorted(names)}")

def settle(destroyed):
    """Run enough frames for every retired buffer to be freed; check the totals."""
    frames(m.frames_in_flight + 1)
    s = m.statistics()
    check(s.buffers_destroyed_total == destroyed,
          f"destroyed {s.buffers_destroyed_total}, expected {destroyed}")
    check(s.pending_destroy_count == 0, f"{s.pending_destroy_count} still pending")
    check(s.buffers_freed_total == destroyed, f"freed {s.buffers_freed_total} != {destroyed}")

class Hook(esper.Processor):
    """Runs ``fn`` once per frame (every frame, or only frame ``at``)."""
    def __init__(self, fn, at=None):
        self.fn, self.at, self.calls = fn, at, 0
    def process(self, *args):
        self.calls += 1
        if self.at is None or self.calls == self.at:
            self.fn()

class Boom(Exception):
    pass

def hook(fn, phase=Phase.SIMULATE, order=50, at=None, prio=None):
    h = Hook(fn, at)
    esper.add_processor(h, priority=priority(phase, order) if prio is None else prio)
    return h

def boom():
    raise Boom("raised by a system")
'''


def case(cls: int, name: str, code: str, **kw: object) -> Case:
    return Case(cls, name, SETUP + textwrap.dedent(code), **kw)  # type: ignore[arg-type]


W = 6   # ECS world changes
R = 11  # recovery

CASES: list[Case] = [
    # --- clear_database and reused entity ids ---------------------------------------------
    case(W, "ecs-clear-database-then-reused-ids", """
        old = [mk(n) for n in "abc"]
        ids = [esper.create_entity(b) for b in old]
        frames(2)
        esper.clear_database()
        new = [mk(n) for n in "def"]
        ids2 = [esper.create_entity(b) for b in new]
        check(ids2 == ids, f"esper reuses ids 1-3: {ids2}")
        frames()
        expect_live("def", "old buffers retired after clear_database")
        esper.remove_component(ids2[0], ManagedBuffer)
        frames()
        expect_live("ef", "removing the new entity's component retires the new buffer")
        settle(4)
    """),
    case(W, "ecs-clear-database-inside-a-system", """
        for n in "abc":
            esper.create_entity(mk(n))
        frames()
        hook(lambda: esper.clear_database(), at=1)
        frames()
        expect_live("", "cleared inside SIMULATE, retired at END")
        esper.create_entity(mk("d"))
        frames()
        expect_live("d", "new entity after clear kept")
        settle(3)
    """),
    case(W, "ecs-clear-database-twice-with-frames-between", """
        esper.create_entity(mk("a"))
        frames()
        esper.clear_database()
        e = esper.create_entity(mk("b"))
        frames()
        esper.clear_database()
        esper.clear_database()
        frames()
        expect_live("", "both retired")
        check(e == 1, "id reused")
        settle(2)
    """),
    case(W, "ecs-clear-database-reuse-before-any-frame", """
        a = mk("a")
        esper.create_entity(a)
        esper.clear_database()
        esper.create_entity(mk("b"))
        frames(2)
        expect_live("ab", "a was never held at a sync: not the system's to retire")
        m.destroy_buffer(a)
        settle(1)
    """),
    case(W, "ecs-clear-database-keeps-re-added-same-buffers", """
        a, b = mk("a"), mk("b")
        esper.create_entity(a)
        esper.create_entity(b)
        frames()
        esper.clear_database()
        esper.create_entity(b)   # id 1 now holds b, a is gone
        frames()
        expect_live("b", "a retired, b moved to entity 1 and kept")
        settle(1)
    """),
    case(W, "ecs-reused-id-after-immediate-delete", """
        a = mk("a")
        e = esper.create_entity(a)
        frames()
        esper.delete_entity(e, immediate=True)
        esper.clear_database()
        e2 = esper.create_entity(mk("b"))
        check(e2 == e, "same id")
        frames()
        expect_live("b", "a retired even though the id holds a buffer again")
        settle(1)
    """),
    # --- remove_component / delete_entity -------------------------------------------------
    case(W, "ecs-remove-component-between-frames", """
        a, b = mk("a"), mk("b")
        ea = esper.create_entity(a)
        esper.create_entity(b)
        frames()
        esper.remove_component(ea, ManagedBuffer)
        check(a.alive, "retired at the next frame, not at once")
        frames()
        expect_live("b", "a retired")
        settle(1)
    """),
    case(W, "ecs-remove-component-inside-a-system", """
        a = mk("a")
        ea = esper.create_entity(a, "tag")
        frames()
        hook(lambda: esper.remove_component(ea, ManagedBuffer), at=1)
        frames()
        check(not a.alive, "retired at END of the same frame")
        check(esper.entity_exists(ea), "entity itself stays")
        settle(1)
    """),
    case(W, "ecs-delete-entity-deferred-between-frames", """
        e = esper.create_entity(mk("a"))
        esper.create_entity(mk("b"))
        frames()
        esper.delete_entity(e)
        frames()
        expect_live("b", "deferred delete retired at the next BEGIN")
        settle(1)
    """),
    case(W, "ecs-delete-entity-immediate-between-frames", """
        e = esper.create_entity(mk("a"))
        frames()
        esper.delete_entity(e, immediate=True)
        frames()
        expect_live("", "immediate delete retired")
        settle(1)
    """),
    case(W, "ecs-delete-entity-deferred-inside-a-system", """
        e = esper.create_entity(mk("a"))
        frames()
        hook(lambda: esper.delete_entity(e), at=1)
        frames()
        frames()
        expect_live("", "retired by the next BEGIN")
        settle(1)
    """),
    case(W, "ecs-delete-entity-immediate-inside-a-system", """
        e = esper.create_entity(mk("a"))
        keep = esper.create_entity(mk("k"))
        frames()
        hook(lambda: esper.delete_entity(e, immediate=True), at=1)
        frames()
        expect_live("k", "retired at END")
        check(esper.entity_exists(keep), "other entity intact")
        settle(1)
    """),
    case(W, "ecs-create-and-deferred-delete-in-one-frame", """
        made = []
        def spawn():
            e = esper.create_entity(mk("tmp"))
            made.append(e)
            esper.delete_entity(e)
        hook(spawn, at=1)
        frames()
        frames()
        expect_live("", "seen at END, retired at the next BEGIN")
        settle(1)
    """),
    case(W, "ecs-create-and-immediate-delete-in-one-system-is-the-owners", """
        bufs = []
        def spawn():
            b = mk("tmp")
            bufs.append(b)
            esper.delete_entity(esper.create_entity(b), immediate=True)
        hook(spawn, at=1)
        frames(3)
        expect_live(["tmp"], "never seen at a sync: left to its owner (documented)")
        m.destroy_buffer(bufs[0])
        settle(1)
    """),
    case(W, "ecs-create-in-one-system-delete-in-a-later-phase", """
        made = []
        hook(lambda: made.append(esper.create_entity(mk("t"))), Phase.INPUT, at=1)
        hook(lambda: esper.delete_entity(made[0], immediate=True), Phase.RENDER, at=1)
        frames(2)
        expect_live("t", "created and removed between two syncs: owner's (documented)")
        settle(0)
    """),
    case(W, "ecs-delete-deferred-twice-same-entity", """
        e = esper.create_entity(mk("a"))
        frames()
        esper.delete_entity(e)
        esper.delete_entity(e)
        frames()
        expect_live("", "retired once")
        settle(1)
    """),
    # --- one buffer, several holders --------------------------------------------------------
    case(W, "ecs-shared-buffer-retired-when-last-holder-goes", """
        a = mk("a")
        e1, e2 = esper.create_entity(a), esper.create_entity(a)
        frames()
        esper.delete_entity(e1)
        frames(2)
        check(a.alive, "still held by e2")
        esper.remove_component(e2, ManagedBuffer)
        frames()
        check(not a.alive, "retired after the last holder")
        settle(1)
    """),
    case(W, "ecs-shared-buffer-both-holders-gone-in-one-frame", """
        a = mk("a")
        e1, e2 = esper.create_entity(a), esper.create_entity(a)
        frames()
        esper.remove_component(e1, ManagedBuffer)
        esper.delete_entity(e2, immediate=True)
        frames()
        settle(1)
    """),
    case(W, "ecs-shared-buffer-clear-database", """
        a = mk("a")
        for _ in range(5):
            esper.create_entity(a)
        frames()
        esper.clear_database()
        frames()
        settle(1)
    """),
    case(W, "ecs-buffer-moved-to-another-entity", """
        a = mk("a")
        e1 = esper.create_entity(a)
        e2 = esper.create_entity()
        frames()
        def move():
            esper.remove_component(e1, ManagedBuffer)
            esper.add_component(e2, a)
        hook(move, at=1)
        frames(2)
        check(a.alive, "moved, not removed")
        esper.delete_entity(e2)
        frames()
        check(not a.alive, "retired with its new holder")
        settle(1)
    """),
    case(W, "ecs-replaced-component-retires-the-old-buffer", """
        a, b = mk("a"), mk("b")
        e = esper.create_entity(a)
        frames()
        esper.add_component(e, b)
        frames()
        expect_live("b", "a replaced by b")
        esper.add_component(e, b)
        frames()
        expect_live("b", "re-adding the same buffer changes nothing")
        settle(1)
    """),
    case(W, "ecs-owner-destroyed-it-first-no-double-destroy", """
        a = mk("a")
        e = esper.create_entity(a)
        frames()
        m.destroy_buffer(a)
        esper.delete_entity(e)
        frames()
        settle(1)
    """),
    case(W, "ecs-foreign-manager-buffer-untouched", """
        other = BufferManager(ctx)
        f = other.create_buffer(BufferConfig("foreign", 64))
        e = esper.create_entity(f)
        frames()
        esper.delete_entity(e)
        frames(2)
        check(f.alive, "another manager's buffer is not ours to retire")
        other.destroy_buffer(f)
        settle(0)
    """),
    # --- worlds -------------------------------------------------------------------------------
    case(W, "ecs-switch-world-away-and-back-keeps-buffers", """
        a = mk("a")
        esper.create_entity(a)
        frames()
        esper.switch_world("other")
        esper.create_entity(mk("x"))
        esper.process()
        esper.switch_world("hostile-main")
        frames(2)
        check(a.alive, "a kept")
        expect_live("ax", "nothing retired by a world switch")
        esper.switch_world("other")
        esper.clear_database()
        esper.switch_world("hostile-main")
        frames()
        expect_live("ax", "x was never in a BufferSystem's world: untouched")
        settle(0)
    """),
    case(W, "ecs-two-worlds-each-with-a-buffer-system", """
        esper.create_entity(mk("a"))
        frames()
        esper.switch_world("second")
        BufferSystem.install(m)
        eb = esper.create_entity(mk("b"))
        frames(2)
        esper.switch_world("hostile-main")
        frames()
        expect_live("ab", "both kept")
        esper.switch_world("second")
        esper.delete_entity(eb)
        frames()
        expect_live("a", "b retired in its world")
        esper.switch_world("hostile-main")
        settle(1)
    """),
    case(W, "ecs-buffer-shared-across-two-worlds", """
        s = mk("shared")
        ea = esper.create_entity(s)
        frames()
        esper.switch_world("second")
        BufferSystem.install(m)
        eb = esper.create_entity(s)
        frames()
        esper.switch_world("hostile-main")
        esper.delete_entity(ea)
        frames(2)
        check(s.alive, "still held in the second world")
        esper.switch_world("second")
        esper.remove_component(eb, ManagedBuffer)
        frames()
        check(not s.alive, "retired when the second world let go")
        settle(1)
    """),
    case(W, "ecs-delete-world-retires-its-buffers", """
        esper.create_entity(mk("main"))
        frames()
        esper.switch_world("level")
        BufferSystem.install(m)
        for n in ("l1", "l2"):
            esper.create_entity(mk(n))
        frames()
        esper.switch_world("hostile-main")
        esper.delete_world("level")
        frames()
        expect_live(["main"], "the deleted world's buffers retired at the next sync")
        settle(2)
    """),
    case(W, "ecs-delete-world-keeps-buffers-shared-with-a-live-world", """
        s = mk("shared")
        esper.create_entity(s)
        frames()
        esper.switch_world("level")
        BufferSystem.install(m)
        esper.create_entity(s)
        esper.create_entity(mk("own"))
        frames()
        esper.switch_world("hostile-main")
        esper.delete_world("level")
        frames()
        expect_live(["shared"], "own retired, shared kept")
        settle(1)
    """),
    case(W, "ecs-delete-world-and-recreate-same-name", """
        esper.switch_world("level")
        BufferSystem.install(m)
        esper.create_entity(mk("old"))
        frames()
        esper.switch_world("hostile-main")
        esper.delete_world("level")
        esper.switch_world("level")          # a fresh world of the same name
        BufferSystem.install(m)
        esper.create_entity(mk("new"))
        frames()
        expect_live(["new"], "old world's buffer retired when the new one installed")
        esper.switch_world("hostile-main")
        settle(1)
    """),
    case(W, "ecs-switch-world-inside-a-system", """
        a = mk("a")
        esper.create_entity(a)
        frames()
        hook(lambda: esper.switch_world("elsewhere"), at=1)
        frames()      # the hook switches worlds mid-frame; END still ends the frame
        check(esper.current_world == "elsewhere", "switched")
        check(a.alive, "a sync in another world retires nothing")
        check(not m.frame_open, "frame ended")
        esper.process()   # elsewhere has no systems
        esper.switch_world("hostile-main")
        frames(2)
        check(a.alive, "still alive back home")
        settle(0)
    """),
    case(W, "ecs-second-install-in-one-world-raises", """
        with raises(FrameStateError, match="already runs a BufferSystem"):
            BufferSystem.install(m)
        esper.create_entity(mk("a"))
        frames(2)
        expect_live("a", "first system still runs")
        settle(0)
    """),
    case(W, "ecs-reinstall-after-removing-the-processors", """
        from systems.buffer_system import BufferBeginSystem, BufferEndSystem
        a, b = mk("a"), mk("b")
        ea = esper.create_entity(a)
        esper.create_entity(b)
        frames()
        for t in (BufferBeginSystem, BufferSystem, BufferEndSystem):
            esper.remove_processor(t)
        esper.delete_entity(ea, immediate=True)
        BufferSystem.install(m)
        frames()
        expect_live("b", "a went away while no system ran; the new one retires it")
        settle(1)
    """),
    # --- many entities, random orders ---------------------------------------------------------
    *[case(W, f"ecs-random-world-operations-seed-{seed}", f"""
        import random
        rng = random.Random({seed})
        model = {{}}        # entity -> buffer, what the world holds
        synced = set()     # ids of buffers an entity held at a sync (a frame)
        made = []
        def new():
            b = mk(f"b{{len(made)}}")
            made.append(b)
            return b
        for step in range(150):
            op = rng.choice(["create", "create", "share", "remove", "delete", "immediate",
                             "replace", "clear", "frame", "frame", "frame"])
            if op == "create":
                b = new()
                model[esper.create_entity(b)] = b
            elif op == "share" and model:
                b = rng.choice(list(model.values()))
                model[esper.create_entity(b)] = b
            elif op == "remove" and model:
                e = rng.choice(list(model))
                esper.remove_component(e, ManagedBuffer)
                del model[e]
            elif op == "delete" and model:
                e = rng.choice(list(model))
                esper.delete_entity(e)
                del model[e]
            elif op == "immediate" and model:
                e = rng.choice(list(model))
                esper.delete_entity(e, immediate=True)
                del model[e]
            elif op == "replace" and model:
                e = rng.choice(list(model))
                b = new()
                esper.add_component(e, b)
                model[e] = b
            elif op == "clear" and rng.random() < 0.3:
                esper.clear_database()
                model.clear()
            if op == "frame":
                frames()
                held = {{id(b) for b in model.values()}}
                synced |= held
                for b in made:
                    should = id(b) in held or id(b) not in synced
                    check(b.alive == should, f"step {{step}}: {{b.name}} alive={{b.alive}}, "
                          f"held={{id(b) in held}}, seen at a sync={{id(b) in synced}}")
        frames()
        held = {{id(b) for b in model.values()}}
        synced |= held
        gone = [b for b in made if id(b) in synced and id(b) not in held]
        check(all(not b.alive for b in gone), "every released buffer retired")
        settle(len(gone))
    """) for seed in (1, 2, 3, 4, 5)],
    case(W, "ecs-two-thousand-entities-churn", """
        bufs = [mk(f"b{i}") for i in range(2000)]
        ents = [esper.create_entity(b) for b in bufs]
        frames()
        for i in range(0, 2000, 2):
            esper.delete_entity(ents[i])
        frames()
        check(m.statistics().live_buffers == 1000, "half retired")
        check(all(b.alive == (i % 2 == 1) for i, b in enumerate(bufs)), "the right half")
        esper.clear_database()
        frames()
        settle(2000)
    """),

    # --- recovery after a system raised ----------------------------------------------------
    *[case(R, f"recover-after-raise-in-{label}", f"""
        a = mk("a")
        e = esper.create_entity(a)
        hook(boom, prio={prio}, at=2)
        frames()
        try:
            esper.process()
        except Boom:
            pass
        else:
            check(False, "the hook raised")
        frames(3)
        check(bs.recovered_frames == {recovered}, f"recovered {{bs.recovered_frames}}")
        check(m.frame_number == {last}, f"frame number {{m.frame_number}}")
        m.update_buffer(a, b"z" * 64)
        frames()
        check(m.read_buffer(a) == b"z" * 64, "writes work after recovery")
        esper.delete_entity(e)
        frames()
        settle(1)
    """, wrong_data=True) for label, prio, recovered, last in (
        ("begin-before-the-buffer-system", "priority(Phase.BEGIN) + 1", 0, 3),
        ("begin-after-begin-frame", "priority(Phase.BEGIN, 5)", 1, 4),
        ("input", "priority(Phase.INPUT)", 1, 4),
        ("simulate", "priority(Phase.SIMULATE)", 1, 4),
        ("uploads-after-submit", "priority(Phase.UPLOADS, 5)", 1, 4),
        ("bindings", "priority(Phase.BINDINGS)", 1, 4),
        ("render", "priority(Phase.RENDER)", 1, 4),
        ("end-before-end-frame", "priority(Phase.END) + 1", 1, 4),
        ("end-after-end-frame", "priority(Phase.END, 5)", 0, 4),
    )],
    case(R, "recover-after-keyboard-interrupt-from-a-processor", """
        a = mk("a", BufferStrategy.DEVICE_LOCAL)
        esper.create_entity(a)
        def ctrl_c():
            m.update_buffer(a, b"k" * 64)   # staged, then Ctrl-C before UPLOADS
            raise KeyboardInterrupt
        hook(ctrl_c, at=2)
        frames()
        try:
            esper.process()
        except KeyboardInterrupt:
            pass
        frames(2)
        check(bs.recovered_frames == 1, "recovered once")
        check(m.read_buffer(a) == b"k" * 64, "the staged copy of the interrupted frame landed")
        settle(0)
    """, wrong_data=True),
    case(R, "recover-warns-once-and-counts-every-time", """
        seen = []
        class Catch(logging.Handler):
            def emit(self, record):
                if record.levelno >= logging.WARNING:
                    seen.append(record.getMessage())
        logging.getLogger("systems.buffer_system").addHandler(Catch())
        n = [0]
        def every_other():
            n[0] += 1
            if n[0] % 2 == 0:
                raise Boom("again")
        hook(every_other)
        raised = 0
        for _ in range(10):
            try:
                esper.process()
            except Boom:
                raised += 1
        frames_done = m.frame_number
        check(raised == 5, f"raised {raised}")
        check(len(seen) == 1 and "still open" in seen[0], f"one warning: {seen}")
        check(frames_done == 9, f"ten frames begun, {frames_done}")
    """),
    case(R, "recover-retires-what-the-interrupted-frame-removed", """
        a, b = mk("a"), mk("b")
        ea = esper.create_entity(a)
        esper.create_entity(b)
        frames()
        def remove_then_raise():
            esper.remove_component(ea, ManagedBuffer)
            raise Boom("after a removal")
        hook(remove_then_raise, at=1)
        try:
            esper.process()
        except Boom:
            pass
        frames()
        expect_live("b", "a retired at the recovery")
        settle(1)
    """),
    case(R, "recover-then-close-with-a-frame-left-open", """
        a = mk("a", BufferStrategy.DEVICE_LOCAL)
        esper.create_entity(a)
        def stage_and_raise():
            m.update_buffer(a, b"q" * 64)
            raise Boom("frame left open at shutdown")
        hook(stage_and_raise, at=2)
        frames()
        try:
            esper.process()
        except Boom:
            pass
        check(m.frame_open, "the frame stays open until the next BEGIN")
        # no further frame: ctx.close() must free everything without a validation message
    """),
    case(R, "recover-raise-in-every-phase-in-turn", """
        order = [Phase.BEGIN, Phase.INPUT, Phase.SIMULATE, Phase.UPLOADS, Phase.BINDINGS,
                 Phase.RENDER, Phase.END]
        a = mk("a", BufferStrategy.DEVICE_LOCAL)
        esper.create_entity(a)
        frame = [0]
        def maybe():
            pass
        hooks = [hook(maybe, p, order=7) for p in order]
        for i, p in enumerate(order):
            hooks[i].fn = boom
            m.update_buffer(a, bytes([i]) * 64)
            try:
                esper.process()
            except Boom:
                pass
            hooks[i].fn = maybe
            frames()
            check(m.read_buffer(a) == bytes([i]) * 64, f"data after a raise in {p.name}")
        check(bs.recovered_frames == 6, f"{bs.recovered_frames} recoveries (END's hook runs "
              "after end_frame: nothing to recover)")
        settle(0)
    """, wrong_data=True),
    case(R, "recover-hand-opened-frame-still-raises", """
        frames()
        m.begin_frame()
        with raises(FrameStateError, match="still open"):
            esper.process()
        m.end_frame()
        frames(2)
        check(bs.recovered_frames == 0, "a frame opened by hand is not the system's")
        settle(0)
    """),
]
