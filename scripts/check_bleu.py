#!/usr/bin/python3
"""Checks fwp's corpus BLEU against sacreBLEU on real verses.

The references are English verses of the prepared MT data (data/bible-mt/test.en); the
hypotheses are synthetic corruptions of them at several strengths (dropped, swapped, replaced,
repeated words, changed case and punctuation, truncation, unrelated verses, numbers and
symbols that exercise the 13a tokenizer). Each corpus is scored by sacreBLEU's corpus_bleu and
by `fwp-bleu --json`, with smoothing "none" and "exp"; the 13a tokenization of every line is
compared as well. Prints one row per corpus and exits non-zero on any difference.

Usage (sacrebleu from PyPI in the git-ignored .venv, data from scripts/prepare_data.sh):
  python3 -m venv .venv && .venv/bin/pip install sacrebleu
  .venv/bin/python scripts/check_bleu.py [--n 500] [--seed 1]
"""
import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import sacrebleu
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

EXTRAS = ["$3.50", "1,000", "co-operate", "&quot;", "&amp;", "<skipped>", "5-6", "U.S.A.",
          "(see", "below)", "a/b", "“quoted”", "don't", "...", "\t", "\u00a0", "x.y"]


def corrupt(line, strength, rng, vocab, refs):
    """A hypothesis made from reference `line`; strength 0 returns it unchanged."""
    if strength >= 1.0:
        return rng.choice(refs)  # an unrelated verse
    words = line.split()
    out = []
    for w in words:
        r = rng.random()
        if r < strength * 0.3:
            continue  # drop
        if r < strength * 0.5:
            w = rng.choice(vocab)  # substitute
        elif r < strength * 0.6:
            out.append(w)  # repeat
        elif r < strength * 0.7:
            w = w.lower() if rng.random() < 0.5 else w.upper()
        elif r < strength * 0.8:
            w = w.strip(".,;:!?“”‘’")
        elif r < strength * 0.85:
            w = rng.choice(EXTRAS)
        out.append(w)
    if len(out) > 2 and rng.random() < strength:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]  # swap neighbours
    if out and rng.random() < strength * 0.3:
        out = out[: rng.randrange(1, len(out) + 1)]  # truncate
    return " ".join(out)


def fwp_bleu(binary, hyp_file, ref_files, smooth):
    out = subprocess.run([binary, "--json", "--smooth", smooth, hyp_file, *ref_files],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refs", default="data/bible-mt/test.en")
    ap.add_argument("--n", type=int, default=500, help="verses per corpus")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fwp-bleu", default="build/experiments/data/fwp-bleu")
    args = ap.parse_args()

    all_refs = Path(args.refs).read_text(encoding="utf-8").splitlines()
    refs = all_refs[: args.n]
    vocab = sorted({w for line in all_refs for w in line.split()})
    rng = random.Random(args.seed)
    corpora = [(f"strength {s}", [corrupt(r, s, rng, vocab, all_refs) for r in refs], [refs])
               for s in (0.0, 0.05, 0.15, 0.3, 0.5, 0.8, 1.0)]
    corpora.append(("first 3 lines, 0.5", [corrupt(r, 0.5, rng, vocab, all_refs)
                                           for r in refs[:3]], [refs[:3]]))
    corpora.append(("5 unrelated verses", [rng.choice(all_refs) for _ in refs[:5]], [refs[:5]]))
    corpora.append(("shuffled words, 20", [" ".join(rng.sample(r.split(), len(r.split())))
                                           for r in refs[:20]], [refs[:20]]))
    corpora.append(("3-word hypotheses", [" ".join(rng.sample(r.split(), min(3, len(r.split()))))
                                          for r in refs], [refs]))
    corpora.append(("1-word hypotheses", [r.split()[0] for r in refs], [refs]))
    corpora.append(("empty hypotheses", [""] * len(refs), [refs]))
    second = [corrupt(r, 0.2, rng, vocab, all_refs) for r in refs]
    corpora.append(("2 references, 0.3", [corrupt(r, 0.3, rng, vocab, all_refs) for r in refs],
                    [refs, second]))

    tok = Tokenizer13a()
    failures = 0
    print(f"sacrebleu {sacrebleu.__version__}; {len(refs)} verses of {args.refs}")
    print(f"{'corpus':22s} {'smooth':6s} {'sacreBLEU':>20s} {'fwp':>20s} {'|diff|':>8s}  same stats/line")
    with tempfile.TemporaryDirectory() as tmp:
        for name, hyps, ref_sets in corpora:
            hyp_file = Path(tmp) / "hyp.txt"
            hyp_file.write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
            ref_files = []
            for k, rs in enumerate(ref_sets):
                p = Path(tmp) / f"ref{k}.txt"
                p.write_text("".join(r + "\n" for r in rs), encoding="utf-8")
                ref_files.append(str(p))
            # The tokenizer, line by line, on hypotheses and references.
            for f in [hyp_file, *ref_files]:
                ours = subprocess.run([args.fwp_bleu, "--tokenize-only", str(f)], check=True,
                                      capture_output=True, text=True).stdout.splitlines()
                theirs = [tok(line.rstrip()) for line in
                          Path(f).read_text(encoding="utf-8").splitlines()]
                bad = sum(a != b for a, b in zip(ours, theirs)) + abs(len(ours) - len(theirs))
                if bad:
                    failures += 1
                    print(f"  tokenizer differs on {bad} lines of {f}")
            for smooth in ("none", "exp"):
                ref = sacrebleu.corpus_bleu(hyps, ref_sets, smooth_method=smooth)
                got = fwp_bleu(args.fwp_bleu, str(hyp_file), ref_files, smooth)
                same = (got["counts"] == ref.counts and got["totals"] == ref.totals and
                        got["hyp_len"] == ref.sys_len and got["ref_len"] == ref.ref_len and
                        got["line"] == str(ref))
                diff = abs(got["score"] - ref.score)
                ok = same and got["score"] == ref.score
                failures += not ok
                print(f"{name:22s} {smooth:6s} {ref.score:20.15f} {got['score']:20.15f} "
                      f"{diff:8.1e}  {'yes' if same else 'NO'}  {str(ref)}")
    print("all equal" if not failures else f"{failures} DIFFERENCES")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
