#!/usr/bin/env bash
# make demo: the Wisp game, windowed where a display is available, else headless with a
# screenshot (out/demo.png) and the BufferManager statistics. Extra arguments go to the game.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(cat build/python 2>/dev/null || echo python3)
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" out
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && "$py" -c \
    "import sys; from engine.render.window import display_available as d; sys.exit(0 if d() else 1)" \
    2>/dev/null; then
  exec "$py" -m games.wisp "$@"
fi
echo "no display: running Wisp headless for 600 frames -> out/demo.png" >&2
exec "$py" -m games.wisp --headless --frames 600 --screenshot out/demo.png --stats "$@"
