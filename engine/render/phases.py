"""What a render target's frame is made of: its phases, their attachments and depth rules.

A target has a :class:`TargetLayout`: the ``"compute"`` phase (recorded before the render pass:
dispatches, fills and barriers) and one phase per subpass of its render pass. Two layouts exist:

- :data:`DEFERRED` (Wisp's): ``"scene"`` (subpass 0) writes two colour attachments, the picture
  (``B8G8R8A8``, blendable) and the packed G-buffer surface (``R32G32_UINT``: an integer format,
  never blended), and depth (read-write); ``"light"`` (subpass 1) blends into the picture only,
  with depth bound read-only (a pipeline there must not write depth) and the G-buffer as an
  input attachment.
- :data:`FORWARD`: ``"forward"`` (subpass 0) writes one colour attachment (the picture,
  blendable) and depth (read-write). No G-buffer is allocated.

The draw API (:mod:`engine.render.draw`) checks every pipeline against its phase before the
driver sees it: the fragment shader's outputs against the attachments (count, float vs integer),
blending against the attachment formats, depth writes against the phase's depth mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import UnknownPhaseError

COMPUTE_PHASE = "compute"
"""Recorded before the render pass (outside it): dispatches, buffer fills, barriers."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A colour attachment of a phase: ``location`` is the fragment output that writes it;
    ``integer`` attachments (UINT/SINT formats) take ``uint``/``int`` outputs and are never
    blended (blending integer formats is invalid)."""

    name: str
    location: int
    integer: bool
    glsl: str
    """The fragment output type the attachment expects (for messages), e.g. ``vec4``."""


@dataclass(frozen=True, slots=True)
class PhaseInfo:
    """One phase: ``subpass`` is its subpass index (None for the compute phase); ``depth`` is
    ``"write"`` (read-write depth), ``"read"`` (read-only: tests only) or ``None``."""

    name: str
    subpass: int | None
    colors: tuple[Attachment, ...] = ()
    depth: str | None = None
    note: str = ""
    """What a fragment shader of this phase must do, for error messages."""


@dataclass(frozen=True, slots=True)
class TargetLayout:
    """The phases of a target's frame, in recording order (compute first)."""

    name: str
    phases: tuple[PhaseInfo, ...]

    def phase(self, name: object, what: str) -> PhaseInfo:
        """The phase called ``name``; :class:`~engine.errors.UnknownPhaseError` lists the
        phases otherwise."""
        for p in self.phases:
            if name == p.name:
                return p
        raise UnknownPhaseError(
            f"{what}: phase {name!r} does not exist in a {self.name} target; its phases are "
            f"{', '.join(repr(p.name) for p in self.phases)} (pick one, or create the target "
            f"with layout=FORWARD/DEFERRED).")

    @property
    def subpasses(self) -> tuple[PhaseInfo, ...]:
        """The phases inside the render pass, in subpass order."""
        return tuple(p for p in self.phases if p.subpass is not None)


_PICTURE = Attachment("picture", 0, False, "vec4")
_COMPUTE = PhaseInfo(COMPUTE_PHASE, None)

DEFERRED = TargetLayout("deferred", (
    _COMPUTE,
    PhaseInfo("scene", 0, (_PICTURE, Attachment("gbuffer surface", 1, True, "uvec2")), "write",
              "write the picture (vec4) at location 0 and the G-buffer surface (uvec2; "
              "uvec2(0) = nothing for the light volumes to light) at location 1"),
    PhaseInfo("light", 1, (_PICTURE,), "read",
              "write the picture (vec4) at location 0; depth is read-only here"),
))
"""Wisp's deferred frame: scene geometry into picture + G-buffer, then additive lights."""

FORWARD = TargetLayout("forward", (
    _COMPUTE,
    PhaseInfo("forward", 0, (_PICTURE,), "write", "write the picture (vec4) at location 0"),
))
"""One colour attachment and depth, one subpass: plain forward rendering."""

LAYOUTS = {"deferred": DEFERRED, "forward": FORWARD}


def as_layout(layout: object, what: str) -> TargetLayout:
    """``layout`` (a TargetLayout or its name) as a TargetLayout."""
    if isinstance(layout, TargetLayout):
        return layout
    if isinstance(layout, str) and layout in LAYOUTS:
        return LAYOUTS[layout]
    raise UnknownPhaseError(f"{what}: layout {layout!r} is not one of "
                            f"{', '.join(map(repr, LAYOUTS))} (or engine.render.FORWARD/DEFERRED).")
