"""Observation model shared by training and inference: errors, noise, missing bands and limits.

The conditioning vector of the pretrained estimators has the layout of
:class:`astro.ClusterSimulator` for bands b_1..b_K (4K columns):
``mag_<b>`` (absolute magnitude; the limiting magnitude of a non-detection; 0.0 where
missing), ``sigma_<b>`` (1-sigma error [mag]; for a non-detection the noise at the limit,
2.5 / ln 10 / k for a limit at k sigma; 0.0 where missing), ``has_<b>`` (1.0 detected) and
``lim_<b>`` (1.0 not detected: ``mag_<b>`` is an upper limit on the brightness). A band
with both flags 0 is missing. Training draws the errors log-uniformly in ``SIGMA_RANGE``
per cluster and band and masks bands at random, so one network serves catalogues of any
depth and any subset of bands. A share ``LIMIT_PROBABILITY`` of the observed bands instead
come from a survey with a detection limit, as real catalogues do:

    limit m_lim ~ U(LIMIT_MAG_RANGE) [absolute mag], independent of the cluster;
    depth k ~ U(LIMIT_SIGMAS_RANGE): the flux noise is F_lim / k;
    measured flux F = F_true + (F_lim / k) N(0, 1);
    F < F_lim: not detected (``lim_<b>`` = 1, ``mag_<b>`` = m_lim, ``sigma_<b>`` = 2.5 / ln 10 / k);
    else detected with mag = m_lim - 2.5 log10(F / F_lim) and sigma = 2.5 / ln 10 / (k F / F_lim)
    (errors below SIGMA_RANGE[0] raised to it, with the noise that makes up the difference).

The cluster parameters are never rejected, so the training prior is unchanged; whether a
band is detected is part of p(y | x), as in a real survey. Estimators trained before the
limits existed have the 3K columns without ``lim_<b>`` (``limits=False``).
"""

from __future__ import annotations

import numpy as np

from inn_engine.simulator import as_generator

__all__ = [
    "SIGMA_RANGE",
    "ALL_BANDS_PROBABILITY",
    "MISSING_PROBABILITY",
    "LIMIT_PROBABILITY",
    "LIMIT_MAG_RANGE",
    "LIMIT_SIGMAS_RANGE",
    "MAG_PER_RELATIVE_FLUX",
    "condition_vector",
    "observe",
    "obs_names",
    "has_limit_columns",
    "observation_settings",
]

SIGMA_RANGE = (0.01, 0.5)  # mag: errors below are raised to 0.01, above -> band unusable
ALL_BANDS_PROBABILITY = 0.4  # share of training rows with every band observed
MISSING_PROBABILITY = 0.3  # otherwise each band is missing with this probability (>= 1 kept)
LIMIT_PROBABILITY = 0.25  # share of observed bands that come from a survey with a detection limit
# absolute limiting magnitudes trained (5-95 % of the library's clusters: -13.7..2.0 in U,
# -14.5..-0.9 in I) and the limits' depth in sigma (3 and 5 sigma are the usual ones)
LIMIT_MAG_RANGE = (-14.0, 4.0)
LIMIT_SIGMAS_RANGE = (2.5, 10.0)
MAG_PER_RELATIVE_FLUX = 2.5 / np.log(10.0)  # d(mag) per relative flux error dF / F


def observation_settings() -> dict:
    """The settings of this observation model, as estimators and grids record them."""
    return {
        "sigma_range": list(SIGMA_RANGE),
        "all_bands_probability": ALL_BANDS_PROBABILITY,
        "missing_probability": MISSING_PROBABILITY,
        "limit_probability": LIMIT_PROBABILITY,
        "limit_mag_range": list(LIMIT_MAG_RANGE),
        "limit_sigmas_range": list(LIMIT_SIGMAS_RANGE),
    }


def obs_names(bands, limits: bool = True) -> list[str]:
    """Names of the 4K conditioning columns for ``bands`` (3K, no ``lim_<b>``, without ``limits``)."""
    names = [f"mag_{b}" for b in bands] + [f"sigma_{b}" for b in bands] + [f"has_{b}" for b in bands]
    return names + [f"lim_{b}" for b in bands] if limits else names


def has_limit_columns(names, bands) -> bool:
    """Whether conditioning columns ``names`` are :func:`obs_names` (bands) with limits (True),
    without (False); ValueError for any other columns."""
    for limits in (True, False):
        if list(names) == obs_names(bands, limits):
            return limits
    raise ValueError(f"conditioning columns must be {obs_names(bands)} (or without the lim_ columns), got {names}")


def condition_vector(mag, sigma, has, lim=None) -> np.ndarray:
    """(n, 4K) conditioning rows from absolute magnitudes, errors and bool masks of detections
    ``has`` and of limits ``lim``, each (n, K); (n, 3K) without limit columns if ``lim`` is None."""
    has = np.asarray(has, dtype=bool)
    lim = None if lim is None else np.asarray(lim, dtype=bool) & ~has
    seen = has if lim is None else has | lim
    mag = np.where(seen, mag, 0.0)
    sigma = np.where(seen, sigma, 0.0)
    columns = [mag, sigma, has.astype(float)] + ([] if lim is None else [lim.astype(float)])
    return np.concatenate(columns, axis=1)


def _random_mask(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """(n, k) bool: all bands for ALL_BANDS_PROBABILITY of rows, else each band kept with
    probability 1 - MISSING_PROBABILITY; a row never loses every band."""
    has = rng.random((n, k)) >= MISSING_PROBABILITY
    has[rng.random(n) < ALL_BANDS_PROBABILITY] = True
    empty = ~has.any(axis=1)
    has[np.flatnonzero(empty), rng.integers(0, k, int(empty.sum()))] = True
    return has


def _limit_surveys(true_mag, observed, rng):
    """Detections and limits of the bands observed by a survey with a limit (module doc).

    Returns (survey, detected, mag, sigma), each (n, K): survey marks those bands (a share
    LIMIT_PROBABILITY of ``observed``), detected which of them were detected; mag and sigma
    are the measured magnitude and error of a detection, the limit and its noise otherwise.
    """
    shape = true_mag.shape
    survey = observed & (rng.random(shape) < LIMIT_PROBABILITY)
    limit = rng.uniform(*LIMIT_MAG_RANGE, size=shape)
    depth = rng.uniform(*LIMIT_SIGMAS_RANGE, size=shape)
    with np.errstate(over="ignore"):
        flux = 10.0 ** (-0.4 * (true_mag - limit)) + rng.standard_normal(shape) / depth  # in units of F_lim
    detected = survey & (flux >= 1.0)
    ratio = np.where(detected, flux, 1.0)
    flux_sigma = MAG_PER_RELATIVE_FLUX / (depth * ratio)  # [mag]
    # errors below SIGMA_RANGE[0] are reported as it (as catalogues are read): add the rest
    floor = np.sqrt(np.maximum(SIGMA_RANGE[0] ** 2 - flux_sigma**2, 0.0)) * rng.standard_normal(shape)
    mag = limit - 2.5 * np.log10(ratio) + np.where(detected, floor, 0.0)
    return survey, detected, mag, np.maximum(flux_sigma, SIGMA_RANGE[0])


def observe(true_mag, rng=None, limits: bool = True) -> np.ndarray:
    """Noisy, masked conditioning rows (n, 4K) for noise-free absolute magnitudes (n, K).

    sigma ~ log-uniform(SIGMA_RANGE) per row and band; mag = true + sigma * N(0, 1); with
    ``limits`` (False: the 3K columns without) a share of the bands from surveys with a
    detection limit (module doc). Non-finite true magnitudes (empty clusters) are always masked.
    """
    rng = as_generator(rng)
    true_mag = np.asarray(true_mag, dtype=float)
    n, k = true_mag.shape
    lo, hi = SIGMA_RANGE
    sigma = np.exp(rng.uniform(np.log(lo), np.log(hi), size=(n, k)))
    noisy = true_mag + sigma * rng.standard_normal((n, k))
    has = _random_mask(n, k, rng) & np.isfinite(true_mag)
    if not limits:
        return condition_vector(noisy, sigma, has)
    survey, detected, survey_mag, survey_sigma = _limit_surveys(true_mag, has, rng)
    noisy = np.where(survey, survey_mag, noisy)
    sigma = np.where(survey, survey_sigma, sigma)
    return condition_vector(noisy, sigma, has & ~survey | detected, survey & ~detected)
