"""Observation model shared by training and inference: errors, noise and missing bands.

The conditioning vector of the pretrained estimators has the layout of
:class:`astro.ClusterSimulator` for bands b_1..b_K (3K columns):
``mag_<b>`` (absolute magnitude, 0.0 where missing), ``sigma_<b>`` (1-sigma error [mag],
0.0 where missing) and ``has_<b>`` (1.0 observed / 0.0 missing). Training draws the errors
log-uniformly in ``SIGMA_RANGE`` per cluster and band and masks bands at random, so one
network serves catalogues of any depth and any subset of bands.
"""

from __future__ import annotations

import numpy as np

from inn_engine.simulator import as_generator

__all__ = ["SIGMA_RANGE", "ALL_BANDS_PROBABILITY", "MISSING_PROBABILITY", "condition_vector", "observe", "obs_names"]

SIGMA_RANGE = (0.01, 0.5)  # mag: errors below are raised to 0.01, above -> band unusable
ALL_BANDS_PROBABILITY = 0.4  # share of training rows with every band observed
MISSING_PROBABILITY = 0.3  # otherwise each band is missing with this probability (>= 1 kept)


def obs_names(bands) -> list[str]:
    """Names of the 3K conditioning columns for ``bands``."""
    return [f"mag_{b}" for b in bands] + [f"sigma_{b}" for b in bands] + [f"has_{b}" for b in bands]


def condition_vector(mag, sigma, has) -> np.ndarray:
    """(n, 3K) conditioning rows from absolute magnitudes, errors and a bool mask, each (n, K)."""
    has = np.asarray(has, dtype=bool)
    mag = np.where(has, mag, 0.0)
    sigma = np.where(has, sigma, 0.0)
    return np.concatenate([mag, sigma, has.astype(float)], axis=1)


def _random_mask(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """(n, k) bool: all bands for ALL_BANDS_PROBABILITY of rows, else each band kept with
    probability 1 - MISSING_PROBABILITY; a row never loses every band."""
    has = rng.random((n, k)) >= MISSING_PROBABILITY
    has[rng.random(n) < ALL_BANDS_PROBABILITY] = True
    empty = ~has.any(axis=1)
    has[np.flatnonzero(empty), rng.integers(0, k, int(empty.sum()))] = True
    return has


def observe(true_mag, rng=None) -> np.ndarray:
    """Noisy, masked conditioning rows (n, 3K) for noise-free absolute magnitudes (n, K).

    sigma ~ log-uniform(SIGMA_RANGE) per row and band; mag = true + sigma * N(0, 1).
    Non-finite true magnitudes (empty clusters) are always masked.
    """
    rng = as_generator(rng)
    true_mag = np.asarray(true_mag, dtype=float)
    n, k = true_mag.shape
    lo, hi = SIGMA_RANGE
    sigma = np.exp(rng.uniform(np.log(lo), np.log(hi), size=(n, k)))
    noisy = true_mag + sigma * rng.standard_normal((n, k))
    has = _random_mask(n, k, rng) & np.isfinite(true_mag)
    return condition_vector(np.where(has, noisy, 0.0), sigma, has)
