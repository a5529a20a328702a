#!/usr/bin/python3
"""PyTorch peer of fwp-bench: the delta and sum rules as a user would write them, a Python loop
over time with autograd, f32 on the CPU with 2 threads (the same shapes and threads as fwp-bench).
Uses Debian's python3-torch, so run it with /usr/bin/python3 (not pyenv's python3).
Prints markdown rows: ns per token-head for the forward and for forward + backward (medians).

    /usr/bin/python3 scripts/bench_fast_weight_torch.py --d 16 64 --T 256 1024 --bh 8 64
"""
import argparse
import os
import statistics
import time

import torch


def delta_rule(q, k, v, beta):
    """q, k (B, H, T, Dk); v (B, H, T, Dv); beta (B, H, T) -> y (B, H, T, Dv), W_T."""
    B, H, T, Dk = q.shape
    W = q.new_zeros(B, H, v.shape[-1], Dk)
    ys = []
    for t in range(T):
        kt = k[:, :, t].unsqueeze(-1)                                # (B, H, Dk, 1)
        vbar = W @ kt                                                # W_{t-1} k_t
        u = beta[:, :, t, None, None] * (v[:, :, t].unsqueeze(-1) - vbar)
        W = W + u @ kt.transpose(-1, -2)                             # W_t = W_{t-1} + u_t k_t^T
        ys.append((W @ q[:, :, t].unsqueeze(-1)).squeeze(-1))       # y_t = W_t q_t
    return torch.stack(ys, 2), W


def sum_rule(q, k, v, eps=1e-6):
    """Causal linear attention with the attention denominator."""
    B, H, T, Dk = q.shape
    W = q.new_zeros(B, H, v.shape[-1], Dk)
    z = q.new_zeros(B, H, Dk)
    ys = []
    for t in range(T):
        W = W + v[:, :, t].unsqueeze(-1) @ k[:, :, t].unsqueeze(-2)  # W_t = W_{t-1} + v_t k_t^T
        z = z + k[:, :, t]
        y = (W @ q[:, :, t].unsqueeze(-1)).squeeze(-1)
        ys.append(y / ((z * q[:, :, t]).sum(-1, keepdim=True) + eps))
    return torch.stack(ys, 2), W


def simplex(shape, gen):
    x = torch.rand(shape, generator=gen) * 0.95 + 0.05
    return x / x.sum(-1, keepdim=True)


def measure(rule, d, T, BH, reps):
    gen = torch.Generator().manual_seed(1)
    q, k = simplex((1, BH, T, d), gen), simplex((1, BH, T, d), gen)
    v = torch.randn(1, BH, T, d, generator=gen)
    beta = torch.rand(1, BH, T, generator=gen) * 0.8 + 0.1
    grads = (torch.randn(1, BH, T, d, generator=gen), torch.randn(1, BH, d, d, generator=gen))
    inputs = [q, k, v, beta] if rule == "delta" else [q, k, v]
    fwd, total = [], []
    for r in range(reps + 1):  # the first run warms up
        xs = [x.clone().requires_grad_(True) for x in inputs]
        t0 = time.perf_counter()
        y, W = delta_rule(*xs) if rule == "delta" else sum_rule(*xs)
        t1 = time.perf_counter()
        torch.autograd.backward([y, W], list(grads))
        t2 = time.perf_counter()
        if r > 0:
            fwd.append(t1 - t0)
            total.append(t2 - t0)
    n = BH * T
    return statistics.median(fwd) * 1e9 / n, statistics.median(total) * 1e9 / n


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rules", nargs="+", default=["delta", "sum"], choices=["delta", "sum"])
    p.add_argument("--d", nargs="+", type=int, default=[16, 64])
    p.add_argument("--T", nargs="+", type=int, default=[256, 1024])
    p.add_argument("--bh", nargs="+", type=int, default=[8, 64])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}\n")
    print("| rule | d | T | B*H | fwd ns/tok-head | fwd+bwd ns/tok-head |")
    print("|---|---|---|---|---|---|")
    for rule in args.rules:
        for d in args.d:
            for T in args.T:
                for BH in args.bh:
                    f, fb = measure(rule, d, T, BH, args.reps)
                    print(f"| {rule} | {d} | {T} | {BH} | {f:.0f} | {fb:.0f} |", flush=True)


if __name__ == "__main__":
    main()
