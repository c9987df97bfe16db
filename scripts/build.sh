#!/usr/bin/env bash
# Configures and builds petprep (Release, all cores) into build/. Extra arguments go to
# `cmake --build`, e.g. `scripts/build.sh --target petprep`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
build="${PETPREP_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" "$@"
