"""``python -m games.wisp``."""

from __future__ import annotations

import sys

from games.wisp.app import main

sys.exit(main())
