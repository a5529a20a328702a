#!/usr/bin/env bash
# The language-model comparison of docs/RESULTS.md ("Language modelling on the Bible"): one small
# model size and one token budget for every attention; runs one after another, each resumable.
#   scripts/lm_comparison.sh [out=runs/lm_cmp] [threads=1] [binary=build/experiments/fwp-lm]
# Re-running continues an interrupted run from its checkpoint and skips finished ones
# (OUT/<name>/results.json). Logs: OUT/<name>/log.txt. Summary: OUT/summary.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/lm_cmp}
THREADS=${2:-1}
BIN=${3:-build/experiments/fwp-lm}  # e.g. a copy, so that rebuilding does not change later rows
mkdir -p "$OUT"
# The shared setting: 4 post-LN layers, D 128, 8 heads x 16, FF 512, dropout 0.1, context 256,
# batch 16, 2000 steps (8.2M tokens, ~10 epochs of the Bible train split), Adam lr 1e-3 with 200
# warm-up steps and cosine decay, clip 0.25; vocabulary: words seen >= 3 times (7038 ids).
COMMON=(--data data/bible-lm --min-count 3 --layers 4 --d-model 128 --heads 8 --d-head 16
        --d-ff 512 --dropout 0.1 --context 256 --batch 16 --steps 2000 --lr 1e-3 --warmup 200
        --clip 0.25 --log-every 50 --eval-every 500 --checkpoint-every 100
        --eval-stride 32 --eval-slice 4000 --window-batch 16 --threads "$THREADS" --seed 1)
# name | attention flags (Ddot = 16 for Linear, 64 for FAVOR+ m = 32 and DPFP nu = 2); delta is
# Linear with the delta rule, gated_delta Linear with the gated delta rule (docs/gated_delta_rule.md)
RUNS=(
  "delta|--attention delta"
  "softmax|--attention softmax"
  "gated_delta|--attention gated_delta"
  "linear|--attention linear"
  "dpfp2_delta|--attention dpfp_delta --nu 2"
  "dpfp2|--attention dpfp --nu 2"
  "favor32|--attention performer --m 32"
)
for spec in "${RUNS[@]}"; do
  name=${spec%%|*}
  flags=${spec#*|}
  dir="$OUT/$name"
  if [ -f "$dir/results.json" ]; then echo "$name: done ($dir/results.json)"; continue; fi
  mkdir -p "$dir"
  echo "$name: $(date '+%F %T') starting (log $dir/log.txt)"
  # shellcheck disable=SC2086
  "$BIN" "${COMMON[@]}" $flags --out "$dir" --resume >>"$dir/log.txt" 2>&1
  echo "$name: $(date '+%F %T') finished"
done
python3 - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
rows = []
for name in sorted(os.listdir(out)):
    f = os.path.join(out, name, "results.json")
    if not os.path.isfile(f):
        continue
    r = json.load(open(f))
    row = {"name": name, "parameters": r["parameters"], "tokens": r["tokens_seen"],
           "train_seconds": round(r["train_seconds"]), "train_loss": round(r["train_loss"], 4)}
    for split in ("valid", "test"):
        for proto, v in r[split].items():
            row[f"{split}_{proto}"] = round(v["ppl"], 3)
    rows.append(row)
cols = []
for r in rows:
    cols += [c for c in r if c not in cols]
with open(os.path.join(out, "summary.csv"), "w") as fh:
    fh.write(",".join(cols) + "\n")
    for r in rows:
        fh.write(",".join(str(r.get(c, "")) for c in cols) + "\n")
print(open(os.path.join(out, "summary.csv")).read(), end="")
EOF
