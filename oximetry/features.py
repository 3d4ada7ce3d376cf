"""Features of band reflectances that the posterior estimator is conditioned on.

Real endoscopic images carry an unknown overall intensity (illumination, distance,
angle). ``"relative"`` features remove it the way Wirkert et al. (2016) do: the log
reflectance of each band minus the mean log reflectance over the bands, so a spectrum and
any positive multiple of it give identical features. ``"absolute"`` features keep the
calibrated level (log reflectance itself) for users with white/dark-calibrated data.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FEATURE_KINDS", "feature_names", "reflectance_features"]

FEATURE_KINDS = ("relative", "absolute")


def _check_kind(kind: str) -> str:
    if kind not in FEATURE_KINDS:
        raise ValueError(f"features must be one of {FEATURE_KINDS}, got {kind!r}")
    return kind


def feature_names(band_names, kind: str = "relative") -> list[str]:
    """Names of the features of bands ``band_names``: ``lognorm_<band>`` or ``log_<band>``."""
    prefix = "lognorm_" if _check_kind(kind) == "relative" else "log_"
    return [prefix + str(b) for b in band_names]


def reflectance_features(reflectance, kind: str = "relative") -> np.ndarray:
    """Features (..., n_bands) float64 of band reflectances (..., n_bands), fractions > 0.

    ``"relative"``: log r_b - mean_b log r_b (invariant to r -> c r for any c > 0);
    ``"absolute"``: log r_b. ValueError where a reflectance is not finite and > 0 (the
    log is undefined there; :func:`oximetry.estimate` masks such pixels before this).
    """
    _check_kind(kind)
    r = np.asarray(reflectance, dtype=float)
    if r.ndim == 0 or r.shape[-1] < 2:
        raise ValueError(f"reflectance must have a last axis of >= 2 bands, got shape {r.shape}")
    if not np.all(np.isfinite(r)) or np.any(r <= 0):
        raise ValueError("reflectance must be finite and > 0 in every band to form log features")
    log_r = np.log(r)
    if kind == "absolute":
        return log_r
    return log_r - log_r.mean(axis=-1, keepdims=True)
