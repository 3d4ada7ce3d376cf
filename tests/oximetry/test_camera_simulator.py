"""Camera, noise, calibration, band_reflectance, the Simulator interface and grids."""

import pickle

import numpy as np
import pytest

import oximetry
from inn_engine.simulator import Simulator
from oximetry import (
    Camera,
    MultiplicativeNoise,
    OximetrySimulator,
    ShotReadNoise,
    band_reflectance,
    calibrate,
    default_camera,
    spectral_reflectance,
)


def test_default_camera_is_the_paper_camera():
    cam = default_camera()
    assert cam.band_names == ["R_470", "R_480", "R_511", "R_560", "R_580", "R_600", "R_660", "R_700"]
    assert cam.wavelengths_nm.size == 40
    np.testing.assert_allclose(cam.responses @ cam.wavelengths_nm, [470, 480, 511, 560, 580, 600, 660, 700])
    row = cam.responses[0]
    np.testing.assert_allclose(cam.wavelengths_nm[row > 0], [466, 468, 470, 472, 474])
    np.testing.assert_allclose(row[row > 0], 0.2)


def test_band_value_is_the_window_mean():
    x = oximetry.COLON.sample(2, 4)
    cam = default_camera()
    spectra = spectral_reflectance(x, cam.wavelengths_nm)
    bands = band_reflectance(x)
    np.testing.assert_allclose(bands[:, 3], spectra[:, 15:20].mean(axis=1), rtol=1e-12)


def test_custom_cameras():
    gauss = Camera.from_bands([550, 650], [20, 30], shape="gauss")
    assert gauss.n_bands == 2 and gauss.band_names == ["R_550", "R_650"]
    matrix = Camera(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 3.0]]), [500.0, 600.0, 700.0], name="mine")
    np.testing.assert_allclose(matrix.band_values([1.0, 2.0, 4.0]), [1.5, 3.5])
    with pytest.raises(ValueError, match="responses"):
        Camera(np.ones((2, 4)), [500.0, 600.0, 700.0])
    with pytest.raises(ValueError, match="wavelengths_nm"):
        Camera(np.ones((1, 2)), [400.0, 500.0])
    with pytest.raises(ValueError, match="fwhm"):
        Camera.from_bands([500], [-1])


def test_multiplicative_noise_has_the_stated_snr():
    r = np.full((200_000, 1), 0.3)
    noisy = MultiplicativeNoise(10).apply(r, 0)
    assert noisy.mean() == pytest.approx(0.3, rel=2e-3)
    assert noisy.std() / 0.3 == pytest.approx(0.1, rel=1e-2)
    with pytest.raises(ValueError, match="snr"):
        MultiplicativeNoise(0)


def test_shot_read_noise_and_calibration():
    noise = ShotReadNoise(full_well=10_000, read_noise=10, dark=100)
    noisy = noise.apply(np.full(100_000, 0.25), 1)
    assert noisy.mean() == pytest.approx(0.25, rel=2e-3)
    expected = np.sqrt(0.25 * 10_000 + 100 + 10**2) / 10_000
    assert noisy.std() == pytest.approx(expected, rel=2e-2)
    np.testing.assert_allclose(calibrate([550.0, 100.0], white=[1100.0, 1100.0], dark=100.0), [0.45, 0.0])
    with pytest.raises(ValueError, match="white"):
        calibrate([1.0], white=[5.0], dark=[5.0])


def test_band_reflectance_fast_agrees_with_mc():
    x = oximetry.COLON.sample(2, 9)
    cam = Camera.from_bands([560, 660], 4.0)
    fast = band_reflectance(x, cam)
    mc = band_reflectance(x, cam, method="mc", n_photons=30_000, seed=1)
    np.testing.assert_allclose(fast, mc, rtol=0.03)
    with pytest.raises(ValueError, match="method"):
        band_reflectance(x, method="diffusion")
    with pytest.raises(ValueError, match="x must have shape"):
        band_reflectance(np.zeros((2, 5)))
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        band_reflectance(bad)


def test_simulator_interface():
    sim = OximetrySimulator()
    assert isinstance(sim, Simulator)
    assert sim.param_names[:2] == ["sO2", "vhb_1"] and len(sim.param_names) == 13
    assert sim.obs_names == default_camera().band_names
    assert sim.bounds.shape == (13, 2)
    x = sim.sample_prior(6, 0)
    y1, y2 = sim.simulate(x, 5), sim.simulate(x, 5)
    np.testing.assert_array_equal(y1, y2)
    clean = sim.noiseless(x)
    assert np.all((clean > 0) & (clean < 1))
    assert 0.03 < np.std(y1 / clean - 1) < 0.2
    restored = pickle.loads(pickle.dumps(sim))
    np.testing.assert_array_equal(restored.simulate(x, 5), y1)
    meta = sim.metadata()
    assert meta["solver"] == {"method": "fast", "name": "adding-doubling", "n_quad": 16}
    assert meta["prior"]["name"] == "colon"
    generic = OximetrySimulator(prior="generic", snr=20)
    assert generic.simulate(generic.sample_prior(2, 1), 2).shape == (2, 8)
    with pytest.raises(ValueError, match="solver"):
        OximetrySimulator(solver="diffusion")


def test_simulate_grid_records_the_solver(tmp_path):
    ds = oximetry.simulate_grid(40, path=tmp_path / "g.zarr", chunk_size=20, n_workers=1, progress=False, seed=3)
    assert ds["x"].shape == (40, 13) and ds["y"].shape == (40, 8)
    assert ds.attrs["solver"]["name"] == "adding-doubling" and ds.attrs["prior"] == "colon"
    again = oximetry.simulate_grid(40, path=tmp_path / "g.zarr", chunk_size=20, n_workers=1, progress=False, seed=3)
    np.testing.assert_array_equal(np.asarray(ds["y"]), np.asarray(again["y"]))
    sim = OximetrySimulator()
    rng = np.random.default_rng(np.random.SeedSequence([3, 1]))
    x = sim.sample_prior(20, rng)
    np.testing.assert_array_equal(np.asarray(ds["x"])[20:], x)
    np.testing.assert_allclose(np.asarray(ds["y"])[20:], sim.simulate(x, rng))
