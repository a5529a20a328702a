#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs the whole Catch2 suite via ctest.
# Extra arguments go to ctest (e.g. scripts/test.sh -R delta).
#   scripts/test.sh --sanitize [ctest args]   the same suite built with AddressSanitizer and
#                                             UndefinedBehaviorSanitizer in build-sanitize/
#                                             (GCC; any report fails the test that caused it)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)
if [ "${1:-}" = --sanitize ]; then
  shift
  SETUP_BUILD=0 scripts/setup.sh
  # -O1: instrumented -O3 builds of the SIMD kernels take several times longer to compile
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O1 -DFWP_SANITIZE=ON > /dev/null
  cmake --build build-sanitize -j "$JOBS"
  cd build-sanitize
  # LeakSanitizer stays on; a sanitizer report exits non-zero and fails the test. In processes
  # that mpirun starts it is off (memory errors are still caught): Open MPI's own allocations
  # outlive MPI_Finalize inside components it has already unloaded, which LeakSanitizer can neither
  # name nor suppress. The same programs run as one process are leak-checked by the other tests.
  OMPI_MCA_mca_base_env_list=ASAN_OPTIONS=detect_leaks=0 \
  ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ctest --output-on-failure -j "$JOBS" "$@"
  exit
fi
scripts/setup.sh
cd build
ctest --output-on-failure -j "$JOBS" "$@"
