#!/usr/bin/env bash
# Builds the fuzz targets of tests/fuzz with clang's libFuzzer (with ASan + UBSan) in build-fuzz/
# and runs each for SECONDS seconds, one after another on one core, starting from the seeds in
# tests/fuzz/corpus/<target>/ (new inputs go to build-fuzz/corpus/<target>/). Prints each
# target's executions; a finding (crash, sanitizer report, an exception other than fwp::Error)
# stops the script with the input saved as build-fuzz/findings/<target>-crash-*.
#   scripts/fuzz.sh [SECONDS] [TARGET ...]     defaults: 60 s; safetensors checkpoint config_json text_loaders
# Needs clang >= 16 with libFuzzer and OpenMP (Debian: apt-get install clang-16 libclang-rt-16-dev
# libomp-16-dev); CLANG=... picks another compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(safetensors checkpoint config_json text_loaders)
# clang >= 16: autograd/ captures structured bindings in lambdas, which clang 14 cannot compile
CLANG=${CLANG:-$(command -v clang++-16 || command -v clang++-17 || command -v clang++ || true)}
[ -n "$CLANG" ] || { echo "fuzz.sh: clang++ not found (apt-get install clang-16 libclang-rt-16-dev libomp-16-dev)"; exit 1; }
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O1 -DCMAKE_CXX_COMPILER="$CLANG" -DFWP_FUZZ=ON \
  -DFWP_BUILD_TESTS=OFF > /dev/null
cmake --build build-fuzz -j 2 --target $(printf 'fuzz_%s ' "${TARGETS[@]}")
mkdir -p build-fuzz/findings
for t in "${TARGETS[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  log=build-fuzz/fuzz_$t.log
  status=0
  OMP_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1 "build-fuzz/tests/fuzz/fuzz_$t" \
    "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" -max_total_time="$SECONDS_EACH" -max_len=4096 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$t-" > "$log" 2>&1 || status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  if [ "$status" -ne 0 ]; then
    tail -40 "$log"
    echo "fuzz_$t: FINDING after $execs executions (log $log, input build-fuzz/findings/)"
    exit 1
  fi
  echo "fuzz_$t: $execs executions in ${SECONDS_EACH}s, no finding (corpus $(ls "build-fuzz/corpus/$t" | wc -l) inputs)"
done
