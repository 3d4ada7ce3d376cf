"""Out-of-distribution scores of spectra: a Gaussian-mixture density of the training data.

The OOD features of a spectrum (:func:`ood_features`) are its shape (log reflectance minus
its band mean) and its level (the band mean of log reflectance): specular highlights and
saturation change both. The score is -log p(f) under a Gaussian mixture fitted to the
training spectra's features (standardized per feature); high means "unlike anything the
estimator was trained on". A spectrum is flagged when its score exceeds
the ``quantile`` (default 99.5 %) of the scores of held-out in-distribution spectra, so
about 0.5 % of in-distribution spectra are flagged by construction.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

__all__ = ["FeatureDensity", "ood_features"]


def ood_features(reflectance) -> np.ndarray:
    """(n, n_bands + 1): log r - mean_b log r, then mean_b log r, of reflectances (n, n_bands) > 0."""
    log_r = np.log(np.asarray(reflectance, dtype=float))
    level = log_r.mean(axis=-1, keepdims=True)
    return np.concatenate([log_r - level, level], axis=-1)


@dataclass(frozen=True)
class FeatureDensity:
    """A Gaussian mixture over standardized features, with its OOD threshold.

    center, scale: (d,) standardization; weights (k,); means (k, d); precision_cholesky
    (k, d, d) (upper-triangular factors U with precision = U U^T, as sklearn stores them);
    threshold: score above which a spectrum is OOD; quantile: the in-distribution quantile
    the threshold was set at.
    """

    center: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    precision_cholesky: np.ndarray
    threshold: float = np.inf
    quantile: float = 0.995

    @classmethod
    def fit(cls, features, n_components: int = 16, seed: int = 0, max_rows: int = 100_000) -> "FeatureDensity":
        """Fit to in-distribution features (n, d) (at most ``max_rows`` rows are used)."""
        from sklearn.mixture import GaussianMixture

        f = np.asarray(features, dtype=float)
        if f.ndim != 2 or f.shape[0] < 10 * n_components:
            raise ValueError(f"features must be (n, d) with n >= {10 * n_components}, got shape {f.shape}")
        rows = np.random.default_rng(seed).permutation(f.shape[0])[:max_rows]
        center, scale = f[rows].mean(axis=0), f[rows].std(axis=0) + 1e-12
        gmm = GaussianMixture(n_components, covariance_type="full", reg_covar=1e-4, random_state=seed,
                              max_iter=300).fit((f[rows] - center) / scale)
        return cls(center, scale, gmm.weights_, gmm.means_, gmm.precisions_cholesky_)

    def with_threshold(self, in_distribution_features, quantile: float = 0.995) -> "FeatureDensity":
        """A copy whose threshold is the ``quantile`` of the scores of held-out in-distribution features."""
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must lie in (0, 1), got {quantile}")
        threshold = float(np.quantile(self.score(in_distribution_features), quantile))
        return FeatureDensity(self.center, self.scale, self.weights, self.means, self.precision_cholesky,
                              threshold, float(quantile))

    def score(self, features) -> np.ndarray:
        """-log p(f) (n,) of features (n, d) (standardized space, nats); higher = less typical."""
        f = np.asarray(features, dtype=float)
        if f.ndim != 2 or f.shape[1] != self.means.shape[1]:
            raise ValueError(f"features must have shape (n, {self.means.shape[1]}), got {f.shape}")
        z = (f - self.center) / self.scale
        d = z.shape[1]
        log_comp = np.empty((z.shape[0], len(self.weights)))
        for k, (mu, chol) in enumerate(zip(self.means, self.precision_cholesky)):
            white = (z - mu) @ chol
            log_det = np.log(np.abs(np.diag(chol))).sum()
            log_comp[:, k] = np.log(self.weights[k]) + log_det - 0.5 * (white**2).sum(axis=1) \
                - 0.5 * d * np.log(2 * np.pi)
        return -logsumexp(log_comp, axis=1)

    def is_ood(self, features) -> np.ndarray:
        """Boolean (n,): score above the threshold."""
        return self.score(features) > self.threshold

    def to_dict(self) -> dict:
        return {"center": self.center.tolist(), "scale": self.scale.tolist(), "weights": self.weights.tolist(),
                "means": self.means.tolist(), "precision_cholesky": self.precision_cholesky.tolist(),
                "threshold": self.threshold, "quantile": self.quantile}

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureDensity":
        try:
            return cls(*(np.asarray(d[k], dtype=float) for k in ("center", "scale", "weights", "means",
                                                                   "precision_cholesky")),
                       float(d["threshold"]), float(d["quantile"]))
        except KeyError as err:
            raise ValueError(f"the OOD density record lacks field {err}") from err
