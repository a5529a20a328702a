#!/usr/bin/env bash
# Data-parallel training speed on this machine (docs/RESULTS.md, "Data-parallel training"):
# fwp-lm training steps of the paper's small LM (16 layers, D 128, 8 heads x 16, FF 2048, context
# 256, the delta rule) with a global batch of 8 x 256 tokens, as 1 process x 1 thread,
# 1 process x 2 threads and 2 processes (mpirun) x 1 thread, in turns, ROUNDS times; prints the
# tokens/s of every run. Needs an MPI build and data/bible-lm (scripts/prepare_data.sh).
#   scripts/bench_mpi.sh [ROUNDS=3] [STEPS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
STEPS=${2:-5}
LM=(build/experiments/fwp-lm --data data/bible-lm --attention delta --layers 16 --d-model 128
    --heads 8 --d-head 16 --d-ff 2048 --context 256 --batch 8 --dropout 0
    --bench "$STEPS" --bench-warmup 1)
MPIRUN=(mpirun -np 2)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores;" \
     "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; load $(cut -d' ' -f1-3 /proc/loadavg)"
rate() { grep -o '[0-9.]* tokens/s' | cut -d' ' -f1; }
for r in $(seq "$ROUNDS"); do
  echo "round $r: 1 x 1 thread $("${LM[@]}" --threads 1 2>&1 | rate) tokens/s," \
       "1 x 2 threads $("${LM[@]}" --threads 2 2>&1 | rate)," \
       "2 processes x 1 thread $("${MPIRUN[@]}" "${LM[@]}" --threads 1 2>&1 | rate)"
done
