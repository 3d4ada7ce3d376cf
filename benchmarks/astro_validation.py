"""Validation of astro.infer (the shipped UBVRI estimator).

Sections (markdown tables; everything goes to one JSON file):

1. Real clusters (when ``../shared/validation/astro/`` exists; never committed, never
   trained on): 78 Magellanic Cloud clusters, UBVR integrated photometry of Hunter et al.
   2003 (B = V + (B-V), U = B + (U-B), R = V - (V-R); colour errors added in quadrature to
   e_V), distance moduli LMC 18.477 (Pietrzynski et al. 2019, Nature 567, 200) and SMC
   18.977 (Graczyk et al. 2020, ApJ 904, 13), Z fixed at 0.008 (LMC) / 0.004 (SMC), no
   foreground correction (A_V absorbs all dust). Against the CMD ages / masses of Perren
   et al. 2017 (and the median of all CMD ages): median |log age error| (target <= 0.3 dex),
   fraction of CMD values in our 68 % (target 0.6-0.8) and 95 % intervals (also with our
   draws convolved with the CMD fit's quoted error, since the reference is noisy); with the
   trained prior (A_V 0-3), with ``infer(..., av_max=0.6)`` (the Magellanic Cloud
   reddening E(B-V) ~ 0.1: Hunter et al. 2003 use 0.13 / 0.09), and with that and the
   model error ``model_error=astro.MODEL_ERROR_REAL`` (0.07 mag per band, fixed from
   the BPASS comparison beforehand) added to the photometric errors; and with the defaults
   (the catalogue's own population) with and without that model error, and the defaults
   without the galaxy's Z (``metallicity`` not given: Z free within the training prior, the
   call with nothing but the distance). Every figure is the
   mean over :data:`SEEDS` calls with different seeds, with its sd over the seeds (Monte
   Carlo noise) and over bootstrap resamples of the 78 clusters (the catalogue's own noise).
   The calls use astro.infer's default number of draws (``n``), so that the "defaults" rows are the
   default call.
2. Calibration on freshly simulated clusters (not the training library): the paper's
   calibration error per parameter (target <= 1 %), SBC rank uniformity p-value.
3. C2ST against a kernel-density library posterior (cluster_slug's approach, Krumholz et
   al. 2015): each library cluster gets weight N(y | M_lib, sigma) with the observed bands
   and errors; its draws (resampled library points, and the same smoothed by a Gaussian
   kernel with Scott's bandwidth) vs ours; 0.5 = indistinguishable.
   The library is :data:`REFERENCE_CLUSTERS` clusters simulated with their own seeds (not
   the training library's), into ``--library-dir`` (resumed when rerun; ~8 min on 2 idle
   cores); ``--quick`` takes the estimator's shipped 20,000-cluster reference instead, too
   small for a C2ST (4-20 effective library draws per cluster).

``--sections`` runs some of ``real``, ``calibration``, ``c2st``; the JSON keeps the other
sections of an earlier run in ``--json``.

Usage: ``python benchmarks/astro_validation.py [--quick] [--sections real,calibration,c2st]
[--library-dir DIR] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/report.py
VALIDATION_CSV = REPO.parent / "shared" / "validation" / "astro" / "mc_clusters_H03_x_P17_ASteCA_age_mass.csv"
DISTANCE_MODULUS = {"LMC": 18.477, "SMC": 18.977}
METALLICITY = {"LMC": 0.008, "SMC": 0.004}
PARAMS = ("log_mass", "log_age", "A_V", "Z")
BOOTSTRAP = 2000  # resamples of the catalogue behind each figure's sd
#: calls of infer (seeds 0, 1, ...) per real-cluster setting: the figures' Monte Carlo noise
#: (the draws, the population's draws) moves one default call's median age error by ~0.02-0.03 dex
SEEDS = 8
#: the C2ST's reference library: clusters, seed of shard 0 (the training libraries' are 61,000
#: and 62,000 + shard), and where it is simulated by default
REFERENCE_CLUSTERS = 1_000_000
REFERENCE_SEED = 900_000
REFERENCE_DIR = Path.home() / ".cache" / "innfer" / "astro_c2st_reference" / "ubvri"
#: section name (``--sections``) -> its key in the JSON
SECTIONS = {"real": "real_clusters", "calibration": "calibration", "c2st": "c2st"}


def magellanic_catalogue(path=VALIDATION_CSV):
    """(pandas DataFrame of U B V R and errors, per-cluster distance moduli, Z, the raw table)."""
    import pandas as pd

    raw = pd.read_csv(path)
    v, b = raw["V"], raw["V"] + raw["BV"]
    cat = pd.DataFrame({"name": raw["names"], "V": v, "B": b, "U": b + raw["UB"], "R": v - raw["VR"]})
    cat["V_err"] = raw["e_V"]
    cat["B_err"] = np.hypot(raw["e_V"], raw["e_BV"])
    cat["U_err"] = np.hypot(cat["B_err"], raw["e_UB"])
    cat["R_err"] = np.hypot(raw["e_V"], raw["e_VR"])
    dm = raw["gal"].map(DISTANCE_MODULUS).to_numpy(float)
    z = raw["gal"].map(METALLICITY).to_numpy(float)
    return cat, dm, z, raw


def _coverage(result, truth, param, truth_err=None, seed: int = 0) -> dict:
    """Median |error| (and its bootstrap sd over the catalogue's clusters), median offset (ours -
    reference), Spearman's rank correlation and the share of reference values inside our 68 / 95 %
    intervals (the 68 % share's binomial sd); with ``truth_err`` (the reference's own 1-sigma errors) also the
    coverage of our draws convolved with N(0, truth_err^2), the fair test against a noisy
    reference."""
    from scipy.stats import spearmanr

    truth = np.asarray(truth, float)
    ok = np.isfinite(truth) & np.isfinite(np.asarray(result[f"{param}_median"]))
    med = np.asarray(result[f"{param}_median"])[ok]
    t = truth[ok]
    in68 = (np.asarray(result[f"{param}_q16"])[ok] <= t) & (t <= np.asarray(result[f"{param}_q84"])[ok])
    in95 = (np.asarray(result[f"{param}_q025"])[ok] <= t) & (t <= np.asarray(result[f"{param}_q975"])[ok])
    abs_error = np.abs(med - t)
    # the figure's own uncertainty from the finite catalogue: its sd over bootstrap resamples
    resampled = np.random.default_rng(seed).integers(0, len(t), (BOOTSTRAP, len(t)))
    out = {
        "n": int(ok.sum()),
        "median_abs_error_dex": float(np.median(abs_error)),
        "median_abs_error_bootstrap_sd": float(np.median(abs_error[resampled], axis=1).std()),
        "median_offset_dex": float(np.median(med - t)),
        "spearman": float(spearmanr(med, t)[0]),
        "coverage_68": float(in68.mean()),
        "coverage_95": float(in95.mean()),
        "coverage_68_binomial_sd": float(np.sqrt(in68.mean() * (1 - in68.mean()) / len(t))),
    }
    if truth_err is not None:
        draws = result.meta["draws"].sel(param=param).values[ok]
        err = np.nan_to_num(np.asarray(truth_err, float)[ok])
        blurred = draws + np.random.default_rng(seed).standard_normal(draws.shape) * err[:, None]
        lo68, hi68, lo95, hi95 = np.quantile(blurred, [0.16, 0.84, 0.025, 0.975], axis=1)
        out["coverage_68_with_ref_error"] = float(((lo68 <= t) & (t <= hi68)).mean())
        out["coverage_95_with_ref_error"] = float(((lo95 <= t) & (t <= hi95)).mean())
    return out


def _default_draws() -> int:
    """astro.infer's default number of posterior draws per cluster (``n``): the real-cluster
    calls use it, so that the "defaults" rows are the default call."""
    import inspect

    from astro import infer

    return int(inspect.signature(infer).parameters["n"].default)


def real_clusters(draws: int, seeds: int = SEEDS, max_av: float = 0.6) -> list[dict]:
    """One row per (reference quantity, ``infer`` setting): every figure the mean over ``seeds``
    calls of ``infer`` with seeds 0, 1, ..., and the median error's and 68 % coverage's sd over
    those seeds beside their sd over the catalogue's clusters."""
    from astro import infer
    from astro.infer import MODEL_ERROR_REAL

    cat, dm, z, raw = magellanic_catalogue()
    log_mass_err = raw["P17_e_mass"] / (raw["P17_mass"] * np.log(10))
    truths = [
        ("log age vs P17 CMD", raw["P17_logt"], "log_age", raw["P17_e_logt"]),
        ("log age vs median of CMD ages", raw["logt_cmd_median"], "log_age", None),
        ("log initial mass vs P17 CMD", np.log10(raw["P17_mass"]), "log_mass", log_mass_err),
        ("log living mass vs P17 CMD", np.log10(raw["P17_mass"]), "log_mass_living", log_mass_err),
    ]
    flat = dict(population=None, model_error=0.0)
    settings = [
        ("flat A_V 0-3 (trained), no model error", flat),
        (f"flat, A_V <= {max_av} (MC dust)", {**flat, "av_max": max_av}),
        (
            f"flat, A_V <= {max_av}, model error {MODEL_ERROR_REAL} mag",
            dict(population=None, av_max=max_av, model_error=MODEL_ERROR_REAL),
        ),
        ("population, no model error", dict(model_error=0.0)),
        (f"defaults (population, model error {MODEL_ERROR_REAL} mag)", dict()),
        ("defaults, metallicity not given (Z free)", dict(metallicity=None)),
    ]
    rows = []
    for label, options in settings:
        per_seed = []
        for seed in range(seeds):
            call = {"metallicity": z, **options}  # the galaxy's Z unless a setting leaves it out
            result = infer(cat, distance_modulus=dm, n=draws, draws=draws, seed=seed, **call)
            flagged = int(np.sum(np.char.str_len(np.asarray(result["flag"], dtype=str)) > 0))
            per_seed.append([{**_coverage(result, t, p, e, seed=seed), "flagged": flagged} for _, t, p, e in truths])
        for k, (quantity, *_) in enumerate(truths):
            runs = [figures[k] for figures in per_seed]
            row = {"quantity": quantity, "prior": label, "seeds": seeds}
            row.update({key: float(np.mean([r[key] for r in runs])) for key in runs[0] if key not in ("n", "flagged")})
            row.update(n=runs[0]["n"], flagged=max(r["flagged"] for r in runs))
            for key in ("median_abs_error_dex", "coverage_68_with_ref_error"):
                if key in runs[0]:
                    row[f"{key}_seed_sd"] = float(np.std([r[key] for r in runs], ddof=1)) if seeds > 1 else 0.0
            rows.append(row)
    return rows


def simulated_observations(n: int, seed: int, limits: bool):
    """(x, noise-free magnitudes, observations of :mod:`astro.observe`, ``limits`` or not)."""
    from astro.library import ClusterLibrarySimulator
    from astro.observe import observe
    from astro.training import BAND_SETS

    sim = ClusterLibrarySimulator(BAND_SETS["ubvri"])
    rng = np.random.default_rng(seed)
    x = sim.sample_prior(n, rng)
    mags = sim.simulate(x, rng)
    return x, mags, observe(mags, rng, limits=limits)


def calibration(n: int, draws: int) -> dict:
    from astro.infer import load_estimator
    from inn_engine.evaluation import evaluate

    model = load_estimator("ubvri")
    x, _, y = simulated_observations(n, seed=424242, limits=model.limits)
    return evaluate(model.estimator, x, y, draws, seed=3)


def _library(band_set: str, directory: Path | None):
    """(x (N, 4), M (N, K), label) of the C2ST's reference library: the estimator's shipped
    reference when ``directory`` is None, else :data:`REFERENCE_CLUSTERS` clusters simulated
    into ``directory`` with seeds of their own (complete shards are kept)."""
    from astro.infer import load_estimator
    from astro.training import BAND_SETS, build_library, load_library

    if directory is None:
        model = load_estimator(band_set)
        return model.library_x, model.library_mag, "shipped reference library"
    build_library(BAND_SETS[band_set], REFERENCE_CLUSTERS, directory, REFERENCE_SEED, n_workers=os.cpu_count() or 1)
    shards = load_library(directory)
    return np.concatenate([s[0] for s in shards]), np.concatenate([s[1] for s in shards]), "independent library"


def _log_z(a: np.ndarray) -> np.ndarray:
    """(n, 4) parameters with Z replaced by log10 Z (the space the comparison is made in)."""
    return np.column_stack([a[:, :3], np.log10(a[:, 3])])


def library_posterior(y_row: np.ndarray, lib_t, lib_mag, draws: int, rng) -> tuple[np.ndarray, np.ndarray, float]:
    """Library posteriors for one observation row (3K or 4K,): library cluster i gets weight
    N(y | M_i, sigma) on the observed bands. Returns (resampled, smoothed, ESS): ``draws``
    weighted library points ``lib_t`` (N, 4; log10 Z), the same plus a Gaussian kernel with
    Scott's bandwidth for the weighted sample (its covariance x ESS^(-2/(d+4)); cluster_slug's
    kernel-density posterior), reflected at the library's edges (the flat prior's bounds),
    and the library's effective sample size."""
    k = lib_mag.shape[1]
    mag, sigma, has = y_row[:k], y_row[k : 2 * k], y_row[2 * k : 3 * k] > 0.5
    chi2 = (((lib_mag[:, has] - mag[has]) / sigma[has]) ** 2).sum(axis=1)
    chi2 = np.where(np.isfinite(chi2), chi2, np.inf)
    w = np.exp(-0.5 * (chi2 - chi2.min()))
    w /= w.sum()
    ess = float(1.0 / np.sum(w**2))
    picked = lib_t[rng.choice(len(w), size=draws, p=w)]
    d = lib_t.shape[1]
    cov = np.cov(lib_t.T, aweights=w) * ess ** (-2.0 / (d + 4))
    smoothed = picked + rng.multivariate_normal(np.zeros(d), cov, size=draws)
    low, high = lib_t.min(axis=0), lib_t.max(axis=0)
    smoothed = np.where(smoothed < low, 2 * low - smoothed, smoothed)
    return picked, np.where(smoothed > high, 2 * high - smoothed, smoothed), ess


def c2st_section(n_clusters: int, draws: int, library_dir: Path | None) -> list[dict]:
    from astro.infer import load_estimator
    from astro.observe import condition_vector
    from inn_engine.diagnostics import c2st
    from inn_engine.progress import Progress

    lib_x, lib_mag, source = _library("ubvri", library_dir)
    # the clusters are held out of the library: the last 5 % of it is never used as reference
    n_ref = int(0.95 * len(lib_x))
    test_x, test_mag = lib_x[n_ref:], lib_mag[n_ref:]
    lib_t, lib_mag = _log_z(lib_x[:n_ref]), lib_mag[:n_ref]
    rng = np.random.default_rng(7)
    # spread across the prior: sort by log mass and take evenly spaced clusters
    pick = np.argsort(test_x[:, 0])[np.linspace(0, len(test_x) - 1, n_clusters).astype(int)]
    model = load_estimator("ubvri")
    rows = []
    with Progress(len(pick), "c2st", unit="cluster") as report:
        for i in pick:
            sigma = np.full((1, test_mag.shape[1]), 0.1)
            has = np.isfinite(test_mag[i : i + 1])
            noisy = test_mag[i : i + 1] + sigma * rng.standard_normal(sigma.shape)
            y = condition_vector(noisy, sigma, has, np.zeros_like(has) if model.limits else None)
            resampled, smoothed, ess = library_posterior(y[0], lib_t, lib_mag, draws, rng)
            ours = _log_z(model.estimator.sample(y, draws, seed=int(i))[0])
            rows.append(
                {
                    "log_mass": float(test_x[i, 0]),
                    "log_age": float(test_x[i, 1]),
                    "A_V": float(test_x[i, 2]),
                    "library_ess": ess,
                    "c2st_resampled": float(c2st(resampled, ours)),
                    "c2st_kde": float(c2st(smoothed, ours)),
                    "library": f"{source} ({n_ref})",
                }
            )
            report.update(c2st_kde=rows[-1]["c2st_kde"])
    return rows


def main(argv=None) -> dict:
    from report import write_json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "astro_validation.json"))
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated: " + ", ".join(SECTIONS))
    parser.add_argument("--library-dir", default=str(REFERENCE_DIR), help="the C2ST's reference library")
    args = parser.parse_args(argv)
    quick = args.quick
    sections = args.sections.split(",")
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"--sections: unknown {unknown}; choose from {', '.join(SECTIONS)}")
    out = {"quick": quick}
    start = time.perf_counter()
    if "real" in sections and VALIDATION_CSV.exists():
        out["real_clusters"] = real_table(real_clusters(draws=_default_draws(), seeds=1 if quick else SEEDS))
    elif "real" in sections:
        print(f"(no {VALIDATION_CSV}: real-cluster section skipped)")
    if "calibration" in sections:
        out["calibration"] = calibration_table(calibration(200 if quick else 2000, 200 if quick else 1000))
    if "c2st" in sections:
        out["c2st"] = c2st_table(
            c2st_section(2 if quick else 20, 500 if quick else 2000, None if quick else Path(args.library_dir))
        )
    out["seconds"] = time.perf_counter() - start
    if not quick or args.json != parser.get_default("json"):
        earlier = json.loads(Path(args.json).read_text()) if Path(args.json).is_file() else {}
        kept = {key: earlier[key] for key in SECTIONS.values() if key in earlier and key not in out}
        if kept:
            print(f"kept from {args.json}: {', '.join(kept)}")
        write_json(args.json, {**kept, **out})
    return out


def real_table(rows: list[dict]) -> list[dict]:
    """Print the real-cluster section's table; returns ``rows``."""
    from report import markdown_table

    print("## Magellanic Cloud clusters (Hunter+03 UBVR vs CMD ages/masses)\n")
    columns = ["quantity", "prior", "n", "median_abs_error_dex", "median_abs_error_bootstrap_sd"]
    columns += ["median_abs_error_dex_seed_sd", "median_offset_dex", "spearman", "coverage_68", "coverage_95"]
    columns += ["coverage_68_with_ref_error", "coverage_68_with_ref_error_seed_sd", "coverage_95_with_ref_error"]
    print(markdown_table(rows, columns + ["flagged"]))
    return rows


def calibration_table(cal: dict) -> dict:
    """Print the calibration section's table; returns ``cal``."""
    from report import markdown_table

    print("\n## Calibration on simulated clusters\n")
    print(
        markdown_table(
            [
                {
                    "param": p,
                    "calibration_error": cal["parameters"][p]["calibration_median_abs"],
                    "error_at_68": cal["parameters"][p]["calibration_error_68"],
                    "sbc_p_value": cal["parameters"][p]["sbc_p_value"],
                    "median_abs_error": cal["parameters"][p]["median_abs_error"],
                }
                for p in PARAMS
            ],
            ["param", "calibration_error", "error_at_68", "sbc_p_value", "median_abs_error"],
        )
    )
    return cal


def c2st_table(rows: list[dict]) -> list[dict]:
    """Print the C2ST section's table and medians; returns ``rows``."""
    from report import markdown_table

    print("\n## C2ST vs likelihood-weighted library posterior (sigma = 0.1 mag, all bands)\n")
    print(markdown_table(rows, ["log_mass", "log_age", "A_V", "library_ess", "c2st_resampled", "c2st_kde", "library"]))
    for column in ("c2st_resampled", "c2st_kde"):
        values = [r[column] for r in rows]
        print(f"{column}: median {np.median(values):.3f}, range {min(values):.3f}-{max(values):.3f}")
    return rows


if __name__ == "__main__":
    main()
