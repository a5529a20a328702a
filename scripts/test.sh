#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs the whole Catch2 suite via ctest.
# Extra arguments go to ctest (e.g. scripts/test.sh -R delta).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
JOBS=$(nproc 2>/dev/null || echo 2)
cd build
ctest --output-on-failure -j "$JOBS" "$@"
