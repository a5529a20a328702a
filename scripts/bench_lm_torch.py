#!/usr/bin/python3
"""PyTorch peer of `fwp-lm --bench`: the paper's language model written plainly, timed the same way.

The model as a PyTorch user would write it (docs/THEORY.md section 9.2): embedding x sqrt(D) +
sinusoidal positions, dropout 0.1, N post-LN blocks h <- LN(h + Drop(O Attn(h))), h <- LN(h +
Drop(W2 Drop(relu(W1 h)))), output layer tied to the embedding, cross-entropy, Adam, global
grad-norm clip 0.25. Attention:
  softmax  q, k, v from one bias-free projection, causal mask, softmax(q k^T / sqrt(d)) v
  delta    q, k, v, beta from one bias-free projection D -> H (3 d + 1); phi = elu + 1 and sum
           normalisation on q and k; beta = sigmoid; then the delta rule as a Python loop over time
           (W (B, H, d, d): vbar = W k_t, W += beta (v_t - vbar) k_t^T, y_t = W q_t); y / sqrt(d)
Each timed step is zero_grad, forward, backward, clip, Adam step on random tokens, f32, CPU.
Prints the median wall and process-CPU milliseconds per step and tokens/s; with --fwp it runs
`fwp-lm --bench` with the same sizes and threads and prints the ratio (> 1: fwp is faster).

  /usr/bin/python3 scripts/bench_lm_torch.py --attention delta --threads 2 --fwp build/experiments/fwp-lm
Defaults: the paper's small model (16 layers, D = 128, 8 heads x 16, FF 2048), context 256,
batch 8, vocabulary 7038 (the Bible corpus with min count 3, what fwp-lm reads by default).
"""
import argparse
import math
import os
import re
import statistics
import subprocess
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def sinusoidal_positions(T, D):
    pos = torch.arange(T, dtype=torch.float64)[:, None]
    i = torch.arange(0, D, 2, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(10000.0, i / D)
    pe = torch.zeros(T, D, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.float()


class Attention(nn.Module):
    def __init__(self, d_model, heads, d_head, kind):
        super().__init__()
        self.heads, self.d_head, self.kind = heads, d_head, kind
        per_head = 3 * d_head + (1 if kind == "delta" else 0)
        self.qkvb = nn.Linear(d_model, heads * per_head, bias=False)
        self.out = nn.Linear(heads * d_head, d_model, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        H, d = self.heads, self.d_head
        p = self.qkvb(x).view(B, T, H, -1).transpose(1, 2)  # (B, H, T, 3d (+1))
        q, k, v = p[..., :d], p[..., d:2 * d], p[..., 2 * d:3 * d]
        if self.kind == "softmax":
            mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(d)
            y = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v
        else:
            beta = torch.sigmoid(p[..., 3 * d:])               # (B, H, T, 1)
            q, k = F.elu(q) + 1, F.elu(k) + 1
            q, k = q / q.sum(-1, keepdim=True), k / k.sum(-1, keepdim=True)
            W = torch.zeros(B, H, d, d)
            ys = []
            for t in range(T):
                kt, vt, qt = k[:, :, t], v[:, :, t], q[:, :, t]  # (B, H, d)
                vbar = (W @ kt.unsqueeze(-1)).squeeze(-1)
                u = beta[:, :, t] * (vt - vbar)
                W = W + u.unsqueeze(-1) * kt.unsqueeze(-2)
                ys.append((W @ qt.unsqueeze(-1)).squeeze(-1))
            y = torch.stack(ys, dim=2) / math.sqrt(d)
        return self.out(y.transpose(1, 2).reshape(B, T, H * d))


class Block(nn.Module):
    def __init__(self, d_model, heads, d_head, d_ff, kind, dropout):
        super().__init__()
        self.attn = Attention(d_model, heads, d_head, kind)
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.ff1, self.ff2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, h):
        h = self.ln1(h + self.drop(self.attn(h)))
        return self.ln2(h + self.drop(self.ff2(self.drop(F.relu(self.ff1(h))))))


class LM(nn.Module):
    def __init__(self, vocab, layers, d_model, heads, d_head, d_ff, kind, dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Parameter(torch.randn(vocab, d_model) * 0.02)
        self.blocks = nn.ModuleList(
            [Block(d_model, heads, d_head, d_ff, kind, dropout) for _ in range(layers)])
        self.drop = nn.Dropout(dropout)

    def forward(self, ids):
        T = ids.shape[1]
        h = F.embedding(ids, self.embedding) * math.sqrt(self.d_model) + sinusoidal_positions(T, self.d_model)
        h = self.drop(h)
        for block in self.blocks:
            h = block(h)
        return h @ self.embedding.t()  # tied output layer


def time_steps(step, warmup, reps):
    """Median wall and process-CPU milliseconds per step."""
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        step()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--attention", choices=["softmax", "delta"], default="delta")
    p.add_argument("--layers", type=int, default=16)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--d-head", type=int, default=16)
    p.add_argument("--d-ff", type=int, default=2048)
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--vocab", type=int, default=7038)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--fwp", help="path to fwp-lm: run its --bench with the same sizes and compare")
    p.add_argument("--data", default="data/bible-lm", help="fwp-lm --data (its vocabulary must be --vocab)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = LM(a.vocab, a.layers, a.d_model, a.heads, a.d_head, a.d_ff, a.attention)
    opt = torch.optim.Adam(model.parameters(), lr=2.5e-4)
    ids = torch.randint(0, a.vocab, (a.batch, a.context))
    targets = torch.randint(0, a.vocab, (a.batch * a.context,))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(ids).reshape(-1, a.vocab), targets).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        opt.step()

    tokens = a.batch * a.context
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {a.attention}, "
          f"{a.layers} layers, D {a.d_model}, {a.heads} x {a.d_head}, FF {a.d_ff}, V {a.vocab}, "
          f"B {a.batch} x T {a.context}, reps {a.reps}, warmup {a.warmup}")
    wall, cpu = time_steps(step, a.warmup, a.reps)
    print(f"torch  median {wall:9.1f} ms/step (cpu {cpu:9.1f} ms), {tokens / wall * 1e3:7.1f} tokens/s")
    if a.fwp:
        cmd = [a.fwp, "--data", a.data, "--attention", a.attention, "--layers", str(a.layers),
               "--d-model", str(a.d_model), "--heads", str(a.heads), "--d-head", str(a.d_head),
               "--d-ff", str(a.d_ff), "--context", str(a.context), "--batch", str(a.batch),
               "--bench", str(a.reps), "--bench-warmup", str(a.warmup), "--threads", str(a.threads)]
        env = dict(os.environ)
        env.pop("OPENBLAS_NUM_THREADS", None)
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        vocab = int(re.search(r"vocabulary (\d+)", out).group(1))
        if vocab != a.vocab:
            print(f"warning: fwp-lm's vocabulary is {vocab}, torch's {a.vocab}")
        m = re.search(r"median ([0-9.]+) ms \(cpu ([0-9.]+) ms", out)
        fwp_wall, fwp_cpu = float(m.group(1)), float(m.group(2))
        print(f"fwp    median {fwp_wall:9.1f} ms/step (cpu {fwp_cpu:9.1f} ms), "
              f"{tokens / fwp_wall * 1e3:7.1f} tokens/s")
        print(f"ratio torch/fwp: wall {wall / fwp_wall:5.2f}, cpu {cpu / fwp_cpu:5.2f}")


if __name__ == "__main__":
    main()
