#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the quick synthetic-retrieval demo
# (paper Sec. 6.1): the sum rule's capacity limit (setting 1) and the delta rule's fix for
# overwriting (setting 2), at S values straddling the capacity of Linear (Ddot = 64) and DPFP-1
# (Ddot = 128). The two settings run side by side, one core each. Prints a table per setting
# and writes runs/demo/synthetic_setting{1,2}.png.
#   scripts/demo.sh              (MAX_STEPS=3000 by default: the demo caps the paper's 100k)
#   MAX_STEPS=300 scripts/demo.sh        (the quick variant: the same table, less trained)
#   SETUP=0 scripts/demo.sh              (skip scripts/setup.sh: the build is up to date)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SETUP:-1}" = 0 ] || scripts/setup.sh

OUT=${OUT:-runs/demo}
MAX_STEPS=${MAX_STEPS:-3000}
BIN=build/experiments/fwp-synthetic
mkdir -p "$OUT"
echo "fwp demo: synthetic retrieval, settings 1 and 2 in parallel (at most $MAX_STEPS steps per run)"
run() {  # run <setting>
  "$BIN" --sweep demo --setting "$1" --out "$OUT/setting$1" --threads 1 --max-steps "$MAX_STEPS" \
    2>&1 | sed -u "s/^/[setting $1] /"
}
run 1 &
pid1=$!
run 2
wait "$pid1"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" scripts/plot_synthetic.py "$OUT/setting1/summary.csv" "$OUT/setting2/summary.csv" --out "$OUT"
echo
echo "Results: $OUT/setting1/summary.csv, $OUT/setting2/summary.csv and the plots above."
echo "The authors' numbers for comparison: docs/RESULTS.md and docs/THEORY.md section 9.1."
