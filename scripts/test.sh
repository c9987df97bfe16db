#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test with ctest.
# Tests that need a CUDA device are reported as skipped where there is none.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh"
build="${PETPREP_BUILD_DIR:-$root/build}"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
