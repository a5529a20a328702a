#!/usr/bin/python3
"""PyTorch twin of benchmarks/bench_foundation.cpp: the same two training steps, timed the same way.

Each step is zero_grad, forward, backward, Adam step, in f32 on the CPU with 2 threads.
  mlp:          4 x Linear(512, 512), ReLU between, cross-entropy over 512 classes, batch 256
  transformer:  token embedding (V=4096, D=512), one pre-LN block (QKV projection, causal softmax
                attention composed from matmul / masked_fill / softmax, 8 heads, output projection,
                ReLU feed-forward 512-2048-512), final LayerNorm, vocabulary projection,
                cross-entropy; B=8, T=256
Prints the median wall time per step over --reps steps after --warmup untimed steps, and the
median process CPU time per step (with --threads 1 a measure of the work that a loaded machine
barely disturbs). With --fwp it then
runs the fwp benchmark program with the same settings and prints the ratios torch / fwp
(> 1: fwp is faster).

Run with Debian's torch:
  /usr/bin/python3 scripts/bench_foundation_torch.py --fwp build/benchmarks/bench_foundation
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


class MLP(nn.Module):
    def __init__(self, width=512, depth=4):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(width, width) for _ in range(depth)])

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = F.relu(x)
        return x


class Block(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ff1, self.ff2 = nn.Linear(d, ff), nn.Linear(ff, d)

    def forward(self, x, mask):
        B, T, D = x.shape
        H, Dh = self.heads, D // self.heads
        qkv = self.qkv(self.ln1(x)).reshape(B, T, 3, H, Dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                      # each (B, H, T, Dh)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(Dh))
        att = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
        y = torch.matmul(att, v).permute(0, 2, 1, 3).reshape(B, T, D)
        x = x + self.out(y)
        return x + self.ff2(F.relu(self.ff1(self.ln2(x))))


class TinyLM(nn.Module):
    def __init__(self, vocab, d, heads, ff):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.block = Block(d, heads, ff)
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, ids, mask):
        return self.head(self.ln_f(self.block(self.embed(ids), mask)))


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


def report(name, timing):
    print(f"{name:12s} median {timing[0]:8.2f} ms/step (cpu {timing[1]:8.2f} ms/step)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--which", choices=["mlp", "transformer", "all"], default="all")
    p.add_argument("--fwp", help="path to bench_foundation: run it too and print the ratios")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"reps {a.reps}, warmup {a.warmup}")
    torch_ms = {}

    if a.which in ("mlp", "all"):
        model = MLP()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.randn(256, 512)
        y = torch.randint(0, 512, (256,))

        def mlp_step():
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

        torch_ms["mlp"] = time_steps(mlp_step, a.warmup, a.reps)
        report("mlp", torch_ms["mlp"])

    if a.which in ("transformer", "all"):
        B, T, D, H, FF, V = 8, 256, 512, 8, 2048, 4096
        model = TinyLM(V, D, H, FF)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        ids = torch.randint(0, V, (B, T))
        targets = torch.randint(0, V, (B * T,))
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)

        def lm_step():
            opt.zero_grad()
            F.cross_entropy(model(ids, mask).reshape(B * T, V), targets).backward()
            opt.step()

        torch_ms["transformer"] = time_steps(lm_step, a.warmup, a.reps)
        report("transformer", torch_ms["transformer"])

    if a.fwp:
        env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
        env.pop("OPENBLAS_NUM_THREADS", None)
        out = subprocess.run([a.fwp, "--reps", str(a.reps), "--warmup", str(a.warmup),
                              "--which", a.which], env=env, check=True, capture_output=True,
                             text=True).stdout
        print(out, end="")
        for name, (ms, cpu) in torch_ms.items():
            m = re.search(rf"^{name} +median +([0-9.]+) ms/step \(cpu +([0-9.]+)", out, re.M)
            fwp_ms, fwp_cpu = float(m.group(1)), float(m.group(2))
            print(f"{name:12s} wall: torch {ms:8.2f} ms, fwp {fwp_ms:8.2f} ms, ratio torch/fwp "
                  f"{ms / fwp_ms:5.2f} | cpu: torch {cpu:8.2f} ms, fwp {fwp_cpu:8.2f} ms, "
                  f"ratio {cpu / fwp_cpu:5.2f}")


if __name__ == "__main__":
    main()
