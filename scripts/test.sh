#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test: ctest, then pytest for the
# Python module.
# Tests that need a CUDA device are reported as skipped where there is none.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" --tests
"$root/scripts/build.sh"
build="${PETPREP_BUILD_DIR:-$root/build}"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
# The Python module's tests, with Debian's interpreter (the one the module is built for).
PYTHONPATH="$build/python${PYTHONPATH:+:$PYTHONPATH}" PETPREP_BUILD_DIR="$build" \
  /usr/bin/python3 -m pytest -q -rs -p no:cacheprovider "$root/tests/python"
