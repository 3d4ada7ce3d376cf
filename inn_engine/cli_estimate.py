"""``innfer estimate``: posterior summaries for rows of observations read from a file.

Input: ``.npy`` (a 2-D array (n_obs, n_obs_columns) in the estimator's observable order,
or 1-D for one observation) or ``.csv`` (with a header naming at least the estimator's
observables, in any order, other columns ignored; or no header and exactly the
observable columns in order). Output: ``.nc`` (netCDF4 via h5netcdf) or ``.csv`` with,
per observation and parameter, ``<p>_mean``, ``<p>_std``, quantiles (``<p>_q025``,
``<p>_q16``, ``<p>_median``, ``<p>_q84``, ``<p>_q975``) and ``<p>_map``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from inn_engine.checks import check_array
from inn_engine.progress import Progress

__all__ = ["INPUT_SUFFIXES", "OUTPUT_SUFFIXES", "read_observations", "estimate_summaries", "write_summaries"]

INPUT_SUFFIXES = (".npy", ".csv")
OUTPUT_SUFFIXES = (".nc", ".csv")


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_observations(path: str | Path, obs_names: list[str]) -> np.ndarray:
    """Observations (n_obs, len(obs_names)) float64 from a .npy or .csv file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            y = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise ValueError(f"INPUT {path} is not a readable .npy array of numbers ({err})") from err
        y = y[None, :] if np.ndim(y) == 1 else y
    elif suffix == ".csv":
        first = path.read_text().splitlines()[:1]
        tokens = [t.strip() for t in first[0].split(",")] if first else []
        if tokens and all(_is_number(t) for t in tokens):
            y = np.loadtxt(path, delimiter=",", ndmin=2)
        else:
            missing = [name for name in obs_names if name not in tokens]
            if missing:
                raise ValueError(
                    f"INPUT {path}: the CSV header lacks the observables {missing} (MODEL needs columns {obs_names})"
                )
            y = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, usecols=[tokens.index(name) for name in obs_names])
    else:
        raise ValueError(f"INPUT {path}: expected a {' or '.join(INPUT_SUFFIXES)} file")
    y = check_array(
        f"INPUT {path}",
        y,
        ndim=2,
        last=len(obs_names),
        finite=False,
        form=f"rows (n_obs, {len(obs_names)}) of the observables {obs_names}",
    )
    if y.shape[0] == 0:
        raise ValueError(f"INPUT {path} holds no observation rows")
    return y


def estimate_summaries(
    estimator, y: np.ndarray, draws: int, seed: int, rows_per_block: int = 1000, progress: bool | None = None
) -> xr.Dataset:
    """Posterior summaries of every row of ``y`` (n_obs, dy), in blocks of rows (bounded memory).

    Block ``b`` is drawn with seed ``seed + b``, so the output does not depend on anything
    but the inputs, ``draws``, ``seed`` and ``rows_per_block``.
    """
    blocks = []
    starts = range(0, len(y), rows_per_block)
    with Progress(len(starts), "estimating", unit="block", enabled=progress) as report:
        for b, start in enumerate(starts):
            posterior = estimator.posterior(y[start : start + rows_per_block], n=draws, seed=seed + b)
            summary = posterior.summary()
            x_map = posterior.map()
            for j, (name, unit) in enumerate(zip(estimator.param_names, estimator.param_units)):
                summary[f"{name}_map"] = ("obs", x_map[:, j], {"units": unit})
            blocks.append(summary)
            report.update(1)
    ds = xr.concat(blocks, dim="obs")
    ds = ds.assign_coords(obs=np.arange(len(y)))
    ds.attrs.update(
        draws=int(draws),
        seed=int(seed),
        rows_per_block=int(rows_per_block),
        parameters=json.dumps(estimator.param_names),
        observables=json.dumps(estimator.obs_names),
    )
    return ds


def write_summaries(ds: xr.Dataset, path: str | Path) -> None:
    """Write summaries as netCDF (.nc) or CSV (.csv, one row per observation)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".nc":
        ds.to_netcdf(path, engine="h5netcdf")
    elif suffix == ".csv":
        ds.to_dataframe().to_csv(path, index_label="obs")
    else:
        raise ValueError(f"--out {path}: expected a {' or '.join(OUTPUT_SUFFIXES)} file")
