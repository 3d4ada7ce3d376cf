"""The star-cluster forward model as an :class:`inn_engine.Simulator`, and its grids.

One observation model (:mod:`astro.observe`) serves the grids of ``innfer simulate astro``,
``astro.train`` and the shipped estimators.
"""

from __future__ import annotations

import numpy as np

from astro.observe import observation_settings, observe
from astro.population import DEFAULT_MAX_STOCHASTIC_STARS, available_bands, parameter_ranges, photometry
from inn_engine.simulator import Observable, Parameter, Simulator, as_generator

__all__ = ["ClusterSimulator", "simulate_grid", "LEGUS_BANDS", "PARAMS"]

LEGUS_BANDS = ("F275W", "F336W", "F438W", "F555W", "F814W")

#: the four cluster parameters every astro estimator infers, in this order
PARAMS = ("log_mass", "log_age", "A_V", "Z")


class ClusterSimulator(Simulator):
    """Star cluster (log M, log age, A_V, Z) -> noisy, incomplete multi-band photometry.

    Parameters x (columns, prior):
      ``log_mass``  log10 initial stellar mass [Msun], flat on [2, 7];
      ``log_age``   log10 age [yr], flat on [6, 10.1];
      ``A_V``       V-band extinction [mag], flat on [0, 3];
      ``Z``         metallicity (mass fraction, Z_sun = 0.02), flat in log Z over the
                    tabulated range [0.002, 0.03].
    Any of these ranges can be narrowed with ``priors={"log_age": (7, 9), ...}``.

    Observation y, for bands b_1..b_K (``bands``), is the conditioning vector of
    :mod:`astro.observe` (4K columns), the observation model of ``astro.train`` (the shipped
    estimators have the 3K columns without ``lim_<b>`` until they are retrained):
      ``mag_<b>``    (K columns) ABSOLUTE magnitude + sigma_b * N(0, 1); the limiting
                     magnitude where not detected; 0.0 where missing;
      ``sigma_<b>``  (K columns) the 1-sigma error [mag], log-uniform in
                     :data:`astro.observe.SIGMA_RANGE` per cluster and band (from the flux
                     noise in bands of surveys with a limit); 0.0 where missing;
      ``has_<b>``    (K columns) 1.0 when the band was detected (every band observed for 40 %
                     of clusters, else each missing with probability 0.3, >= 1 kept);
      ``lim_<b>``    (K columns) 1.0 when a survey with a detection limit did not detect it
                     (a quarter of the observed bands come from such surveys).
    An estimator conditions on all 4K columns, so it learns the posterior for the error
    bars, limits and the set of bands of each observation; ``astro.infer`` turns apparent
    magnitudes into absolute ones with the distance modulus.

    The true magnitudes (:meth:`true_magnitudes`) come from :func:`astro.photometry`
    (stochastic IMF sampling by default, ``system`` Vega or AB). The simulator holds only
    small settings; the stellar tables are cached per process, so it pickles cheaply for
    dask workers.
    """

    def __init__(
        self,
        bands=LEGUS_BANDS,
        *,
        system="vega",
        stochastic=True,
        imf="kroupa",
        max_stochastic_stars=DEFAULT_MAX_STOCHASTIC_STARS,
        priors=None,
    ):
        bands = (bands,) if isinstance(bands, str) else tuple(bands)
        unknown = [b for b in bands if b not in available_bands()]
        if not bands or unknown or len(set(bands)) != len(bands):
            raise ValueError(f"bands must be distinct names from {list(available_bands())}, got {bands}")
        self.bands = bands
        self.system = system
        self.stochastic = bool(stochastic)
        self.imf = imf
        self.max_stochastic_stars = int(max_stochastic_stars)
        self.parameters = self._parameters(priors or {})
        self.observables = tuple(
            [
                Observable(
                    f"mag_{b}",
                    "mag",
                    f"absolute {system} magnitude in {b} with its noise (its limit if not detected); 0 if missing",
                )
                for b in bands
            ]
            + [Observable(f"sigma_{b}", "mag", f"1-sigma photometric error in {b}; 0 if missing") for b in bands]
            + [Observable(f"has_{b}", "", f"1 if {b} was detected, else 0") for b in bands]
            + [Observable(f"lim_{b}", "", f"1 if {b} was not detected (mag_{b} is the limit), else 0") for b in bands]
        )
        photometry(3.0, 8.0, 0.0, 0.02, bands, stochastic=False, system=system, imf=imf)  # validates

    @staticmethod
    def _parameters(priors: dict) -> tuple:
        ranges = parameter_ranges()
        defaults = {"log_mass": (2.0, 7.0), "log_age": (6.0, 10.1), "A_V": (0.0, 3.0), "Z": ranges["metallicity"]}
        limits = {"log_mass": (0.0, 9.0), "log_age": ranges["log_age"], "A_V": ranges["av"], "Z": ranges["metallicity"]}
        unknown = set(priors) - set(defaults)
        if unknown:
            raise ValueError(f"priors may only set {sorted(defaults)}, got {sorted(unknown)}")
        chosen = {}
        for name, default in defaults.items():
            low, high = (float(v) for v in priors.get(name, default))
            if not limits[name][0] - 1e-9 <= low < high <= limits[name][1] + 1e-9:
                raise ValueError(f"priors[{name!r}] must be (low, high) inside {limits[name]}, got {(low, high)}")
            chosen[name] = (low, high)
        return (
            Parameter("log_mass", "log10 Msun", *chosen["log_mass"], "initial stellar mass, flat prior"),
            Parameter("log_age", "log10 yr", *chosen["log_age"], "age, flat prior"),
            Parameter("A_V", "mag", *chosen["A_V"], "V-band extinction (G23, R_V 3.1), flat prior"),
            Parameter("Z", "", *chosen["Z"], "metallicity mass fraction, prior flat in log Z"),
        )

    def sample_prior(self, n: int, rng=None) -> np.ndarray:
        """(n, 4) draws: flat in log_mass, log_age, A_V; flat in log10 Z."""
        if not (isinstance(n, (int, np.integer)) and n >= 0):
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        rng = as_generator(rng)
        b = self.bounds
        x = rng.uniform(b[:, 0], b[:, 1], size=(n, 4))
        x[:, 3] = 10 ** rng.uniform(np.log10(b[3, 0]), np.log10(b[3, 1]), size=n)
        return x

    def true_magnitudes(self, x, rng=None) -> np.ndarray:
        """Noise-free absolute magnitudes (n, K) of one (stochastic) realisation per row of x (n, 4);
        inf where a cluster has no star shining in a band."""
        x = self.check_x(x)
        return photometry(
            x[:, 0],
            x[:, 1],
            x[:, 2],
            x[:, 3],
            self.bands,
            stochastic=self.stochastic,
            seed=as_generator(rng),
            system=self.system,
            imf=self.imf,
            max_stochastic_stars=self.max_stochastic_stars,
        )

    def simulate(self, x, rng=None) -> np.ndarray:
        """Noisy, masked observations (n, 4K) for parameter rows x (n, 4); layout in the class doc."""
        rng = as_generator(rng)
        return observe(self.true_magnitudes(x, rng), rng)

    def metadata(self) -> dict:
        meta = super().metadata()
        meta.update(
            bands=list(self.bands),
            system=self.system,
            magnitudes="absolute",
            stochastic=self.stochastic,
            imf=self.imf,
            max_stochastic_stars=self.max_stochastic_stars,
            observation=observation_settings(),
        )
        return meta


def simulate_grid(
    n,
    path=None,
    *,
    simulator=None,
    seed=0,
    chunk_size=10_000,
    scheduler=None,
    n_workers=2,
    progress=True,
    attrs=None,
    **simulator_options,
):
    """A grid of ``n`` simulated clusters: :func:`inn_engine.grid.simulate_grid` on a
    :class:`ClusterSimulator` (``simulator``, or one made from ``simulator_options``).

    Returns the engine's xarray.Dataset (``x`` (sample, param), ``y`` (sample, obs));
    ``path`` (a .zarr directory) makes it resumable. See the engine function for the rest.
    """
    if simulator is not None and simulator_options:
        raise ValueError(f"pass either simulator or simulator options, not both: {sorted(simulator_options)}")
    if simulator is None:
        simulator = ClusterSimulator(**simulator_options)
    from astro.domain import DOMAIN

    return DOMAIN.simulate_grid(
        simulator,
        n,
        path,
        seed=seed,
        chunk_size=chunk_size,
        scheduler=scheduler,
        n_workers=n_workers,
        progress=progress,
        attrs=attrs,
    )
