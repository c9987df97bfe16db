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
# The hostile-input, report, calibrate and trainer tests (report, predict, checkpoints) again in a
# build with AddressSanitizer and UndefinedBehaviorSanitizer: any invalid read or undefined
# behaviour fails them.
san="${PETPREP_SANITIZE_DIR:-$root/build-sanitize}"
cmake -S "$root" -B "$san" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPETPREP_CUDA=OFF \
  -DPETPREP_SANITIZE=ON -DPETPREP_BUILD_BENCH=OFF >/dev/null
cmake --build "$san" -j "$(nproc)" --target petprep hostile_input_test report_test \
  calibrate_test trainer_test
LSAN_OPTIONS="suppressions=$root/tests/lsan.supp" ASAN_OPTIONS="detect_leaks=1:exitcode=86" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87" \
  ctest --test-dir "$san" --output-on-failure -j "$(nproc)" \
  -R '^(HostileInputTest|ReportTest|CalibrateTest|TrainerTest)\.'
