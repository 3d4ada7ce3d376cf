"""The toy simulators (8-mode mixture, inverse kinematics) and their reference posteriors."""

import json
import pickle

import numpy as np
import pytest

from inn_engine.diagnostics import calibration_error, expected_coverage
from inn_engine.toys import EIGHT_MODE_CENTRES, EightModes, InverseKinematics


# ---------------------------------------------------------------- eight modes
def test_eight_mode_geometry_and_prior():
    centres = EIGHT_MODE_CENTRES
    # all centres on the circle of radius sqrt(1 + 2.4142^2); neighbours 2.0 apart (10 sigma)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), np.hypot(1.0, 2.4142))
    np.testing.assert_allclose(np.linalg.norm(centres - np.roll(centres, 1, axis=0), axis=1), 2.0, atol=1e-4)
    sim = EightModes()
    x = sim.sample_prior(80_000, 0)
    nearest = np.argmin(((x[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_allclose(np.bincount(nearest, minlength=8) / len(x), 1 / 8, atol=0.005)
    np.testing.assert_allclose((x - centres[nearest]).std(axis=0), 0.2, rtol=0.02)


@pytest.mark.parametrize("labels, n_labels", [("all", 8), ("some", 4)])
def test_eight_mode_labels(labels, n_labels):
    sim = EightModes(labels)
    x = sim.sample_prior(5000, 1)
    y = sim.simulate(x, 2)
    assert y.shape == (5000, n_labels) and set(np.unique(y)) == {0.0, 1.0}
    np.testing.assert_array_equal(y.sum(1), 1.0)
    nearest = np.argmin(((x[:, None] - EIGHT_MODE_CENTRES[None]) ** 2).sum(-1), axis=1)
    expected = np.array([0, 1, 2, 3, 4, 5, 6, 7] if labels == "all" else [0, 0, 0, 0, 1, 1, 2, 3])[nearest]
    assert np.mean(sim.labels_of(y) == expected) > 0.999  # modes 10 sigma apart: label = nearest mode's
    assert len(sim.observables) == n_labels and json.loads(json.dumps(sim.metadata()))["labels"] == labels
    assert pickle.loads(pickle.dumps(sim)).n_labels == n_labels


def test_eight_mode_posterior_is_the_conditional_of_the_joint():
    sim = EightModes("some")
    x = sim.sample_prior(40_000, 3)
    label = sim.labels_of(sim.simulate(x, 4))
    y_obs = np.eye(4)
    post = sim.reference_posterior(y_obs, 20_000, seed=5)
    assert post.shape == (4, 20_000, 2)
    for k in range(4):
        joint = x[label == k]
        # same mode occupancy and moments as the simulated joint's slice
        occupancy = lambda pts: (
            np.bincount(np.argmin(((pts[:, None] - EIGHT_MODE_CENTRES) ** 2).sum(-1), 1), minlength=8) / len(pts)
        )  # noqa: E731
        np.testing.assert_allclose(occupancy(post[k]), occupancy(joint), atol=0.02)
        np.testing.assert_allclose(post[k].mean(0), joint.mean(0), atol=0.06)
    # label 0 = the four modes of the upper half plane, equally weighted
    np.testing.assert_allclose(
        np.bincount(np.argmin(((post[0][:, None] - EIGHT_MODE_CENTRES) ** 2).sum(-1), 1), minlength=8)[:4] / 20_000,
        0.25,
        atol=0.015,
    )


def test_eight_mode_log_posterior_normalized_and_calibrated():
    sim = EightModes("some")
    grid = np.linspace(-4, 4, 201)
    gx, gy = np.meshgrid(grid, grid)
    pts = np.stack([gx.ravel(), gy.ravel()], 1)
    y_obs = np.eye(4)
    dens = np.exp(sim.log_posterior(np.broadcast_to(pts, (4, *pts.shape)), y_obs))
    np.testing.assert_allclose(dens.sum(1) * (grid[1] - grid[0]) ** 2, 1.0, atol=1e-3)
    # exact draws are calibrated under the exact density (HPD coverage) and centrally
    x = sim.sample_prior(3000, 6)
    y = sim.simulate(x, 7)
    draws = sim.reference_posterior(y, 400, seed=8)
    coverage = expected_coverage(sim.log_posterior(draws, y), sim.log_posterior(x, y), [0.25, 0.5, 0.75, 0.9])
    np.testing.assert_allclose(coverage, [0.25, 0.5, 0.75, 0.9], atol=0.035)
    assert np.all(calibration_error(draws, x).median_abs_error < 0.02)


def test_eight_mode_bad_inputs():
    with pytest.raises(ValueError, match="labels"):
        EightModes("most")
    with pytest.raises(ValueError, match="one-hot"):
        EightModes().reference_posterior(np.full((1, 8), 0.125), 10)
    with pytest.raises(ValueError, match="shape"):
        EightModes("some").reference_posterior(np.eye(8)[:1], 10)


# ---------------------------------------------------------------- inverse kinematics
def test_inverse_kinematics_forward_by_hand():
    sim = InverseKinematics()
    x = np.array(
        [
            [0.0, 0.0, 0.0, 0.0],  # stretched out along +x
            [0.3, np.pi / 2, 0.0, 0.0],  # straight up from the slider at 0.3
            [0.0, 0.0, np.pi / 2, -np.pi / 2],  # right 0.5, up 0.5, right 1.0
            [-0.2, np.pi, 0.0, 0.0],  # folded back along -x
        ]
    )
    np.testing.assert_allclose(sim.forward(x), [[2.0, 0.0], [0.0, 2.3], [1.5, 0.5], [-2.0, -0.2]], atol=1e-12)
    np.testing.assert_array_equal(sim.simulate(x, 0), sim.forward(x))  # noiseless by default
    with pytest.raises(ValueError, match="shape"):
        sim.forward(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="noise"):
        InverseKinematics(noise=-0.1)


def test_inverse_kinematics_prior_and_noise():
    sim = InverseKinematics(noise=0.05)
    x = sim.sample_prior(100_000, 0)
    np.testing.assert_allclose(x.std(0), [0.25, 0.5, 0.5, 0.5], rtol=0.02)
    np.testing.assert_allclose(x.mean(0), 0.0, atol=0.01)
    residual = sim.simulate(x, 1) - sim.forward(x)
    np.testing.assert_allclose(residual.std(0), 0.05, rtol=0.02)
    meta = json.loads(json.dumps(sim.metadata()))
    assert meta["noise"] == 0.05 and meta["lengths"] == [0.5, 0.5, 1.0]


def test_inverse_kinematics_abc_reference_matches_importance_sampling():
    """With observation noise the exact posterior is prior x Gaussian likelihood: its
    moments by self-normalized importance sampling must match the ABC reference."""
    sim = InverseKinematics(noise=0.05)
    y_obs = np.array([[1.6, 0.2], [1.8, 0.5]])
    abc = sim.reference_posterior(y_obs, 1000, library_size=400_000, seed=0)
    assert abc.shape == (2, 1000, 4)
    x = sim.sample_prior(400_000, 1)
    fwd = sim.forward(x)
    for i, y in enumerate(y_obs):
        log_w = -0.5 * ((fwd - y) ** 2).sum(1) / 0.05**2
        w = np.exp(log_w - log_w.max())
        w /= w.sum()
        mean = w @ x
        std = np.sqrt(w @ (x - mean) ** 2)
        # 1000 draws: the standard error of a mean is ~0.03 std; ABC's radius adds a bias
        assert np.all(np.abs(abc[i].mean(0) - mean) < 0.15 * std), (abc[i].mean(0), mean, std)
        np.testing.assert_allclose(abc[i].std(0), std, rtol=0.1)
        # accepted arms reach the observed point up to the noise (0.05 per axis) and radius
        assert np.median(np.linalg.norm(sim.forward(abc[i]) - y, axis=1)) < 0.12


@pytest.mark.parametrize("seed", ["7", 1.5, -1, 2**64, [1]])
def test_as_generator_names_a_bad_seed(seed):
    from inn_engine.simulator import as_generator

    with pytest.raises(ValueError, match="seed must be an integer"):
        as_generator(seed)
    assert isinstance(as_generator(None), np.random.Generator) and as_generator(3).integers(10) == as_generator(
        3
    ).integers(10)
