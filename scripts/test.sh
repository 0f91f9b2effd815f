#!/usr/bin/env bash
# Set everything up, then lint and run the whole test suite under a virtual X display.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
# Real OpenGL is needed for napari's canvas: use Xvfb, never Qt's offscreen platform.
unset QT_QPA_PLATFORM
exec xvfb-run -a -s "-screen 0 1600x1200x24" .venv/bin/python -m pytest "$@"
