"""Loaders, writers and figures of oximetry results, and the phantom demo."""

import numpy as np
import pytest
import xarray as xr

from oximetry import estimate, read_cube, read_spectra, write_result
from oximetry.demo import PHANTOM
from oximetry.demo import main as demo_main
from oximetry.plots import plot_calibration, plot_corner, plot_maps

BANDS = ["R_470", "R_480", "R_511", "R_560", "R_580", "R_600", "R_660", "R_700"]


@pytest.fixture(scope="module")
def phantom():
    return xr.open_dataset(PHANTOM, engine="h5netcdf").load()


@pytest.fixture(scope="module")
def small_result(phantom):
    return estimate(phantom["reflectance"].isel(y=slice(0, 6), x=slice(0, 5)), n=32, draws=50)


def test_spectra_from_csv_with_and_without_header_and_npy(tmp_path):
    r = np.random.default_rng(0).uniform(0.05, 0.6, (5, 8))
    np.savetxt(tmp_path / "plain.csv", r, delimiter=",")
    np.savetxt(tmp_path / "named.csv", r, delimiter=",", header=",".join(BANDS), comments="")
    np.save(tmp_path / "s.npy", r[0])
    np.testing.assert_allclose(read_spectra(tmp_path / "plain.csv"), r)
    named = read_spectra(tmp_path / "named.csv")
    assert list(named["band"].values) == BANDS and named.dims == ("spectrum", "band")
    np.testing.assert_allclose(named.values, r)
    assert read_spectra(tmp_path / "s.npy").shape == (1, 8)
    with pytest.raises(ValueError, match=".csv or .npy"):
        read_spectra(tmp_path / "x.txt")


def test_cubes_from_npy_tiff_netcdf_and_zarr(tmp_path, phantom):
    import tifffile

    cube = phantom["reflectance"].values[:4, :5]
    np.save(tmp_path / "c.npy", cube)
    tifffile.imwrite(tmp_path / "c.tif", np.moveaxis(cube, -1, 0).astype(np.float32))  # band-first
    phantom.isel(y=slice(0, 4), x=slice(0, 5)).to_netcdf(tmp_path / "c.nc", engine="h5netcdf")
    phantom.isel(y=slice(0, 4), x=slice(0, 5)).to_zarr(tmp_path / "c.zarr")
    np.testing.assert_allclose(read_cube(tmp_path / "c.npy"), cube)
    np.testing.assert_allclose(read_cube(tmp_path / "c.tif"), cube, rtol=1e-6)
    for name in ("c.nc", "c.zarr"):
        da = read_cube(tmp_path / name)
        assert da.name == "reflectance" and da.dims == ("y", "x", "band")
        np.testing.assert_allclose(da.values, cube)
    with pytest.raises(ValueError, match="3-D"):
        np.save(tmp_path / "flat.npy", cube[0])
        read_cube(tmp_path / "flat.npy")


def test_results_round_trip_through_netcdf_and_zarr_and_render_to_png(tmp_path, small_result):
    for name in ("r.nc", "r.zarr"):
        write_result(small_result, tmp_path / name)
        back = xr.open_zarr(tmp_path / name) if name.endswith("zarr") else xr.open_dataset(tmp_path / name)
        np.testing.assert_allclose(back["sO2_median"].values, small_result["sO2_median"].values)
        assert back["sO2_median"].attrs["units"] == "fraction"
        np.testing.assert_array_equal(back["ood"].values.astype(bool), small_result["ood"].values)
    png = write_result(small_result, tmp_path / "r.png")
    assert png.stat().st_size > 10_000
    with pytest.raises(ValueError, match=".nc, .zarr or .png"):
        write_result(small_result, tmp_path / "r.csv")


def test_corner_calibration_and_map_figures(tmp_path, small_result):
    samples = small_result["samples"].values[0, 0]
    fig = plot_corner(samples, list(small_result["param"].values), truth=samples[0], path=tmp_path / "corner.png")
    assert len(fig.axes) == samples.shape[1] ** 2 and (tmp_path / "corner.png").stat().st_size > 10_000
    draws = small_result["samples"].values.reshape(30, 50, -1)
    fig = plot_calibration(draws, draws[:, 0], list(small_result["param"].values), path=tmp_path / "cal.png")
    assert (tmp_path / "cal.png").is_file()
    with pytest.raises(ValueError, match="no oops_median"):
        plot_maps(small_result, param="oops")


def test_demo_recovers_the_phantom_sO2_map(tmp_path, capsys):
    report = demo_main(["--figure", str(tmp_path / "demo.png"), "--n", "48"])
    assert (tmp_path / "demo.png").stat().st_size > 10_000
    assert "MAE" in capsys.readouterr().out
    # vessels at 0.95 / 0.40 in 0.70 tissue: predicting one value everywhere errs by ~0.12
    assert report["mae_valid_tissue"] < 0.10
    assert report["flagged_highlight_fraction"] > 5 * report["flagged_tissue_fraction"]
