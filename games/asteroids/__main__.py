"""``python -m games.asteroids``: run the asteroids example (``--help`` for its options)."""

from games.asteroids.game import main

raise SystemExit(main())
