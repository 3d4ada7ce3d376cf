"""inn_engine.effective_prior: an estimator whose posteriors carry a wave of error in theta."""

import numpy as np
import pytest
from scipy.stats import truncnorm

from inn_engine.effective_prior import EffectivePrior, effective_prior
from inn_engine.population import fit_population, resample

BOUNDS = np.array([[0.0, 1.0], [0.0, 1.0]])  # u (fitted, flat prior), a nuisance (flat)
NAMES = ("u", "nuisance")
WIDTH = {"u": 0.1, "nuisance": 0.25}


def wavy_posteriors(true_u, m=400, seed=0):
    """Draws (n, m, 2) of a flawed estimator: the exact posterior of u given u + N(0, 0.3) on
    the flat prior, times the error 1 + 0.3 cos(2 pi u / 0.4) (a function of u only)."""
    rng = np.random.default_rng(seed)
    seen = true_u + 0.3 * rng.standard_normal(len(true_u))
    a, b = (0.0 - seen) / 0.3, (1.0 - seen) / 0.3
    u = truncnorm.rvs(a[:, None], b[:, None], loc=seen[:, None], scale=0.3, size=(len(seen), 4 * m), random_state=rng)
    flawed = resample(u[:, :, None], 1.0 + 0.3 * np.cos(2 * np.pi * u / 0.4), m, seed=seed)[:, :, 0]
    return np.stack([flawed, rng.uniform(0, 1, flawed.shape)], axis=2)


def largest_departure_from_flat(population) -> float:
    return float(np.abs(population.marginal("u") / 0.1 - 1).max())


def test_the_training_prior_is_a_fixed_point_once_draws_are_divided_by_the_effective_prior():
    rng = np.random.default_rng(1)
    prior = effective_prior(wavy_posteriors(rng.uniform(0, 1, 4000), seed=2), BOUNDS, NAMES, WIDTH)
    catalogue = wavy_posteriors(rng.uniform(0, 1, 2000), seed=3)  # other cases from the training prior
    naive = fit_population(catalogue, BOUNDS, NAMES, ("u",), WIDTH)
    corrected = fit_population(catalogue, BOUNDS, NAMES, ("u",), WIDTH, effective_prior=prior)
    assert largest_departure_from_flat(naive) > 1.0  # the estimator's wave, deconvolved into spikes (1.6)
    # exact posteriors of these 2000 cases depart by 0.16 (the data's own noise); corrected 0.22
    assert largest_departure_from_flat(corrected) < 0.3
    assert corrected.to_dict()["draws_divided_by"] == "effective prior"
    assert corrected.to_dict()["effective_prior"]["cases"] == 4000


def test_a_narrow_population_is_recovered_better_with_the_effective_prior():
    rng = np.random.default_rng(4)
    prior = effective_prior(wavy_posteriors(rng.uniform(0, 1, 4000), seed=5), BOUNDS, NAMES, WIDTH)
    catalogue = wavy_posteriors(rng.uniform(0.6, 0.9, 1000), seed=6)  # u ~ U(0.6, 0.9)
    errors = []
    for divided_by in (None, prior):
        population = fit_population(catalogue, BOUNDS, NAMES, ("u",), WIDTH, effective_prior=divided_by)
        errors.append(np.abs(np.median(population.quantiles("u"), axis=0) - [0.615, 0.75, 0.885]).max())
    assert errors[1] < errors[0]


def test_cells_of_another_grid_get_the_overlapping_mass():
    counts = np.arange(1.0, 7.0).reshape(3, 2) * 100  # u in 3 bins of 1/3, nuisance in 2
    prior = EffectivePrior(NAMES, (np.linspace(0, 1, 4), np.linspace(0, 1, 3)), counts)
    log_mass = prior.cell_log_mass(("u",), (np.array([0.0, 0.5, 0.8]),), ((0.0, 1.0),))  # cut at u = 0.8
    u_mass = (counts.sum(axis=1) + 1.0) / (counts.sum(axis=1) + 1.0).sum()  # the pseudo-count per marginal cell
    expected = [u_mass[0] + 0.5 * u_mass[1], 0.5 * u_mass[1] + 0.4 * u_mass[2]]  # (0.8 - 2/3) / (1/3) = 0.4
    assert np.exp(log_mass) == pytest.approx(expected)
    both = prior.cell_log_mass(("nuisance", "u"), (np.linspace(0, 1, 3), np.linspace(0, 1, 4)), ((0, 1), (0, 1)))
    assert np.exp(both).reshape(2, 3) == pytest.approx(((counts + 1) / (counts + 1).sum()).T)


def test_an_effective_prior_survives_json_and_refuses_another_estimator():
    rng = np.random.default_rng(7)
    prior = effective_prior(wavy_posteriors(rng.uniform(0, 1, 50), m=20), BOUNDS, NAMES, WIDTH, record={"seed": 7})
    again = EffectivePrior.from_dict(prior.to_dict())
    assert again.counts.sum() == 50 * 20 and again.record == {"cases": 50, "seed": 7}
    u_cells = (("u",), prior.edges[:1], ((0, 1),))
    assert np.allclose(again.cell_log_mass(*u_cells), prior.cell_log_mass(*u_cells))
    with pytest.raises(ValueError, match="another estimator"):
        prior.cell_log_mass(("u",), (np.linspace(0, 2, 5),), ((0.0, 2.0),))
    with pytest.raises(ValueError, match="covers"):
        prior.cell_log_mass(("rate",), (np.linspace(0, 1, 5),), ((0.0, 1.0),))
    broken = {**prior.to_dict(), "counts": [-1.0] * 40}
    with pytest.raises(ValueError, match="non-negative"):
        EffectivePrior.from_dict(broken)
    with pytest.raises(ValueError, match="names, edges, counts"):
        EffectivePrior.from_dict({"names": ["u"]})


def wavy_at_given_nuisance(true_u, nuisance, m=400, seed=0):
    """Draws (n, m, 2) of an estimator told each case's nuisance (its draws carry it), whose
    wave in u changes phase with it: 1 + 0.3 cos(2 pi u / 0.4 + pi [nuisance >= 0.5])."""
    rng = np.random.default_rng(seed)
    seen = true_u + 0.3 * rng.standard_normal(len(true_u))
    a, b = (0.0 - seen) / 0.3, (1.0 - seen) / 0.3
    u = truncnorm.rvs(a[:, None], b[:, None], loc=seen[:, None], scale=0.3, size=(len(seen), 4 * m), random_state=rng)
    phase = np.pi * (nuisance >= 0.5)[:, None]
    flawed = resample(u[:, :, None], 1.0 + 0.3 * np.cos(2 * np.pi * u / 0.4 + phase), m, seed=seed)[:, :, 0]
    return np.stack([flawed, np.broadcast_to(nuisance[:, None], flawed.shape)], axis=2)


def test_cells_given_a_nuisance_value_get_the_mass_of_its_kernel_weighted_slice():
    counts = np.arange(1.0, 7.0).reshape(3, 2) * 100  # u in 3 bins of 1/3, nuisance in 2
    prior = EffectivePrior(NAMES, (np.linspace(0, 1, 4), np.linspace(0, 1, 3)), counts)
    u_grid = (("u",), (np.linspace(0, 1, 4),), ((0.0, 1.0),))
    sharp = prior.cell_log_mass(*u_grid, given={"nuisance": (np.array([0.25, 0.75]), 1e-3)})
    slices = (counts + 0.5) / (counts + 0.5).sum(axis=0)  # the pseudo-count of a marginal cell, shared
    assert np.exp(sharp) == pytest.approx(slices.T)
    wide = prior.cell_log_mass(*u_grid, given={"nuisance": (np.array([0.5]), 1e-3)})  # half the kernel each side
    assert np.exp(wide[0]) == pytest.approx(np.exp(prior.cell_log_mass(*u_grid)))
    with pytest.raises(ValueError, match="both fitted and given"):
        prior.cell_log_mass(*u_grid, given={"u": (np.array([0.5]), 0.1)})
    with pytest.raises(ValueError, match="given nuisance"):
        prior.cell_log_mass(*u_grid, given={"nuisance": (np.array([np.nan]), 0.1)})


def test_draws_restricted_to_a_given_value_are_divided_by_the_effective_prior_at_that_value():
    rng = np.random.default_rng(8)
    prior = effective_prior(
        wavy_at_given_nuisance(rng.uniform(0, 1, 4000), rng.uniform(0, 1, 4000), seed=9), BOUNDS, NAMES, WIDTH
    )
    nuisance = rng.uniform(0.0, 0.5, 2000)  # the catalogue knows its nuisance: all below 0.5, one phase
    catalogue = wavy_at_given_nuisance(rng.uniform(0, 1, 2000), nuisance, seed=10)
    options = dict(effective_prior=prior, seed=0)
    marginal = fit_population(catalogue, BOUNDS, NAMES, ("u",), WIDTH, **options)
    at_given = fit_population(catalogue, BOUNDS, NAMES, ("u",), WIDTH, given={"nuisance": (nuisance, 0.01)}, **options)
    assert largest_departure_from_flat(marginal) > 0.5  # the phase's wave is read as population structure
    assert largest_departure_from_flat(at_given) < 0.3  # the training prior is again a fixed point
    assert at_given.to_dict()["divided_at_given"] == {"nuisance": 0.01}
    kept, ess = at_given.reweight(catalogue[:5], given={"nuisance": nuisance[:5]})
    assert kept.shape == (5, 400, 2) and np.all(ess > 100)
    with pytest.raises(ValueError, match="pass their values"):
        at_given.reweight(catalogue[:5])
    with pytest.raises(ValueError, match="effective_prior"):
        fit_population(catalogue, BOUNDS, NAMES, ("u",), WIDTH, given={"nuisance": (nuisance, 0.01)})
