#!/usr/bin/env bash
# Set everything up, then run the main job on the bundled sample data: open the coins with their
# COCO annotations, segment them (threshold + watershed split), measure the objects and write
# COCO, CSV and a screenshot into results/. Without a display it runs headless and says where
# the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
unset QT_QPA_PLATFORM
out=${1:-results}
if [ -n "${DISPLAY:-}" ]; then
  exec .venv/bin/napari-coco-masks demo --output "$out" --show
else
  exec xvfb-run -a -s "-screen 0 1600x1200x24" .venv/bin/napari-coco-masks demo --output "$out"
fi
