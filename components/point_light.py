"""PointLight: a light at its entity's Transform (plus ``height``), drawn as a light volume.

The LightingSystem packs every light std430 into one storage buffer and uploads it through
``update_buffer`` only in frames where a light was added, removed or changed (any field below,
or the entity's position). ``pulse_*`` animate the brightness on the GPU from the frame time,
so a pulsing light costs no upload.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Vec3 = tuple[float, float, float]


@dataclass(slots=True, eq=False)
class PointLight:
    """A point light at its entity's Transform, drawn as a light volume.

    Attributes:
        color: linear RGB, 0..1.
        intensity: brightness multiplier.
        radius: world units; nothing beyond it is lit (the light volume's size).
        height: added to the Transform's y (lights hover above what carries them).
        pulse_hz, pulse_phase, pulse_depth: brightness = intensity * (1 - depth * (0.5 +
            0.5 * sin(2 pi hz t + phase))); depth 0 = steady.
        glow: brightness of the visible halo around the light itself (0: none).
    """

    color: Vec3 = (1.0, 1.0, 1.0)
    intensity: float = 1.0
    radius: float = 5.0
    height: float = 1.0
    pulse_hz: float = 0.0
    pulse_phase: float = 0.0
    pulse_depth: float = 0.0
    glow: float = 1.0
    # --- owned by the LightingSystem ----------------------------------------------------------
    slot: int = field(default=-1, repr=False)
    key: tuple[object, ...] | None = field(default=None, repr=False)
