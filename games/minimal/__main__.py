"""``python -m games.minimal``: run the minimal example (``--help`` for its options)."""

from games.minimal.game import main

raise SystemExit(main())
