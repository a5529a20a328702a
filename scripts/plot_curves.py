#!/usr/bin/python3
"""Training curves from one or more metrics CSVs (fwp-lm, fwp-mt, ...) into one PNG.

One panel per --y column, one line per CSV (labelled by its folder unless --labels is given).
Empty fields (a metric not measured at that step) are skipped, so sparse columns such as
valid_ppl draw as lines through the steps where they exist.

  scripts/plot_curves.py runs/lm_cmp/*/metrics.csv --x tokens --y train_loss valid_ppl \\
      --logy valid_ppl --out runs/lm_cmp/curves.png
  scripts/plot_curves.py runs/mt/*/metrics.csv --x step --y train_loss valid_bleu --out mt.png

Uses Debian's python3-matplotlib (/usr/bin/python3; scripts/plotting.py). Log axes are labelled
with plain numbers.
"""
import argparse
import csv
import math
import os
import sys

from plotting import plain_log_ticks, pyplot


def read_columns(path, names):
    """The rows of a CSV as dicts; exits with a message if a requested column is missing."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [n for n in names if n not in (reader.fieldnames or [])]
        if missing:
            sys.exit(f"plot_curves: {path} has no column(s) {', '.join(missing)}; "
                     f"it has {', '.join(reader.fieldnames or [])}")
        rows = list(reader)
    return rows


def as_float(text):
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("csvs", nargs="+", help="metrics CSV files")
    p.add_argument("--x", default="step", help="column for the x axis (step, tokens, seconds, ...)")
    p.add_argument("--y", nargs="+", default=["train_loss"], help="columns to plot, one panel each")
    p.add_argument("--labels", help="comma-separated line labels (default: each CSV's folder name)")
    p.add_argument("--logy", nargs="*", default=[], help="columns drawn with a log y axis")
    p.add_argument("--ylim", nargs="*", default=[],
                   help="column=lo:hi limits, e.g. valid_ppl=50:400 (either side may be empty)")
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True, help="PNG file")
    a = p.parse_args()

    labels = a.labels.split(",") if a.labels else [
        os.path.basename(os.path.dirname(os.path.abspath(f))) for f in a.csvs]
    if len(labels) != len(a.csvs):
        sys.exit(f"plot_curves: {len(labels)} labels for {len(a.csvs)} CSV files")
    limits = {}
    for spec in a.ylim:
        name, _, rng = spec.partition("=")
        lo, _, hi = rng.partition(":")
        limits[name] = (as_float(lo), as_float(hi))

    plt = pyplot()
    fig, axes = plt.subplots(1, len(a.y), figsize=(5.5 * len(a.y), 4.2), squeeze=False)
    for path, label in zip(a.csvs, labels):
        rows = read_columns(path, [a.x] + a.y)
        for ax, col in zip(axes[0], a.y):
            pts = [(as_float(r[a.x]), as_float(r[col])) for r in rows]
            pts = [(x, y) for x, y in pts if x is not None and y is not None]
            if pts:
                ax.plot([x for x, _ in pts], [y for _, y in pts], label=label,
                        marker="o" if len(pts) < 15 else None, markersize=3)
    for ax, col in zip(axes[0], a.y):
        ax.set_xlabel(a.x)
        ax.set_ylabel(col)
        if col in a.logy:
            ax.set_yscale("log")
            plain_log_ticks(ax.yaxis)
        if col in limits:
            ax.set_ylim(*limits[col])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if a.title:
        fig.suptitle(a.title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    fig.savefig(a.out, dpi=120)
    print(f"written {a.out}")


if __name__ == "__main__":
    main()
