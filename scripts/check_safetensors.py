#!/usr/bin/python3
"""Interoperability check: fwp checkpoints are ordinary safetensors files, both ways.

1. fwp writes a checkpoint (a small model + Adam state + JSON config in the metadata) with
   build/tests/safetensors_interop and prints the values it saved; the `safetensors` package from
   PyPI loads the file and every tensor, dtype, shape, value and metadata entry must match exactly.
2. Python writes a file with safetensors (F32 and F64, metadata); fwp reads it and prints what it
   read; again everything must match exactly.

Set-up (once):  python3 -m venv .venv && .venv/bin/pip install numpy safetensors
Run (after building):  .venv/bin/python scripts/check_safetensors.py [path/to/safetensors_interop]
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = {"F32": np.float32, "F64": np.float64}


def run_fwp(tool, mode, path):
    out = subprocess.run([tool, mode, path], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def compare(expected, actual, expected_meta, actual_meta, what):
    """expected: {name: ndarray}; actual: fwp's JSON description. Returns a list of problems."""
    problems = []
    if sorted(expected) != sorted(actual):
        problems.append(f"{what}: names differ: {sorted(expected)} vs {sorted(actual)}")
    for name in sorted(set(expected) & set(actual)):
        arr, desc = expected[name], actual[name]
        if np.dtype(DTYPES[desc["dtype"]]) != arr.dtype:
            problems.append(f"{what}: {name}: dtype {arr.dtype} vs {desc['dtype']}")
        if list(arr.shape) != desc["shape"]:
            problems.append(f"{what}: {name}: shape {list(arr.shape)} vs {desc['shape']}")
        values = np.array(desc["values"], dtype=np.float64).reshape(arr.shape)
        if not np.array_equal(arr.astype(np.float64), values):
            problems.append(f"{what}: {name}: values differ, max |diff| "
                            f"{np.max(np.abs(arr.astype(np.float64) - values))}")
    for key in sorted(set(expected_meta) | set(actual_meta)):
        a, b = expected_meta.get(key), actual_meta.get(key)
        numeric = key.startswith("optimizer.") and key != "optimizer.type"
        same = a == b or (numeric and a is not None and b is not None and float(a) == float(b))
        if not same:
            problems.append(f"{what}: metadata {key!r}: {a!r} vs {b!r}")
    return problems


def main():
    tool = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/tests/safetensors_interop")
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        # 1. fwp writes, safetensors reads
        path = os.path.join(tmp, "fwp.safetensors")
        saved = run_fwp(tool, "write", path)
        tensors = load_file(path)
        with safe_open(path, framework="numpy") as f:
            meta = f.metadata() or {}
        problems += compare(tensors, saved["tensors"], meta, saved["metadata"], "fwp -> safetensors")
        config = json.loads(meta["config"])
        print(f"fwp -> safetensors: {len(tensors)} tensors "
              f"({sum(t.size for t in tensors.values())} values, dtypes "
              f"{sorted({str(t.dtype) for t in tensors.values()})}), {len(meta)} metadata entries, "
              f"config {config}")

        # 2. safetensors writes, fwp reads
        rng = np.random.default_rng(7)
        ours = {
            "encoder.weight": rng.standard_normal((5, 3)).astype(np.float32),
            "encoder.bias": rng.standard_normal(5).astype(np.float64),
            "scalar": np.array(3.25, dtype=np.float64),
            "empty": np.zeros((0, 2), dtype=np.float32),
        }
        ours_meta = {"source": "python safetensors", "config": json.dumps({"d": 3})}
        path2 = os.path.join(tmp, "python.safetensors")
        save_file(ours, path2, metadata=ours_meta)
        read = run_fwp(tool, "read", path2)
        problems += compare(ours, read["tensors"], ours_meta, read["metadata"], "safetensors -> fwp")
        print(f"safetensors -> fwp: {len(ours)} tensors, {len(ours_meta)} metadata entries")

    for p in problems:
        print("MISMATCH", p)
    print("OK: all tensors, shapes, dtypes, values and metadata match exactly" if not problems
          else f"FAILED: {len(problems)} mismatches")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
