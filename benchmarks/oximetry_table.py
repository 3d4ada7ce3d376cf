"""The paper's oximetry table on our data: MAP errors, re-simulation error and calibration per method.

Usage: python benchmarks/oximetry_table.py [--quick] [--methods cinn,abc,floor,mc_dropout,...]
       [--grid GLOB] [--test GLOB] [--n-test 1000] [--steps 2000] [--out results.json]

All methods use the same training grid (default: the grids of ``python -m oximetry.pretrain``)
and the same held-out test cases. Methods: ``cinn`` - the packaged estimator (trained by
the pretrain pipeline on that grid; its training time is in its metadata, not here);
``abc`` - rejection ABC (quantile acceptance of the 100
nearest library spectra in feature space) with the training grid as its library;
``floor`` - the simulation-noise floor (the re-simulation error of the true parameters);
``padded`` (the paper's padded INN), ``padded_yz`` / ``padded_x`` (its ablations: only
the forward losses L_y + L_z, only the backward MMD L_x), ``mc_dropout``, ``cvae``,
``cvae_iaf`` - trained here with ``inn_engine.fit`` for ``--steps`` steps on the same
features. Columns: MAP error of sO2 (percentage points), MAP error over the recoverable parameters (standardized by
the prior's standard deviation;
recoverable = those whose cINN 68 % interval is below 70 % of the prior's), MAP
re-simulation error (mean |y - f(x_MAP)| of the reflectances relative to y, %), calibration
error (sO2, and the median over parameters, %), with standard errors where defined, plus
train and inference times. ``--quick`` simulates tiny grids in memory (a smoke test).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/report.py

from report import write_json  # noqa: E402

from inn_engine import fit  # noqa: E402
from inn_engine.diagnostics import calibration_error, map_error, map_estimate  # noqa: E402
from inn_engine.rejection import RejectionABC  # noqa: E402
from oximetry import OximetrySimulator, load_estimator  # noqa: E402
from oximetry.features import reflectance_features  # noqa: E402
from oximetry.pretrain import DEFAULT_WORK  # noqa: E402
from oximetry.tissue import COLON  # noqa: E402

# method -> (engine model, options): the padded INN with all losses and the paper's two ablations
# (the reconstruction loss stays on in both), and the non-invertible baselines
# (the paper's toy clamp 4.0 made the 13-parameter network's forward pass explode: clamp 2.0;
# batch 512: its MMD terms grow with the square of the batch)
PADDED = {"clamp": 2.0, "batch_size": 512}
TRAINED = {
    "padded": ("padded", PADDED),
    "padded_yz": ("padded", {**PADDED, "weights": {"backward": 0.0}}),
    "padded_x": ("padded", {**PADDED, "weights": {"fit": 0.0, "latent": 0.0}}),
    "mc_dropout": ("mc_dropout", {}),
    "cvae": ("cvae", {}),
    "cvae_iaf": ("cvae_iaf", {}),
}
LABELS = {
    "padded": "padded INN (L_y + L_z + L_x)",
    "padded_yz": "INN only L_y + L_z",
    "padded_x": "INN only L_x",
    "mc_dropout": "NN + MC dropout",
    "cvae": "cVAE",
    "cvae_iaf": "cVAE-IAF",
}


def load_grid(pattern, n: int, seed: int, quick: bool):
    from inn_engine.grid import open_grid
    from oximetry.grid import simulate_grid

    paths = [] if quick else sorted(glob.glob(pattern))
    ds = (
        open_grid(paths[0])
        if paths
        else simulate_grid(
            n, "colon", None, None, n_quad=8, seed=seed, chunk_size=max(n // 4, 1), n_workers=1, progress=False
        )
    )
    return ds["x"].values, ds["y"].values


def summarize(name, draws, x_map, x_test, y_test, recoverable, prior_std, forward, train_s, infer_s) -> dict:
    cal = calibration_error(draws, x_test)
    err = map_error(x_map, x_test, scale=prior_std)
    resim = np.abs(forward(x_map) - y_test) / y_test
    per_case = resim.mean(axis=1)
    return {
        "method": name,
        "map_error_sO2_pp": 100 * float(np.abs(x_map[:, 0] - x_test[:, 0]).mean()),
        "map_error_sO2_sem_pp": 100 * float(np.abs(x_map[:, 0] - x_test[:, 0]).std(ddof=1) / np.sqrt(len(x_test))),
        "map_error_recoverable_std": float(err.abs_errors[:, recoverable].mean()),
        "map_error_recoverable_sem": float(
            err.abs_errors[:, recoverable].mean(axis=1).std(ddof=1) / np.sqrt(len(x_test))
        ),
        "resim_error_pct": 100 * float(per_case.mean()),
        "resim_error_sem_pct": 100 * float(per_case.std(ddof=1) / np.sqrt(len(per_case))),
        "calibration_error_sO2_pct": 100 * float(cal.median_abs_error[0]),
        "calibration_error_median_pct": 100 * float(np.median(cal.median_abs_error)),
        "train_seconds": train_s,
        "inference_seconds": infer_s,
    }


def run(args) -> dict:
    quick = args.quick
    x, y = load_grid(args.grid, 1000, 0, quick)
    x_test, y_test = load_grid(args.test, 100, 1, quick)
    x_test, y_test = x_test[: args.n_test], y_test[: args.n_test]
    f, f_test = reflectance_features(y), reflectance_features(y_test)
    simulator = OximetrySimulator("colon", n_quad=8)
    forward = simulator.noiseless
    prior_std = COLON.sample(100_000, 0).std(axis=0)
    n_draws = 100 if quick else 200
    rows, methods = [], args.methods.split(",")

    est = load_estimator()
    start = time.perf_counter()
    post = est.posterior(f_test, n=n_draws, seed=1)
    infer = time.perf_counter() - start
    width = np.median(np.subtract(*np.quantile(post.samples, [0.84, 0.16], axis=1)), axis=0)
    prior_width = np.subtract(*np.quantile(COLON.sample(100_000, 0), [0.84, 0.16], axis=0))
    recoverable = np.flatnonzero(width < 0.7 * prior_width)
    if "cinn" in methods:
        rows.append(
            summarize(
                "cINN (packaged)",
                post.samples,
                post.map("density"),
                x_test,
                y_test,
                recoverable,
                prior_std,
                forward,
                None,
                infer,
            )
        )  # trained by oximetry.pretrain
    if "abc" in methods:
        start = time.perf_counter()
        abc = RejectionABC(x, f)
        draws = abc.nearest(f_test, 100).draws
        x_map = map_estimate(draws)
        rows.append(
            summarize(
                f"rejection ABC ({len(x)} library)",
                draws,
                x_map,
                x_test,
                y_test,
                recoverable,
                prior_std,
                forward,
                0.0,
                time.perf_counter() - start,
            )
        )
    for method in [m for m in methods if m in TRAINED]:
        model, options = TRAINED[method]
        start = time.perf_counter()
        model_est = fit(x, f, model, bounds=simulator.bounds, steps=args.steps, progress=False, seed=0, **options)
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        draws = model_est.sample(f_test, n_draws, seed=1)
        x_map = map_estimate(draws)
        rows.append(
            summarize(
                LABELS[method],
                draws,
                x_map,
                x_test,
                y_test,
                recoverable,
                prior_std,
                forward,
                train_s,
                time.perf_counter() - start,
            )
        )
    if "floor" in methods:
        resim = (np.abs(forward(x_test) - y_test) / y_test).mean(axis=1)
        rows.append(
            {
                "method": "simulation-noise floor (true x)",
                "resim_error_pct": 100 * float(resim.mean()),
                "resim_error_sem_pct": 100 * float(resim.std(ddof=1) / np.sqrt(len(resim))),
            }
        )
    return {
        "n_train": int(len(x)),
        "n_test": int(len(x_test)),
        "n_draws": n_draws,
        "recoverable": [est.param_names[i] for i in recoverable],
        "rows": rows,
        "quick": quick,
    }


def markdown(result: dict) -> str:
    def cell(row, key, sem=None, fmt=".2f"):
        if key not in row or row[key] is None:
            return "-"
        text = format(row[key], fmt)
        return text + (f" ± {row[sem]:{fmt}}" if sem and sem in row else "")

    lines = [
        f"train {result['n_train']}, test {result['n_test']}, draws {result['n_draws']}; recoverable: "
        f"{', '.join(result['recoverable'])}",
        "",
        "| method | MAP err sO2 (pp) | MAP err recoverable (std) | re-sim err (%) | cal err sO2 (%) | "
        "cal err median (%) | train (s) | inference (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            " | ".join(
                [
                    f"| {r['method']}",
                    cell(r, "map_error_sO2_pp", "map_error_sO2_sem_pp"),
                    cell(r, "map_error_recoverable_std", "map_error_recoverable_sem", ".3f"),
                    cell(r, "resim_error_pct", "resim_error_sem_pct"),
                    cell(r, "calibration_error_sO2_pct"),
                    cell(r, "calibration_error_median_pct"),
                    cell(r, "train_seconds", fmt=".0f"),
                    cell(r, "inference_seconds", fmt=".1f"),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--methods", default="cinn,abc,floor")
    parser.add_argument("--grid", default=str(DEFAULT_WORK / "grid_train_colon_paper-8band_*.zarr"))
    parser.add_argument("--test", default=str(DEFAULT_WORK / "grid_test_colon_paper-8band_*.zarr"))
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=2000, help="training steps of the baselines")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.n_test = min(args.n_test, 100)
    result = run(args)
    print(markdown(result))
    if args.out:
        write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
