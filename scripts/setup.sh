#!/usr/bin/env bash
# Installs the Debian packages fwp needs (only those missing) and configures + builds it.
# Usage: scripts/setup.sh [extra-package ...]     Build folder: build/ (Release).
#        SETUP_BUILD=0 scripts/setup.sh            only the packages
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake libopenblas-dev libopenblas-openmp-dev catch2 libcli11-dev
          nlohmann-json3-dev python3-matplotlib libsentencepiece-dev libopenmpi-dev openmpi-bin "$@")
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "fwp setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "${SETUP_BUILD:-1}" = 0 ] && exit 0  # packages only (scripts/test.sh --sanitize builds elsewhere)
JOBS=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > build-configure.log 2>&1 || { cat build-configure.log; exit 1; }
rm -f build-configure.log
cmake --build build -j "$JOBS"
