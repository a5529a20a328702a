#!/usr/bin/env bash
# The SIMD kernels' tests on AArch64 (NEON, 16-byte vectors), on any Debian x86-64 machine: a cross
# build of the kernel tests (test_core) with Debian's aarch64 cross compiler, run under qemu-user.
# Installs what is missing (g++-aarch64-linux-gnu, qemu-user, and OpenBLAS for arm64 through
# Debian's multiarch, beside the amd64 one), builds kernels/ and core/ with their tests
# (FWP_CORE_ONLY) into build-aarch64/ and runs the tests tagged [simd]: every SIMD kernel
# against its naive twin, and the copy selection.
# The emulated run of the tests takes ~7 s; the first build, minutes. Extra arguments go to the
# test program (Catch2 filters), e.g. scripts/test_aarch64.sh "[delta_chunk]".
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "fwp test_aarch64: adding the arm64 architecture to dpkg (for libopenblas-dev:arm64)"
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
fi
missing=()
# (Only packages that Debian marks Multi-Arch: same, which install beside their amd64 twins.)
for p in g++-aarch64-linux-gnu qemu-user libopenblas-dev:arm64 libopenblas-openmp-dev:arm64 \
         catch2 cmake; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "fwp test_aarch64: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

JOBS=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build-aarch64 -DCMAKE_BUILD_TYPE=Release -DFWP_NATIVE=OFF -DFWP_CORE_ONLY=ON \
      -DCMAKE_TOOLCHAIN_FILE=scripts/aarch64-toolchain.cmake > build-aarch64.log 2>&1 ||
  { cat build-aarch64.log; exit 1; }
rm -f build-aarch64.log
cmake --build build-aarch64 -j "$JOBS" --target test_core
file build-aarch64/tests/test_core | grep -q aarch64 || { echo "not an AArch64 program"; exit 1; }
# One thread: emulated OpenMP teams are slow. The chunkwise kernels' test against their naive twins
# runs its cases with 2 threads on purpose and takes over 5 minutes here, so it is left out by
# default (name it to run it); their pieces (small_gemm, the chunkwise backward) run.
OMP_NUM_THREADS=1 qemu-aarch64 -L /usr/aarch64-linux-gnu build-aarch64/tests/test_core \
  "${@:-[simd]~chunkwise delta rule kernels equal their naive twins}"
