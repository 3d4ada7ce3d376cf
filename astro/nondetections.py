"""Bands a cluster was not detected in: their flux likelihood, applied to posterior draws.

The estimators condition on magnitudes with errors up to 0.5 mag and, when trained with them
(:mod:`astro.observe`), on upper limits within the trained range. Every other non-detection
(a flux of low S/N, zero or negative; a limiting magnitude beyond that range, or any limit
for an estimator without ``lim_`` inputs; :mod:`astro.catalog`) is left out of the network's
input. It still says that the cluster is faint in that band. For every
posterior draw given the detected bands, one stochastic cluster with the draw's parameters
is simulated (:func:`astro.population.photometry`, the model the estimators were trained
on, so the weights average over stochastic sampling as the posterior must), and the draw is
weighted in each such band by the likelihood of what was reported::

    a measured flux (low S/N):  N(F_obs; F_model, s^2)
    a limit F_lim at k sigma:   P(F_model + noise < F_lim) = Phi((F_lim - F_model) / s)
    with s^2 = sigma_F^2 + (model_error * ln 10 / 2.5 * F_model)^2 and sigma_F = F_lim / k

(a flux-space Gaussian measurement, or its censored form: all a limit says is that the
measured flux fell below the detection threshold). Draws are then resampled by these
weights (:func:`inn_engine.population.resample`). A non-detection that no draw explains (the best
draw more than a few sigma from it, e.g. a limit in the wrong units or for another cluster)
is reported by its tension: the smallest |z| over the draws (for a limit, how far above it
the least bright draw lies).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from scipy.special import log_ndtr

from astro.observe import MAG_PER_RELATIVE_FLUX
from astro.population import photometry, vega_minus_ab

__all__ = ["nondetection_log_weights"]


def nondetection_log_weights(
    draws: np.ndarray,
    flux: np.ndarray,
    sigma: np.ndarray,
    bands,
    distance_modulus: np.ndarray,
    extinction: np.ndarray,
    model_error: float,
    seed: int,
    censored: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(log likelihood of the non-detections for every draw (n, m), tension (n, L)).

    Args:
        draws: (n, m, 4) posterior draws [log_mass, log_age, A_V, Z] of n clusters.
        flux, sigma: (n, L) measured flux and its 1-sigma error [Jy] in ``bands`` (L,), or
            the detection threshold and its noise where ``censored``; NaN where the band was
            detected or not observed.
        distance_modulus: (n,) [mag]; extinction: (n, L) foreground extinction [mag].
        model_error: the population model's own error [mag], as a relative flux error.
        seed: seeds the simulated clusters.
        censored: (n, L) bool, True where ``flux`` is a limit rather than a measurement
            (None: all measurements).

    The tension [sigma] of a non-detection is min over the draws of |z| (of max(-z, 0) for a
    limit), z = (flux - F_model) / s; NaN where a band has no non-detection.
    """
    n, m, _ = draws.shape
    used = np.isfinite(flux).any(axis=0)
    logw = np.zeros((n, m))
    tension = np.full(flux.shape, np.nan)
    if n == 0 or not used.any():
        return logw, tension
    names = [b for b, keep in zip(bands, used) if keep]
    flat = draws.reshape(-1, draws.shape[2])
    absolute = photometry(flat[:, 0], flat[:, 1], flat[:, 2], flat[:, 3], names, stochastic=True, seed=seed)
    ab = absolute.reshape(n, m, len(names)) + (distance_modulus[:, None] + extinction[:, used])[:, None, :]
    ab = ab - vega_minus_ab(names)
    with np.errstate(over="ignore"):
        model_flux = (np.clip(ab, -100.0, 100.0) * u.ABmag).to_value(u.Jy)  # dark clusters (+inf) -> ~0
    f_obs, s_obs = flux[:, None, used], sigma[:, None, used]
    with np.errstate(over="ignore", invalid="ignore"):  # absurd errors (1e300 Jy): infinite variance, no weight
        variance = s_obs**2 + (model_error / MAG_PER_RELATIVE_FLUX * model_flux) ** 2
        z = (f_obs - model_flux) / np.sqrt(variance)
        terms = -0.5 * z**2 - 0.5 * np.log(variance)
    miss = np.abs(z)
    if censored is not None:
        terms = np.where(censored[:, None, used], log_ndtr(z), terms)
        miss = np.where(censored[:, None, used], np.maximum(-z, 0.0), miss)
    best = np.where(np.isfinite(miss), miss, np.inf).min(axis=1)
    tension[:, used] = np.where(np.isfinite(best), best, np.nan)  # NaN: not reported, or no draw evaluable
    return np.where(np.isfinite(f_obs) & np.isfinite(terms), terms, 0.0).sum(axis=2), tension
