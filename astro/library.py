"""Noise-free stochastic cluster magnitudes as an engine Simulator: the training library.

The pretrained estimators and the rejection-ABC / KDE baselines all start from a library
of (x, M) pairs: cluster parameters drawn from the prior of :class:`astro.ClusterSimulator`
and the ABSOLUTE magnitudes of one stochastic realisation of each cluster, without
photometric noise or missing bands. :mod:`astro.observe` adds those afterwards, so one
library serves any error level, any band mask and several noise realisations per cluster.
"""

from __future__ import annotations

import numpy as np

from astro.simulator import ClusterSimulator
from inn_engine.simulator import Observable, Simulator

__all__ = ["ClusterLibrarySimulator"]


class ClusterLibrarySimulator(Simulator):
    """x = (log_mass, log_age, A_V, Z) (prior of :class:`ClusterSimulator`) ->
    y = absolute Vega magnitudes (n, K) of one stochastic draw of stars, bands ``bands``.

    Picklable and small (the stellar tables are cached per process by :mod:`astro.population`).
    """

    def __init__(self, bands, *, priors=None, imf="kroupa"):
        self._prior = ClusterSimulator(bands=bands, priors=priors, imf=imf)
        self.bands = self._prior.bands
        self.imf = imf
        self.parameters = self._prior.parameters
        self.observables = tuple(
            Observable(f"M_{b}", "mag", f"absolute Vega magnitude in {b}, noise-free") for b in self.bands
        )

    def sample_prior(self, n: int, rng=None) -> np.ndarray:
        """(n, 4) draws of the prior of :class:`ClusterSimulator`."""
        return self._prior.sample_prior(n, rng)

    def simulate(self, x, rng=None) -> np.ndarray:
        """(n, K) absolute magnitudes of one stochastic realisation per row of x (n, 4)."""
        return self._prior.true_magnitudes(x, rng)

    def metadata(self) -> dict:
        meta = super().metadata()
        meta.update(bands=list(self.bands), imf=self.imf, system="vega", stochastic=True)
        return meta
