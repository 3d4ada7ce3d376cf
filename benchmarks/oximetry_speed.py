"""Whole-image sO2 speed: median + 68 % interval for every pixel of a 512 x 512 x 8 image.

Usage: python benchmarks/oximetry_speed.py [--quick] [--grid DIR] [--test DIR] [--out results.json]

Rows: (1) the packaged cINN through ``oximetry.estimate`` (per-pixel sampling, n draws;
timed on a subset of pixels, the full-image time is that measured throughput scaled to
the image); (2) a pinball-loss quantile head (:mod:`oximetry.quantile_head`) trained here on
the same grid, timed on the whole image (network pass only); (3) ``oximetry.estimate(image,
method="quantiles")`` with the packaged head, including input checks and OOD scores; (4) a
Wirkert-style random forest (sklearn, 10 trees, depth 9, min_samples_leaf 10, point
estimate only) on the same image. Calibration: the
68 % interval's observed coverage on the held-out test grid minus 0.68, and the mean
|median - truth| of sO2. The image is made of held-out test spectra drawn with
replacement. Grids default to those of ``python -m oximetry.pretrain`` (its --work dir);
``--quick`` simulates small ones in memory and uses a 64 x 64 image (a smoke test).
Prints a markdown table and writes JSON.
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

from oximetry import estimate, load_estimator  # noqa: E402
from oximetry.features import reflectance_features  # noqa: E402
from oximetry.grid import simulate_grid  # noqa: E402
from oximetry.pretrain import DEFAULT_WORK  # noqa: E402
from oximetry.quantile_head import fit_quantile_head  # noqa: E402


def load_grid(pattern: str | None, n: int, seed: int):
    """(x, y) of the first grid matching ``pattern``, else a grid of ``n`` simulated in memory."""
    from inn_engine.grid import open_grid

    paths = sorted(glob.glob(pattern)) if pattern else []
    ds = open_grid(paths[0]) if paths else simulate_grid(n, "colon", None, None, n_quad=8, seed=seed,
                                                          chunk_size=max(n // 4, 1), n_workers=1, progress=False)
    return ds["x"].values, ds["y"].values


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    out = function(*args, **kwargs)
    return out, time.perf_counter() - start


def coverage_error(lo, hi, truth) -> float:
    return float(((lo <= truth) & (truth <= hi)).mean() - 0.68)


def run(quick: bool, grid: str | None, test: str | None, side: int, cinn_pixels: int, n_draws: int) -> dict:
    x, y = load_grid(grid, 3000, 0) if not quick else load_grid(None, 1000, 0)
    x_test, y_test = load_grid(test, 1000, 1) if not quick else load_grid(None, 200, 1)
    so2, so2_test = x[:, 0], x_test[:, 0]
    image = y_test[np.random.default_rng(0).integers(len(y_test), size=side * side)].reshape(side, side, 8)
    pixels = side * side
    rows = []

    cinn_sub = image.reshape(-1, 8)[:cinn_pixels]
    estimate(cinn_sub[:16], n=n_draws)  # load the estimator once
    _, seconds = timed(estimate, cinn_sub, n=n_draws)
    test_out = estimate(y_test, n=n_draws)
    rows.append({"method": f"cINN estimate(n={n_draws}) [scaled from {cinn_pixels} px]",
                 "image_seconds": seconds * pixels / len(cinn_sub), "train_seconds": None,
                 "coverage_error_68_pct": 100 * coverage_error(test_out["sO2_q16"].values, test_out["sO2_q84"].values,
                                                               so2_test),
                 "mae_sO2_pct": 100 * float(np.abs(test_out["sO2_median"].values - so2_test).mean())})

    head, train_seconds = timed(fit_quantile_head, reflectance_features(y), so2, steps=300 if quick else 4000,
                                hidden=64)
    _, seconds = timed(lambda img: head.predict(reflectance_features(img.reshape(-1, 8))), image)
    q_test = head.predict(reflectance_features(y_test))
    rows.append({"method": "quantile head (pinball loss, 16/50/84 %, 3x64 MLP)", "image_seconds": seconds,
                 "train_seconds": train_seconds,
                 "coverage_error_68_pct": 100 * coverage_error(q_test[:, 0], q_test[:, 2], so2_test),
                 "mae_sO2_pct": 100 * float(np.abs(q_test[:, 1] - so2_test).mean())})

    estimate(image[:4, :4], method="quantiles")  # load the head once
    out, seconds = timed(estimate, image, method="quantiles")
    full_test = estimate(y_test, method="quantiles")
    rows.append({"method": "estimate(method='quantiles'): packaged head + input checks + OOD score",
                 "image_seconds": seconds, "train_seconds": None,
                 "coverage_error_68_pct": 100 * coverage_error(full_test["sO2_q16"].values,
                                                               full_test["sO2_q84"].values, so2_test),
                 "mae_sO2_pct": 100 * float(np.abs(full_test["sO2_median"].values - so2_test).mean())})

    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(n_estimators=10, max_depth=9, min_samples_leaf=10, n_jobs=2, random_state=0)
    _, train_seconds = timed(forest.fit, reflectance_features(y), so2)
    _, seconds = timed(lambda img: forest.predict(reflectance_features(img.reshape(-1, 8))), image)
    rows.append({"method": "random forest (10 trees, depth 9, point only)", "image_seconds": seconds,
                 "train_seconds": train_seconds, "coverage_error_68_pct": None,
                 "mae_sO2_pct": 100 * float(np.abs(forest.predict(reflectance_features(y_test)) - so2_test).mean())})
    for row in rows:
        row["pixels_per_second"] = pixels / row["image_seconds"]
    return {"image": [side, side, 8], "pixels": pixels, "n_train": int(len(y)), "n_test": int(len(y_test)),
            "estimator_n_train": load_estimator().metadata["training"]["n_train"],
            "head_over_forest_time": rows[1]["image_seconds"] / rows[-1]["image_seconds"],
            "estimate_over_forest_time": rows[2]["image_seconds"] / rows[-1]["image_seconds"], "rows": rows,
            "torch_threads": __import__("torch").get_num_threads(), "quick": quick}


def markdown(result: dict) -> str:
    lines = [f"Image {result['image'][0]} x {result['image'][1]} x 8 ({result['pixels']} pixels), "
             f"train grid {result['n_train']}, test {result['n_test']}",
             "", "| method | image time (s) | pixels/s | train (s) | 68 % coverage error (pp) | sO2 MAE (pp) |",
             "|---|---|---|---|---|---|"]
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    for r in result["rows"]:
        lines.append(f"| {r['method']} | {r['image_seconds']:.3f} | {r['pixels_per_second']:.0f} | "
                     f"{fmt(r['train_seconds'], '.1f')} | {fmt(r['coverage_error_68_pct'], '+.1f')} | "
                     f"{r['mae_sO2_pct']:.1f} |")
    lines.append(f"\nquantile head / random forest time: {result['head_over_forest_time']:.2f}; "
                 f"estimate(method='quantiles') / random forest: {result['estimate_over_forest_time']:.2f}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--grid", default=str(DEFAULT_WORK / "grid_train_colon_paper-8band_*.zarr"))
    parser.add_argument("--test", default=str(DEFAULT_WORK / "grid_test_colon_paper-8band_*.zarr"))
    parser.add_argument("--out", default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    result = run(args.quick, args.grid, args.test, side=64 if args.quick else 512,
                 cinn_pixels=256 if args.quick else 4096, n_draws=32 if args.quick else 100)
    print(markdown(result))
    if args.out:
        write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
