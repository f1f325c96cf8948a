"""Random operation sequences against a reference model (hypothesis RuleBasedStateMachine).

Every step is checked against a plain-Python model of what the BufferManager must hold:
contents (read back from the GPU), generation, liveness, statistics. Validation (with
synchronisation validation) is on, so freeing a buffer that a pending frame still uses, a missing
barrier, or a leaked object at the end fails the run. ``ENGINE_SOAK=1`` runs far more examples.
"""

from __future__ import annotations

import _thread
import copy
import os
import pickle
import sys
import threading
import uuid
from pathlib import Path

import esper
import numpy as np
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from engine import (
    BufferConfig,
    BufferManager,
    BufferStrategy,
    BufferUsage,
    GraphicsContext,
    ResourceBinder,
)
from engine import errors as E  # noqa: N812
from engine.binding.pipelines import FrameCommands
from engine.buffers.uniform_ring import UniformRing
from engine.device.barriers import ALL_COMMANDS, TRANSFER, memory_barrier
from engine.device.debug import SINK
from engine.device.vk import ffi, lib, vk
from engine.shaders.compiler import compile_glsl
from systems.buffer_system import ComponentTracker

SOAK = os.environ.get("ENGINE_SOAK") == "1"
EXAMPLES = int(os.environ.get("ENGINE_SM_EXAMPLES", 2000 if SOAK else 120))
STEPS = 60 if SOAK else 30
sizes = st.one_of(st.integers(1, 512), st.sampled_from([1, 3, 4096, 65536, 1 << 20]))
SCALE_COMP = Path(__file__).parent / "shaders" / "binder" / "scale.comp"
RING_BLOCK, RING_CAPACITY = 40, 6


class Model:
    """What one buffer must contain."""

    def __init__(self, size: int, strategy: BufferStrategy) -> None:
        self.data = bytearray(size)
        self.strategy = strategy
        self.generation = 1
        self.alive = True
        self.host_write_frame: int | None = None
        self.entity: int | None = None
        self.mutations = 0


class BufferMachine(RuleBasedStateMachine):
    buffers = Bundle("buffers")

    @initialize(frames_in_flight=st.integers(1, 4), discrete_like=st.booleans())
    def start(self, frames_in_flight: int, discrete_like: bool) -> None:
        SINK.clear()
        self.world = f"sm-{uuid.uuid4().hex}"
        esper.switch_world(self.world)
        self.ctx = GraphicsContext.create(validation=True)
        self.manager = BufferManager(self.ctx, frames_in_flight=frames_in_flight,
                                     discrete_like=discrete_like, staging_bytes=8192)
        self.tracker = ComponentTracker(self.manager)
        self.binder = ResourceBinder(self.ctx, frames_in_flight=frames_in_flight)
        self.pid = self.binder.register_pipeline("scale", [compile_glsl(SCALE_COMP)])
        self.bound = None  # the buffer bound to InBuf, as the model sees it
        self.written: dict[int, tuple[int, int]] = {}  # slot -> (buffer_id, generation) written
        self.models: dict[int, Model] = {}
        self.in_frame = False
        self.created = 0
        # A second manager on the same context: its GPU work reads this manager's buffers.
        self.other = BufferManager(self.ctx, frames_in_flight=frames_in_flight)
        self.other_dst = self.other.create_buffer(BufferConfig("other-dst", 1 << 20))
        self.other_commands = FrameCommands(self.other)
        self.copy_region = ffi.new("VkBufferCopy*")
        self.kept: list = []  # (view, model, generation) of map_write views kept after use
        self.reads: list = []  # (Readback, snapshot, model, mutations at the call)
        self.gpu_read_frame: int | None = None  # write frame of the last read_async

        # A UniformRing: per slot, the frame its model counts and the blocks pushed in it.
        self.ring = UniformRing(self.manager, RING_BLOCK, RING_CAPACITY, name="ring")
        self.ring_model: dict[int, tuple[int, list[bytes]]] = {}

    def teardown(self) -> None:
        if hasattr(self, "ctx"):
            self.kept.clear()
            self.reads.clear()
            self.ctx.close()
            esper.switch_world("default")
            esper.delete_world(self.world)
            left = SINK.take()
            assert not left, f"validation messages: {[str(m) for m in left[:5]]}"

    def _live(self) -> list[int]:
        return [i for i, m in self.models.items() if m.alive]

    # --- rules -----------------------------------------------------------------------------

    @rule(target=buffers, size=sizes, strategy=st.sampled_from(list(BufferStrategy)),
          as_entity=st.booleans())
    def create(self, size: int, strategy: BufferStrategy, as_entity: bool):  # type: ignore[no-untyped-def]
        buf = self.manager.create_buffer(BufferConfig(f"b{self.created}", size, strategy,
                                                      BufferUsage.STORAGE))
        self.created += 1
        assert buf.generation == 1
        model = Model(size, strategy)
        if as_entity:
            model.entity = esper.create_entity(buf)
        self.models[buf.buffer_id] = model
        return buf

    @rule(buf=buffers, data=st.data())
    def update(self, buf, data) -> None:  # type: ignore[no-untyped-def]
        model = self.models[buf.buffer_id]
        offset = data.draw(st.integers(0, len(model.data) + 8), label="offset")
        length = data.draw(st.integers(0, min(len(model.data) + 8, 300)), label="length")
        payload = bytes(data.draw(st.binary(min_size=length, max_size=length), label="bytes"))
        frame = self.manager.frame_number if self.in_frame or self.manager.frame_number < 0 \
            else self.manager.frame_number + 1
        if not model.alive:
            expect: type[Exception] | None = E.BufferDestroyedError
        elif offset + length > len(model.data):
            expect = E.OutOfBoundsError
        elif (model.strategy.is_host and model.host_write_frame is not None
              and model.host_write_frame != frame
              and model.host_write_frame > self.manager.frames.completed_frame):
            expect = E.HostWriteHazardError
        else:
            expect = None
        if self._attempt(lambda: self.manager.update_buffer(buf, payload, offset=offset),
                         expect, self._maybe_hazard(model, frame)):
            model.data[offset:offset + length] = payload
            model.mutations += 1
            if model.strategy.is_host:
                model.host_write_frame = frame
        assert buf.generation == model.generation

    def _maybe_hazard(self, model: Model, frame: int) -> bool:
        """A host write may meet a same-frame hazard (HostWriteHazardError) when GPU work was
        submitted in its write frame (a read_async of any buffer: the manager does not know
        what the work reads) and the manager has not seen it complete."""
        return model.strategy.is_host and self.gpu_read_frame == frame

    @staticmethod
    def _attempt(call, expect: type[Exception] | None, maybe_hazard: bool) -> bool:  # type: ignore[no-untyped-def]
        """Run a write; True when it happened. It must raise ``expect`` (when not None); it
        may raise HostWriteHazardError when ``maybe_hazard``."""
        try:
            call()
        except E.EngineError as exc:
            if expect is None and maybe_hazard and isinstance(exc, E.HostWriteHazardError):
                return False
            assert expect is not None and isinstance(exc, expect), (expect, exc)
            return False
        assert expect is None, f"expected {expect.__name__}"
        return True

    def _expected_write_error(self, model: Model, end: int, frame: int,
                              out_of_bounds: type[Exception]) -> type[Exception] | None:
        if not model.alive:
            return E.BufferDestroyedError
        if end > len(model.data):
            return out_of_bounds
        if (model.strategy.is_host and model.host_write_frame is not None
                and model.host_write_frame != frame
                and model.host_write_frame > self.manager.frames.completed_frame):
            return E.HostWriteHazardError
        return None

    def _write_frame(self) -> int:
        m = self.manager
        return m.frame_number if self.in_frame or m.frame_number < 0 else m.frame_number + 1

    @rule(buf=buffers, data=st.data(), keep=st.booleans())
    def map_write(self, buf, data, keep: bool) -> None:  # type: ignore[no-untyped-def]
        """A zero-copy write; sometimes the view is kept after its block (its writes later
        must never reach a buffer that moved on, see scribble_kept_views)."""
        model = self.models[buf.buffer_id]
        offset = data.draw(st.integers(0, len(model.data) + 8), label="offset")
        count = data.draw(st.integers(0, min(len(model.data) + 8, 300)), label="count")
        payload = bytes(data.draw(st.binary(min_size=count, max_size=count), label="bytes"))
        frame = self._write_frame()
        expect = self._expected_write_error(model, offset + count, frame, E.OutOfBoundsError)
        views = []

        def write() -> None:
            with self.manager.map_write(buf, offset=offset, count=count) as view:
                view[:] = np.frombuffer(payload, np.uint8)
                views.append(view)

        if not self._attempt(write, expect, self._maybe_hazard(model, frame)):
            return
        view = views[0]
        model.data[offset:offset + count] = payload
        if model.strategy.is_host:
            model.host_write_frame = frame
        model.mutations += 1
        if keep:
            self.kept.append((view, model, model.generation))

    @rule()
    def scribble_kept_views(self) -> None:
        """Write garbage through kept views that no longer reach their buffer (a DEVICE_LOCAL
        staging view whose copy the GPU has done, or a host buffer destroyed or replaced
        since): no model may change. A staging view's bytes reach its buffer until that copy
        ran (writes after a block are not ordered with the GPU), so the queue is drained
        first."""
        if any(m.strategy is BufferStrategy.DEVICE_LOCAL for _v, m, _g in self.kept):
            manager = self.manager
            manager.submit_uploads()
            manager.frames.flush(what="scribble_kept_views")
            manager.frames.timeline.wait_all(what="scribble_kept_views")
        for view, model, generation in self.kept:
            if (model.strategy is BufferStrategy.DEVICE_LOCAL or not model.alive
                    or model.generation != generation):
                view[:] = 0xEE

    @rule(buf=buffers, data=st.data())
    def update_ranges(self, buf, data) -> None:  # type: ignore[no-untyped-def]
        model = self.models[buf.buffer_id]
        cuts = sorted(data.draw(st.lists(st.integers(0, len(model.data) + 4), min_size=2,
                                         max_size=6, unique=True), label="cuts"))
        ranges = [(a, bytes([(a + k) & 255 for k in range(b - a)]))
                  for a, b in zip(cuts[::2], cuts[1::2], strict=False)]
        end = max((a + len(p) for a, p in ranges), default=0)
        frame = self._write_frame()
        expect = self._expected_write_error(model, end, frame, E.InvalidRowsError)
        if not self._attempt(lambda: self.manager.update_ranges(buf, ranges), expect,
                             self._maybe_hazard(model, frame) and end > 0):
            return
        for a, p in ranges:
            model.data[a:a + len(p)] = p
        if model.strategy.is_host and any(p for _a, p in ranges):
            model.host_write_frame = frame
        model.mutations += 1

    @rule(buf=buffers)
    def read_async(self, buf) -> None:  # type: ignore[no-untyped-def]
        model = self.models[buf.buffer_id]
        if not model.alive:
            try:
                self.manager.read_async(buf)
            except E.BufferDestroyedError:
                return
            raise AssertionError("read_async of a destroyed buffer must raise")
        rb = self.manager.read_async(buf)
        self.gpu_read_frame = self._write_frame()
        self.reads.append((rb, bytes(model.data), model, model.mutations))

    @rule(wait=st.booleans())
    def take_readbacks(self, wait: bool) -> None:
        """Arrived reads hold the snapshot (host buffers: when nothing wrote them since, since
        a later host write may or may not be in the copy)."""
        still = []
        for rb, snapshot, model, mutations in self.reads:
            if not (rb.ready or wait):
                still.append((rb, snapshot, model, mutations))
                continue
            got = rb.wait().tobytes()
            if model.strategy is BufferStrategy.DEVICE_LOCAL or model.mutations == mutations:
                assert got == snapshot, "a readback's bytes differ from the snapshot"
        self.reads = still

    @rule(buf=buffers, new_size=sizes)
    def resize(self, buf, new_size: int) -> None:  # type: ignore[no-untyped-def]
        model = self.models[buf.buffer_id]
        if not model.alive:
            try:
                self.manager.resize_buffer(buf, new_size)
            except E.BufferDestroyedError:
                return
            raise AssertionError("resize of a destroyed buffer must raise")
        self.manager.resize_buffer(buf, new_size)
        if new_size != len(model.data):
            model.generation += 1
            model.host_write_frame = None  # a new VkBuffer: no frame has read its memory yet
            model.data = model.data[:new_size] + bytearray(max(0, new_size - len(model.data)))
        assert buf.generation == model.generation and buf.size == new_size

    @rule(buf=buffers)
    def destroy(self, buf) -> None:  # type: ignore[no-untyped-def]
        model = self.models[buf.buffer_id]
        if model.alive:
            self.manager.destroy_buffer(buf)
            model.alive = False
        else:
            try:
                self.manager.destroy_buffer(buf)
            except E.BufferDestroyedError:
                return
            raise AssertionError("double destroy must raise")

    @rule(buf=consumes(buffers))
    def delete_entity(self, buf) -> None:  # type: ignore[no-untyped-def]
        model = self.models[buf.buffer_id]
        if model.entity is not None and esper.entity_exists(model.entity):
            esper.delete_entity(model.entity)  # deferred, as esper does by default
            self.tracker.sync()
            model.alive = False
            assert not buf.alive
            esper.clear_dead_entities()

    @rule(buf=buffers)
    def read_back(self, buf) -> None:  # type: ignore[no-untyped-def]
        model = self.models[buf.buffer_id]
        if model.alive:
            assert self.manager.read_buffer(buf) == bytes(model.data)

    @rule(buf=buffers)
    def bind(self, buf) -> None:  # type: ignore[no-untyped-def]
        """Bind (or rebind) the storage binding InBuf by its block name."""
        model = self.models[buf.buffer_id]
        if not model.alive:
            try:
                self.binder.bind_storage_buffer_named(self.pid, "InBuf", buf)
            except E.BufferDestroyedError:
                return
            raise AssertionError("binding a destroyed buffer must raise")
        self.binder.bind_storage_buffer_named(self.pid, "InBuf", buf)
        self.bound = buf  # a slot is rewritten only if what it holds differs (update_bindings)

    @precondition(lambda self: self.in_frame)
    @rule()
    def update_bindings(self) -> None:
        """The slot's descriptors are written exactly when the bound buffer changed."""
        slot = self.manager.frame_index
        bound = self.bound
        if bound is not None and not self.models[bound.buffer_id].alive:
            try:
                self.binder.update_frame(self.pid, slot)
            except E.BufferDestroyedError:
                return
            raise AssertionError("a destroyed bound buffer must raise at update_frame")
        writes = self.binder.update_frame(self.pid, slot)
        if bound is None:
            assert writes == 0
            return
        state = (bound.buffer_id, self.models[bound.buffer_id].generation)
        expected = 0 if self.written.get(slot) == state else 1
        assert writes == expected, f"slot {slot}: {writes} writes, expected {expected}"
        self.written[slot] = state

    @precondition(lambda self: not self.in_frame)
    @rule()
    def begin_frame(self) -> None:
        self.manager.begin_frame()
        self.tracker.sync()
        self.in_frame = True

    @precondition(lambda self: self.in_frame)
    @rule(uploads=st.booleans())
    def end_frame(self, uploads: bool) -> None:
        if uploads:
            self.manager.submit_uploads()
        self.manager.end_frame()
        self.in_frame = False

    @rule(bad=st.sampled_from(["frame_index", "end_twice", "begin_twice"]))
    def misuse_frames(self, bad: str) -> None:
        m = self.manager
        if bad == "frame_index":
            wrong = (m.frame_number + 2) % m.frames_in_flight if m.frames_in_flight > 1 else 5
            try:
                m.begin_frame(wrong if not self.in_frame else 9)
            except (E.InvalidFrameIndexError, E.FrameStateError):
                return
            raise AssertionError("a wrong frame index must raise")
        if bad == "end_twice" and not self.in_frame:
            try:
                m.end_frame()
            except E.FrameStateError:
                return
            raise AssertionError("end_frame without a frame must raise")
        if bad == "begin_twice" and self.in_frame:
            try:
                m.begin_frame()
            except E.FrameStateError:
                return
            raise AssertionError("begin_frame twice must raise")

    def _ring_blocks(self) -> list[bytes]:
        """The model of the current frame's blocks in the ring (empty in a new frame)."""
        m = self.manager
        frame, pushed = self.ring_model.get(m.frame_index, (None, []))
        return pushed if frame == m.frame_number else []

    @rule(count=st.integers(0, 4), single=st.booleans(), seed=st.integers(0, 255))
    def ring_push(self, count: int, single: bool, seed: int) -> None:
        """Push blocks (or fail as the model says: outside a frame, or full: nothing moves)."""
        m, ring = self.manager, self.ring
        rows = (np.arange(count * RING_BLOCK, dtype=np.uint16) * 7 + seed).astype(
            np.uint8).reshape(count, RING_BLOCK)
        pushed = self._ring_blocks()
        before = len(pushed)
        if single and count:
            rows = rows[:1]
        if not m.frame_open:
            try:
                ring.push(bytes(rows[0])) if single and count else ring.push_many(rows)
            except E.RingFrameError:
                return
            raise AssertionError("a push outside a frame must raise RingFrameError")
        if before + len(rows) > RING_CAPACITY:
            try:
                ring.push(bytes(rows[0])) if single and count else ring.push_many(rows)
            except E.RingFullError:
                assert ring.used == before
                return
            raise AssertionError("a push past the capacity must raise RingFullError")
        one = single and count
        offsets = [ring.push(bytes(rows[0]))] if one else ring.push_many(rows).tolist()
        assert offsets == [(before + i) * ring.stride for i in range(len(rows))]
        self.ring_model[m.frame_index] = (m.frame_number, [*pushed, *map(bytes, rows)])
        assert ring.used == before + len(rows)

    @rule()
    def ring_contents(self) -> None:
        """The current slot's buffer holds this frame's pushed blocks at their offsets."""
        m, ring = self.manager, self.ring
        pushed = self._ring_blocks()
        assert ring.used == len(pushed)
        if pushed:
            raw = m.read_buffer(ring.buffer(), 0, len(pushed) * ring.stride)
            got = [raw[i * ring.stride:i * ring.stride + RING_BLOCK] for i in range(len(pushed))]
            assert got == pushed

    @rule(buf=buffers)
    def copies_share_one_identity(self, buf) -> None:  # type: ignore[no-untyped-def]
        """copy/deepcopy return the buffer itself; pickling is refused; nothing changes."""
        assert copy.copy(buf) is buf and copy.deepcopy(buf) is buf
        try:
            pickle.dumps(buf)
        except E.NotCopyableError:
            return
        raise AssertionError("pickling a ManagedBuffer must be refused")

    @rule(buf=buffers)
    def other_manager_reads(self, buf) -> None:  # type: ignore[no-untyped-def]
        """Manager B copies from one of A's device-local buffers in B's own frame; whatever A
        does with it next (destroy, resize, frames) must wait for that work (per queue)."""
        model = self.models[buf.buffer_id]
        if not model.alive or model.strategy is not BufferStrategy.DEVICE_LOCAL:
            return
        self.manager.submit_uploads()  # A's queued copies first, as a frame of A would
        self.manager.frames.flush(what="state machine")
        b = self.other
        b.begin_frame()
        cmd = self.other_commands.begin()
        memory_barrier(cmd, ALL_COMMANDS, vk.VK_ACCESS_MEMORY_WRITE_BIT, TRANSFER,
                       vk.VK_ACCESS_TRANSFER_READ_BIT | vk.VK_ACCESS_TRANSFER_WRITE_BIT)
        region = self.copy_region
        region.srcOffset, region.dstOffset = 0, 0
        region.size = min(buf.size, self.other_dst.size)
        lib.vkCmdCopyBuffer(cmd, buf.handle, self.other_dst.handle, 1, region)
        self.other_commands.submit(cmd)
        b.end_frame()
        event("second manager read a buffer")
        n = min(buf.size, self.other_dst.size)
        assert b.read_buffer(self.other_dst, 0, n) == bytes(model.data[:n])

    @rule(world_buffers=st.booleans())
    def clear_database(self, world_buffers: bool) -> None:
        """esper.clear_database() drops every entity: their buffers are retired, exactly."""
        if not world_buffers:
            return
        self.tracker.sync()  # a frame boundary saw the entities (the documented rule)
        esper.clear_database()
        self.tracker.sync()
        for model in self.models.values():
            if model.entity is not None and model.alive:
                model.alive = False
            model.entity = None

    @rule(call=st.sampled_from(["create", "update", "read", "begin", "end", "statistics"]))
    def from_another_thread(self, call: str) -> None:
        """Every call from a thread other than the context's raises WrongThreadError and
        changes nothing."""
        m = self.manager
        live = [b for b in m.live_buffers()]
        actions = {
            "create": lambda: m.create_buffer(BufferConfig("t", 64)),
            "update": lambda: m.update_buffer(live[0], b"x") if live else m.statistics(),
            "read": lambda: m.read_buffer(live[0]) if live else m.statistics(),
            "begin": m.begin_frame, "end": m.end_frame, "statistics": m.statistics,
        }
        caught: list[BaseException] = []

        def run() -> None:
            try:
                actions[call]()
            except BaseException as exc:
                caught.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        assert len(caught) == 1 and isinstance(caught[0], E.WrongThreadError), caught

    @rule(op=st.sampled_from(["create", "destroy", "resize", "read", "frame"]),
          buf=buffers, line=st.integers(1, 120), size=sizes)
    def ctrl_c_inside(self, op: str, buf, line: int, size: int) -> None:  # type: ignore[no-untyped-def]
        """A Ctrl-C arriving at a random line of a public call is all or nothing: it lands
        before the call starts (nothing happens) or the call completes and a KeyboardInterrupt
        follows; never half a call. The model follows what the manager shows and checks that
        it is one of the two."""
        model = self.models[buf.buffer_id]
        m = self.manager
        before = {b.buffer_id for b in m.live_buffers()}
        if op in ("destroy", "resize", "read") and not model.alive:
            return
        if op == "frame":
            run = m.end_frame if self.in_frame else m.begin_frame
        else:
            run = {"create": lambda: m.create_buffer(BufferConfig("kbi", size)),
                   "destroy": lambda: m.destroy_buffer(buf),
                   "resize": lambda: m.resize_buffer(buf, size),
                   "read": lambda: m.read_buffer(buf)}[op]
        count = [0]

        def local(frame, event, arg):  # type: ignore[no-untyped-def]
            if event == "line":
                count[0] += 1
                if count[0] == line:
                    _thread.interrupt_main()
            return local

        sys.settrace(lambda frame, event, arg: local if "/engine/" in frame.f_code.co_filename
                     else None)
        interrupted = False
        try:
            run()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            sys.settrace(None)
        assert interrupted == (count[0] >= line), "the Ctrl-C was lost or invented"
        event(f"ctrl-c inside {op}: {'delivered' if interrupted else 'not reached'}")
        if op == "create":
            for b in m.live_buffers():
                if b.buffer_id not in before:  # completed; the caller may not have it
                    self.models[b.buffer_id] = Model(b.size, b.strategy)
        elif op == "destroy":
            model.alive = buf.alive
        elif op == "resize":
            if buf.generation != model.generation:  # it happened, whole
                assert buf.generation == model.generation + 1 and buf.size == size
                model.generation += 1
                model.host_write_frame = None
                model.data = model.data[:size] + bytearray(max(0, size - len(model.data)))
            else:
                assert buf.size == len(model.data), "a resize that did not happen changed size"
        elif op == "frame":
            was = self.in_frame
            self.in_frame = m.frame_open
            if self.in_frame and not was:
                self.tracker.sync()

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def statistics_match_the_model(self) -> None:
        if not hasattr(self, "manager"):
            return
        stats = self.manager.statistics()
        live = [m for m in self.models.values() if m.alive]
        ring = self.ring.buffers
        assert stats.live_buffers == len(live) + len(ring)
        assert stats.live_bytes == sum(len(m.data) for m in live) + sum(b.size for b in ring)
        assert stats.buffers_destroyed_total == len(self.models) - len(live)
        assert stats.pending_destroy_count + stats.buffers_freed_total >= \
            stats.buffers_destroyed_total

    @invariant()
    def no_validation_message(self) -> None:
        assert not SINK.messages, [str(m) for m in SINK.messages[:3]]


BufferMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
    suppress_health_check=list(HealthCheck))
TestBufferStateMachine = BufferMachine.TestCase
