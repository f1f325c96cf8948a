"""esper processors, one verb each, registered by schedule phase (see engine.schedule)."""

from __future__ import annotations

from engine.packages import require_own_package

require_own_package("components", "import systems (vkbuffers)")  # before ours import it

from .binding_system import BindingSystem  # noqa: E402
from .buffer_system import BufferSystem  # noqa: E402
from .camera_system import CameraSystem  # noqa: E402
from .input_system import InputSystem  # noqa: E402
from .lighting_system import LightingSystem  # noqa: E402
from .particle_system import ParticleSystem  # noqa: E402
from .readback_system import ReadbackSystem  # noqa: E402
from .render_stack import RenderStack  # noqa: E402
from .render_system import RenderSystem  # noqa: E402

__all__ = ["BufferSystem"]
__all__ += ["BindingSystem", "ReadbackSystem"]
__all__ += ["CameraSystem", "InputSystem", "LightingSystem", "ParticleSystem", "RenderStack",
            "RenderSystem"]
