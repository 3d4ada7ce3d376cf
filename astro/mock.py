"""Mock catalogues: simulated clusters observed as a survey would, as ``astro.infer`` reads them.

For testing a pipeline, benchmarks and population studies: clusters drawn from the training
prior (optionally edited, e.g. a narrow dust population), their stochastic integrated
magnitudes (:class:`astro.library.ClusterLibrarySimulator`), the observation model of
:func:`astro.observe.observe` (errors, missing bands, upper limits) and apparent magnitudes
at one distance modulus (:func:`astro.catalog.catalogue_from_observations`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from astro.training import BAND_SETS

__all__ = ["MockCatalogue", "mock_catalogue"]


class MockCatalogue(NamedTuple):
    """``x`` (n, 4) true (log10 M/Msun, log10 age/yr, A_V [mag], Z); ``table`` the astropy
    Table of apparent Vega magnitudes, errors (and ``<band>_lim`` where limited);
    ``true_mag`` (n, K) the noise-free absolute magnitudes."""

    x: np.ndarray
    table: object
    true_mag: np.ndarray


def mock_catalogue(
    n: int,
    bands: tuple = BAND_SETS["ubvri"],
    *,
    distance_modulus: float = 18.5,
    seed: int = 0,
    limits: bool | None = None,
    edit_parameters: Callable[[np.ndarray, np.random.Generator], None] | None = None,
    priors: dict | None = None,
    imf: str = "kroupa",
) -> MockCatalogue:
    """n mock clusters in ``bands`` at ``distance_modulus`` [mag].

    ``limits``: whether the survey reports upper limits (None: as the shipped estimator for
    these bands was trained, :func:`astro.infer.load_estimator`). ``edit_parameters(x, rng)``
    may change the prior draws ``x`` (n, 4) in place before they are simulated (a population
    other than the training prior); every draw comes from one generator seeded by ``seed``.
    ``priors`` ({parameter: (low, high)}, Z as a mass fraction) and ``imf``: those of
    :class:`astro.ClusterSimulator` (default: the shipped estimators' training prior and IMF).
    """
    from astro.catalog import catalogue_from_observations
    from astro.infer import load_estimator
    from astro.library import ClusterLibrarySimulator
    from astro.observe import observe

    bands = tuple(bands)
    if limits is None:
        limits = load_estimator(bands=bands).limits
    sim = ClusterLibrarySimulator(bands, priors=priors, imf=imf)
    rng = np.random.default_rng(seed)
    x = sim.sample_prior(n, rng)
    if edit_parameters is not None:
        edit_parameters(x, rng)
    true_mag = sim.simulate(x, rng)
    table = catalogue_from_observations(observe(true_mag, rng, limits=limits), bands, distance_modulus)
    return MockCatalogue(x, table, true_mag)
