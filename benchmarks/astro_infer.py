"""Speed of astro.infer on a catalogue, beside a library-weighting (cluster_slug-style) approach.

A catalogue of simulated clusters (UBVRI, stochastic, noisy, random missing bands) at
distance modulus 18.5 goes through ``astro.infer`` (1000 draws each, summaries, the
library model check). The library approach (Krumholz et al. 2015, cluster_slug) weights
every cluster of the shipped 20,000-cluster reference library by N(y | M_lib, sigma) and
takes weighted quantiles: timed on the same catalogue. Target: 10^4 clusters in <= 60 s
on 2 cores. Also reports the age agreement of the two methods' medians.

Usage: ``python benchmarks/astro_infer.py [--quick] [--json out.json]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/report.py
DM = 18.5


def library_summaries(mag, sigma, has, lib_x, lib_mag, probs=(0.5, 0.16, 0.84, 0.025, 0.975), block=256):
    """Weighted-library quantiles (len(probs), n, 4) for observations (n, K) each."""
    order = np.argsort(lib_x, axis=0)
    lib = np.where(np.isfinite(lib_mag), lib_mag, 1e3)
    out = np.empty((len(probs), len(mag), lib_x.shape[1]))
    for i in range(0, len(mag), block):
        w_band = np.where(has[i : i + block], 1.0 / sigma[i : i + block].clip(1e-3) ** 2, 0.0)
        m = np.where(has[i : i + block], mag[i : i + block], 0.0)
        chi2 = (w_band * m**2).sum(1)[:, None] - 2 * (w_band * m) @ lib.T + w_band @ (lib**2).T
        w = np.exp(-0.5 * (chi2 - chi2.min(axis=1, keepdims=True)))
        for j in range(lib_x.shape[1]):
            cdf = np.cumsum(w[:, order[:, j]], axis=1)
            cdf /= cdf[:, -1:]
            for p, prob in enumerate(probs):
                idx = (cdf < prob).sum(axis=1)
                out[p, i : i + block, j] = lib_x[order[np.minimum(idx, len(lib_x) - 1), j], j]
    return out


def main(argv=None) -> dict:
    from report import markdown_table, write_json

    from astro import infer, mock_catalogue
    from astro.infer import foreground_coefficients, load_estimator  # noqa: F401  (warm caches)

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 clusters x 200 draws")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "astro_infer.json"))
    args = parser.parse_args(argv)
    n, draws = (500, 200) if args.quick else (10_000, 1000)
    x, table, _ = mock_catalogue(n, distance_modulus=DM)
    model = load_estimator("ubvri")
    infer(table[:2], distance_modulus=DM, n=16)  # load the estimator, build caches

    start = time.perf_counter()
    result = infer(table, distance_modulus=DM, model_error=0.0, n=draws, draws=draws, seed=0)  # simulated clusters
    t_infer = time.perf_counter() - start

    k = len(model.bands)
    mag = np.column_stack([np.asarray(table[b]) - DM for b in model.bands])
    sigma = np.column_stack([np.asarray(table[f"{b}_err"]) for b in model.bands])
    has = np.isfinite(mag)
    start = time.perf_counter()
    lib = library_summaries(np.nan_to_num(mag), np.nan_to_num(sigma, nan=1.0), has, model.library_x, model.library_mag)
    t_library = time.perf_counter() - start

    age_err_ours = np.median(np.abs(np.asarray(result["log_age_median"]) - x[:, 1]))
    age_err_lib = np.median(np.abs(lib[0, :, 1] - x[:, 1]))
    rows = [
        {
            "method": f"astro.infer (cINN, {draws} draws, summaries, model check)",
            "clusters": n,
            "seconds": t_infer,
            "clusters_per_s": n / t_infer,
            "median_abs_log_age_error": float(age_err_ours),
        },
        {
            "method": f"library weighting ({len(model.library_x)} clusters, weighted quantiles)",
            "clusters": n,
            "seconds": t_library,
            "clusters_per_s": n / t_library,
            "median_abs_log_age_error": float(age_err_lib),
        },
    ]
    print(markdown_table(rows, ["method", "clusters", "seconds", "clusters_per_s", "median_abs_log_age_error"]))
    ratio = t_library / t_infer
    print(
        f"\nlibrary time / infer time = {ratio:.2f}; 10^4-cluster infer time "
        f"{'measured' if n == 10_000 else 'extrapolated'}: {t_infer * 10_000 / n:.1f} s (target <= 60 s)"
    )
    out = {
        "quick": args.quick,
        "rows": rows,
        "ratio_library_over_infer": ratio,
        "infer_seconds_per_1e4": t_infer * 10_000 / n,
        "draws": draws,
        "k_bands": k,
    }
    if not args.quick or args.json != parser.get_default("json"):
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
