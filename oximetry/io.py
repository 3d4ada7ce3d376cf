"""Reading spectra and image cubes, writing estimate results.

Spectra: CSV (a header row of band names, or none) or NPY, shape (n, n_bands).
Cubes: NPY or TIFF (tifffile; (H, W, B) or band-first (B, H, W)), netCDF or zarr (one
variable, or the one named ``variable``, with a ``band`` dim). Results (the Dataset of
:func:`oximetry.estimate`) are written to netCDF (.nc), zarr (.zarr) or PNG (.png, the
map figure of :func:`oximetry.plots.plot_maps`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["read_spectra", "read_cube", "write_result"]


def _suffix(path) -> str:
    return Path(os.fspath(path)).suffix.lower()


def read_spectra(path) -> np.ndarray | xr.DataArray:
    """Spectra (n, n_bands) from .csv or .npy; a CSV with a header gives a DataArray with ``band`` labels."""
    suffix = _suffix(path)
    if suffix == ".npy":
        a = np.load(path, allow_pickle=False)
        return a[None, :] if a.ndim == 1 else a
    if suffix != ".csv":
        raise ValueError(f"spectra files must be .csv or .npy, got {path!r}")
    with open(path) as fh:
        first = fh.readline().strip()
    cells = [c.strip() for c in first.split(",")]
    try:
        [float(c) for c in cells]
        header = None
    except ValueError:
        header = cells
    a = np.loadtxt(path, delimiter=",", skiprows=0 if header is None else 1, ndmin=2)
    if header is None:
        return a
    if len(header) != a.shape[1]:
        raise ValueError(f"{path}: header names {len(header)} columns, rows have {a.shape[1]}")
    return xr.DataArray(a, dims=("spectrum", "band"), coords={"band": header})


def _band_last(a: np.ndarray, n_bands: int | None) -> np.ndarray:
    if a.ndim != 3:
        raise ValueError(f"an image cube must be 3-D (H, W, bands), got shape {a.shape}")
    if n_bands is not None and a.shape[-1] != n_bands and a.shape[0] == n_bands:
        return np.moveaxis(a, 0, -1)
    return a


def read_cube(path, n_bands: int | None = 8, variable: str | None = None) -> np.ndarray | xr.DataArray:
    """An image cube with bands last, from .npy, .tif/.tiff, .nc or .zarr.

    Band-first arrays (``n_bands`` first and not last) are transposed. netCDF/zarr give an
    xarray.DataArray (the only variable with a ``band`` dim, or ``variable``).
    """
    suffix = _suffix(path)
    if suffix == ".npy":
        return _band_last(np.load(path, allow_pickle=False), n_bands)
    if suffix in (".tif", ".tiff"):
        import tifffile

        return _band_last(tifffile.imread(path), n_bands)
    if suffix in (".nc", ".zarr"):
        ds = xr.open_zarr(path) if suffix == ".zarr" else xr.open_dataset(path)
        names = [variable] if variable else [k for k, v in ds.data_vars.items() if "band" in v.dims]
        if len(names) != 1 or names[0] not in ds:
            raise ValueError(f"{path}: need exactly one variable with a 'band' dim (or pass variable=), found {names}")
        return ds[names[0]].load()
    raise ValueError(f"image cubes must be .npy, .tif, .tiff, .nc or .zarr, got {path!r}")


def write_result(result: xr.Dataset, path, param: str = "sO2") -> Path:
    """Write an estimate Dataset to .nc (netCDF4 via h5netcdf), .zarr, or .png (maps of ``param``)."""
    path = Path(os.fspath(path))
    suffix = path.suffix.lower()
    if suffix == ".png":
        from oximetry.plots import plot_maps

        plot_maps(result, param=param, path=path)
        return path
    ds = result.copy()
    for name in list(ds.data_vars):
        if ds[name].dtype == bool:
            ds[name] = ds[name].astype("u1").assign_attrs(ds[name].attrs, boolean="1 = True")
        elif ds[name].dtype.kind in "OU":
            ds[name] = ds[name].astype(str)
    attrs = {k: (v if isinstance(v, (str, int, float)) else str(v)) for k, v in ds.attrs.items()}
    ds.attrs = attrs
    for name in ds.variables:
        ds[name].attrs = {k: (v if isinstance(v, (str, int, float)) else str(v)) for k, v in ds[name].attrs.items()}
    if suffix == ".nc":
        ds.to_netcdf(path, engine="h5netcdf")
    elif suffix == ".zarr":
        ds.to_zarr(path, mode="w")
    else:
        raise ValueError(f"results are written to .nc, .zarr or .png, got {str(path)!r}")
    return path
