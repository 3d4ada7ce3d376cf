"""The CUDA path of training and sampling, for a machine with a GPU (never run in CI).

    python benchmarks/gpu_check.py            # prints a table and writes JSON

Checks on the first GPU: ``fit(device="cuda")`` trains (the model comes back on the CPU), its
draws on the GPU match the CPU's within float32 rounding for the same seed (the latent
draws are made on the CPU), an ensemble trains there, and ``innfer train --device cuda``
runs on a small grid; then times sampling on both devices. Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

import inn_engine


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results/gpu_check.json")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA GPU here: nothing to check")
        return 1
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 4))
    y = np.c_[x[:, :2].sum(1), x[:, 2] * x[:, 3]] + 0.05 * rng.normal(size=(20_000, 2))
    rows, ok = {"gpu": torch.cuda.get_device_name(0)}, True
    t0 = time.perf_counter()
    est = inn_engine.fit(x, y, coupling="affine", steps=2000, device="cuda", progress=False)
    rows["fit_cuda_s"] = time.perf_counter() - t0
    ok &= all(p.device.type == "cpu" for p in est.model.parameters())
    y_obs = y[:1000]
    cpu = est.sample(y_obs, n=100, seed=3)
    gpu = est.sample(y_obs, n=100, seed=3, device="cuda")
    rows["max_draw_difference"] = float(np.abs(cpu - gpu).max())
    ok &= rows["max_draw_difference"] < 1e-3
    for device in ("cpu", "cuda"):
        best = min(_seconds(lambda: est.sample(y_obs, n=1000, seed=0, device=device)) for _ in range(3))
        rows[f"draws_per_s_{device}"] = 1e6 / best
    ens = inn_engine.fit(
        x, y, model="ensemble", n_members=3, coupling="affine", steps=300, device="cuda", progress=False
    )
    ok &= bool(np.isfinite(ens.sample(y_obs[:10], n=10, device="cuda")).all())
    with tempfile.TemporaryDirectory() as tmp:
        run = [sys.executable, "-m", "inn_engine.cli"]
        subprocess.run(run + ["simulate", "toy-ik", "--n", "4000", "--out", f"{tmp}/g.zarr"], check=True)
        cli = subprocess.run(
            run + ["train", f"{tmp}/g.zarr", "--out", f"{tmp}/m", "--steps", "300", "--device", "cuda"],
            capture_output=True,
            text=True,
        )
        rows["cli_train_rc"] = cli.returncode
        ok &= cli.returncode == 0
    rows["ok"] = bool(ok)
    for key, value in rows.items():
        print(f"| {key} | {value} |")
    with open(args.out, "w") as fh:
        json.dump(rows, fh, indent=2)
    return 0 if ok else 1


def _seconds(fn) -> float:
    torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t


if __name__ == "__main__":
    sys.exit(main())
