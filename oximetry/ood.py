"""Out-of-distribution scores of spectra: the density of their shape, plus a brightness limit.

A spectrum's shape (log reflectance minus its band mean, the estimator's own
intensity-invariant features) is scored by -log p under a Gaussian mixture fitted to the
training spectra (:class:`FeatureDensity`). Its level (the band mean of log reflectance)
is only checked from above: dimmer than the training data is what an unknown overall
intensity does and is not penalized, but specular highlights and saturation push the
level above anything tissue reflects, and every standard deviation of level above the
training data's 99.5 % quantile adds ``brightness_weight`` nats (:class:`SpectrumOOD`).
A spectrum is flagged when its score exceeds the ``quantile`` (default 99.5 %) of the
scores of held-out in-distribution spectra, so ~0.5 % of those are flagged by design.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import logsumexp

__all__ = ["FeatureDensity", "SpectrumOOD", "shape_and_level"]

_ROWS_PER_BLOCK = 1 << 15  # bounds the (rows, k*d) temporary of the mixture score


def shape_and_level(reflectance) -> tuple[np.ndarray, np.ndarray]:
    """(shape (n, n_bands), level (n,)): log r - mean_b log r and mean_b log r, of reflectances > 0."""
    log_r = np.log(np.asarray(reflectance, dtype=float))
    level = log_r.mean(axis=-1)
    return log_r - level[..., None], level


@dataclass(frozen=True)
class FeatureDensity:
    """A Gaussian mixture over standardized features.

    center, scale: (d,) standardization; weights (k,); means (k, d); precision_cholesky
    (k, d, d) (factors U with precision = U U^T, as sklearn stores them).
    """

    center: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    precision_cholesky: np.ndarray

    @classmethod
    def fit(cls, features, n_components: int = 16, seed: int = 0, max_rows: int = 100_000) -> "FeatureDensity":
        """Fit to in-distribution features (n, d) (at most ``max_rows`` rows are used)."""
        from sklearn.mixture import GaussianMixture

        f = np.asarray(features, dtype=float)
        if f.ndim != 2 or f.shape[0] < 10 * n_components:
            raise ValueError(f"features must be (n, d) with n >= {10 * n_components}, got shape {f.shape}")
        rows = np.random.default_rng(seed).permutation(f.shape[0])[:max_rows]
        center, scale = f[rows].mean(axis=0), f[rows].std(axis=0) + 1e-12
        gmm = GaussianMixture(
            n_components, covariance_type="full", reg_covar=1e-4, random_state=seed, max_iter=300
        ).fit((f[rows] - center) / scale)
        return cls(center, scale, gmm.weights_, gmm.means_, gmm.precisions_cholesky_)

    def score(self, features) -> np.ndarray:
        """-log p(f) (n,) of features (n, d) (standardized space, nats); higher = less typical."""
        f = np.asarray(features, dtype=float)
        if f.ndim != 2 or f.shape[1] != self.means.shape[1]:
            raise ValueError(f"features must have shape (n, {self.means.shape[1]}), got {f.shape}")
        z = (f - self.center) / self.scale
        k, d = self.means.shape
        # (z - mu_k) @ U_k for every component in one matrix product: z @ [U_1 ... U_k] - mu_k @ U_k
        factors = np.concatenate(list(self.precision_cholesky), axis=1)  # (d, k*d)
        offsets = np.einsum("kd,kde->ke", self.means, self.precision_cholesky).reshape(-1)
        const = (
            np.log(self.weights)
            + np.log(np.abs(np.diagonal(self.precision_cholesky, axis1=1, axis2=2))).sum(axis=1)
            - 0.5 * d * np.log(2 * np.pi)
        )
        out = np.empty(z.shape[0])
        for start in range(0, z.shape[0], _ROWS_PER_BLOCK):
            white = z[start : start + _ROWS_PER_BLOCK] @ factors - offsets
            log_comp = const - 0.5 * (white**2).reshape(-1, k, d).sum(axis=2)
            out[start : start + _ROWS_PER_BLOCK] = -logsumexp(log_comp, axis=1)
        return out

    def to_dict(self) -> dict:
        return {
            "center": self.center.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "means": self.means.tolist(),
            "precision_cholesky": self.precision_cholesky.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureDensity":
        try:
            return cls(
                *(np.asarray(d[k], dtype=float) for k in ("center", "scale", "weights", "means", "precision_cholesky"))
            )
        except KeyError as err:
            raise ValueError(f"the feature density record lacks field {err}") from err


@dataclass(frozen=True)
class SpectrumOOD:
    """Shape density + one-sided brightness limit, with the flagging threshold (see module doc)."""

    density: FeatureDensity
    level_limit: float
    level_scale: float
    brightness_weight: float = 100.0
    threshold: float = np.inf
    quantile: float = 0.995

    @classmethod
    def fit(cls, reflectance, n_components: int = 16, seed: int = 0, brightness_weight: float = 100.0):
        """Fit to in-distribution reflectances (n, n_bands) > 0 (threshold still to be set)."""
        shape, level = shape_and_level(reflectance)
        return cls(
            FeatureDensity.fit(shape, n_components, seed),
            float(np.quantile(level, 0.995)),
            float(level.std()),
            float(brightness_weight),
        )

    def score(self, reflectance) -> np.ndarray:
        """OOD score (n,) of reflectances (n, n_bands) > 0, nats: higher = less typical."""
        shape, level = shape_and_level(reflectance)
        excess = np.maximum(0.0, level - self.level_limit) / self.level_scale
        return self.density.score(shape) + self.brightness_weight * excess

    def with_threshold(self, reflectance, quantile: float = 0.995) -> "SpectrumOOD":
        """A copy flagging scores above the ``quantile`` of held-out in-distribution reflectances' scores."""
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must lie in (0, 1), got {quantile}")
        return replace(self, threshold=float(np.quantile(self.score(reflectance), quantile)), quantile=float(quantile))

    def is_ood(self, reflectance) -> np.ndarray:
        """Boolean (n,): score above the threshold."""
        return self.score(reflectance) > self.threshold

    def to_dict(self) -> dict:
        return {
            "density": self.density.to_dict(),
            "level_limit": self.level_limit,
            "level_scale": self.level_scale,
            "brightness_weight": self.brightness_weight,
            "threshold": self.threshold,
            "quantile": self.quantile,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "SpectrumOOD":
        try:
            return cls(
                FeatureDensity.from_dict(d["density"]),
                float(d["level_limit"]),
                float(d["level_scale"]),
                float(d["brightness_weight"]),
                float(d["threshold"]),
                float(d["quantile"]),
            )
        except KeyError as err:
            raise ValueError(f"the OOD record lacks field {err}") from err
