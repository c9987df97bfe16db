#!/usr/bin/env bash
# Installs the Debian 12 packages petprep builds against, when any is missing.
# Idempotent and quiet when everything is there. Uses apt-get as root, sudo otherwise,
# and prints the exact command to run when neither is possible.
#   scripts/setup.sh           what the build needs
#   scripts/setup.sh --tests   that, and what some tests use (python3-torch for the PyTorch
#                              examples, chromium to render petprep report's page); when those
#                              cannot be installed the tests that need
#                              them are skipped and say why, so their failure is not an error.
set -euo pipefail

tests=0
for arg in "$@"; do
  case "$arg" in
    --tests) tests=1 ;;
    *) echo "usage: scripts/setup.sh [--tests]" >&2; exit 2 ;;
  esac
done
TEST_PACKAGES=(python3-torch chromium)

PACKAGES=(
  build-essential cmake git pkg-config
  libopencv-dev libtiff-dev libpng-dev zlib1g-dev libssl-dev libtbb-dev
  libprotobuf-dev protobuf-compiler libcurl4-openssl-dev libarchive-dev libgif-dev
  libturbojpeg0-dev libjpeg62-turbo-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libbenchmark-dev libcpp-httplib-dev
  python3-dev pybind11-dev python3-numpy python3-pytest python3-protobuf
)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
optional=()
if [ "$tests" -eq 1 ]; then
  for p in "${TEST_PACKAGES[@]}"; do
    installed "$p" || optional+=("$p")
  done
fi
[ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo)
else
  if [ ${#missing[@]} -eq 0 ]; then
    echo "petprep setup: cannot install ${optional[*]}; the tests that need them will be skipped" >&2
    exit 0
  fi
  echo "petprep setup: these Debian packages are missing and this user cannot install them." >&2
  echo "Run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq || [ ${#missing[@]} -eq 0 ]
if [ ${#missing[@]} -gt 0 ]; then
  echo "petprep setup: installing ${missing[*]}" >&2
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ${#optional[@]} -gt 0 ]; then
  echo "petprep setup: installing ${optional[*]} for the tests" >&2
  if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${optional[@]}" >/dev/null; then
    echo "petprep setup: could not install ${optional[*]}; the tests that need them will be skipped" >&2
  fi
fi
echo "petprep setup: done" >&2
