#!/usr/bin/env bash
# make demo: the game, windowed where there is a display, else headless with a screenshot.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(cat build/python)
if [ -f games/__main__.py ] || [ -d games/spark ]; then :; fi
exec "$py" -m games.buffer_tour "$@"
