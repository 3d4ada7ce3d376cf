"""ClusterSimulator: the engine interface, the observation layout and the grid wrapper."""
import pickle

import numpy as np
import pytest

import astro
from inn_engine import Simulator


def test_prior_and_observation_layout():
    sim = astro.ClusterSimulator(bands=("U", "B", "V"), distance_modulus=24.5, missing_probability=0.3,
                                 min_bands=2, sigma_range=(0.05, 0.2))
    assert isinstance(sim, Simulator)
    assert sim.param_names == ["log_mass", "log_age", "A_V", "Z"]
    assert sim.obs_names == ["mag_U", "mag_B", "mag_V", "sigma_U", "sigma_B", "sigma_V",
                             "has_U", "has_B", "has_V"]
    x = sim.sample_prior(500, 0)
    b = sim.bounds
    assert x.shape == (500, 4) and np.all((x >= b[:, 0]) & (x <= b[:, 1]))
    np.testing.assert_allclose(b[:3], [[2, 7], [6, 10.1], [0, 3]])
    y = sim.simulate(x[:200], 1)
    mag, sigma, has = y[:, :3], y[:, 3:6], y[:, 6:]
    assert set(np.unique(has)) <= {0.0, 1.0} and np.all(has.sum(axis=1) >= 2)
    assert 0.1 < 1 - has.mean() < 0.5
    assert np.all(mag[has == 0] == 0) and np.all(sigma[has == 0] == 0)
    assert np.all((sigma[has == 1] >= 0.05) & (sigma[has == 1] <= 0.2))
    # observed magnitudes are apparent: absolute + 24.5 (+ noise)
    assert np.all((mag[has == 1] > 24.5 - 20) & (mag[has == 1] < 24.5 + 15))


def test_noise_matches_the_reported_sigma():
    sim = astro.ClusterSimulator(bands=("V",), stochastic=False, sigma_range=(0.1, 0.1), min_bands=1)
    x = np.tile([5.0, 8.0, 0.5, 0.02], (2000, 1))
    y = sim.simulate(x, 0)
    true = astro.photometry(5.0, 8.0, 0.5, 0.02, ("V",), stochastic=False)[0, 0]
    assert abs(np.std(y[:, 0] - true) - 0.1) < 0.01 and abs(np.mean(y[:, 0] - true)) < 0.01


def test_reproducible_and_picklable():
    sim = astro.ClusterSimulator()
    x = sim.sample_prior(50, 7)
    np.testing.assert_array_equal(sim.simulate(x, 3), pickle.loads(pickle.dumps(sim)).simulate(x, 3))
    assert len(pickle.dumps(sim)) < 5000  # tables live in per-process caches, not the instance


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="bands"):
        astro.ClusterSimulator(bands=("V", "V"))
    with pytest.raises(ValueError, match="sigma_range"):
        astro.ClusterSimulator(sigma_range=(0.0, 0.1))
    with pytest.raises(ValueError, match="priors"):
        astro.ClusterSimulator(priors={"log_age": (4.0, 8.0)})
    with pytest.raises(ValueError, match="x must have shape"):
        astro.ClusterSimulator().simulate(np.zeros((3, 3)))


def test_simulate_grid_wraps_the_engine(tmp_path):
    ds = astro.simulate_grid(60, tmp_path / "g.zarr", seed=2, chunk_size=25, n_workers=1, progress=False,
                             bands=("B", "V"))
    assert ds.x.shape == (60, 4) and ds.y.shape == (60, 6)
    again = astro.simulate_grid(60, None, seed=2, chunk_size=25, n_workers=1, progress=False, bands=("B", "V"))
    np.testing.assert_array_equal(ds.y.values, again.y.values)
