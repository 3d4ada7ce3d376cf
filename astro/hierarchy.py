"""A catalogue's own population of star clusters, on top of the amortized cluster posteriors.

The shipped estimators give draws under the flat training prior pi_0 (log_mass U(2, 7),
log_age U(6, 10.1), A_V U(0, 3), log10 Z flat on [0.002, 0.03]). A catalogue constrains
the population of the parameters that the photometry of one cluster leaves degenerate (A_V
against age, above all): :func:`fit_population` fits it with the engine's histogram
population (:mod:`inn_engine.population`: the marginal likelihood of Thrane & Talbot 2019
from each cluster's reweighted draws, a GMRF smoothness prior chosen by evidence,
population draws by Langevin Monte Carlo; REFERENCES.md, "Hierarchical inference") with
the bins of :data:`BIN_WIDTH`, Z binned in log10, and ``av_max`` as a hard upper limit of
the population's A_V. ``astro.infer`` does this by default for catalogues of at least
:data:`MIN_CATALOGUE` clusters.

Selection: the population fitted is that of the clusters in the catalogue (detected ones),
not corrected for the catalogue's selection function.

API (arrays in physical units, parameters in the order ``names``)::

    population = fit_population(draws, bounds)          # draws (n, m, 4), bounds (4, 2)
    kept, ess = population.reweight(draws, keep=1000)    # (n, 1000, 4), (n,)
    population.to_dict(); plot_population(population)

(``population`` is an :class:`inn_engine.population.Population`; ``resample`` and
``MIN_EFFECTIVE_DRAWS`` are the engine's too.)
"""

from __future__ import annotations

import numpy as np

from astro.simulator import PARAMS
from inn_engine import population as engine
from inn_engine.population import Population

__all__ = ["fit_population", "plot_population", "MIN_CATALOGUE", "BIN_WIDTH", "LOG_FLAT"]

#: bin width per parameter, in the coordinate in which the training prior is flat
#: (log10 Msun, log10 yr, mag, log10 Z)
BIN_WIDTH = {"log_mass": 0.25, "log_age": 0.15, "A_V": 0.15, "Z": 0.1}
#: parameters whose training prior is flat in log10 of the value
LOG_FLAT = ("Z",)
#: catalogue size from which astro.infer fits the population by default (see the README)
MIN_CATALOGUE = 50


def fit_population(
    draws, bounds, *, params=("A_V", "log_age"), names=PARAMS, av_max=None, bin_width=None, **options
) -> Population:
    """Fit a histogram population to a catalogue's posterior draws.

    Args:
        draws: (n_clusters, m, >= 4) posterior draws under the training prior, physical units,
            columns ``names`` first (extra columns, e.g. log_mass_living, are ignored).
        bounds: (4, 2) the training prior's support [physical units, Z as a mass fraction].
        params: the parameters the population is fitted over.
        av_max: None or a scalar hard upper limit on A_V [mag]: the population's support.
        bin_width: {param: width} overriding :data:`BIN_WIDTH`.
        **options: of :func:`inn_engine.population.fit_population` (valid, joint,
            smoothness, n_draws, max_cases, seed, effective_prior: the estimator's, which
            ``astro.infer`` passes where its directory keeps one, :mod:`astro.effective_prior`).
    """
    if av_max is not None and not (np.ndim(av_max) == 0 and float(av_max) > 0):
        raise ValueError(f"av_max must be a positive scalar [mag] for the population, got {av_max!r}")
    upper = {} if av_max is None or "A_V" not in params else {"A_V": float(av_max)}
    return engine.fit_population(
        draws,
        bounds,
        names,
        params,
        {**BIN_WIDTH, **(bin_width or {})},
        log10=LOG_FLAT,
        upper=upper,
        **options,
    )


def plot_population(population: Population, axes=None):
    """:func:`inn_engine.population.plot_population` with the astro parameters' labels."""
    from astro.plots import LABELS

    return engine.plot_population(population, axes, labels=LABELS)
