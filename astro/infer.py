"""``astro.infer``: posteriors of cluster mass, age, extinction and metallicity for a catalogue.

One of the shipped estimators (``astro/pretrained/ubvri`` for Johnson-Cousins U B V R I,
``astro/pretrained/hst`` for F275W F336W F438W F555W F814W) is picked from the catalogue's
band columns. Magnitudes become absolute with the distance modulus and the foreground
extinction, and enter the cINN with their errors, a mask of detected bands and, for
estimators trained with them (:mod:`astro.observe`), the bands' limiting magnitudes where
not detected.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import astropy.units as u
import numpy as np

from astro.catalog import distance_moduli, per_cluster, read_photometry
from astro.hierarchy import MIN_CATALOGUE, fit_population
from astro.living_mass import living_mass_fraction
from astro.model_check import library_chi2
from astro.nondetections import nondetection_log_weights
from astro.observe import (
    LIMIT_MAG_RANGE,
    LIMIT_SIGMAS_RANGE,
    MAG_PER_RELATIVE_FLUX,
    SIGMA_RANGE,
    condition_vector,
    has_limit_columns,
)
from astro.simulator import PARAMS
from inn_engine.checks import check_integer, check_real, check_seed, check_work, torch_seed
from inn_engine.population import MIN_EFFECTIVE_DRAWS as POPULATION_MIN_DRAWS
from inn_engine.population import resample
from inn_engine.posterior import summarize

__all__ = [
    "infer",
    "load_estimator",
    "AstroEstimator",
    "PARAMS",
    "DERIVED",
    "UNITS",
    "MODEL_ERROR_REAL",
    "band_set_for",
    "foreground_coefficients",
]

#: derived per draw: log10 of the present-day mass in living stars (astro.living_mass)
DERIVED = ("log_mass_living",)
#: the training prior of the shipped estimators (recorded as metadata["astro"]["prior"] by astro.train)
DEFAULT_PRIOR = {"log_mass": [2.0, 7.0], "log_age": [6.0, 10.1], "A_V": [0.0, 3.0], "Z": [0.002, 0.03]}
#: astropy units of the parameters' summary columns
UNITS = {
    "log_mass": u.dex(u.Msun),
    "log_age": u.dex(u.yr),
    "A_V": u.mag,
    "Z": u.dimensionless_unscaled,
    "log_mass_living": u.dex(u.Msun),
}
R_V = 3.1
Z_KERNEL_DEX = 0.1  # width of the log10 Z kernel that fixes the metallicity
Z_OVERSAMPLE = 8  # draws made per kept draw when Z is fixed or A_V limited
MIN_EFFECTIVE_DRAWS = 50
#: a non-detection farther than this [sigma] from every draw given the other bands is flagged
MAX_TENSION = 5.0
#: a cluster with fewer effective draws under the fitted population is redrawn with up to
#: this many times the draws (then flagged if still short)
REDRAW_FACTOR = 16
REDRAW_BLOCK_DRAWS = 2_000_000  # draws redrawn at once (x Z_OVERSAMPLE with metallicity / av_max)
#: [mag] model error per band recommended for real clusters: the rms difference of our
#: smooth-population U-B and B-V colours from BPASS v2.2.1's over log age 6.5-10 and
#: Z = 0.002, 0.008 (0.096 and 0.107 mag; ``benchmarks/astro_sim.py``), divided by sqrt 2
#: since a colour carries the error of two bands. Chosen from that model comparison, not
#: from the real clusters it is then tested on (``benchmarks/astro_validation.py``).
MODEL_ERROR_REAL = 0.07


@dataclass(frozen=True)
class AstroEstimator:
    """An astro estimator with its reference library (x (N, 4), M (N, K)) and flag threshold."""

    name: str
    bands: tuple
    estimator: object
    library_x: np.ndarray
    library_mag: np.ndarray
    chi2_threshold: float
    bounds: np.ndarray  # (4, 2) training prior support of PARAMS (Z as a mass fraction)
    limits: bool  # whether the network conditions on limiting magnitudes (lim_<band> columns)
    effective_prior: object = None  # its inn_engine EffectivePrior (astro.effective_prior), or None


@lru_cache(maxsize=8)
def _load_directory(path: str) -> AstroEstimator:
    from astro.domain import DOMAIN
    from astro.effective_prior import read_effective_prior
    from astro.model_check import LIBRARY_FILE, read_library
    from inn_engine.artifact import ArtifactError
    from inn_engine.estimator import Estimator

    estimator = Estimator.load(path)
    try:
        DOMAIN.check_record(estimator.metadata)
    except ValueError as err:
        raise ArtifactError(f"{path}: {err}") from err
    record = estimator.metadata["astro"]
    bands = tuple(record["bands"])
    try:
        if estimator.param_names != list(PARAMS):
            raise ValueError(f"an astro estimator infers {list(PARAMS)}, this one {estimator.param_names}")
        limits = has_limit_columns(estimator.obs_names, bands)
    except ValueError as err:
        raise ArtifactError(f"{path}: {err}") from err
    library = Path(path) / LIBRARY_FILE
    if not library.is_file():
        raise ArtifactError(f"{path}: missing {LIBRARY_FILE}, the reference library of the model check")
    library_x, library_mag = read_library(library)
    prior = record.get("prior", DEFAULT_PRIOR)
    return AstroEstimator(
        record.get("band_set") or Path(path).name,
        bands,
        estimator,
        library_x,
        library_mag,
        float(record["chi2_threshold"]),
        np.array([prior[p] for p in PARAMS], dtype=float),
        limits,
        read_effective_prior(path),
    )


def load_estimator(estimator=None, bands=None) -> AstroEstimator:
    """The astro estimator ``infer`` uses (cached per process).

    ``estimator``: None (the shipped band set holding every band of ``bands``), a shipped band
    set's name ("ubvri", "hst"), or the directory of an estimator made by :func:`astro.train`
    or by ``innfer train`` on a grid of ``innfer simulate astro``.
    """
    from astro.training import BAND_SETS, PRETRAINED_DIR

    if estimator is None:
        return _load_directory(str(PRETRAINED_DIR / band_set_for(bands)))
    if isinstance(estimator, str) and estimator in BAND_SETS:
        return _load_directory(str(PRETRAINED_DIR / estimator))
    if not isinstance(estimator, (str, os.PathLike)):
        raise ValueError(
            f"estimator must be None, a shipped band set ({sorted(BAND_SETS)}) or an estimator "
            f"directory, got {type(estimator).__name__}"
        )
    return _load_directory(str(Path(estimator).resolve()))


def band_set_for(bands) -> str:
    """The shipped band set ("ubvri" or "hst") holding every band of ``bands``."""
    from astro.training import BAND_SETS

    for name, members in BAND_SETS.items():
        if set(bands) <= set(members):
            return name
    raise ValueError(
        f"the catalogue's bands {list(bands)} mix band sets: use bands from one of "
        f"{ {k: list(v) for k, v in BAND_SETS.items()} } (select them with bands=[...]), or pass "
        f"estimator= an estimator trained for your bands (astro.train)"
    )


@lru_cache(maxsize=None)
def foreground_coefficients(bands: tuple) -> np.ndarray:
    """A_b / A_V (K,) of foreground dust for ``bands``: the magnitude change of a 10 Myr,
    Z = 0.008, 10^5 Msun smooth-IMF population under A_V = 1 (G23, R_V = 3.1)."""
    from astro.population import photometry

    dimmed = photometry(5.0, 7.0, 1.0, 0.008, bands, stochastic=False)
    clear = photometry(5.0, 7.0, 0.0, 0.008, bands, stochastic=False)
    return (dimmed - clear)[0]


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
    out, ess = _importance_resample(draws, logw, keep, rng)
    if z_fixed is not None:
        out[:, :, 3] = z_fixed[:, None]
    return out, ess


def _importance_resample(draws: np.ndarray, logw: np.ndarray, keep: int, rng: np.random.Generator):
    """``keep`` draws per row of ``draws`` (n, M, d) resampled by log weights (n, M), and the
    effective sample sizes (n,); rows whose weights are all 0 come back NaN with 0."""
    top = logw.max(axis=1, keepdims=True)
    w = np.exp(logw - np.where(np.isfinite(top), top, 0.0))
    total = w.sum(axis=1, keepdims=True)
    w /= np.where(total > 0, total, 1.0)
    ess = np.where(total[:, 0] > 0, 1.0 / np.maximum((w**2).sum(axis=1), 1e-300), 0.0)
    out = resample(draws, w, keep, seed=rng)
    out[ess == 0] = np.nan
    return out, ess


def infer(
    photometry,
    *,
    bands=None,
    estimator=None,
    distance_modulus=None,
    distance=None,
    ebv_foreground=0.0,
    metallicity=None,
    av_max=None,
    model_error=MODEL_ERROR_REAL,
    population="auto",
    n=1000,
    draws=None,
    seed=0,
):
    """Posterior summaries of (log_mass, log_age, A_V, Z) for every cluster of a catalogue.

    ``log_mass`` is the initial stellar mass (0.08-120 Msun formed); ``log_mass_living``,
    derived per draw, the mass still in living stars today (what star counts measure).

    Args:
        photometry: astropy Table, pandas DataFrame or dict of columns (one row per cluster;
            a dict of scalars is one cluster): apparent Vega magnitudes in columns named by
            band (the shipped estimators: "U", "B", "V", "R", "I" or "F275W", "F336W", "F438W",
            "F555W", "F814W"; another estimator: its bands) and 1-sigma errors [mag] in
            "<band>_err". Columns with astropy units may hold AB magnitudes (u.ABmag) or
            flux densities f_nu (u.Jy, u.mJy, erg/s/cm^2/Hz) with errors in the same kind
            of unit. Upper limits: a "<band>_lim" column of limiting Vega magnitudes where
            the magnitude is NaN, at "<band>_lim_sigmas" sigma (a column; 3 without it).
            For estimators trained with limits (``lim_`` columns, :mod:`astro.observe`), those
            within the trained range (absolute limit -14 to 4 mag, 2.5-10 sigma with the
            model error) enter the network. Other limits, fluxes of S/N below ~2.2 (zero or
            negative included), and every limit for estimators without ``lim_`` columns enter
            through their flux likelihood (:mod:`astro.nondetections`: one simulated cluster
            per draw, draws reweighted). Both are noted in ``flag``. NaN / masked = not
            observed. Entries with sentinel magnitudes (|m| >= 90), missing / negative errors
            or errors > 0.5 mag are dropped and noted in ``flag``; errors below 0.01 mag are
            raised to 0.01.
        bands: None, a list of bands to use, or {column name: band} for other column names.
        estimator: None (the shipped estimator of the catalogue's bands), a shipped band set
            ("ubvri", "hst"), or the directory of any astro estimator: one made by
            :func:`astro.train` or by ``innfer train`` on a grid of ``innfer simulate astro``
            (see :func:`load_estimator`).
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
        model_error: [mag] the population model's own error per band, added in quadrature to
            every photometric error (scalar, 0-0.3). The default, :data:`MODEL_ERROR_REAL`
            (0.07 mag), is the spread of our population colours around an independent model's
            (see its note): right for real clusters. Give 0 for clusters simulated with
            :func:`astro.photometry` (the model then has no error of its own).
        population: "auto" (the default): for a catalogue of at least
            :data:`astro.hierarchy.MIN_CATALOGUE` inferable clusters, fit the catalogue's own
            population of A_V and log age (:func:`astro.hierarchy.fit_population`, its
            uncertainty included) and give every cluster its posterior under it: this breaks
            the age-extinction degeneracy that a flat prior leaves; True: fit it for any
            catalogue size; None: the flat training prior. A scalar ``av_max`` bounds it.
            The draws are divided by the estimator's effective prior where its directory
            keeps one (:mod:`astro.effective_prior`; the shipped ones do), else by the
            training prior; with ``metallicity`` given, by the effective prior at each
            cluster's Z (the same kernel), because the estimator's own waves depend on Z.
        n: posterior draws per cluster behind the summaries (>= 16); ``draws``: also return
            this many draws per cluster in ``table.meta["draws"]`` (summaries then use
            max(n, draws)); seed: random seed (same seed, same result).

    Returns:
        astropy Table, one row per cluster: ``name``, ``band_set``, ``n_bands``,
        ``distance_modulus``, for P in log_mass, log_age, A_V, Z and log_mass_living the
        columns P_median, P_mean, P_std, P_q025, P_q16, P_q84, P_q975 (astropy units:
        dex(Msun), dex(yr), mag), ``chi2_min`` (library fit statistic per band), ``valid``
        (False: the row could not be inferred, its summaries are NaN), ``reason`` (why not)
        and ``flag`` (every note on the row, warnings included; "" when fine); with a fitted
        population also ``effective_draws`` (the draws' effective number under it).
        ``table.meta["draws"]`` (with ``draws``) is the xarray DataArray of draws (cluster,
        draw, param); ``table.meta["estimator"]`` names the estimator used;
        ``table.meta["population"]`` is the fitted population (``to_dict()``, None when off;
        the :class:`~inn_engine.population.Population` itself, for :func:`astro.hierarchy.plot_population`,
        is ``table.meta["population_model"]``); ``table.meta["seconds"]`` the wall time of
        the call and of its population step (fit, reweighting, redraws) [s].
    """
    import xarray as xr
    from astropy.table import Table

    from astro.training import BAND_SETS

    started = time.perf_counter()
    n = check_integer("n", n, 16)
    n_returned = None if draws is None else check_integer("draws", draws, 1)
    n_total = max(n, n_returned or 0)
    seed = torch_seed(check_seed("seed", seed))
    model_error = check_real("model_error", model_error, 0.0, 0.3)
    if not (population is None or population is True or isinstance(population, str) and population == "auto"):
        raise ValueError(f"population must be 'auto', True or None, got {population!r}")
    if estimator is None:
        phot = read_photometry(photometry, BAND_SETS["ubvri"] + BAND_SETS["hst"], bands)
        model = load_estimator(None, phot.bands)
    else:
        model = load_estimator(estimator)
        phot = read_photometry(photometry, model.bands, bands)
    rows, k = phot.n, len(model.bands)
    oversample = 1 if metallicity is None and av_max is None else Z_OVERSAMPLE
    check_work(
        f"{rows} clusters x {n_total * oversample} draws x {len(PARAMS) + len(DERIVED)} parameters x 8 bytes",
        8.0 * rows * n_total * oversample * (len(PARAMS) + len(DERIVED)),
    )
    dm = distance_moduli(rows, distance_modulus, distance)
    ebv = per_cluster(ebv_foreground, rows, "ebv_foreground")
    z_fixed = _check_metallicity(metallicity, rows)
    av_limit = _check_av_max(av_max, rows)

    column = [model.bands.index(b) for b in phot.bands]
    mag = np.zeros((rows, k))
    sigma = np.zeros((rows, k))
    has = np.zeros((rows, k), bool)
    lim = np.zeros((rows, k), bool)
    coefficients = foreground_coefficients(tuple(phot.bands))
    foreground = R_V * ebv[:, None] * coefficients[None, :]
    with np.errstate(over="ignore", invalid="ignore"):  # absurd distances / extinctions: flagged below
        mag[:, column] = phot.mag - dm[:, None] - foreground
        limit_mag = phot.limit_mag - dm[:, None] - foreground
    sigma[:, column] = np.minimum(np.hypot(phot.err, model_error), SIGMA_RANGE[1])
    has[:, column] = phot.usable
    limit_flux = phot.limit_flux
    if model.limits:
        trained, limit_sigma = _trained_limits(phot, limit_mag, model_error)
        mag[:, column] = np.where(trained, limit_mag, mag[:, column])
        sigma[:, column] = np.where(trained, limit_sigma, sigma[:, column])
        lim[:, column] = trained
        limit_flux = np.where(trained, np.nan, limit_flux)  # in the network, not reweighted

    notes = [list(v) for v in phot.notes]
    reasons = [[] for _ in range(rows)]
    for i in np.flatnonzero(~np.isfinite(dm)):
        reasons[i].append("distance modulus is NaN or distance not positive")
    for i in np.flatnonzero(~(ebv >= 0)):
        reasons[i].append("ebv_foreground is NaN or negative")
    for i in np.flatnonzero(~(has | lim).any(axis=1)):
        reasons[i].append("no usable band")
    valid = np.isfinite(dm) & (ebv >= 0) & (has | lim).any(axis=1)
    network_limits = lim if model.limits else None
    with np.errstate(invalid="ignore"):
        far = valid & model.estimator.refused_rows(condition_vector(mag, sigma, has, network_limits))
    for i in np.flatnonzero(far):
        reasons[i].append(
            "magnitudes far outside the estimator's training range (distance_modulus or ebv_foreground wrong?)"
        )
    valid &= ~far
    has &= valid[:, None]
    lim &= valid[:, None]

    samples = np.full((rows, n_total, 4), np.nan)
    chi2 = np.full(rows, np.nan)
    conditions = condition_vector(mag, sigma, has, network_limits)
    nondetections = _NonDetections(
        limit_flux, phot.limit_sigma, phot.limit_censored, phot.bands, dm, foreground, model_error
    )
    rng = np.random.default_rng(seed)
    if valid.any():
        index = np.flatnonzero(valid)
        drawn = _draw(model, conditions, index, n_total, seed, rng, z_fixed, av_limit, nondetections)
        samples[valid], restricted_ess = drawn.draws, drawn.restricted_ess
        if restricted_ess is not None:
            given = " and ".join(g for g, v in (("fixed metallicity", z_fixed), ("av_max", av_limit)) if v is not None)
            for i, e in zip(index, restricted_ess):
                if e == 0:
                    reasons[i].append(f"{given} admits no posterior draw for these magnitudes")
                elif e < MIN_EFFECTIVE_DRAWS:
                    notes[i].append(f"{given} improbable for these magnitudes ({e:.0f} effective draws)")
        for i, e in zip(index, drawn.limited_ess):
            if e == 0:
                reasons[i].append("the non-detections admit no posterior draw")
            elif e < MIN_EFFECTIVE_DRAWS:
                notes[i].append(f"the non-detections leave {e:.0f} effective draws (raise n)")
        for i, j in np.argwhere(drawn.tension > MAX_TENSION):
            notes[index[i]].append(
                f"{phot.bands[j]}: non-detection not explained by any posterior draw "
                f"({drawn.tension[i, j]:.0f} sigma from the nearest; wrong units or limit?)"
            )
        chi2[valid] = library_chi2(mag[valid], sigma[valid], has[valid], model.library_mag, lim[valid])
        for i in np.flatnonzero(chi2 > model.chi2_threshold):
            notes[i].append(
                f"not explained by the model: chi2/band {chi2[i]:.1f} > {model.chi2_threshold:.1f} "
                "(worse than 99.9 % of simulated clusters)"
            )
    for i in np.flatnonzero(
        valid & ~np.isfinite(samples).all(axis=(1, 2)) & ~np.array([bool(r) for r in reasons], dtype=bool)
    ):
        reasons[i].append("the posterior draws are not finite")
    valid &= np.isfinite(samples).all(axis=(1, 2))
    fitted, ess, population_seconds = None, None, 0.0
    if population is True and valid.any() or population == "auto" and valid.sum() >= MIN_CATALOGUE:
        population_started = time.perf_counter()
        fitted, ess = _under_population(samples, valid, model, av_limit, z_fixed, seed)

        def redraw(index, m):
            return _draw(model, conditions, index, m, seed + 1, rng, z_fixed, av_limit, nondetections).draws

        _redraw_improbable(samples, ess, valid, fitted, redraw, z_fixed, seed)
        for i in np.flatnonzero(valid & (ess > 0) & (ess < POPULATION_MIN_DRAWS)):
            notes[i].append(f"improbable under the catalogue's population ({ess[i]:.0f} effective draws)")
        for i in np.flatnonzero(valid & (ess == 0)):
            reasons[i].append("no posterior draw lies in the fitted population")
        valid &= ess > 0
        population_seconds = time.perf_counter() - population_started

    samples = _with_living_mass(samples)
    table = Table()
    table["name"] = phot.names
    table["band_set"] = [model.name] * rows
    table["n_bands"] = has.sum(axis=1)
    table["distance_modulus"] = dm
    table["distance_modulus"].unit = u.mag
    for name, values in summarize(samples, PARAMS + DERIVED).items():
        table[name] = values
        table[name].unit = UNITS[name.rsplit("_", 1)[0]]
    table["chi2_min"] = chi2
    if ess is not None:
        table["effective_draws"] = ess
    table["valid"] = valid
    table["reason"] = _joined(reasons)
    table["flag"] = _joined([r + v for r, v in zip(reasons, notes)])
    table.meta["bands"] = list(phot.bands)
    table.meta["estimator"] = model.name
    table.meta["population"] = None if fitted is None else fitted.to_dict()
    table.meta["population_model"] = fitted
    table.meta["seconds"] = {"total": time.perf_counter() - started, "population": population_seconds}
    if n_returned is not None:
        table.meta["draws"] = xr.DataArray(
            samples[:, :n_returned],
            dims=("cluster", "draw", "param"),
            coords={"cluster": phot.names, "param": list(PARAMS + DERIVED)},
            attrs={"units": {p: str(UNITS[p]) for p in PARAMS + DERIVED}},
        )
    return table


def _under_population(samples, valid, model: AstroEstimator, av_limit, z_fixed, seed: int):
    """Fit the catalogue's population to the valid rows of ``samples`` (n, m, 4) drawn by
    ``model`` (divided by its effective prior where it has one: with metallicities
    ``z_fixed`` (n,) given, by its effective prior at each cluster's Z under the Z_KERNEL_DEX
    kernel the draws were restricted with) and replace them, in place, by their draws under
    it; returns (Population, effective draws (n,), 0 for rows not reweighted)."""
    scalar_limit = None
    if av_limit is not None and np.all(av_limit == av_limit[0]):
        scalar_limit = float(av_limit[0])
    given = _given_metallicity(model, z_fixed, valid)
    fitted = fit_population(
        samples[valid],
        model.bounds,
        av_max=scalar_limit,
        seed=seed,
        effective_prior=model.effective_prior,
        given=None if given is None else {"Z": (given["Z"], Z_KERNEL_DEX)},
    )
    ess = np.zeros(len(samples))
    samples[valid], ess[valid] = fitted.reweight(samples[valid], seed=seed, given=given)
    return fitted, ess


def _given_metallicity(model: AstroEstimator, z_fixed, rows) -> dict | None:
    """{"Z": the given metallicities of ``rows``} where they are given and the population
    divides by the estimator's effective prior (which depends on Z), else None."""
    if z_fixed is None or model.effective_prior is None:
        return None
    return {"Z": np.asarray(z_fixed, float)[rows]}


def _redraw_improbable(samples, ess, valid, fitted, redraw, z_fixed, seed: int) -> None:
    """Rows whose draws leave fewer than POPULATION_MIN_DRAWS effective draws under the fitted
    population get up to REDRAW_FACTOR x as many fresh draws of p(x | y) (``redraw(index, m)``
    -> (len(index), m, 4)), reweighted under it (at the rows' metallicities ``z_fixed`` where
    the population was fitted so); a row keeps the better of its two sets. In place on
    ``samples`` (n, keep, 4) and ``ess`` (n,)."""
    low = np.flatnonzero(valid & (ess < POPULATION_MIN_DRAWS))
    if not len(low):
        return
    keep = samples.shape[1]
    # enough draws for the target at the first pass's rate; rows with none at all get the most
    factor = np.where(ess[low] > 0, np.ceil(POPULATION_MIN_DRAWS / np.maximum(ess[low], 1e-9)), REDRAW_FACTOR)
    m = keep * int(np.clip(factor.max(), 2, REDRAW_FACTOR))
    for start in range(0, len(low), max(1, REDRAW_BLOCK_DRAWS // m)):  # bounded memory
        rows = low[start : start + max(1, REDRAW_BLOCK_DRAWS // m)]
        given = None if not fitted.given_widths else {"Z": np.asarray(z_fixed, float)[rows]}
        fresh, fresh_ess = fitted.reweight(redraw(rows, m), keep=keep, seed=seed + 1 + start, given=given)
        better = fresh_ess > ess[rows]
        samples[rows[better]], ess[rows[better]] = fresh[better], fresh_ess[better]


def _trained_limits(phot, limit_mag: np.ndarray, model_error: float) -> tuple[np.ndarray, np.ndarray]:
    """Which limits of ``phot`` lie in the range the estimators were trained on, and their
    noise in the network's terms, each (n, K of ``phot``): limit_mag [absolute mag] within
    LIMIT_MAG_RANGE, noise 2.5 / ln 10 / k with the model error added in quadrature (at the
    threshold it is a relative flux error) within the 2.5 / ln 10 / LIMIT_SIGMAS_RANGE trained."""
    with np.errstate(divide="ignore", invalid="ignore"):
        noise = np.hypot(MAG_PER_RELATIVE_FLUX * phot.limit_sigma / phot.limit_flux, model_error)
        trained = (
            phot.limit_censored
            & (limit_mag >= LIMIT_MAG_RANGE[0])
            & (limit_mag <= LIMIT_MAG_RANGE[1])
            & (noise >= MAG_PER_RELATIVE_FLUX / LIMIT_SIGMAS_RANGE[1])
            & (noise <= MAG_PER_RELATIVE_FLUX / LIMIT_SIGMAS_RANGE[0])
        )
    return trained, np.where(trained, noise, 0.0)


@dataclass(frozen=True)
class _NonDetections:
    """Every row's non-detections (NaN where a band has none) and what their likelihood needs."""

    flux: np.ndarray  # (n, k) [Jy]: measured, or the detection threshold where censored
    sigma: np.ndarray  # (n, k) [Jy]
    censored: np.ndarray  # (n, k) bool: a limit, not a measurement
    bands: tuple
    distance_modulus: np.ndarray  # (n,) [mag]
    foreground: np.ndarray  # (n, k) foreground extinction [mag]
    model_error: float

    def weights(self, draws, rows, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(log weights (len(rows), m), tension (len(rows), k) [sigma]) of draws (len(rows), m, 4)
        of the given rows (:func:`astro.nondetections.nondetection_log_weights`)."""
        return nondetection_log_weights(
            draws,
            self.flux[rows],
            self.sigma[rows],
            self.bands,
            self.distance_modulus[rows],
            self.foreground[rows],
            self.model_error,
            seed,
            self.censored[rows],
        )


class _Drawn(NamedTuple):
    """What :func:`_draw` returns for the rows ``index``: draws (len(index), m, 4); effective
    draws of the restriction (len(index),) or None without one; effective draws of the
    non-detections (len(index),), NaN for rows without any; the non-detections' tension
    (len(index), k) [sigma] before reweighting, NaN where a band has none."""

    draws: np.ndarray
    restricted_ess: np.ndarray | None
    limited_ess: np.ndarray
    tension: np.ndarray


def _draw(model, conditions, index, m: int, seed: int, rng, z_fixed, av_limit, nondetections: _NonDetections):
    """``m`` posterior draws of the rows ``index`` of ``conditions`` (network inputs, one row
    per cluster): sampled, restricted to a fixed metallicity / av_max (:func:`_restrict`) and
    reweighted by the rows' non-detections (:class:`_Drawn`)."""
    y = conditions[index]
    restricted_ess = None
    if z_fixed is None and av_limit is None:
        draws = model.estimator.sample(y, m, seed=seed)
    else:
        wide = model.estimator.sample(y, m * Z_OVERSAMPLE, seed=seed)
        draws, restricted_ess = _restrict(
            wide,
            None if z_fixed is None else z_fixed[index],
            None if av_limit is None else av_limit[index],
            m,
            rng,
        )
    limited_ess = np.full(len(index), np.nan)
    tension = np.full(nondetections.flux[index].shape, np.nan)
    limited = np.isfinite(nondetections.flux[index]).any(axis=1)
    if limited.any():
        rows = index[limited]
        logw, tension[limited] = nondetections.weights(draws[limited], rows, seed)
        draws[limited], limited_ess[limited] = _importance_resample(draws[limited], logw, m, rng)
    return _Drawn(draws, restricted_ess, limited_ess, tension)


def _joined(texts: list[list[str]]) -> np.ndarray:
    """One "; "-joined string per row (an empty str array for no rows)."""
    return np.array(["; ".join(t) for t in texts], dtype=object).astype(str) if texts else np.array([], str)


def _check_metallicity(metallicity, n: int):
    if metallicity is None:
        return None
    z = per_cluster(metallicity, n, "metallicity")
    if not np.all((z >= 0.002) & (z <= 0.03)):
        raise ValueError(
            f"metallicity must be Z (mass fraction) in [0.002, 0.03], scalar or per cluster; got {metallicity!r}"
        )
    return z


def _check_av_max(av_max, n: int):
    if av_max is None:
        return None
    limit = per_cluster(av_max, n, "av_max")
    if not np.all(limit > 0):
        raise ValueError(f"av_max must be a positive A_V limit [mag], scalar or per cluster; got {av_max!r}")
    return limit
