"""inn_engine.population with a parameter of no domain: a rate whose prior is flat in log10."""

import numpy as np
import pytest
from scipy.stats import truncnorm

from inn_engine.population import fit_population

BOUNDS = np.array([[0.01, 100.0], [0.0, 1.0]])  # rate (flat in log10), a nuisance (flat)
NAMES = ("rate", "nuisance")


def toy(n=300, m=300, seed=0):
    """log10 rate ~ N(0, 0.2) seen with noise 0.3 in log10: flat-prior posterior draws (n, m, 2)."""
    rng = np.random.default_rng(seed)
    true = rng.normal(0.0, 0.2, n)
    seen = true + 0.3 * rng.standard_normal(n)
    a, b = (-2.0 - seen) / 0.3, (2.0 - seen) / 0.3
    log_rate = truncnorm.rvs(a[:, None], b[:, None], loc=seen[:, None], scale=0.3, size=(n, m), random_state=rng)
    return np.stack([10**log_rate, rng.uniform(0, 1, (n, m))], axis=2)


def test_a_log10_parameter_is_binned_and_recovered_in_log10():
    population = fit_population(toy(), BOUNDS, NAMES, ("rate",), {"rate": 0.2}, log10=("rate",), upper={"rate": 10.0})
    edges = population.grid.edges[0]
    assert edges[0] == pytest.approx(-2.0) and edges[-1] == pytest.approx(1.0)  # the upper limit, in log10
    q05, q50, q95 = np.median(population.quantiles("rate"), axis=0)  # in the value: 10^quantile
    assert 0.7 < q50 < 1.4 and 0.3 < q05 < q50 < q95 < 3.0  # the true 0.47 / 1.0 / 2.1
    assert np.isneginf(population.log_density(np.array([20.0, 0.5])))
    assert population.to_dict()["log10_params"] == ["rate"] and population.to_dict()["upper"] == {"rate": 10.0}
    kept, ess = population.reweight(toy(n=5, seed=1), keep=100)
    assert kept.shape == (5, 100, 2) and np.all(kept[:, :, 0] <= 10.0) and np.all(ess > 20)


def test_bins_and_limits_must_name_fitted_parameters():
    draws = toy(n=20, m=20)
    with pytest.raises(ValueError, match="bin_width"):
        fit_population(draws, BOUNDS, NAMES, ("rate",), {}, log10=("rate",))
    with pytest.raises(ValueError, match="upper limits"):
        fit_population(draws, BOUNDS, NAMES, ("rate",), {"rate": 0.2}, upper={"nuisance": 0.5})
