"""Whole-image speed of ``oximetry.estimate`` on a 512 x 512 x 8 image, and its accuracy.

Usage: python benchmarks/oximetry_speed.py [--quick] [--grid DIR] [--test DIR] [--out results.json]

Rows: (1) ``oximetry.estimate(image)`` with defaults (``method="auto"`` picks the packaged
pinball-loss sO2 quantile head for an image this size; input checks, OOD and highlight
scores included), best of 3 after a warm-up call; (2) ``oximetry.estimate(image,
method="sample", n=64)``: full posteriors of all 13 parameters from the packaged cINN, the
whole image timed once; (3) a pinball-loss quantile head (:mod:`oximetry.quantile_head`)
trained here on the same grid, network pass only; (4) a Wirkert-style random forest
(sklearn, 10 trees, depth 9, min_samples_leaf 10, point estimate only). Accuracy on the
held-out test grid: the 68 % interval's observed coverage minus 0.68, and the mean
|median - truth| of sO2. The image is made of held-out test spectra drawn with
replacement. Every row records the wall and CPU seconds and the 1-minute load average
(the machine is shared: CPU seconds / threads approximates the idle wall time). Grids
default to those of ``python -m oximetry.pretrain`` (its --work dir) and are simulated
(3000 / 1000 spectra) when absent; ``--quick`` uses small simulated grids, a 96 x 96
image and n=16 (a smoke test). Prints a markdown table and writes JSON.
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
    ds = (
        open_grid(paths[0])
        if paths
        else simulate_grid(
            n, "colon", None, None, n_quad=8, seed=seed, chunk_size=max(n // 4, 1), n_workers=1, progress=False
        )
    )
    return ds["x"].values, ds["y"].values


def timed(function, *args, **kwargs):
    """(result, wall seconds, CPU seconds, 1-minute load average at the end) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = function(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu, os.getloadavg()[0]


def best_of(repeats: int, function, *args, **kwargs):
    """:func:`timed` of the fastest of ``repeats`` calls (by wall time)."""
    return min((timed(function, *args, **kwargs) for _ in range(repeats)), key=lambda t: t[1])


def coverage_error(lo, hi, truth) -> float:
    return float(((lo <= truth) & (truth <= hi)).mean() - 0.68)


def _row(method: str, timing, train_seconds, lo, hi, median, truth) -> dict:
    _, wall, cpu, load = timing
    return {
        "method": method,
        "image_seconds": wall,
        "cpu_seconds": cpu,
        "load_avg_1min": load,
        "train_seconds": train_seconds,
        "coverage_error_68_pct": None if lo is None else 100 * coverage_error(lo, hi, truth),
        "mae_sO2_pct": 100 * float(np.abs(median - truth).mean()),
    }


def run(quick: bool, grid: str | None, test: str | None, side: int, n_sample: int) -> dict:
    x, y = load_grid(grid, 3000, 0) if not quick else load_grid(None, 1000, 0)
    x_test, y_test = load_grid(test, 1000, 1) if not quick else load_grid(None, 200, 1)
    so2, so2_test = x[:, 0], x_test[:, 0]
    image = y_test[np.random.default_rng(0).integers(len(y_test), size=side * side)].reshape(side, side, 8)
    pixels = side * side
    rows = []

    estimate(image[:4, :4], method="quantiles")  # load the estimator, head and detector once
    timing = best_of(3, estimate, image)
    default, heads = timing[0], estimate(y_test, method="quantiles")
    rows.append(
        _row(
            f"estimate(image) defaults: method={default.attrs['method']!r}",
            timing,
            None,
            heads["sO2_q16"].values,
            heads["sO2_q84"].values,
            heads["sO2_median"].values,
            so2_test,
        )
    )

    timing = timed(estimate, image, method="sample", n=n_sample)
    sampled = [v[: -len("_median")] for v in timing[0].data_vars if v.endswith("_median")]
    draws = estimate(y_test, method="sample", n=n_sample)
    rows.append(
        _row(
            f"estimate(image, method='sample', n={n_sample}): {len(sampled)} parameters",
            timing,
            None,
            draws["sO2_q16"].values,
            draws["sO2_q84"].values,
            draws["sO2_median"].values,
            so2_test,
        )
    )

    head, train_seconds = timed(
        fit_quantile_head, reflectance_features(y), so2, steps=300 if quick else 4000, hidden=64
    )[:2]
    timing = timed(lambda img: head.predict(reflectance_features(img.reshape(-1, 8))), image)
    q_test = head.predict(reflectance_features(y_test))
    rows.append(
        _row(
            "quantile head trained here (pinball loss, 16/50/84 %, 3x64 MLP; network only)",
            timing,
            train_seconds,
            q_test[:, 0],
            q_test[:, 2],
            q_test[:, 1],
            so2_test,
        )
    )

    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(n_estimators=10, max_depth=9, min_samples_leaf=10, n_jobs=2, random_state=0)
    train_seconds = timed(forest.fit, reflectance_features(y), so2)[1]
    timing = timed(lambda img: forest.predict(reflectance_features(img.reshape(-1, 8))), image)
    rows.append(
        _row(
            "random forest (10 trees, depth 9, point only)",
            timing,
            train_seconds,
            None,
            None,
            forest.predict(reflectance_features(y_test)),
            so2_test,
        )
    )
    for row in rows:
        row["pixels_per_second"] = pixels / row["image_seconds"]
    return {
        "image": [side, side, 8],
        "pixels": pixels,
        "n_train": int(len(y)),
        "n_test": int(len(y_test)),
        "estimator_n_train": load_estimator().metadata["training"]["n_train"],
        "default_method": default.attrs["method"],
        "default_method_reason": default.attrs["method_reason"],
        "sample_n": n_sample,
        "sample_parameters": sampled,
        "default_over_forest_time": rows[0]["image_seconds"] / rows[-1]["image_seconds"],
        "rows": rows,
        "torch_threads": __import__("torch").get_num_threads(),
        "quick": quick,
    }


def markdown(result: dict) -> str:
    lines = [
        f"Image {result['image'][0]} x {result['image'][1]} x 8 ({result['pixels']} pixels), "
        f"train grid {result['n_train']}, test {result['n_test']}; default: {result['default_method_reason']}",
        "",
        "| method | image time (s) | CPU (s) | load | pixels/s | train (s) | 68 % coverage error (pp) | sO2 MAE (pp) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    for r in result["rows"]:
        lines.append(
            f"| {r['method']} | {r['image_seconds']:.3f} | {r['cpu_seconds']:.2f} | "
            f"{r['load_avg_1min']:.1f} | {r['pixels_per_second']:.0f} | {fmt(r['train_seconds'], '.1f')} | "
            f"{fmt(r['coverage_error_68_pct'], '+.1f')} | {r['mae_sO2_pct']:.1f} |"
        )
    lines.append(f"\nestimate(image) defaults / random forest time: {result['default_over_forest_time']:.2f}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--grid", default=str(DEFAULT_WORK / "grid_train_colon_paper-8band_*.zarr"))
    parser.add_argument("--test", default=str(DEFAULT_WORK / "grid_test_colon_paper-8band_*.zarr"))
    parser.add_argument("--out", default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    # quick: an image just above AUTO_MAX_DRAWS at the default n (so the default picks the head), 16 draws
    result = run(args.quick, args.grid, args.test, side=96 if args.quick else 512, n_sample=16 if args.quick else 64)
    print(markdown(result))
    if args.out:
        write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
