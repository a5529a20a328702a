#!/usr/bin/env bash
# Training-step time of the synthetic retrieval model: fwp (bench_synthetic) against the same
# model in PyTorch (scripts/bench_synthetic_torch.py, Debian's python3-torch), same threads.
#   scripts/bench_synthetic.sh [threads]      Build first (scripts/setup.sh).
#   PY=.venv/bin/python scripts/bench_synthetic.sh     (another torch: a venv with PyPI torch)
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-1}
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, threads=$THREADS, load: $(cut -d' ' -f1-3 /proc/loadavg)"
for spec in "1 80 linear_sum" "1 600 dpfp3_sum" "2 80 dpfp1_delta" "2 200 dpfp2_delta"; do
  set -- $spec
  reps=50; [ "$3" != "${3%_delta}" ] && reps=11
  f=$(build/benchmarks/bench_synthetic --setting "$1" --S "$2" --config "$3" --threads "$THREADS" --reps $reps)
  t=$(OMP_NUM_THREADS=$THREADS ${PY:-/usr/bin/python3} scripts/bench_synthetic_torch.py --setting "$1" --S "$2" \
      --config "$3" --threads "$THREADS" --reps $reps --warmup 2)
  echo "$f"
  echo "$t"
  fm=$(echo "$f" | sed -E 's/.*: ([0-9.]+) ms.*cpu ([0-9.]+) ms.*/\1 \2/')
  tm=$(echo "$t" | sed -E 's/.*: ([0-9.]+) ms.*cpu ([0-9.]+) ms.*/\1 \2/')
  echo "$fm $tm" | awk '{ printf "  -> PyTorch / fwp: %.1fx by wall time, %.1fx by CPU time\n\n", $3 / $1, $4 / $2 }'
done
