"""Rejection ABC (inn_engine.rejection) against a conjugate Gaussian posterior known in closed form."""

import numpy as np
import pytest

from inn_engine.rejection import RejectionABC, rejection_abc
from inn_engine.simulator import Observable, Parameter, Simulator, as_generator

NOISE = 0.5


class LinearGaussian(Simulator):
    """x ~ N(0, I_2), y = A x + N(0, NOISE^2 I_2): posterior N(m, S) in closed form."""

    A = np.array([[1.0, 0.5], [0.0, 2.0]])
    parameters = (Parameter("a"), Parameter("b"))
    observables = (Observable("u"), Observable("v"))

    def sample_prior(self, n, rng=None):
        return as_generator(rng).normal(size=(n, 2))

    def simulate(self, x, rng=None):
        return x @ self.A.T + NOISE * as_generator(rng).normal(size=x.shape)

    def posterior(self, y):
        precision = np.eye(2) + self.A.T @ self.A / NOISE**2
        cov = np.linalg.inv(precision)
        return y @ (cov @ self.A.T / NOISE**2).T, cov


def test_quantile_acceptance_recovers_conjugate_posterior():
    sim = LinearGaussian()
    y_obs = np.array([[0.3, -0.8], [1.5, 2.0], [-1.0, 0.5]])
    draws = rejection_abc(sim, y_obs, 2000, library_size=1_000_000, seed=0)
    assert draws.shape == (3, 2000, 2)
    means, cov = sim.posterior(y_obs)
    sd = np.sqrt(np.diag(cov))
    for i in range(3):
        # standard error of a mean from 2000 draws: 0.022 sd; ABC's finite radius adds a little
        np.testing.assert_allclose(draws[i].mean(0), means[i], atol=0.1 * sd.min())
        np.testing.assert_allclose(draws[i].std(0), sd, rtol=0.08)
        np.testing.assert_allclose(np.corrcoef(draws[i].T)[0, 1], cov[0, 1] / sd.prod(), atol=0.08)


def test_nearest_are_the_nearest_and_sorted():
    rng = np.random.default_rng(1)
    x_lib, y_lib = rng.normal(size=(5000, 3)), rng.normal(size=(5000, 2)) * [1.0, 10.0]
    abc = RejectionABC(x_lib, y_lib, scale=[1.0, 10.0])
    y_obs = rng.normal(size=(4, 2)) * [1.0, 10.0]
    result = abc.nearest(y_obs, 25)
    for i in range(4):
        dist = np.linalg.norm((y_lib - y_obs[i]) / [1.0, 10.0], axis=1)
        order = np.argsort(dist)[:25]
        np.testing.assert_array_equal(result.draws[i], x_lib[order])
        np.testing.assert_allclose(result.distances[i], dist[order])
    assert np.all(np.diff(result.distances, axis=1) >= 0)
    np.testing.assert_allclose(result.epsilon, result.distances[:, -1])
    single = abc.nearest(y_obs[0], 1)  # one observation as a 1-D row, one draw
    assert single.draws.shape == (1, 1, 3)


def test_epsilon_acceptance():
    sim = LinearGaussian()
    abc = RejectionABC.from_simulator(sim, 200_000, seed=2)
    y_obs = np.array([[0.0, 0.0], [0.5, 1.0]])
    result = abc.within(y_obs, epsilon=0.1, n_draws=300, seed=3)
    assert result.draws.shape == (2, 300, 2)
    assert np.all(result.distances <= 0.1)
    # the draws are distinct library entries
    assert len(np.unique(result.draws[0], axis=0)) == 300
    with pytest.raises(ValueError, match="fewer than n_draws"):
        abc.within(y_obs, epsilon=0.001, n_draws=300)
    via_function = rejection_abc(sim, y_obs, 300, library_size=200_000, epsilon=0.1, seed=4)
    assert via_function.shape == (2, 300, 2)


def test_forward_function_with_prior():
    forward = lambda x: np.stack([x.sum(1), x[:, 0] - x[:, 1]], 1)  # noqa: E731
    prior = lambda n, rng: rng.uniform(-1, 1, size=(n, 2))  # noqa: E731
    draws = rejection_abc(forward, [[0.5, 0.1]], 50, prior=prior, library_size=100_000, seed=5)
    # the noiseless map is invertible: x = ((s + d) / 2, (s - d) / 2) = (0.3, 0.2)
    np.testing.assert_allclose(draws[0].mean(0), [0.3, 0.2], atol=0.01)


def test_bad_arguments():
    sim = LinearGaussian()
    with pytest.raises(ValueError, match="prior"):
        rejection_abc(lambda x: x, [[0.0, 0.0]], 5, library_size=100)
    with pytest.raises(ValueError, match="prior must not"):
        rejection_abc(sim, [[0.0, 0.0]], 5, prior=lambda n, r: r.normal(size=(n, 2)), library_size=100)
    abc = RejectionABC.from_simulator(sim, 100, seed=0)
    with pytest.raises(ValueError, match="y_obs"):
        abc.nearest(np.zeros((2, 3)), 5)
    with pytest.raises(ValueError, match="exceeds"):
        abc.nearest(np.zeros((1, 2)), 101)
    with pytest.raises(ValueError, match="same number of rows"):
        RejectionABC(np.zeros((5, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        abc.nearest(np.array([[np.nan, 0.0]]), 5)
