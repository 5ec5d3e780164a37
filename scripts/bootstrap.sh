#!/usr/bin/env bash
# Creates (or reuses) the pip-path environment in .venv/ at the repo root: pinned ROS 2 Kilted rclpy wheels,
# torch 2.13.0 (CPU), the rest of requirements.txt, and this package in editable mode.
# Re-running is cheap: pip is skipped while requirements.txt, setup.py and package.xml are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "error: Python 3.11 is required (the ros-kilted-* rclpy wheels are built for CPython 3.11);" \
         "found $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
fi

stamp=.venv/.skd_ros-installed
wanted=$(cat requirements*.txt setup.py setup.cfg package.xml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    echo "bootstrap: .venv is up to date"
    exit 0
fi
echo "bootstrap: installing pinned requirements into .venv (first run: a few minutes)"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
echo "$wanted" > "$stamp"
echo "bootstrap: done; console scripts are in .venv/bin/"
