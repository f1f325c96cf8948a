"""BindingSystem per frame with 100, 1,000 and 10,000 bindings: nothing changed, 1% changed.

A binding is one ``BufferBinding`` component (pipeline, name, array element) on its own entity,
pointing at its own 256 B DEVICE_LOCAL storage buffer. Pipelines hold 10 bindings each (a
compute shader with an array of 10 storage buffers: lavapipe allows 32 storage buffers per
stage, so 10,000 bindings need many pipelines, as a game's many materials would), so the
configurations have 10, 100 and 1,000 pipelines. Each configuration lives in its own esper
world with its own ResourceBinder and BindingSystem, on one shared BufferManager; rounds
interleave them.

Timed per frame: ``BindingSystem.process()`` only (between ``begin_frame`` and ``end_frame``).
"1% changed": before each frame, untimed, 1% of the configuration's buffers are resized
(256 B <-> 512 B: a new VkBuffer, generation +1), which the binder must follow; each such
resize is written once into each of the 3 frame slots' sets, so about 3% of the bindings are
written per frame in steady state. Descriptor writes per frame come from
``BindingSystem.writes_last_frame``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from engine import BufferConfig, BufferStrategy, BufferUsage

from .figure import Bar, build, skipped_figure
from .session import Session
from .timing import Measurement, Runner, measure

PER_PIPELINE = 10
COUNTS = (100, 1_000, 10_000)
SHADER = f"""#version 450
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) buffer Item {{ vec4 v[]; }} items[{PER_PIPELINE}];
void main() {{
    uint i = gl_GlobalInvocationID.x;
    for (int k = 0; k < {PER_PIPELINE}; ++k) {{ items[k].v[i] *= 2.0; }}
}}
"""
BARS = (
    Bar("BindingSystem, 10,000 bindings, nothing changed: at most 1.5x its time with 100",
        "n10000", "n100", "<=", 1.5),
)


class Config:
    """One world: ``count`` bindings over ``count / 10`` pipelines."""

    def __init__(self, session: Session, manager: Any, spirv: bytes, count: int) -> None:
        import esper

        from components.binding import BufferBinding
        from engine.binding.binder import ResourceBinder
        from systems.binding_system import BindingSystem

        self.count = count
        self.manager = manager
        self.world = f"bench-binding-{count}-{uuid.uuid4().hex[:8]}"
        esper.switch_world(self.world)
        self.binder = ResourceBinder(session.ctx, frames_in_flight=manager.frames_in_flight)
        self.system = BindingSystem(self.binder, manager)
        self.buffers = []
        self.pids = [self.binder.register_pipeline(f"p{count}_{i}", spirv)
                     for i in range(count // PER_PIPELINE)]
        for i in range(count):
            buf = manager.create_buffer(BufferConfig(
                f"b{count}_{i}", 256, BufferStrategy.DEVICE_LOCAL, BufferUsage.STORAGE))
            self.buffers.append(buf)
            esper.create_entity(buf, BufferBinding(self.pids[i // PER_PIPELINE], "items", buf,
                                                   array_element=i % PER_PIPELINE))
        self.writes: list[int] = []
        self.frame = 0
        # Settle: apply every component and write every slot's descriptors once.
        for _ in range(manager.frames_in_flight + 1):
            self.step(0)

    def step(self, changed: int) -> float:
        """One frame; resize ``changed`` buffers first (untimed). Returns the process() time."""
        import esper

        m = self.manager
        if changed:
            for k in range(changed):
                buf = self.buffers[(self.frame * changed + k) % self.count]
                m.resize_buffer(buf, 512 if buf.size == 256 else 256)
        self.frame += 1
        esper.switch_world(self.world)
        m.begin_frame()
        t0 = time.perf_counter()
        self.system.process()
        elapsed = time.perf_counter() - t0
        m.end_frame()
        self.writes.append(self.system.writes_last_frame)
        return elapsed

    def runner(self, changed: int) -> Runner:
        def run(n: int) -> float:
            return sum(self.step(changed) for _ in range(n))

        return run

    def close(self) -> None:
        import esper

        self.binder.close()
        for buf in self.buffers:
            if buf.alive:
                self.manager.destroy_buffer(buf)
        esper.switch_world("default")
        esper.delete_world(self.world)


def writes_summary(values: list[int]) -> dict[str, Any]:
    ordered = sorted(values)
    return {"median": ordered[len(ordered) // 2], "max": ordered[-1], "min": ordered[0],
            "frames": len(values)}


def run(session: Session) -> list[dict[str, Any]]:
    title0 = "BindingSystem per frame, nothing changed (100 / 1,000 / 10,000 bindings)"
    title1 = "BindingSystem per frame, 1% of bindings changed (resized buffers)"
    try:
        from engine.shaders.compiler import compile_glsl_source

        spirv = compile_glsl_source(SHADER, "comp", name="bench_binding.comp")
        import components.binding  # noqa: F401
        import systems.binding_system  # noqa: F401
    except Exception as exc:
        reason = f"binder not available here: {type(exc).__name__}: {exc}"[:300]
        return [skipped_figure("binding/nothing_changed", "binding", title0, reason, BARS),
                skipped_figure("binding/one_percent_changed", "binding", title1, reason)]
    manager = session.manager(frames_in_flight=3)
    configs: list[Config] = []
    try:
        for count in COUNTS:
            session.log(f"binding: setting up {count} bindings")
            configs.append(Config(session, manager, spirv, count))
        figures = []
        for changed_pct, fid, title in ((0, "binding/nothing_changed", title0),
                                        (1, "binding/one_percent_changed", title1)):
            for c in configs:
                c.writes = []
            runners = {f"n{c.count}": c.runner(c.count * changed_pct // 100) for c in configs}
            session.log(f"binding: {title}")
            m: Measurement = measure(runners, session.settings,
                                     rounds=max(5, session.settings.rounds // 2))
            writes = {f"n{c.count}": writes_summary(c.writes) for c in configs}
            extra: dict[str, Any] = {"descriptor_writes": writes,
                                     "pipelines": {f"n{c.count}": len(c.pids) for c in configs}}
            bars: tuple[Bar, ...] = ()
            if changed_pct == 0:
                bars = BARS
                extra["zero_writes"] = all(w["max"] == 0 for w in writes.values())
            fig = build(fid, "binding", title, measurement=m, per="frame",
                        ratios=(("n1000", "n100"), ("n10000", "n100")), bars=bars,
                        params={"bindings": list(COUNTS), "per_pipeline": PER_PIPELINE,
                                "changed_percent": changed_pct},
                        extra=extra)
            if changed_pct == 0:
                fig["bars"].append({
                    "text": "BindingSystem, nothing changed: zero descriptor writes",
                    "ratio": "max writes per frame", "op": "==", "threshold": 0,
                    "value": max(w["max"] for w in writes.values()),
                    "met": extra["zero_writes"]})
            figures.append(fig)
        return figures
    finally:
        for c in configs:
            c.close()
        session.release(manager)
