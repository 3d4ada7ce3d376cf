"""Can the model explain an observation?  A library nearest-neighbour chi-square test.

For each cluster, chi2_min / K_obs = min over a library of simulated stochastic clusters of
sum_b has_b (M_b - L_b)^2 / (sigma_b^2 + floor^2) + sum_b lim_b max(M_b - L_b, 0)^2 / (sigma_b^2
+ floor^2), divided by the number K_obs of observed bands. A non-detection (``lim_b``: M_b is
the limiting magnitude, sigma_b its noise) costs nothing for library clusters fainter than
the limit and, for brighter ones, the square of the flux shortfall in sigma, the censored
measurement's log-likelihood to first order. ``floor`` absorbs the finite density of the
library. The threshold is the 99.9th percentile of the statistic over held-out synthetic
observations (computed at pretraining and stored with the estimator), so about 0.1 % of
clusters the model DOES explain are flagged, and observations unlike any simulated cluster
(wrong distance, colours no population reaches, a bad band) stand out.
"""

from __future__ import annotations

import numpy as np

from astro.observe import observe

__all__ = [
    "LIBRARY_FLOOR",
    "FLAG_QUANTILE",
    "LIBRARY_FILE",
    "REFERENCE_SIZE",
    "library_chi2",
    "flag_threshold",
    "library_bytes",
    "read_library",
]

LIBRARY_FLOOR = 0.05  # mag
FLAG_QUANTILE = 0.999
LIBRARY_FILE = "library.safetensors"  # the reference library's name inside an estimator directory
REFERENCE_SIZE = 20_000  # clusters in the reference library
THRESHOLD_SAMPLE = 5000  # held-out clusters whose statistic sets the flag threshold


def library_chi2(mag, sigma, has, library_mag, lim=None, block: int = 2048) -> np.ndarray:
    """chi2_min per observed band (n,) for absolute magnitudes ``mag``, errors ``sigma`` and
    masks of detections ``has`` and of non-detections ``lim`` (None: none; each (n, K))
    against ``library_mag`` (N, K); NaN for rows with no band.

    The detections' sum is expanded as sum w M^2 - 2 (w M) . L + w . L^2 (three matrix
    products per block of rows); the non-detections' terms are added band by band.
    """
    has = np.asarray(has, dtype=bool)
    lim = np.zeros_like(has) if lim is None else np.asarray(lim, dtype=bool) & ~has
    mag = np.asarray(mag, dtype=float)
    inverse_variance = 1.0 / (np.asarray(sigma, float) ** 2 + LIBRARY_FLOOR**2)
    w, w_lim = np.where(has, inverse_variance, 0.0), np.where(lim, inverse_variance, 0.0)
    m = np.where(has, mag, 0.0)
    lib = np.asarray(library_mag, dtype=float)
    lib = np.where(np.isfinite(lib), lib, 1e3)  # empty library clusters are far from everything
    lib_sq = lib**2
    out = np.empty(len(m))
    for i in range(0, len(m), block):
        wb, mb = w[i : i + block], m[i : i + block]
        chi2 = (wb * mb**2).sum(axis=1)[:, None] - 2.0 * (wb * mb) @ lib.T + wb @ lib_sq.T
        for j in np.flatnonzero(lim[i : i + block].any(axis=0)):
            rows = np.flatnonzero(lim[i : i + block, j])
            shortfall = np.maximum(mag[i + rows, j, None] - lib[None, :, j], 0.0)
            chi2[rows] += w_lim[i + rows, j, None] * shortfall**2
        out[i : i + block] = chi2.min(axis=1)
    n_bands = (has | lim).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_bands > 0, np.maximum(out, 0.0) / n_bands, np.nan)


def flag_threshold(true_mag, reference_mag, limits: bool = True, seed: int = 2) -> float:
    """The :data:`FLAG_QUANTILE` of :func:`library_chi2` over one noisy, masked observation
    (:func:`astro.observe.observe`, with non-detections for an estimator trained with
    ``limits``) of each noise-free cluster ``true_mag`` (n, K), clusters that are not in the
    reference library ``reference_mag`` (N, K)."""
    y = observe(true_mag, np.random.default_rng(seed), limits=limits)
    k = np.shape(true_mag)[1]
    lim = y[:, 3 * k : 4 * k] > 0.5 if limits else None
    stat = library_chi2(y[:, :k], y[:, k : 2 * k], y[:, 2 * k : 3 * k] > 0.5, reference_mag, lim)
    return float(np.nanquantile(stat, FLAG_QUANTILE))


def library_bytes(x, true_mag, bands) -> bytes:
    """The reference library file (safetensors bytes, float32): x (N, 4) = (log_mass, log_age,
    A_V, Z) and M (N, K) = noise-free absolute magnitudes in ``bands``."""
    from safetensors.numpy import save

    return save(
        {"x": np.asarray(x, np.float32), "M": np.asarray(true_mag, np.float32)},
        metadata={
            "about": f"{len(x)} simulated clusters: x = (log_mass, log_age, A_V, Z), M = noise-free "
            "absolute magnitudes, bands " + " ".join(bands)
        },
    )


def read_library(path) -> tuple[np.ndarray, np.ndarray]:
    """(x (N, 4), M (N, K)) float64 from a reference library file."""
    from safetensors.numpy import load_file

    library = load_file(str(path))
    return library["x"].astype(float), library["M"].astype(float)
