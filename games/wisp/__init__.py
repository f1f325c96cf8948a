"""Wisp: a small game of light. Steer a glowing spark across a dark field, collect the wisps,
dodge the embers. Run it with ``python -m games.wisp`` (``--help`` for options)."""
