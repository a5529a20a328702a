#!/usr/bin/env bash
# Refreshes the experiment tables of docs/RESULTS.md from the run folders, and commits nothing:
#  - synthetic: copies runs/fig{1,2}/summary.csv to docs/results/synthetic/fig{1,2}_summary.csv,
#    redraws docs/img/synthetic_setting{1,2}.png, rewrites the "synthetic-tables" block;
#  - LM: the "lm-table" block from runs/lm_cmp (scripts/lm_results_table.py);
#  - MT: the "mt-table" block from runs/mt (scripts/mt_results_table.py).
#   scripts/update_results.sh [runs]        (default: runs)
# A sweep resumes from a committed summary: mkdir -p runs/fig1 &&
#   cp docs/results/synthetic/fig1_summary.csv runs/fig1/summary.csv && fwp-synthetic --sweep fig1 ...
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-runs}
PY=/usr/bin/python3  # Debian's, with python3-matplotlib
DEST=docs/results/synthetic
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# replace_block NAME FILE: the text between <!-- NAME:begin --> and <!-- NAME:end --> becomes
# FILE's content (lines not starting with "|" go into a text block under the table).
replace_block() {
  "$PY" - "$1" "$2" docs/RESULTS.md <<'PY'
import os, sys
name, content, doc = sys.argv[1:]
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
text = open(doc).read()
i, j = text.find(begin), text.find(end)
if i < 0 or j < i:
    sys.exit(f"{doc}: the markers {begin} ... {end} are missing")
lines = open(content).read().strip().splitlines()
table = [l for l in lines if l.startswith("|") or not l.strip()]
other = [l for l in lines if l.strip() and not l.startswith("|")]
body = "\n".join(table).strip()
if other:
    body += "\n\n```text\n" + "\n".join(other) + "\n```"
new = text[: i + len(begin)] + "\n" + body + "\n" + text[j:]
open(doc + ".tmp", "w").write(new)
os.replace(doc + ".tmp", doc)
print(f"updated {name} in {doc}")
PY
}

mkdir -p "$DEST" docs/img
summaries=()
for fig in fig1 fig2; do
  src="$RUNS/$fig/summary.csv"
  [ -f "$src" ] || { echo "no $src: synthetic $fig skipped"; continue; }
  cp "$src" "$DEST/$fig.tmp" && mv "$DEST/$fig.tmp" "$DEST/${fig}_summary.csv"
  summaries+=("$DEST/${fig}_summary.csv")
done
if [ ${#summaries[@]} -gt 0 ]; then
  "$PY" scripts/plot_synthetic.py "${summaries[@]}" --out docs/img
  "$PY" scripts/plot_synthetic.py "${summaries[@]}" --table > "$TMP/synthetic.md"
  replace_block synthetic-tables "$TMP/synthetic.md"
fi
if [ -d "$RUNS/lm_cmp" ]; then
  "$PY" scripts/lm_results_table.py "$RUNS/lm_cmp" > "$TMP/lm.md" && replace_block lm-table "$TMP/lm.md"
fi
if [ -d "$RUNS/mt" ]; then
  "$PY" scripts/mt_results_table.py "$RUNS/mt" > "$TMP/mt.md" && replace_block mt-table "$TMP/mt.md"
fi
