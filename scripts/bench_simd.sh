#!/usr/bin/env bash
# The SIMD kernels, one copy per instruction set, on this CPU: the fused delta rule against plain
# loops (bench_plain_loop: medians, both timed in turns in one process) at d = 16, 32, 64, 128,
# and the fused sum rule (fwp-bench), T = 1024, B*H = 64. Prints the CPU model, its vector
# extensions, OPENBLAS_CORETYPE and the load before each copy.
#   scripts/bench_simd.sh [BUILD_DIR] [THREADS] [COPY ...]     defaults: build 2 (every copy)
# e.g. scripts/bench_simd.sh build 2 avx2 avx512. Build first (scripts/setup.sh). Run it on a quiet
# machine: ~1 minute per copy on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
THREADS=${2:-2}
shift $(( $# < 2 ? $# : 2 ))
COPIES=("$@")
((${#COPIES[@]})) || COPIES=(sse2 avx2 avx512 neon generic)
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "vector extensions: $(grep -m1 -o -w -E 'avx512f|avx2|fma|sse2|asimd' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, threads=$THREADS"
for copy in "${COPIES[@]}"; do
  if ! FWP_SIMD=$copy "$BUILD/benchmarks/bench_plain_loop" --d 1 --T 1 --bh 1 --reps 1 > /dev/null 2>&1; then
    echo; echo "== $copy: not runnable here, skipped"; continue
  fi
  echo; echo "== $copy, load $(cut -d' ' -f1-3 /proc/loadavg)"
  for d in 16 32 64 128; do
    FWP_SIMD=$copy "$BUILD/benchmarks/bench_plain_loop" --d $d --T 1024 --bh 64 --threads "$THREADS" --reps 7
  done
  FWP_SIMD=$copy "$BUILD/benchmarks/fwp-bench" --rules sum --d 16 32 64 128 --T 1024 --bh 64 \
    --threads "$THREADS" --reps 7 --composed-budget-mb 0
done
