"""The image-level prior on the bundled phantom: sO2 errors and coverage per tissue region, with and without it.

The phantom (data/phantom.nc, data/make_phantom.py) is colon tissue of sO2 0.70 +- 0.03 with
an artery (sO2 0.95) and a vein (0.40); every other tissue parameter is drawn per pixel from
the colon prior. ``oximetry.estimate`` is called with the flat training prior
(``population=None``), and with the image population over sO2 (``population=True``) and over
sO2 and the top layer's blood volume. Per region (its tissue pixels: valid, no specular
highlight) the table gives the mean absolute error of the sO2 median [percentage points],
the share of true values inside the 68 % interval, the mean 68 % width, and the wall time
of the call beside the flat prior's (calls interleaved, best of ``--repeats``).

Usage: python benchmarks/oximetry_phantom.py [--quick] [--n 256] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/report.py

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {"flat prior": None, "image population: sO2": True, "image population: sO2, vhb_1": ("sO2", "vhb_1")}
#: the phantom's regions by their true sO2 (data/make_phantom.py)
REGIONS = {
    "background (0.67-0.73)": lambda t: (t > 0.6) & (t < 0.8),
    "artery (0.95)": lambda t: t > 0.9,
    "vein (0.40)": lambda t: t < 0.5,
}


def region_figures(result, truth, tissue) -> dict:
    """{region: (MAE [pp], 68 % coverage, 68 % width)} over the tissue pixels of each region and all."""
    median, lo, hi = (result[f"sO2_{k}"].values for k in ("median", "q16", "q84"))
    pixels = {"all tissue": tissue, **{name: tissue & pick(truth) for name, pick in REGIONS.items()}}
    return {
        name: {
            "pixels": int(m.sum()),
            "mae_pp": float(100 * np.abs(median - truth)[m].mean()),
            "coverage_68": float(((lo <= truth) & (truth <= hi))[m].mean()),
            "width_68": float((hi - lo)[m].mean()),
        }
        for name, m in pixels.items()
    }


def run(n: int, repeats: int) -> list[dict]:
    import xarray as xr

    from oximetry import estimate
    from oximetry.demo import PHANTOM

    phantom = xr.open_dataset(PHANTOM, engine="h5netcdf").load()
    truth = phantom["sO2_true"].values
    seconds = {label: [] for label in SETTINGS}
    results = {}
    for _ in range(repeats):  # interleaved: the machine's load falls on every setting alike
        for label, population in SETTINGS.items():
            started = time.perf_counter()
            results[label] = estimate(
                phantom["reflectance"], n=n, seed=0, method="sample", population=population, progress=False
            )
            seconds[label].append(time.perf_counter() - started)
    rows = []
    for label, result in results.items():
        tissue = result["valid"].values & ~phantom["specular"].values.astype(bool)
        ess = result["effective_draws"].values[tissue] if "effective_draws" in result else np.full(1, n)
        for region, figures in region_figures(result, truth, tissue).items():
            rows.append(
                {
                    "prior": label,
                    "region": region,
                    **figures,
                    "median_effective_draws": float(np.median(ess)),
                    "seconds": min(seconds[label]),
                    "time_vs_flat": min(seconds[label]) / min(seconds["flat prior"]),
                }
            )
    return rows


def main(argv=None) -> dict:
    from report import markdown_table, write_json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 draws per pixel, one repeat")
    parser.add_argument("--n", type=int, default=256, help="posterior draws per pixel (estimate's default)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "oximetry_phantom.json"))
    args = parser.parse_args(argv)
    n, repeats = (64, 1) if args.quick else (args.n, args.repeats)
    out = {"quick": args.quick, "n": n, "repeats": repeats, "rows": run(n, repeats)}
    print(f"## The phantom's sO2, {n} draws per pixel\n")
    print(
        markdown_table(
            out["rows"],
            [
                "prior",
                "region",
                "pixels",
                "mae_pp",
                "coverage_68",
                "width_68",
                "median_effective_draws",
                "seconds",
                "time_vs_flat",
            ],
        )
    )
    if not args.quick or args.json != parser.get_default("json"):
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
