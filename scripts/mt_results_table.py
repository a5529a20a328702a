#!/usr/bin/python3
"""Prints the MT comparison of scripts/run_mt_comparison.sh as a markdown table.

One row per finished run folder (OUT/<row>/results.json): attention per role, valid loss and
perplexity, BLEU on valid and test (beam search as configured), training time, and the CPU time
of the whole run from OUT/times.txt (/usr/bin/time of each row).

Usage: python3 scripts/mt_results_table.py [runs/mt]
"""
import json
import re
import sys
from pathlib import Path

ORDER = ["softmax", "dpfp", "linear", "performer", "delta"]


def describe(cfg, role):
    a = cfg["model"][role]
    if a["kind"] == "softmax":
        return "softmax"
    phi = a["phi"]["kind"]
    if phi == "favor":
        phi = f"FAVOR+ m={a['phi']['m']}"
    elif phi == "dpfp":
        phi = f"DPFP-{a['phi']['nu']}"
    return f"{phi} {a['rule']}"


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/mt")
    cpu = {}
    times = out / "times.txt"
    if times.exists():
        for line in times.read_text().splitlines():
            m = re.match(r"(\w+): user ([\d.]+) s, sys ([\d.]+) s, wall ([\d.]+) s", line)
            if m:
                cpu[m.group(1)] = (float(m.group(2)) + float(m.group(3)), float(m.group(4)))
    rows = sorted((p.parent.name for p in out.glob("*/results.json")),
                  key=lambda r: ORDER.index(r) if r in ORDER else len(ORDER))
    print("| row | encoder | decoder self | cross | valid loss (ppl) | valid BLEU | test BLEU "
          "| train time | run CPU / wall |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        res = json.loads((out / r / "results.json").read_text())
        cfg, tr, ev = res["config"], res["train"], res["eval"]
        c = cpu.get(r)
        print(f"| {r} | {describe(cfg, 'encoder_attention')} | {describe(cfg, 'decoder_attention')} "
              f"| {describe(cfg, 'cross_attention')} | {tr['valid_loss']:.3f} ({tr['valid_ppl']:.1f}) "
              f"| {ev['valid']['bleu']:.2f} | {ev['test']['bleu']:.2f} | {tr['seconds'] / 60:.0f} min "
              f"| {f'{c[0] / 60:.0f} / {c[1] / 60:.0f} min' if c else '-'} |")
    for r in rows:
        res = json.loads((out / r / "results.json").read_text())
        print(f"{r:10s} test: {res['eval']['test']['line']}")


if __name__ == "__main__":
    main()
