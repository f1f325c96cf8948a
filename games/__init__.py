"""Runnable programs that use the subsystem (``python -m games.<name>``)."""

from engine.packages import require_own_package

require_own_package("components", "import games (vkbuffers)")
require_own_package("systems", "import games (vkbuffers)")
