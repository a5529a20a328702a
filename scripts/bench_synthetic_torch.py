#!/usr/bin/python3
"""The synthetic retrieval model of fwp (experiments/synthetic/retrieval_model.h) written in plain
PyTorch, as a user would: the peer for bench_synthetic. Prints the median training-step time.

  /usr/bin/python3 scripts/bench_synthetic_torch.py --setting 1 --S 80 --config linear_sum --threads 1

Model (docs/THEORY.md section 9.1): x_t = [onehot(v_t); emb(k_t)], k = phi(W_k x_t), q = phi(W_q
emb(query)), values one-hot; sum rule: W = sum_t v_t k_t^T, z = sum_t k_t, y = W q / (z.q + eps);
delta rule (k, q sum-normalised, beta = sigmoid(W_b x_t)): a Python loop over t updating W.
Loss 1/2 |onehot(target) - y|^2, batch mean; Adam lr 1e-3.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F


def phi(x, kind, nu):
    if kind == "linear":
        return F.elu(x) + 1.0
    if kind == "dpfp":
        r = F.relu(torch.cat([x, -x], dim=-1))
        return torch.cat([r * torch.roll(r, shifts=j, dims=-1) for j in range(1, nu + 1)], dim=-1)
    raise ValueError(kind)


class Retrieval(torch.nn.Module):
    def __init__(self, S, kind, nu, rule, d=64):
        super().__init__()
        e = int(2 * S * 1.1)
        self.S, self.kind, self.nu, self.rule = S, kind, nu, rule
        self.emb = torch.nn.Parameter(torch.randn(2 * S, e))
        self.key = torch.nn.Linear(S + e, d)
        self.query = torch.nn.Linear(e, d)
        self.beta = torch.nn.Linear(S + e, 1)
        for lin in (self.key, self.query):
            torch.nn.init.uniform_(lin.weight, -1 / d ** 0.5, 1 / d ** 0.5)

    def forward(self, keys, values, query):
        v = F.one_hot(values, self.S).float()                   # (B, L, S)
        x = torch.cat([v, self.emb[keys]], dim=-1)              # (B, L, S + e)
        k = phi(self.key(x), self.kind, self.nu)                # (B, L, Ddot)
        q = phi(self.query(self.emb[query]), self.kind, self.nu)  # (B, Ddot)
        if self.rule == "sum":
            W = torch.einsum("bls,bld->bsd", v, k)
            z = k.sum(dim=1)
            return torch.einsum("bsd,bd->bs", W, q) / ((z * q).sum(-1, keepdim=True) + 1e-6)
        k = k / (k.sum(-1, keepdim=True) + 1e-6)
        q = q / (q.sum(-1, keepdim=True) + 1e-6)
        beta = torch.sigmoid(self.beta(x))                      # (B, L, 1)
        W = torch.zeros(v.shape[0], self.S, k.shape[-1])
        for t in range(k.shape[1]):
            kt = k[:, t]
            vbar = torch.einsum("bsd,bd->bs", W, kt)
            W = W + torch.einsum("bs,bd->bsd", beta[:, t] * (v[:, t] - vbar), kt)
        return torch.einsum("bsd,bd->bs", W, q)


def batch(setting, S, B, rng):
    L = S if setting == 1 else 2 * S
    if setting == 1:
        keys = np.stack([rng.permutation(S) for _ in range(B)])
        values = np.stack([rng.permutation(S) for _ in range(B)])
    else:
        keys, values = rng.integers(0, S, (B, L)), rng.integers(0, S, (B, L))
    pos = rng.integers(0, L, B)
    query = keys[np.arange(B), pos]
    last = np.array([np.where(keys[b] == query[b])[0][-1] for b in range(B)])
    target = values[np.arange(B), last]
    return [torch.from_numpy(a).long() for a in (keys, values, query, target)]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--setting", type=int, default=1)
    p.add_argument("--S", type=int, default=80)
    p.add_argument("--config", default="linear_sum", help="linear_sum, dpfp1_delta, ...")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    name, rule = a.config.split("_")
    kind = name.rstrip("0123456789")
    nu = int(name[len(kind):] or 1)
    model = Retrieval(a.S, kind, nu, rule)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(2)

    def step():
        keys, values, query, target = batch(a.setting, a.S, a.batch_size, rng)
        y = model(keys, values, query)
        loss = 0.5 * ((F.one_hot(target, a.S).float() - y) ** 2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    ms, cpu = [], []
    for _ in range(a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        ms.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.process_time() - c0))
    med = float(np.median(ms))
    print(f"torch {torch.__version__} setting={a.setting} config={a.config} S={a.S} batch={a.batch_size} "
          f"threads={a.threads}: {med:.3f} ms/step (median of {a.reps}; cpu {float(np.median(cpu)):.3f} ms), "
          f"{1000 / med:.1f} steps/s")


if __name__ == "__main__":
    main()
