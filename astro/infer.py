"""``astro.infer``: posteriors of cluster mass, age, extinction and metallicity for a catalogue.

One of the shipped estimators (``astro/pretrained/ubvri`` for Johnson-Cousins U B V R I,
``astro/pretrained/hst`` for F275W F336W F438W F555W F814W) is picked from the catalogue's
band columns. Magnitudes become absolute with the distance modulus and the foreground
extinction, and enter the cINN with their errors and a mask of observed bands.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from astro.catalog import distance_moduli, per_cluster, read_photometry
from astro.living_mass import living_mass_fraction
from astro.model_check import library_chi2
from astro.observe import SIGMA_RANGE, condition_vector

__all__ = ["infer", "load_pretrained", "PARAMS", "DERIVED", "QUANTILES", "MODEL_ERROR_REAL", "band_set_for",
           "foreground_coefficients"]

PARAMS = ("log_mass", "log_age", "A_V", "Z")
#: derived per draw: log10 of the present-day mass in living stars (astro.living_mass)
DERIVED = ("log_mass_living",)
QUANTILES = {"median": 0.5, "q16": 0.16, "q84": 0.84, "q025": 0.025, "q975": 0.975}
R_V = 3.1
Z_KERNEL_DEX = 0.1      # width of the log10 Z kernel that fixes the metallicity
Z_OVERSAMPLE = 8        # draws made per kept draw when Z is fixed or A_V limited
MIN_EFFECTIVE_DRAWS = 50
#: [mag] model error per band recommended for real clusters: the rms difference of our
#: smooth-population U-B and B-V colours from BPASS v2.2.1's over log age 6.5-10 and
#: Z = 0.002, 0.008 (0.096 and 0.107 mag; ``benchmarks/astro_sim.py``), divided by sqrt 2
#: since a colour carries the error of two bands. Chosen from that model comparison, not
#: from the real clusters it is then tested on (``benchmarks/astro_validation.py``).
MODEL_ERROR_REAL = 0.07


@dataclass(frozen=True)
class Pretrained:
    """A shipped estimator with its reference library (x (N, 4), M (N, K)) and flag threshold."""

    band_set: str
    bands: tuple
    estimator: object
    library_x: np.ndarray
    library_mag: np.ndarray
    chi2_threshold: float


@lru_cache(maxsize=None)
def load_pretrained(band_set: str) -> Pretrained:
    """Load ``astro/pretrained/<band_set>`` (cached per process)."""
    from safetensors.numpy import load_file

    from inn_engine.estimator import Estimator

    from astro.pretrain import BAND_SETS, PRETRAINED_DIR

    if band_set not in BAND_SETS:
        raise ValueError(f"band_set must be one of {sorted(BAND_SETS)}, got {band_set!r}")
    path = PRETRAINED_DIR / band_set
    estimator = Estimator.load(path)
    library = load_file(str(path / "library.safetensors"))
    astro_meta = estimator.metadata["astro"]
    return Pretrained(band_set, tuple(astro_meta["bands"]), estimator, library["x"].astype(float),
                      library["M"].astype(float), float(astro_meta["chi2_threshold"]))


def band_set_for(bands) -> str:
    """The band set ("ubvri" or "hst") holding every band of ``bands``."""
    from astro.pretrain import BAND_SETS

    for name, members in BAND_SETS.items():
        if set(bands) <= set(members):
            return name
    raise ValueError(f"the catalogue's bands {list(bands)} mix band sets: use bands from one of "
                     f"{ {k: list(v) for k, v in BAND_SETS.items()} } (select them with bands=[...])")


@lru_cache(maxsize=None)
def foreground_coefficients(bands: tuple) -> np.ndarray:
    """A_b / A_V (K,) of foreground dust for ``bands``: the magnitude change of a 10 Myr,
    Z = 0.008, 10^5 Msun smooth-IMF population under A_V = 1 (G23, R_V = 3.1)."""
    from astro.population import photometry

    dimmed = photometry(5.0, 7.0, 1.0, 0.008, bands, stochastic=False)
    clear = photometry(5.0, 7.0, 0.0, 0.008, bands, stochastic=False)
    return (dimmed - clear)[0]


def _summaries(draws: np.ndarray) -> dict:
    """{"P_stat": (n,)} quantiles over draws (n, m, 5) of PARAMS + DERIVED; NaN rows stay NaN."""
    q = np.quantile(draws, list(QUANTILES.values()), axis=1)  # (5, n, 5)
    return {f"{p}_{s}": q[i, :, j] for j, p in enumerate(PARAMS + DERIVED) for i, s in enumerate(QUANTILES)}


def _with_living_mass(samples: np.ndarray) -> np.ndarray:
    """Draws (n, m, 4) of PARAMS -> (n, m, 5) with log10 of the mass in living stars appended."""
    living = samples[..., 0] + np.log10(living_mass_fraction(samples[..., 1], samples[..., 3]))
    return np.concatenate([samples, living[..., None]], axis=-1)


def _restrict(draws: np.ndarray, z_fixed, av_max, keep: int, rng: np.random.Generator):
    """Importance-resample draws (n, M, 4) of p(x | y) to ``keep`` draws of a restricted posterior.

    ``z_fixed`` (n,) or None: Gaussian kernel of Z_KERNEL_DEX in log10 Z around the given
    metallicity (Z is then set to it); ``av_max`` (n,) or None: the flat A_V prior truncated
    to [0, av_max] (draws above it get weight 0). Returns (draws (n, keep, 4), effective
    sample sizes (n,)); rows with no admissible draw come back NaN with 0 effective draws.
    """
    logw = np.zeros(draws.shape[:2])
    if z_fixed is not None:
        logw -= 0.5 * ((np.log10(draws[:, :, 3]) - np.log10(z_fixed)[:, None]) / Z_KERNEL_DEX) ** 2
    if av_max is not None:
        logw = np.where(draws[:, :, 2] <= av_max[:, None], logw, -np.inf)
    top = logw.max(axis=1, keepdims=True)
    w = np.exp(logw - np.where(np.isfinite(top), top, 0.0))
    total = w.sum(axis=1, keepdims=True)
    w /= np.where(total > 0, total, 1.0)
    ess = np.where(total[:, 0] > 0, 1.0 / np.maximum((w ** 2).sum(axis=1), 1e-300), 0.0)
    cdf = np.cumsum(w, axis=1)
    u = (rng.random((len(w), 1)) + np.arange(keep)[None, :]) / keep  # systematic resampling
    index = np.minimum(np.array([np.searchsorted(c, uu) for c, uu in zip(cdf, u)]), draws.shape[1] - 1)
    out = np.take_along_axis(draws, index.reshape(len(w), keep)[:, :, None], axis=1)
    if z_fixed is not None:
        out[:, :, 3] = z_fixed[:, None]
    out[ess == 0] = np.nan
    return out, ess


def infer(photometry, *, bands=None, distance_modulus=None, distance=None, ebv_foreground=0.0,
          metallicity=None, av_max=None, model_error=0.0, draws=1000, seed=0):
    """Posterior summaries of (log_mass, log_age, A_V, Z) for every cluster of a catalogue.

    ``log_mass`` is the initial stellar mass (0.08-120 Msun formed); ``log_mass_living``,
    derived per draw, the mass still in living stars today (what star counts measure).

    Args:
        photometry: astropy Table, pandas DataFrame or dict of columns (one row per cluster;
            a dict of scalars is one cluster): apparent Vega magnitudes in columns named by
            band ("U", "B", "V", "R", "I" or "F275W", "F336W", "F438W", "F555W", "F814W") and
            1-sigma errors [mag] in "<band>_err". NaN / masked = not observed. Entries with
            sentinel magnitudes (|m| >= 90), missing / negative errors or errors > 0.5 mag are
            dropped and noted in ``flag``; errors below 0.01 mag are raised to 0.01.
        bands: None, a list of bands to use, or {column name: band} for other column names.
        distance_modulus: [mag], scalar or per cluster; or ``distance``: astropy Quantity.
        ebv_foreground: foreground E(B-V) [mag] removed before inference (A_V = 3.1 E(B-V)),
            scalar or per cluster; the fitted A_V is then the cluster's own extinction.
        metallicity: None (Z is marginalized) or Z (scalar or per cluster, 0.002-0.03) to
            fix it: Z_OVERSAMPLE x draws are made and reweighted with a Gaussian kernel of
            0.1 dex in log10 Z around the given value (importance resampling of p(x | y)
            towards p(x | y, Z)); too few effective draws are flagged.
        av_max: None (A_V over the trained prior 0-3 mag) or the largest plausible own A_V
            [mag] of the clusters (scalar or per cluster, > 0), e.g. 0.6 for the nearly
            dust-free Magellanic Clouds: the flat A_V prior is truncated there (draws above it
            are rejected from Z_OVERSAMPLE x draws). It breaks the age-extinction degeneracy
            when the user knows the dust; too few admissible draws are flagged.
        model_error: [mag] the simulator's own error per band, added in quadrature to every
            photometric error (scalar, 0-0.3). 0 (the default) treats the catalogue as
            simulated clusters; for real clusters :data:`MODEL_ERROR_REAL` (0.07 mag) is the
            spread of our population colours around an independent model's (see its note).
        draws: posterior draws per cluster; seed: random seed.

    Returns:
        astropy Table, one row per cluster: ``name``, ``band_set``, ``n_bands``,
        ``distance_modulus``, for P in log_mass, log_age, A_V, Z and log_mass_living the
        columns P_median, P_q16, P_q84, P_q025, P_q975, ``chi2_min`` (library fit statistic
        per band) and ``flag``
        ("" when fine, else the reasons; rows that cannot be inferred have NaN summaries).
        ``table.meta["draws"]`` is the xarray DataArray of draws (cluster, draw, param).
    """
    import xarray as xr
    from astropy.table import Table

    from astro.pretrain import BAND_SETS

    if not (isinstance(draws, (int, np.integer)) and draws >= 1):
        raise ValueError(f"draws must be a positive integer, got {draws!r}")
    known = BAND_SETS["ubvri"] + BAND_SETS["hst"]
    phot = read_photometry(photometry, known, bands)
    model = load_pretrained(band_set_for(phot.bands))
    n, k = phot.n, len(model.bands)
    dm = distance_moduli(n, distance_modulus, distance)
    ebv = per_cluster(ebv_foreground, n, "ebv_foreground")
    z_fixed = _check_metallicity(metallicity, n)
    av_limit = _check_av_max(av_max, n)
    if not (np.ndim(model_error) == 0 and 0.0 <= float(model_error) <= 0.3):
        raise ValueError(f"model_error must be a scalar error per band in [0, 0.3] mag, got {model_error!r}")

    column = [model.bands.index(b) for b in phot.bands]
    mag = np.zeros((n, k))
    sigma = np.zeros((n, k))
    has = np.zeros((n, k), bool)
    coefficients = foreground_coefficients(tuple(phot.bands))
    mag[:, column] = phot.mag - dm[:, None] - R_V * ebv[:, None] * coefficients[None, :]
    sigma[:, column] = np.minimum(np.hypot(phot.err, float(model_error)), SIGMA_RANGE[1])
    has[:, column] = phot.usable

    notes = [list(v) for v in phot.notes]
    for i in np.flatnonzero(~np.isfinite(dm)):
        notes[i].append("distance modulus is NaN or distance not positive")
    for i in np.flatnonzero(~(ebv >= 0)):
        notes[i].append("ebv_foreground is NaN or negative")
    for i in np.flatnonzero(~has.any(axis=1)):
        notes[i].append("no usable band")
    valid = np.isfinite(dm) & (ebv >= 0) & has.any(axis=1)
    has &= valid[:, None]
    mag = np.where(has, mag, 0.0)
    sigma = np.where(has, sigma, 0.0)

    samples = np.full((n, draws, 4), np.nan)
    chi2 = np.full(n, np.nan)
    if valid.any():
        rng = np.random.default_rng(seed)
        y = condition_vector(mag[valid], sigma[valid], has[valid])
        if z_fixed is None and av_limit is None:
            samples[valid] = model.estimator.sample(y, draws, seed=seed)
        else:
            wide = model.estimator.sample(y, draws * Z_OVERSAMPLE, seed=seed)
            samples[valid], ess = _restrict(wide, None if z_fixed is None else z_fixed[valid],
                                            None if av_limit is None else av_limit[valid], draws, rng)
            given = " and ".join(g for g, v in (("fixed metallicity", z_fixed), ("av_max", av_limit)) if v is not None)
            for i, e in zip(np.flatnonzero(valid), ess):
                if e < MIN_EFFECTIVE_DRAWS:
                    notes[i].append(f"{given} improbable for these magnitudes ({e:.0f} effective draws)")
        chi2[valid] = library_chi2(mag[valid], sigma[valid], has[valid], model.library_mag)
        for i in np.flatnonzero(chi2 > model.chi2_threshold):
            notes[i].append(f"not explained by the model: chi2/band {chi2[i]:.1f} > {model.chi2_threshold:.1f} "
                            "(worse than 99.9 % of simulated clusters)")

    samples = _with_living_mass(samples)
    table = Table()
    table["name"] = phot.names
    table["band_set"] = [model.band_set] * n
    table["n_bands"] = has.sum(axis=1)
    table["distance_modulus"] = dm
    for name, values in _summaries(samples).items():
        table[name] = values
    table["chi2_min"] = chi2
    table["flag"] = np.array(["; ".join(v) for v in notes], dtype=object).astype(str) if n else np.array([], str)
    table.meta["bands"] = list(phot.bands)
    table.meta["draws"] = xr.DataArray(samples, dims=("cluster", "draw", "param"),
                                       coords={"cluster": phot.names, "param": list(PARAMS + DERIVED)},
                                       attrs={"units": "log10 Msun, log10 yr, mag, mass fraction, log10 Msun"})
    return table


def _check_metallicity(metallicity, n: int):
    if metallicity is None:
        return None
    z = per_cluster(metallicity, n, "metallicity")
    if not np.all((z >= 0.002) & (z <= 0.03)):
        raise ValueError(f"metallicity must be Z (mass fraction) in [0.002, 0.03], scalar or per cluster; got {metallicity!r}")
    return z


def _check_av_max(av_max, n: int):
    if av_max is None:
        return None
    limit = per_cluster(av_max, n, "av_max")
    if not np.all(limit > 0):
        raise ValueError(f"av_max must be a positive A_V limit [mag], scalar or per cluster; got {av_max!r}")
    return limit
