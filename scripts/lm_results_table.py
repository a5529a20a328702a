#!/usr/bin/python3
"""Prints the language-model comparison of scripts/lm_comparison.sh as a markdown table.

One row per finished run folder (OUT/<row>/results.json, written by fwp-lm at the end of a run):
attention, parameters, training time, final training loss, and the perplexities on valid and test:
independent 256-token segments (the training protocol), a sliding window with stride 32, and the
paper's stride-1 sliding window on the first 4000 tokens of each split.

Usage: python3 scripts/lm_results_table.py [runs/lm_cmp]
"""
import json
import sys
from pathlib import Path

from mt_results_table import describe  # "softmax", "DPFP-2 delta", ...

ORDER = ["softmax", "linear", "favor32", "dpfp2", "delta", "dpfp2_delta", "gated_delta"]


def ppl(res, split, protocol):
    v = res[split].get(protocol)
    return f"{v['ppl']:.2f}" if v else "-"


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/lm_cmp")
    rows = sorted((p.parent.name for p in out.glob("*/results.json")),
                  key=lambda r: ORDER.index(r) if r in ORDER else len(ORDER))
    print("| row | attention | params | train time | train loss | valid ppl | test ppl "
          "| valid / test, window s32 | valid / test, window s1, first 4000 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        res = json.loads((out / r / "results.json").read_text())
        print(f"| {r} | {describe(res['config'], 'attention')} | {res['parameters'] / 1e6:.2f} M "
              f"| {res['train_seconds'] / 60:.0f} min | {res['train_loss']:.3f} "
              f"| {ppl(res, 'valid', 'segments')} | {ppl(res, 'test', 'segments')} "
              f"| {ppl(res, 'valid', 'sliding_s32')} / {ppl(res, 'test', 'sliding_s32')} "
              f"| {ppl(res, 'valid', 'sliding_s1_first4000')} / {ppl(res, 'test', 'sliding_s1_first4000')} |")


if __name__ == "__main__":
    main()
