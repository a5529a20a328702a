#!/usr/bin/env bash
# Copies the synthetic sweeps' summaries into the repository and refreshes what docs/RESULTS.md
# shows of them: docs/results/synthetic/fig{1,2}_summary.csv, docs/img/synthetic_setting{1,2}.png
# and the tables between the "synthetic-tables" markers of docs/RESULTS.md.
#   scripts/update_synthetic_results.sh [runs]        (default runs: runs/fig1, runs/fig2)
# A sweep resumes from a committed summary: mkdir -p runs/fig1 &&
#   cp docs/results/synthetic/fig1_summary.csv runs/fig1/summary.csv && fwp-synthetic --sweep fig1 ...
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-runs}
DEST=docs/results/synthetic
mkdir -p "$DEST" docs/img
summaries=()
for fig in fig1 fig2; do
  src="$RUNS/$fig/summary.csv"
  [ -f "$src" ] || { echo "no $src: skipped"; continue; }
  cp "$src" "$DEST/$fig.tmp" && mv "$DEST/$fig.tmp" "$DEST/${fig}_summary.csv"
  summaries+=("$DEST/${fig}_summary.csv")
done
[ ${#summaries[@]} -gt 0 ] || { echo "no summaries found under $RUNS" >&2; exit 1; }
/usr/bin/python3 scripts/plot_synthetic.py "${summaries[@]}" --out docs/img
/usr/bin/python3 scripts/plot_synthetic.py "${summaries[@]}" --table > "$DEST/tables.md.tmp"
/usr/bin/python3 - "$DEST/tables.md.tmp" docs/RESULTS.md <<'PY'
import os, sys
tables, doc = sys.argv[1], sys.argv[2]
begin, end = "<!-- synthetic-tables:begin -->", "<!-- synthetic-tables:end -->"
text = open(doc).read()
i, j = text.find(begin), text.find(end)
if i < 0 or j < i:
    sys.exit(f"{doc}: the markers {begin} ... {end} are missing")
new = text[: i + len(begin)] + "\n" + open(tables).read().strip() + "\n" + text[j:]
open(doc + ".tmp", "w").write(new)
os.replace(doc + ".tmp", doc)
os.remove(tables)
print(f"updated the tables in {doc}")
PY
wc -l "${summaries[@]}"
