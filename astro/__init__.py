"""astro: star-cluster mass, age, extinction and metallicity from integrated photometry.

Forward model: :func:`photometry` (SSE isochrones x Castelli-Kurucz atmospheres x filters x
dust, stochastic IMF sampling) and :class:`ClusterSimulator` (the engine's Simulator, with
photometric errors and missing bands); :func:`simulate_grid` makes training grids,
:func:`train` an estimator for any band set, :func:`infer` posteriors for a catalogue,
:func:`mock_catalogue` simulated catalogues as ``infer`` reads them.
"""

from astro.imf import IMF_NAMES, get_imf
from astro.population import available_bands, parameter_ranges, photometry, star_photometry
from astro.simulator import LEGUS_BANDS, ClusterSimulator, simulate_grid

__all__ = [
    "photometry",
    "star_photometry",
    "available_bands",
    "parameter_ranges",
    "ClusterSimulator",
    "simulate_grid",
    "LEGUS_BANDS",
    "get_imf",
    "IMF_NAMES",
]

from astro.effective_prior import write_effective_prior  # noqa: E402
from astro.infer import MODEL_ERROR_REAL, infer, load_estimator  # noqa: E402  (shipped or retrained estimators)
from astro.living_mass import living_mass_fraction  # noqa: E402
from astro.mock import mock_catalogue  # noqa: E402
from astro.training import train  # noqa: E402

__all__ += [
    "infer",
    "load_estimator",
    "MODEL_ERROR_REAL",
    "living_mass_fraction",
    "mock_catalogue",
    "train",
    "write_effective_prior",
]
