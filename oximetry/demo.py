"""``python -m oximetry.demo``: estimate the phantom image in data/, write the figure, print the error.

The phantom (data/phantom.nc, made by data/make_phantom.py with the project's simulator)
has a known sO2 map, a vignetting illumination field and a specular highlight. The demo
prints the mean absolute error of the sO2 median against the truth (all valid pixels,
and the non-flagged ones), the coverage of the 68 % intervals, and how many pixels of
the highlight are flagged as out of distribution.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr

from oximetry.estimate import estimate
from oximetry.io import write_result

PHANTOM = Path(__file__).resolve().parent.parent / "data" / "phantom.nc"


def phantom_report(result: xr.Dataset, phantom: xr.Dataset) -> dict:
    """Errors of the sO2 estimate against the phantom's truth (fractions)."""
    truth = phantom["sO2_true"].values
    median, lo, hi = (result[f"sO2_{k}"].values for k in ("median", "q16", "q84"))
    valid, ood = result["valid"].values, result["ood"].values
    specular = phantom["specular"].values.astype(bool)
    clean = valid & ~ood
    tissue = valid & ~specular
    return {
        "pixels": int(truth.size),
        "mae_valid_tissue": float(np.abs(median - truth)[tissue].mean()),
        "mae_not_flagged": float(np.abs(median - truth)[clean].mean()),
        "coverage_68_tissue": float(((lo <= truth) & (truth <= hi))[tissue].mean()),
        "flagged_tissue_fraction": float(ood[~specular].mean()),
        "flagged_highlight_fraction": float(ood[specular].mean()),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m oximetry.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--phantom", default=str(PHANTOM), help="phantom netCDF (reflectance, sO2_true)")
    parser.add_argument("--figure", default="phantom_sO2.png", help="PNG to write")
    parser.add_argument("--n", type=int, default=128, help="posterior draws per pixel")
    args = parser.parse_args(argv)
    phantom = xr.open_dataset(args.phantom, engine="h5netcdf").load()
    result = estimate(phantom["reflectance"], n=args.n, seed=0)
    write_result(result, args.figure)
    report = phantom_report(result, phantom)
    print(
        f"phantom {phantom.sizes['y']}x{phantom.sizes['x']}: sO2 median MAE {100 * report['mae_valid_tissue']:.1f} "
        f"percentage points (tissue pixels), {100 * report['mae_not_flagged']:.1f} on pixels not flagged; "
        f"68 % interval coverage {100 * report['coverage_68_tissue']:.0f} %; flagged OOD: "
        f"{100 * report['flagged_highlight_fraction']:.0f} % of the specular highlight, "
        f"{100 * report['flagged_tissue_fraction']:.1f} % of tissue; figure {args.figure}"
    )
    return report


if __name__ == "__main__":
    main()
