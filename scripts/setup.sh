#!/usr/bin/env bash
# Set up everything napari-coco-masks needs on a Debian machine: system packages for a
# headless Qt/OpenGL display (installed only when missing) and a virtual environment in .venv
# with the plugin installed in editable mode together with its `testing` extra.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-cursor0 libxkbcommon-x11-0 libgl1 libegl1
  libfontconfig1 libdbus-1-3 libglib2.0-0)

missing=()
if command -v dpkg >/dev/null 2>&1; then
  for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
fi
PY=${PYTHON:-python3}
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "napari-coco-masks needs Python 3.10 or newer")'
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating virtual environment .venv"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip
echo "setup: installing napari-coco-masks and its test dependencies into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[testing]"
