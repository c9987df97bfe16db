#!/usr/bin/env bash
# Installs the Debian 12 packages petprep builds against, when any is missing.
# Idempotent and quiet when everything is there. Uses apt-get as root, sudo otherwise,
# and prints the exact command to run when neither is possible.
set -euo pipefail

PACKAGES=(
  build-essential cmake git pkg-config
  libopencv-dev libtiff-dev libpng-dev zlib1g-dev libssl-dev libtbb-dev
  libprotobuf-dev protobuf-compiler libcurl4-openssl-dev libarchive-dev libgif-dev
  libturbojpeg0-dev libjpeg62-turbo-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libbenchmark-dev libcpp-httplib-dev
  python3-dev pybind11-dev python3-numpy python3-pytest python3-protobuf
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "petprep setup: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo)
else
  echo "petprep setup: these Debian packages are missing and this user cannot install them." >&2
  echo "Run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "petprep setup: done" >&2
