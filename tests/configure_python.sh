#!/usr/bin/env bash
# A plain configure builds the Python module for Debian's /usr/bin/python3 even when another
# python3 comes first on PATH. Usage: tests/configure_python.sh SOURCE_DIR SCRATCH
set -uo pipefail
src=$1 scratch=$2
rm -rf "$scratch" && mkdir -p "$scratch/bin"
[ -x /usr/bin/python3 ] || { echo "skipped: no /usr/bin/python3 here"; exit 77; }
# Another python3, first on PATH: a working interpreter that a search by PATH would choose.
ln -s "$(readlink -f /usr/bin/python3)" "$scratch/bin/python3"
out=$(PATH="$scratch/bin:$PATH" cmake -S "$src" -B "$scratch/build" -DPETPREP_CUDA=OFF \
  -DPETPREP_BUILD_TESTS=OFF -DPETPREP_BUILD_BENCH=OFF 2>&1)
rc=$?
rm -rf "$scratch"
if echo "$out" | grep -q "Python module: not built (no pybind11"; then
  echo "skipped: pybind11 is not installed (scripts/setup.sh installs pybind11-dev)"
  exit 77
fi
[ $rc -eq 0 ] || { echo "$out" | tail -20; echo "configure failed"; exit 1; }
if echo "$out" | grep -q "petprep Python module: for /usr/bin/python3"; then
  echo "the module is built for /usr/bin/python3 with another python3 first on PATH"
  exit 0
fi
echo "$out" | grep -i python
echo "the module is not built for /usr/bin/python3"
exit 1
