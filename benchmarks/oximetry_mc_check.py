"""The packaged oximetry estimators on spectra of an independent solver: Monte Carlo light transport.

Both packaged estimators (the cINN and the paper's padded INN, ``oximetry.PAPER_INN_DIR``) were
trained on spectra of the neural surrogate of adding-doubling. Here colon-prior tissues are
simulated by Monte Carlo (``OximetrySimulator(solver="mc")``, MCML with ``--photons`` photons
per band wavelength) with the same multiplicative noise at SNR 10, and each estimator's sO2
posterior is scored: coverage of its 68 % and 95 % intervals, mean |median - truth|, median
68 % width. With ``--n`` spectra a coverage has a binomial standard error of
sqrt(0.68 * 0.32 / n) (0.021 at n = 500).

Usage: python benchmarks/oximetry_mc_check.py [--quick] [--n 500] [--photons 100000] [--out F]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/report.py

from report import markdown_table, write_json  # noqa: E402

from oximetry import PAPER_INN_DIR, OximetrySimulator, estimate  # noqa: E402
from oximetry.pretrain import PACKAGED_DIR  # noqa: E402

ESTIMATORS = {"cINN (packaged)": PACKAGED_DIR, "padded INN (PAPER_INN_DIR)": PAPER_INN_DIR}


def mc_spectra(n: int, photons: int, seed: int = 2026):
    """(x (n, 13), noisy band reflectances (n, 8)) of colon tissues simulated by Monte Carlo."""
    simulator = OximetrySimulator("colon", solver="mc", n_photons=photons)
    rng = np.random.default_rng(seed)
    x = simulator.sample_prior(n, rng)
    return x, simulator.simulate(x, rng)


def score(name: str, path, x, y, n_draws: int) -> dict:
    start = time.perf_counter()
    ds = estimate(y, estimator=path, n=n_draws, seed=1, progress=False)
    seconds = time.perf_counter() - start
    so2 = x[:, 0]
    q = {k: ds[f"sO2_{k}"].values for k in ("q025", "q16", "median", "q84", "q975")}
    ok = ds["valid"].values
    return {
        "estimator": name,
        "spectra": int(ok.sum()),
        "coverage_68": float(((q["q16"] <= so2) & (so2 <= q["q84"]))[ok].mean()),
        "coverage_95": float(((q["q025"] <= so2) & (so2 <= q["q975"]))[ok].mean()),
        "median_abs_error": float(np.abs(q["median"] - so2)[ok].mean()),
        "width_68": float(np.median((q["q84"] - q["q16"])[ok])),
        "ood_flagged": float(ds["ood"].values.mean()),
        "seconds": seconds,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 spectra, 2000 photons")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--photons", type=int, default=100_000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.photons, args.draws = 20, 2000, 100
    start = time.perf_counter()
    x, y = mc_spectra(args.n, args.photons)
    simulate_s = time.perf_counter() - start
    rows = [
        score(name, path, x, y, args.draws) for name, path in ESTIMATORS.items() if (path / "estimator.json").is_file()
    ]
    print(f"{args.n} Monte Carlo spectra ({args.photons} photons, {simulate_s:.0f} s), {args.draws} draws each\n")
    print(markdown_table(rows, list(rows[0])))
    result = {"n": args.n, "photons": args.photons, "draws": args.draws, "rows": rows, "quick": args.quick}
    if args.out:
        write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
