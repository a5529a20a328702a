#!/usr/bin/python3
"""Draws the paper's synthetic-retrieval figures from fwp-synthetic's summary.csv files.

  scripts/plot_synthetic.py runs/fig1/summary.csv [runs/fig2/summary.csv ...] --out docs/img
  scripts/plot_synthetic.py runs/fig1/summary.csv --table     (markdown tables, no plots)

Setting 1 (Figure 2): final eval loss against S, linear y axis, one curve per configuration.
Setting 2 (Figure 3): the same with a log y axis. Unless --no-authors is given, the authors'
released values quoted in docs/THEORY.md section 9.1 are drawn as open squares (only the points
quoted there, within the plotted S range).
Uses Debian's python3-matplotlib (/usr/bin/python3; scripts/plotting.py); --table needs none.
"""
import argparse
import csv
import math
import os
from collections import defaultdict

from plotting import plain_log_ticks, pyplot


# The authors' released last eval losses as quoted in docs/THEORY.md section 9.1: {(setting,
# config): {S: loss}}. "<= 0.001 up to S" is drawn as 0.001 at that S.
AUTHORS = {
    (1, "linear_sum"): {40: 0.001, 60: 0.025, 80: 0.11, 600: 0.45},
    (1, "dpfp1_sum"): {100: 0.001, 120: 0.009, 140: 0.053, 600: 0.42},
    (1, "dpfp2_sum"): {240: 0.001, 260: 0.010, 280: 0.046, 600: 0.33},
    (1, "dpfp3_sum"): {340: 0.001, 360: 0.004, 400: 0.036, 600: 0.20},
    (1, "favor64_sum"): {20: 0.13, 80: 0.5, 600: 0.5},
    (1, "favor128_sum"): {20: 0.08, 80: 0.5, 600: 0.5},
    (1, "favor512_sum"): {20: 0.045, 80: 0.5, 600: 0.5},
    (2, "dpfp1_sum"): {20: 0.105, 200: 0.24},
    (2, "linear_delta"): {60: 0.001, 80: 0.10, 200: 0.34},
    (2, "dpfp1_delta"): {100: 0.011, 120: 0.018, 200: 0.185},
    (2, "dpfp2_delta"): {20: 0.001, 200: 0.001},
}


# Column and legend order: the figures' configurations as the paper groups them.
ORDER = ["linear_sum", "dpfp1_sum", "dpfp2_sum", "dpfp3_sum", "favor64_sum", "favor128_sum",
         "favor512_sum", "softmax", "linear_delta", "dpfp1_delta", "dpfp2_delta", "linear_gdelta",
         "dpfp1_gdelta", "tanh_fwm", "dpfp1_fwm"]


def ordered(keys):
    """Sorts (setting, config) keys in ORDER; configs not listed come last, by name."""
    return sorted(keys, key=lambda k: (k[0], ORDER.index(k[1]) if k[1] in ORDER else len(ORDER), k[1]))


def read_summaries(paths):
    runs = defaultdict(dict)  # (setting, config) -> {S: final loss}
    for path in paths:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                runs[(int(row["setting"]), row["config"])][int(row["S"])] = float(row["final_eval_loss"])
    return runs


def plot_setting(runs, setting, out_dir, authors):
    keys = ordered(k for k in runs if k[0] == setting)
    if not keys:
        return None
    s_max = max(S for k in keys for S in runs[k])
    plt = pyplot()  # only the plots need matplotlib; --table works without

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, key in enumerate(keys):
        color = colors[i % len(colors)]
        pts = sorted(runs[key].items())
        ax.plot([s for s, _ in pts], [v for _, v in pts], "o-", color=color, ms=3, label=key[1])
        if authors and key in AUTHORS:  # sparse quoted points: markers only, within our S range
            ref = sorted((S, v) for S, v in AUTHORS[key].items() if S <= s_max)
            if ref:
                ax.plot([s for s, _ in ref], [v for _, v in ref], "s", color=color, ms=7,
                        mfc="none", alpha=0.8, label=key[1] + " (authors)")
    ax.set_xlabel("number of unique keys S")
    ax.set_ylabel("final evaluation loss")
    if setting == 2:
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
        ax.set_title("Setting 2: overwriting (L = 2S) - update rules")
    else:
        ax.set_title("Setting 1: capacity (L = S) - feature maps, sum rule")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: never over a curve
    fig.tight_layout()
    path = os.path.join(out_dir, f"synthetic_setting{setting}.png")
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    os.replace(tmp, path)  # atomic: never a half-written PNG
    plt.close(fig)
    return path


def fmt_loss(x):
    return "diverged" if math.isnan(x) else f"{x:.3g}"


def print_tables(runs):
    """One markdown table per setting: a row per S, a column per config, each cell our final eval
    loss with the authors' value quoted in docs/THEORY.md in brackets where there is one; the last
    row gives the first S where our loss exceeds 0.01 ("-": never, among the S run so far)."""
    for setting in (1, 2):
        keys = ordered(k for k in runs if k[0] == setting)
        if not keys:
            continue
        Ss = sorted({S for k in keys for S in runs[k]})
        print(f"\nSetting {setting}: final eval loss, [authors' value] where docs/THEORY.md "
              "quotes one, empty: not run yet\n")
        print("| S | " + " | ".join(k[1] for k in keys) + " |")
        print("|---:" * (len(keys) + 1) + "|")
        for S in Ss:
            cells = []
            for key in keys:
                cell = fmt_loss(runs[key][S]) if S in runs[key] else ""
                ref = AUTHORS.get(key, {}).get(S)
                if ref is not None:
                    cell += f" [{ref:.3g}]"
                cells.append(cell)
            print(f"| {S} | " + " | ".join(cells) + " |")
        firsts = []
        for key in keys:
            row = runs[key]
            first = next((S for S in sorted(row) if not row[S] <= 0.01), None)  # NaN: diverged
            firsts.append(f"**{first}**" if first is not None else "-")
        print("| > 0.01 from | " + " | ".join(firsts) + " |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("summaries", nargs="+", help="summary.csv files written by fwp-synthetic")
    p.add_argument("--out", default="docs/img", help="folder for the PNG files")
    p.add_argument("--no-authors", action="store_true", help="leave out the authors' values")
    p.add_argument("--table", action="store_true", help="print markdown tables instead of plotting")
    args = p.parse_args()
    runs = read_summaries(args.summaries)
    if args.table:
        print_tables(runs)
        return
    os.makedirs(args.out, exist_ok=True)
    for setting in (1, 2):
        path = plot_setting(runs, setting, args.out, not args.no_authors)
        if path:
            print("wrote", path)


if __name__ == "__main__":
    main()
