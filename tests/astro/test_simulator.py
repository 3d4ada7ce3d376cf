"""ClusterSimulator: the engine interface, the observation layout and the grid wrapper."""

import pickle

import numpy as np
import pytest

import astro
from astro.observe import LIMIT_MAG_RANGE
from inn_engine import Simulator


def test_prior_and_observation_layout():
    """The simulator's observations follow astro.observe, the model of the shipped estimators."""
    from astro.observe import SIGMA_RANGE

    sim = astro.ClusterSimulator(bands=("U", "B", "V"))
    assert isinstance(sim, Simulator)
    assert sim.param_names == ["log_mass", "log_age", "A_V", "Z"]
    assert sim.obs_names == [f"{c}_{b}" for c in ("mag", "sigma", "has", "lim") for b in ("U", "B", "V")]
    x = sim.sample_prior(2000, 0)
    b = sim.bounds
    assert x.shape == (2000, 4) and np.all((x >= b[:, 0]) & (x <= b[:, 1]))
    np.testing.assert_allclose(b[:3], [[2, 7], [6, 10.1], [0, 3]])
    y = sim.simulate(x, 1)
    mag, sigma, has = y[:, :3], y[:, 3:6], y[:, 6:9] + y[:, 9:]  # detected or an upper limit
    assert set(np.unique(has)) <= {0.0, 1.0} and np.all(has.sum(axis=1) >= 1)
    # 40 % of rows keep every band, the others lose each with probability 0.3
    assert 0.12 < 1 - has.mean() < 0.24
    assert np.all(mag[has == 0] == 0) and np.all(sigma[has == 0] == 0)
    assert np.all((sigma[has == 1] >= SIGMA_RANGE[0]) & (sigma[has == 1] <= SIGMA_RANGE[1]))
    # magnitudes are absolute: a 10^2-10^7 Msun cluster lies between M = -20 and +15
    assert np.all((mag[has == 1] > -20) & (mag[has == 1] < 15))


def test_noise_matches_the_reported_sigma():
    """Also in the bands of surveys with a limit: this cluster is brighter than every limit."""
    sim = astro.ClusterSimulator(bands=("V",), stochastic=False)
    x = np.tile([7.0, 6.6, 0.0, 0.02], (4000, 1))
    y = sim.simulate(x, 0)
    true = astro.photometry(7.0, 6.6, 0.0, 0.02, ("V",), stochastic=False)[0, 0]
    assert true < LIMIT_MAG_RANGE[0] - 3
    pull = (y[:, 0] - true) / y[:, 1]
    assert np.all(y[:, 2] == 1) and abs(np.std(pull) - 1) < 0.05 and abs(np.mean(pull)) < 0.05


def test_reproducible_and_picklable():
    sim = astro.ClusterSimulator()
    x = sim.sample_prior(50, 7)
    np.testing.assert_array_equal(sim.simulate(x, 3), pickle.loads(pickle.dumps(sim)).simulate(x, 3))
    assert len(pickle.dumps(sim)) < 5000  # tables live in per-process caches, not the instance


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="bands"):
        astro.ClusterSimulator(bands=("V", "V"))
    with pytest.raises(ValueError, match="priors"):
        astro.ClusterSimulator(priors={"log_age": (4.0, 8.0)})
    with pytest.raises(ValueError, match="x must have shape"):
        astro.ClusterSimulator().simulate(np.zeros((3, 3)))


def test_simulate_grid_wraps_the_engine(tmp_path):
    ds = astro.simulate_grid(
        60, tmp_path / "g.zarr", seed=2, chunk_size=25, n_workers=1, progress=False, bands=("B", "V")
    )
    assert ds.x.shape == (60, 4) and ds.y.shape == (60, 8)
    again = astro.simulate_grid(60, None, seed=2, chunk_size=25, n_workers=1, progress=False, bands=("B", "V"))
    np.testing.assert_array_equal(ds.y.values, again.y.values)


def test_the_record_of_innfer_train_has_the_observation_settings_its_grid_was_simulated_with():
    """An estimator trained by ``innfer train`` records the grid's observation model: a grid
    simulated before the limits (no limit_* settings) gives a record without them."""
    from astro.domain import DOMAIN

    meta = astro.ClusterSimulator(bands=("U", "V")).metadata()
    assert DOMAIN.record({}, meta)["limit_mag_range"] == list(LIMIT_MAG_RANGE)
    older = {k: v for k, v in meta["observation"].items() if not k.startswith("limit_")}
    record = DOMAIN.record({}, {**meta, "observation": older})
    assert record["sigma_range"] == meta["observation"]["sigma_range"]
    assert not any(key.startswith("limit_") for key in record)
