"""The paper's oximetry table on our data: MAP errors, re-simulation error and calibration per method.

Usage: python benchmarks/oximetry_table.py [--quick] [--methods cinn,paper_inn,abc,floor,padded,...]
       [--n-test 20000] [--draws 1000] [--steps 30000] [--work DIR] [--out results.json]

All methods use the same training grid and held-out test spectra as the packaged estimators
(the grids of ``python -m oximetry.pretrain``: 10^6 training and 20,000 test spectra of the
colon prior), and every row is evaluated like the packaged artifact, by
:func:`inn_engine.evaluation.evaluate` with ``--draws`` draws per test spectrum (the row's
``floor`` is the calibration error exact posteriors would show at that size). Methods:

- ``cinn``, ``paper_inn``: the packaged cINN and the packaged padded INN
  (``oximetry.PAPER_INN_DIR``), as shipped; their budgets are in their metadata.
- ``abc``: rejection ABC (the 100 nearest training spectra in feature space).
- ``padded`` (the paper's padded INN, the PAPER_INN recipe), ``padded_yz`` / ``padded_x``
  (its ablations: only the forward losses L_y + L_z; only the backward MMD L_x, y-weighted as
  in the paper's code, since an unweighted L_x alone matches only the marginal of x and
  learns no posterior: sO2 calibration error 47 %, MAP error 50 pp at 4000 steps),
  ``padded_weighted`` (the recipe with the backward MMD weighted by the similarity of y, as
  in the paper's code), ``padded_paper_code`` (the paper's code but for the clamp: y-weighted
  backward MMD, its loss weights, no noise draws, so the latent has the size of x),
  ``mc_dropout``,
  ``cvae``, ``cvae_iaf``: trained here with :func:`inn_engine.fit` for ``--steps`` steps
  (padded INNs at batch 512, whose MMDs cost batch^2; the others at 1024), checkpointed under
  ``--work`` so that an interrupted table resumes; the padded INNs get the grid's noise draws
  as nuisance inputs (:func:`oximetry.pretrain.noise_draws`).
- ``floor``: the re-simulation error of the true parameters (the simulation-noise floor).

Columns: MAP error of sO2 (percentage points) and over the recoverable parameters
(standardized; recoverable = those whose packaged-cINN 68 % interval is below 70 % of the
prior's), MAP re-simulation error (mean |y - f(x_MAP)| / y of the reflectances, %),
calibration error (sO2, and the median over parameters, %), the median 68 % width of sO2,
training time and budget. ``--quick`` simulates tiny grids in memory (a smoke test).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/report.py

from report import write_json  # noqa: E402

from inn_engine import fit  # noqa: E402
from inn_engine.diagnostics import map_estimate  # noqa: E402
from inn_engine.evaluation import evaluate  # noqa: E402
from inn_engine.mmd import PAPER_Y_SIGMA  # noqa: E402
from inn_engine.posterior import Posterior  # noqa: E402
from inn_engine.rejection import RejectionABC  # noqa: E402
from oximetry import PAPER_INN_DIR, OximetrySimulator, load_estimator  # noqa: E402
from oximetry.features import reflectance_features  # noqa: E402
from oximetry.pretrain import DEFAULT_WORK, NETWORKS, PAPER_INN, PretrainSettings, noise_draws  # noqa: E402
from oximetry.tissue import COLON  # noqa: E402

# method -> (engine model, network options, batch size, noise draws as nuisance inputs): the padded
# INN as packaged, the paper's two ablations (the reconstruction loss stays on in both), the
# padded INN with the paper code's y-weighted backward MMD, the paper's code but for the clamp,
# and the non-invertible baselines
PADDED = NETWORKS["padded"]
PADDED_WEIGHTS = PADDED.get("weights", {})
PAPER_CODE = {"clamp": PADDED["clamp"], "y_sigma": PAPER_Y_SIGMA}
BATCH = PAPER_INN["batch_size"]
TRAINED = {
    "padded": ("padded", PADDED, BATCH, True),
    "padded_yz": ("padded", {**PADDED, "weights": {**PADDED_WEIGHTS, "backward": 0.0}}, BATCH, True),
    "padded_x": (
        "padded",
        {**PADDED, "y_sigma": PAPER_Y_SIGMA, "weights": {**PADDED_WEIGHTS, "fit": 0.0, "latent": 0.0}},
        BATCH,
        True,
    ),
    "padded_weighted": ("padded", {**PADDED, "y_sigma": PAPER_Y_SIGMA}, BATCH, True),
    "padded_paper_code": ("padded", PAPER_CODE, BATCH, False),
    "mc_dropout": ("mc_dropout", {}, 1024, False),
    "cvae": ("cvae", {}, 1024, False),
    "cvae_iaf": ("cvae_iaf", {}, 1024, False),
}
LABELS = {
    "cinn": "cINN (packaged)",
    "paper_inn": "padded INN (packaged, PAPER_INN_DIR)",
    "padded": "padded INN (L_y + L_z + L_x)",
    "padded_yz": "INN only L_y + L_z",
    "padded_x": "INN only L_x",
    "padded_weighted": "padded INN, y-weighted backward MMD",
    "padded_paper_code": "padded INN, y-weighted, no noise draws (the paper's code)",
    "mc_dropout": "NN + MC dropout",
    "cvae": "cVAE",
    "cvae_iaf": "cVAE-IAF",
}


def load_grid(kind: str, n: int, seed: int, quick: bool):
    """(x, reflectances) of the pretrain grid ``kind`` ("train" / "test"), or a tiny in-memory one."""
    from inn_engine.grid import open_grid
    from oximetry.grid import simulate_grid

    paths = [] if quick else sorted(glob.glob(str(DEFAULT_WORK / f"grid_{kind}_colon_paper-8band_*.zarr")))
    ds = (
        open_grid(paths[0])
        if paths
        else simulate_grid(
            n, "colon", None, None, n_quad=8, seed=seed, chunk_size=max(n // 4, 1), n_workers=1, progress=False
        )
    )
    return ds["x"].values, ds["y"].values


class Table:
    """The test set, the forward model and the recoverable parameters shared by every row."""

    def __init__(self, x_test, y_test, draws: int, recoverable_from):
        self.x_test, self.y_test, self.draws = x_test, y_test, draws
        self.f_test = reflectance_features(y_test)
        self.forward = OximetrySimulator("colon", n_quad=8).noiseless
        self.prior_std = COLON.sample(100_000, 0).std(axis=0)
        post = recoverable_from.posterior(self.f_test[:2000], n=min(draws, 200), seed=1)
        width = np.median(np.subtract(*np.quantile(post.samples, [0.84, 0.16], axis=1)), axis=0)
        prior_width = np.subtract(*np.quantile(COLON.sample(100_000, 0), [0.84, 0.16], axis=0))
        self.recoverable = np.flatnonzero(width < 0.7 * prior_width)
        self.names = list(recoverable_from.param_names)

    def row(self, name: str, x_map, evaluation: dict, train_s, budget: str) -> dict:
        """One table row from the posterior MAP (n, d) and the evaluation of its draws."""
        x, y = self.x_test, self.y_test
        sO2 = evaluation["parameters"]["sO2"]
        abs_err = np.abs(x_map - x) / self.prior_std
        resim = (np.abs(self.forward(x_map) - y) / y).mean(axis=1)
        cal = [m["calibration_median_abs"] for m in evaluation["parameters"].values()]
        return {
            "method": name,
            "budget": budget,
            "n_test": evaluation["n_test"],
            "draws": evaluation["draws"],
            "calibration_floor_pct": 100 * evaluation["calibration_error_floor"],
            "map_error_sO2_pp": 100 * sO2["map_mean_abs_error"],
            "map_error_sO2_sem_pp": 100 * sO2["map_mean_abs_error_sem"],
            "map_error_recoverable_std": float(abs_err[:, self.recoverable].mean()),
            "map_error_recoverable_sem": float(abs_err[:, self.recoverable].mean(axis=1).std(ddof=1) / np.sqrt(len(x))),
            "resim_error_pct": 100 * float(resim.mean()),
            "resim_error_sem_pct": 100 * float(resim.std(ddof=1) / np.sqrt(len(resim))),
            "calibration_error_sO2_pct": 100 * sO2["calibration_median_abs"],
            "calibration_error_median_pct": 100 * float(np.median(cal)),
            "width_68_sO2": sO2["width_68"],
            "train_seconds": train_s,
        }

    def estimator_row(self, name: str, est, train_s, budget: str) -> dict:
        post = est.posterior(self.f_test, n=self.draws, seed=1, progress=True)
        x_map = post.map(progress=True)
        evaluation = evaluate(est, self.x_test, self.f_test, self.draws, seed=1, posterior=post, x_map=x_map)
        return self.row(name, x_map, evaluation, train_s, budget)


def packaged_budget(est) -> tuple[float | None, str]:
    settings = est.metadata.get("pretrain", {}).get("settings", {})
    return est.metadata.get("pretrain", {}).get("seconds"), f"{settings.get('steps')} x {settings.get('batch_size')}"


def run(args, report=lambda result: None) -> dict:
    """The table's rows for ``args.methods``; ``report(result)`` is called after each row."""
    quick = args.quick
    x, y = load_grid("train", 1000, 0, quick)
    x_test, y_test = load_grid("test", 100, 1, quick)
    x_test, y_test = x_test[: args.n_test], y_test[: args.n_test]
    f = reflectance_features(y)
    simulator = OximetrySimulator("colon", n_quad=8)
    cinn = load_estimator()
    table = Table(x_test, y_test, args.draws, cinn)
    rows, methods = [], args.methods.split(",")

    def result(rows: list) -> dict:
        return {
            "n_train": int(len(x)),
            "n_test": int(len(x_test)),
            "n_draws": args.draws,
            "steps": args.steps,
            "recoverable": [table.names[i] for i in table.recoverable],
            "rows": rows,
            "quick": quick,
        }

    for method in methods:
        start = time.perf_counter()
        if method in ("cinn", "paper_inn"):
            if method == "paper_inn" and not (PAPER_INN_DIR / "estimator.json").is_file():
                print(f"skipping paper_inn: {PAPER_INN_DIR} holds no estimator", flush=True)
                continue
            est = cinn if method == "cinn" else load_estimator(PAPER_INN_DIR)
            rows.append(table.estimator_row(LABELS[method], est, *packaged_budget(est)))
        elif method == "abc":
            draws = RejectionABC(x, f).nearest(table.f_test, 100).draws
            rows.append(abc_row(table, draws, map_estimate(draws, progress=True), len(x), time.perf_counter() - start))
        elif method in TRAINED:
            model, network, batch, with_noise = TRAINED[method]
            options = dict(network, steps=args.steps, batch_size=min(batch, len(x) // 4), seed=0, progress=not quick)
            if not quick:
                options["checkpoint_dir"] = str(Path(args.work) / f"table_{method}_steps{args.steps}")
            if with_noise:
                settings = PretrainSettings(**PAPER_INN).for_camera(simulator.camera)
                if quick:
                    settings.solver = "fast"
                options["nuisance"] = noise_draws(x, f, settings, simulator.camera)
            est = fit(x, f, model, bounds=simulator.bounds, param_names=table.names, **options)
            rows.append(
                table.estimator_row(
                    LABELS[method],
                    est,
                    est.metadata["training"]["seconds"],  # a resumed run's parts included
                    f"{args.steps} x {options['batch_size']}",
                )
            )
        elif method == "floor":
            resim = (np.abs(table.forward(x_test) - y_test) / y_test).mean(axis=1)
            rows.append(
                {
                    "method": "simulation-noise floor (true x)",
                    "resim_error_pct": 100 * float(resim.mean()),
                    "resim_error_sem_pct": 100 * float(resim.std(ddof=1) / np.sqrt(len(resim))),
                }
            )
        else:
            raise SystemExit(f"unknown method {method!r}; choose from cinn,paper_inn,abc,floor,{','.join(TRAINED)}")
        print(markdown_row(rows[-1]), flush=True)
        report(result(rows))
    return result(rows)


def abc_row(table: Table, draws, x_map, n_library: int, seconds: float) -> dict:
    posterior = Posterior(draws, table.names)
    evaluation = evaluate(None, table.x_test, table.f_test, draws.shape[1], seed=1, posterior=posterior, x_map=x_map)
    return table.row(f"rejection ABC ({n_library} library)", x_map, evaluation, seconds, "100 nearest")


HEADER = (
    "| method | budget (steps x batch) | MAP err sO2 (pp) | MAP err recoverable (std) | re-sim err (%) | "
    "cal err sO2 (%) | cal err median (%) | 68 % width sO2 | train (s) |"
)


def markdown_row(r: dict) -> str:
    def cell(key, sem=None, fmt=".2f"):
        if r.get(key) is None:
            return "-"
        text = format(r[key], fmt)
        return text + (f" ± {r[sem]:{fmt}}" if sem and sem in r else "")

    cells = [
        r["method"],
        r.get("budget", "-"),
        cell("map_error_sO2_pp", "map_error_sO2_sem_pp"),
        cell("map_error_recoverable_std", "map_error_recoverable_sem", ".3f"),
        cell("resim_error_pct", "resim_error_sem_pct"),
        cell("calibration_error_sO2_pct"),
        cell("calibration_error_median_pct"),
        cell("width_68_sO2", fmt=".3f"),
        cell("train_seconds", fmt=".0f"),
    ]
    return "| " + " | ".join(cells) + " |"


def markdown(result: dict) -> str:
    floors = {round(r["calibration_floor_pct"], 2) for r in result["rows"] if "calibration_floor_pct" in r}
    lines = [
        f"train {result['n_train']}, test {result['n_test']}, draws {result['n_draws']} (calibration floor "
        f"{', '.join(f'{f:.2f} %' for f in sorted(floors))}); recoverable: {', '.join(result['recoverable'])}",
        "",
        HEADER,
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [markdown_row(r) for r in result["rows"]]
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--methods", default="cinn,paper_inn,abc,floor")
    parser.add_argument("--n-test", type=int, default=20_000)
    parser.add_argument("--draws", type=int, default=1000, help="posterior draws per test spectrum")
    parser.add_argument("--steps", type=int, default=30_000, help="training steps of the methods trained here")
    parser.add_argument("--work", default=str(DEFAULT_WORK), help="checkpoints of the methods trained here")
    parser.add_argument(
        "--out",
        default=None,
        help="JSON written after each row; rows already there (same test size, draws, steps) are kept",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.n_test, args.draws, args.steps = min(args.n_test, 100), min(args.draws, 100), min(args.steps, 30)
    earlier = earlier_rows(args.out, args)

    def write(result: dict) -> None:
        if args.out:
            write_json(args.out, with_earlier_rows(result, earlier))

    result = with_earlier_rows(run(args, report=write), earlier)
    print(markdown(result))
    return result


def with_earlier_rows(result: dict, earlier: list[dict]) -> dict:
    """``result`` with the ``earlier`` rows of the methods it did not rerun in front of its own."""
    new = {r["method"] for r in result["rows"]}
    return {**result, "rows": [r for r in earlier if r["method"] not in new] + result["rows"]}


def earlier_rows(out: str | None, args) -> list[dict]:
    """The rows of an earlier run into ``out`` with the same test size, draws and steps: a table
    is built one method at a time (an hour each), and a rerun of some methods keeps the others."""
    if not out or not Path(out).is_file():
        return []
    earlier = json.loads(Path(out).read_text())
    same = [earlier.get(key) for key in ("n_test", "n_draws", "steps", "quick")]
    return earlier["rows"] if same == [args.n_test, args.draws, args.steps, args.quick] else []


if __name__ == "__main__":
    main()
