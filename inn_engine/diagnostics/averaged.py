"""The data-averaged posterior: the average of the posteriors of cases drawn from the prior.

For test cases (x_i, y_i) drawn from the prior and the simulator, the average of their
posteriors is the prior itself: integral of p(x | y) p(y) dy = p(x) (the identity SBC rests
on; Talts et al. 2018, arXiv 1804.06788). An estimator's posteriors can have correct
coverage and still deviate from it by a few per cent of density in some region of x. Such
an error hardly changes one case's intervals, but a population fit (a deconvolution of
many posteriors, e.g. :mod:`astro.hierarchy`) amplifies it into a shifted population.

Per parameter, the x axis is cut into ``bins`` of equal prior mass (quantiles of a prior
sample), and the pooled share of the draws per bin is compared with the prior's share. The
standard error of the pooled share is the spread of the per-case shares over sqrt(n_obs)
(cases are independent), plus the prior sample's multinomial noise. The chi-square
statistic uses their full covariance with one bin left out, because the shares sum to one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from inn_engine.diagnostics._arrays import finite_array

__all__ = ["DataAveragedPosterior", "data_averaged_posterior"]


@dataclass(frozen=True)
class DataAveragedPosterior:
    """Pooled posterior share against prior share, per parameter.

    edges (d, bins + 1): bin edges in x (outer edges the prior sample's extremes);
    ratio (bins, d): pooled share of the draws / prior share (1 for an exact posterior);
    z (bins, d): (ratio - 1) over its standard error; statistic, p_value (d,): chi-square
    with bins - 1 degrees of freedom; max_deviation (d,): max |ratio - 1|.
    """

    edges: np.ndarray
    ratio: np.ndarray
    z: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    max_deviation: np.ndarray


def data_averaged_posterior(draws, prior_draws, bins: int = 20) -> DataAveragedPosterior:
    """Check that the posteriors of prior-drawn cases average to the prior (module doc).

    Args:
        draws: (n_obs, n_draws, d) posterior draws for test cases whose parameters were drawn
            from the prior (their true values are not needed).
        prior_draws: (n_prior, d) an independent sample of the prior; a large one (e.g. 10^6)
            makes its own noise negligible.
        bins: bins of equal prior mass per parameter (>= 2).
    """
    draws = finite_array(draws, "draws", 3, "(n_obs, n_draws, d)")
    prior_draws = finite_array(prior_draws, "prior_draws", 2, "(n_prior, d)")
    n_obs, n_draws, d = draws.shape
    if prior_draws.shape[1] != d:
        raise ValueError(
            f"prior_draws must have shape (n_prior, {d}) to match draws {draws.shape}, got {prior_draws.shape}"
        )
    if int(bins) != bins or bins < 2 or n_obs < bins:
        raise ValueError(f"bins must be an integer >= 2 and at most n_obs = {n_obs}, got {bins!r}")
    bins = int(bins)
    edges = np.quantile(prior_draws, np.linspace(0.0, 1.0, bins + 1), axis=0).T  # (d, bins + 1)
    ratio, z = np.empty((bins, d)), np.empty((bins, d))
    statistic, p_value = np.empty(d), np.empty(d)
    for k in range(d):
        inner = edges[k, 1:-1]
        prior_share = np.bincount(np.searchsorted(inner, prior_draws[:, k], side="right"), minlength=bins)
        prior_share = prior_share / len(prior_draws)
        if np.any(prior_share == 0):
            raise ValueError(
                f"prior_draws of parameter {k} leave {int(np.sum(prior_share == 0))} of {bins} equal-mass bins "
                "empty (repeated values): use fewer bins"
            )
        index = np.searchsorted(inner, draws[:, :, k], side="right") + bins * np.arange(n_obs)[:, None]
        shares = np.bincount(index.ravel(), minlength=n_obs * bins).reshape(n_obs, bins) / n_draws
        pooled = shares.mean(axis=0)
        covariance = np.cov(shares, rowvar=False) / n_obs
        covariance += (np.diag(prior_share) - np.outer(prior_share, prior_share)) / len(prior_draws)
        delta = pooled - prior_share
        ratio[:, k] = pooled / prior_share
        z[:, k] = delta / np.sqrt(np.diag(covariance))
        statistic[k] = delta[:-1] @ np.linalg.pinv(covariance[:-1, :-1]) @ delta[:-1]  # pinv: constant shares
        p_value[k] = stats.chi2.sf(statistic[k], bins - 1)
    return DataAveragedPosterior(edges, ratio, z, statistic, p_value, np.abs(ratio - 1).max(axis=0))
