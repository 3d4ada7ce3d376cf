"""Train the neural surrogate of the colon forward model on adding-doubling spectra.

Run ``python -m oximetry.surrogate_training --data-dir DIR`` (see ``--help``). It draws
``--n-train`` + ``--n-test`` tissues from the colon prior, computes their noiseless band
reflectances for the default 8-band camera with adding-doubling (N = 16), caching them in
chunks under ``DIR`` (so an interrupted run resumes), trains :class:`oximetry.surrogate.SurrogateMLP`
on log reflectance and writes the weights (safetensors) plus a JSON report of the held-out
relative errors. Training and test tissues come from disjoint seed streams.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

CHUNK = 5000


def solver_spectra(n: int, seed: int, data_dir: str, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of ``n`` colon prior draws and their adding-doubling band reflectances, cached by chunk."""
    from oximetry.forward import band_reflectance
    from oximetry.tissue import COLON

    os.makedirs(data_dir, exist_ok=True)
    xs, ys = [], []
    for index in range((n + CHUNK - 1) // CHUNK):
        path = os.path.join(data_dir, f"{tag}_seed{seed}_chunk{index}.npz")
        if os.path.exists(path):
            with np.load(path) as stored:
                x, y = stored["x"], stored["y"]
        else:
            rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
            x = COLON.sample(CHUNK, rng)
            start = time.time()
            y = band_reflectance(x, method="fast", n_quad=16)
            np.savez(path + ".tmp.npz", x=x, y=y)
            os.replace(path + ".tmp.npz", path)
            print(f"{tag} chunk {index}: {CHUNK / (time.time() - start):.0f} spectra/s", flush=True)
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def relative_errors(model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.abs(model.predict(x) / y - 1)


def train(x: np.ndarray, y: np.ndarray, seed: int, steps: int, batch: int, width: int, depth: int):
    import torch

    from oximetry.surrogate import SurrogateMLP

    torch.manual_seed(seed)
    model = SurrogateMLP.for_colon(width=width, depth=depth, log_reflectance=np.log(y))
    inputs = torch.as_tensor(model.normalize_inputs(x), dtype=torch.float32)
    targets = torch.as_tensor(model.normalize_outputs(np.log(y)), dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps, pct_start=0.05)
    generator = torch.Generator().manual_seed(seed)
    start = time.time()
    for step in range(steps):
        index = torch.randint(0, inputs.shape[0], (batch,), generator=generator)
        loss = torch.mean((model(inputs[index]) - targets[index]) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 2000 == 0 or step == steps - 1:
            print(f"step {step} loss {loss.item():.3e} ({time.time() - start:.0f} s)", flush=True)
    model.eval()
    return model, time.time() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="cache of solver spectra (chunks of 5000)")
    parser.add_argument("--n-train", type=int, default=100_000)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "data", "surrogate_colon.safetensors"))
    parser.add_argument("--report", default=None, help="JSON report path (default: next to --out)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    x_train, y_train = solver_spectra(args.n_train, 1000 + args.seed, args.data_dir, "train")
    x_test, y_test = solver_spectra(args.n_test, 2000 + args.seed, args.data_dir, "test")
    model, seconds = train(x_train, y_train, args.seed, args.steps, args.batch, args.width, args.depth)
    errors = relative_errors(model, x_test, y_test)
    report = {
        "n_train": args.n_train,
        "n_test": args.n_test,
        "steps": args.steps,
        "batch": args.batch,
        "width": args.width,
        "depth": args.depth,
        "train_seconds": seconds,
        "test_median_rel_error": float(np.median(errors)),
        "test_p99_rel_error": float(np.percentile(errors, 99)),
        "test_max_rel_error": float(errors.max()),
        "test_p99_rel_error_per_band": np.percentile(errors, 99, axis=0).tolist(),
    }
    model.save(args.out, metadata=report)
    report_path = args.report or os.path.splitext(args.out)[0] + ".json"
    with open(report_path, "w") as handle:
        json.dump(report, handle, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
