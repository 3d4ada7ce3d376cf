"""Population inference (astro.hierarchy) on top of astro.infer: recovery, calibration, cost.

Sections (markdown tables; everything goes to one JSON file):

1. Synthetic catalogues of 300 clusters drawn from known narrow populations (the issue's
   A_V ~ U(0, 0.4) and log_age ~ N(8, 0.15), the only ones of ``--quick``, and three that no
   default was chosen on; the other parameters from the training prior), simulated with
   the stochastic forward model (``ClusterLibrarySimulator``) and the observation model of
   ``astro.observe`` (with its upper limits where the shipped estimator was trained on
   them) at distance modulus 18.5, inferred with ``astro.infer`` twice: with the flat
   training prior
   (``population=None``) and with the catalogue's population fitted (``population=True``,
   the default path: fit, reweighting, redraws of improbable clusters); recovery is the
   fitted population's 5 / 50 / 95 % quantiles (median over its draws) against the true
   ones; calibration error (``inn_engine.diagnostics.calibration_error``, pooled over the
   ``--catalogues`` replicates, each fitted on its own) of the flat-prior posteriors, of the
   posteriors under the fitted population, and of the flat draws reweighted by the TRUE
   population (what a perfect population fit would give with these draws, without redraws).
   Section ``synthetic_z``: the same catalogues with every cluster's true metallicity given
   (``infer(..., metallicity=Z)``, the path of a catalogue of one galaxy, like the real
   Magellanic Cloud clusters): the draws restricted to it, and the population dividing them
   by the effective prior at that Z; Z's calibration is then left out.
2. Upper limits: catalogues from the training prior (no other limits) observed in U by a
   survey with a 3-sigma detection limit at the flux of the 30th percentile of the clusters' true U fluxes:
   the measured flux is the true one plus Gaussian noise of a third of the limit, and a
   cluster whose measured flux falls below the limit is reported as ``U_lim`` (U itself NaN;
   detected clusters keep their catalogue U; an estimator trained with limits takes them as
   network inputs, :mod:`astro.observe`, others through their flux likelihood). Inferred
   with the flat prior (``population=None``) once with those limits and once with those U values dropped;
   pooled calibration error and the mean posterior sd of the limited clusters.
3. The data-averaged posterior (``inn_engine.diagnostics.data_averaged_posterior``): the
   flat-prior posteriors of clusters drawn from the training prior must average to that
   prior; a few per cent of density error there is what the population fit amplifies.
4. Cost: ``astro.infer`` on a 10^4-cluster catalogue x 1000 draws (the one of
   ``benchmarks/astro_infer.py``) with the population on (its default) and off, interleaved.

Every calibration error is printed beside its floor: the error that exact posteriors show
with as many test clusters (``inn_engine.diagnostics.calibration_error_floor``, mean and sd);
the 5 x 300 clusters of a synthetic row have a floor of ~0.75 %, the ~1400 limited ones of
the 20 x 300 limits catalogues ~0.9 %.

The real Magellanic Cloud clusters with and without the population are rows of
``benchmarks/astro_validation.py``.

Usage: ``python benchmarks/astro_population.py [--quick] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/report.py
DM = 18.5
BOUNDS = np.array([[2.0, 7.0], [6.0, 10.1], [0.0, 3.0], [0.002, 0.03]])
#: name -> (column, the population's distribution of that parameter): the two the issue names
#: first (quick mode runs those), then three more that no default was tuned on
POPULATIONS = {
    "A_V ~ U(0, 0.4)": (2, stats.uniform(0.0, 0.4)),
    "log_age ~ N(8, 0.15)": (1, stats.norm(8.0, 0.15)),
    "A_V ~ U(0.5, 1.5)": (2, stats.uniform(0.5, 1.0)),
    "log_age ~ N(9, 0.25)": (1, stats.norm(9.0, 0.25)),
    "A_V ~ Exp(0.3)": (2, stats.expon(0.0, 0.3)),
}
QUICK_POPULATIONS = 2
#: the sections (``--sections``), each the key of its results in the JSON (beside ``<key>_machine``)
SECTIONS = ("synthetic", "synthetic_z", "limits", "averaged", "cost")
PARAMS = ("log_mass", "log_age", "A_V", "Z")


def population_catalogue(name: str | None, n: int, seed: int, limits: bool | None = None):
    """(true x (n, 4), astropy Table of apparent U B V R I and errors, the clusters' noise-free
    absolute magnitudes (n, 5)) for population ``name`` (None: the training prior); the
    observation model of the shipped estimators, with its upper limits if ``limits`` (None:
    if the shipped UBVRI estimator was trained with them)."""
    from astro.mock import mock_catalogue

    def narrow_population(x, rng):
        column, population = POPULATIONS[name]
        low, high = BOUNDS[column]
        x[:, column] = np.clip(population.rvs(size=len(x), random_state=rng), low, high)  # Exp(0.3) > 3: e^-10

    edit = None if name is None else narrow_population
    return mock_catalogue(n, distance_modulus=DM, seed=seed, limits=limits, edit_parameters=edit)


def _log_ratio(population, column: int, values: np.ndarray) -> np.ndarray:
    """log(population density / flat training prior) of parameter ``column``'s ``values``."""
    with np.errstate(divide="ignore"):
        return population.logpdf(values) + np.log(np.ptp(BOUNDS[column]))


def _floor(prefix: str, n_obs: int, draws: int) -> dict:
    """``{prefix}floor``, ``{prefix}floor_sd``: the calibration error that exact posteriors show
    with ``n_obs`` test cases x ``draws`` (``calibration_error_floor``), as fractions."""
    from inn_engine.diagnostics import calibration_error_floor

    mean, sd = calibration_error_floor(n_obs, draws, repeats=8)
    return {f"{prefix}floor": mean, f"{prefix}floor_sd": sd}


def synthetic(name: str, n: int, n_catalogues: int, draws: int, metallicity_given: bool = False) -> dict:
    """Recovery and pooled calibration for ``n_catalogues`` catalogues of population ``name``;
    ``metallicity_given``: each cluster's true Z passed to ``infer`` (``metallicity=``, the
    path of a catalogue with known metallicities), Z's calibration then left out (None)."""
    from astro import infer
    from inn_engine.diagnostics import calibration_error
    from inn_engine.population import resample

    column, true_population = POPULATIONS[name]
    truth, flat, fitted, oracle, ess, quantiles, seconds = [], [], [], [], [], [], []
    for c in range(n_catalogues):
        x, table, _ = population_catalogue(name, n, seed=1000 + c)
        options = dict(distance_modulus=DM, model_error=0.0, n=draws, draws=draws, seed=c)
        if metallicity_given:
            options["metallicity"] = x[:, 3]
        start = time.perf_counter()
        samples = infer(table, population=None, **options).meta["draws"].values
        flat_seconds = time.perf_counter() - start
        start = time.perf_counter()
        under = infer(table, population=True, **options)
        seconds.append(time.perf_counter() - start - flat_seconds)
        population, kept = under.meta["population_model"], under.meta["draws"].values
        e = np.asarray(under["effective_draws"])
        weights = np.exp(_log_ratio(true_population, column, samples[:, :, column]))
        truth.append(x), flat.append(samples[:, :, :4]), fitted.append(kept[:, :, :4]), ess.append(e)
        oracle.append(resample(samples, weights, draws, seed=c)[:, :, :4])
        quantiles.append(np.median(population.quantiles(PARAMS[column]), axis=0))
    truth = np.concatenate(truth)
    row = {
        "population": name,
        "metallicity_given": metallicity_given,
        "clusters": n,
        "catalogues": n_catalogues,
        "draws": draws,
        "true_q05_q50_q95": true_population.ppf([0.05, 0.5, 0.95]).round(3).tolist(),
        "fitted_q05_q50_q95": np.mean(quantiles, axis=0).round(3).tolist(),
        "fitted_q50_spread": float(np.std([q[1] for q in quantiles])),
        "median_ess": float(np.median(np.concatenate(ess))),
        "share_ess_below_min": float(np.mean(np.concatenate(ess) < 50)),
        "population_seconds_per_catalogue": float(np.mean(seconds)),
        **_floor("calibration_", len(truth), draws),
    }
    free = 3 if metallicity_given else 4  # a given Z is no posterior to calibrate
    for label, values in (("flat", flat), ("population", fitted), ("true_population", oracle)):
        values = np.concatenate(values)
        ok = np.isfinite(values).all(axis=(1, 2))
        cal = calibration_error(values[ok, :, :free], truth[ok, :free]).median_abs_error
        row.update({f"cal_{label}_{p}": (float(cal[k]) if k < free else None) for k, p in enumerate(PARAMS)})
        row[f"age_error_{label}"] = float(np.median(np.abs(np.median(values[ok, :, 1], axis=1) - truth[ok, 1])))
    return row


def upper_limits(n: int, n_catalogues: int, draws: int, share: float = 0.3) -> dict:
    """Calibration and widths with the U non-detections of a survey (module doc) as limits or dropped."""
    import astropy.units as u

    from astro import infer
    from astro.population import vega_minus_ab
    from inn_engine.diagnostics import calibration_error

    offset = DM - vega_minus_ab(["U"])[0]  # absolute Vega U -> apparent AB

    truth, runs, limited_rows = [], {"limits": [], "dropped": []}, []
    for c in range(n_catalogues):
        x, table, true_mag = population_catalogue(None, n, seed=2000 + c, limits=False)
        rng = np.random.default_rng(3000 + c)
        with np.errstate(over="ignore"):
            true_flux = ((np.clip(true_mag[:, 0], -50, 50) + offset) * u.ABmag).to_value(u.Jy)
        threshold = np.quantile(true_flux, share)
        measured = true_flux + threshold / 3 * rng.standard_normal(n)
        faint = np.isfinite(np.asarray(table["U"], float)) & (measured < threshold)
        dropped = table.copy()
        dropped["U"][faint], dropped["U_err"][faint] = np.nan, np.nan
        with_limits = dropped.copy()
        with_limits["U_lim"] = np.where(faint, (threshold * u.Jy).to_value(u.ABmag) + vega_minus_ab(["U"])[0], np.nan)
        options = dict(distance_modulus=DM, model_error=0.0, population=None, n=draws, draws=draws, seed=c)
        for label, catalogue in (("limits", with_limits), ("dropped", dropped)):
            runs[label].append(infer(catalogue, **options).meta["draws"].values[:, :, :4])
        truth.append(x), limited_rows.append(faint)
    truth, limited_rows = np.concatenate(truth), np.concatenate(limited_rows)
    row = {
        "clusters": n,
        "catalogues": n_catalogues,
        "draws": draws,
        "limited": int(limited_rows.sum()),
        **_floor("calibration_all_", len(truth), draws),
        **_floor("calibration_limited_", int(limited_rows.sum()), draws),
    }
    for label, values in runs.items():
        values = np.concatenate(values)
        ok = np.isfinite(values).all(axis=(1, 2))
        cal = calibration_error(values[ok], truth[ok]).median_abs_error
        limited_cal = calibration_error(values[ok & limited_rows], truth[ok & limited_rows]).median_abs_error
        sd = values[ok & limited_rows].std(axis=1).mean(axis=0)
        row.update({f"cal_{label}_{p}": float(v) for p, v in zip(PARAMS, cal)})
        row.update({f"cal_limited_{label}_{p}": float(v) for p, v in zip(PARAMS, limited_cal)})
        row.update({f"sd_limited_{label}_{p}": float(v) for p, v in zip(PARAMS, sd)})
    return row


def averaged(n: int, draws: int, bins: int = 20) -> dict:
    """The data-averaged flat-prior posterior of n training-prior clusters against the prior."""
    from astro import infer
    from astro.library import ClusterLibrarySimulator
    from astro.training import BAND_SETS
    from inn_engine.diagnostics import data_averaged_posterior

    _, table, _ = population_catalogue(None, n, seed=5151)
    samples = infer(table, population=None, distance_modulus=DM, model_error=0.0, n=draws, draws=draws, seed=1)
    samples = samples.meta["draws"].values[:, :, :4]
    samples = samples[np.isfinite(samples).all(axis=(1, 2))]
    prior = ClusterLibrarySimulator(BAND_SETS["ubvri"]).sample_prior(1_000_000, np.random.default_rng(5152))
    check = data_averaged_posterior(samples, prior, bins=bins)
    rows = []
    for k, p in enumerate(PARAMS):
        worst = int(np.argmax(np.abs(check.ratio[:, k] - 1)))
        rows.append(
            {
                "parameter": p,
                "max_deviation": float(check.max_deviation[k]),
                "at": [float(check.edges[k, worst]), float(check.edges[k, worst + 1])],
                "max_abs_z": float(np.abs(check.z[:, k]).max()),
                "chi2": float(check.statistic[k]),
                "dof": bins - 1,
                "p_value": float(check.p_value[k]),
                "ratio": check.ratio[:, k].round(4).tolist(),
                "edges": check.edges[k].round(4).tolist(),
            }
        )
    return {"clusters": len(samples), "draws": draws, "bins": bins, "parameters": rows}


def cost(n: int, draws: int) -> dict:
    """Seconds of astro.infer with the population off and on (its default), interleaved, best of 2;
    and, load-independent, the population step's share of the same calls (``table.meta["seconds"]``)."""
    from astro import infer, mock_catalogue

    _, table, _ = mock_catalogue(n, distance_modulus=DM)  # the catalogue of benchmarks/astro_infer.py
    infer(table[:2], distance_modulus=DM, n=16)  # load the estimator, build caches
    seconds = {"off": [], "on": []}
    within = []  # population seconds / the rest of the same call
    for _ in range(2):
        for label, population in (("off", None), ("on", "auto")):
            start = time.perf_counter()
            result = infer(table, distance_modulus=DM, population=population, n=draws, seed=0)
            seconds[label].append(time.perf_counter() - start)
            if label == "on":
                timing = result.meta["seconds"]
                within.append(timing["population"] / (timing["total"] - timing["population"]))
    off, on = min(seconds["off"]), min(seconds["on"])
    return {
        "clusters": n,
        "draws": draws,
        "infer_seconds_population_off": off,
        "infer_seconds_population_on": on,
        "added_fraction": on / off - 1,
        "added_fraction_within_call": min(within),
    }


def main(argv=None) -> dict:
    from report import machine, markdown_table, write_json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 catalogue of 100 clusters, 300 draws; 500-cluster cost")
    parser.add_argument("--catalogues", type=int, default=5, help="replicate catalogues per population")
    parser.add_argument(
        "--limit-catalogues", type=int, default=20, help="catalogues of the limits section (20 x 300: floor ~0.9 %%)"
    )
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "astro_population.json"))
    args = parser.parse_args(argv)
    sections = args.sections.split(",")
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"--sections: unknown {unknown}; choose from {', '.join(SECTIONS)}")
    out = {"quick": args.quick}
    for key, given in (("synthetic", False), ("synthetic_z", True)):
        if key not in sections:
            continue
        n, catalogues, draws = (100, 1, 300) if args.quick else (300, args.catalogues, 1000)
        names = list(POPULATIONS)[:QUICK_POPULATIONS] if args.quick else list(POPULATIONS)
        out[key] = [synthetic(name, n, catalogues, draws, metallicity_given=given) for name in names]
        given_z = ", metallicity given" if given else ""
        print(f"## Synthetic catalogues{given_z}: recovery of the population, calibration error\n")
        print(
            markdown_table(
                out[key],
                [
                    "population",
                    "clusters",
                    "catalogues",
                    "true_q05_q50_q95",
                    "fitted_q05_q50_q95",
                    "fitted_q50_spread",
                    "median_ess",
                    "share_ess_below_min",
                    "population_seconds_per_catalogue",
                ],
            )
        )
        print()
        print(
            markdown_table(
                [
                    {
                        "population": r["population"],
                        "posterior": label,
                        **{p: r[f"cal_{label}_{p}"] for p in PARAMS},
                        "median_age_error": r[f"age_error_{label}"],
                        "floor": f"{r['calibration_floor']:.4f} +- {r['calibration_floor_sd']:.4f}",
                    }
                    for r in out[key]
                    for label in ("flat", "population", "true_population")
                ],
                ["population", "posterior", *PARAMS, "median_age_error", "floor"],
            )
        )
    if "limits" in sections:
        n, catalogues, draws = (100, 1, 300) if args.quick else (300, args.limit_catalogues, 1000)
        out["limits"] = upper_limits(n, catalogues, draws)
        print("\n## The faintest 30 % of U as 3-sigma limits, or dropped (flat prior)\n")
        r = out["limits"]
        print(
            markdown_table(
                [
                    {
                        "U": label,
                        "rows": rows,
                        **{p: r[f"{key}_{label}_{p}"] for p in PARAMS},
                        "floor": f"{r[floor + 'floor']:.4f} +- {r[floor + 'floor_sd']:.4f}" if floor else "",
                    }
                    for label in ("limits", "dropped")
                    for rows, key, floor in (
                        ("calibration, all", "cal", "calibration_all_"),
                        ("calibration, limited", "cal_limited", "calibration_limited_"),
                        ("posterior sd, limited", "sd_limited", ""),
                    )
                ],
                ["U", "rows", *PARAMS, "floor"],
            )
        )
    if "averaged" in sections:
        out["averaged"] = averaged(*((1000, 50) if args.quick else (30_000, 100)))
        print("\n## The data-averaged flat-prior posterior against the training prior\n")
        print(
            markdown_table(
                out["averaged"]["parameters"],
                ["parameter", "max_deviation", "at", "max_abs_z", "chi2", "dof", "p_value"],
            )
        )
    if "cost" in sections:
        out["cost"] = cost(*((500, 200) if args.quick else (10_000, 1000)))
        print("\n## Cost on a catalogue\n")
        print(markdown_table([out["cost"]], list(out["cost"])))
    if not args.quick or args.json != parser.get_default("json"):
        run = [key for key in SECTIONS if key in out]
        for key in run:  # each section says where and when it was measured
            out[f"{key}_machine"] = machine()
        earlier = json.loads(Path(args.json).read_text()) if Path(args.json).is_file() else {}
        kept = {}
        for key in set(SECTIONS) - set(run):
            if key in earlier:  # an older file has one machine for all its sections
                kept.update(
                    {key: earlier[key], f"{key}_machine": earlier.get(f"{key}_machine", earlier.get("machine"))}
                )
        if kept:
            print(f"kept from {args.json}: {', '.join(k for k in kept if not k.endswith('_machine'))}")
        write_json(args.json, {**kept, **out})
    return out


if __name__ == "__main__":
    main()
