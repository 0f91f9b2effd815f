#!/usr/bin/env bash
# Set everything up, then run the main job on the bundled sample data: write the coins recipe
# (threshold + watershed split + measure) to results/recipe.yaml and run it the way
# `napari-coco-masks run results/recipe.yaml results/coins.png -o results` does (dask), which
# writes COCO, CSV, an overlay and a report; compare with the coins' COCO annotations and take
# a napari screenshot. Without a display it runs headless and says where the results are.
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
