"""A small amortized quantile head: features -> chosen posterior quantiles of one parameter.

Sampling the full cINN per pixel costs ~n_draws network passes per pixel; for whole
images the median and 68 % interval of sO2 can instead be regressed directly with the
pinball (quantile) loss on the training grid: the minimizer of E[rho_q(x - f(y))] is the
q-quantile of p(x | y). One MLP pass per pixel then gives all quantiles.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from oximetry.feature_mlp import FeatureMLP, fit_feature_mlp

__all__ = ["QuantileHead", "fit_quantile_head", "HEAD_FILE"]

HEAD_FILE = "quantile_head.safetensors"  # its name inside an estimator directory


class QuantileHead(FeatureMLP):
    """:class:`~oximetry.feature_mlp.FeatureMLP` with one sorted output per quantile level."""

    def __init__(self, n_features: int, quantiles, hidden: int = 128, center=None, scale=None):
        quantiles = [float(q) for q in quantiles]
        super().__init__(n_features, len(quantiles), hidden, center, scale, settings={"quantiles": quantiles})
        self.quantiles = quantiles

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sort(super().forward(features), dim=-1).values

    @classmethod
    def _from_record(cls, info: dict):
        return cls(int(info["n_features"]), json.loads(info["settings"])["quantiles"], int(info["hidden"]))


def _pinball(quantiles: torch.Tensor):
    def loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = target[:, None] - pred
        return torch.maximum(quantiles * diff, (quantiles - 1) * diff).mean()

    return loss


def fit_quantile_head(
    features,
    target,
    quantiles=(0.16, 0.5, 0.84),
    steps: int = 3000,
    batch_size: int = 1024,
    lr: float = 2e-3,
    hidden: int = 128,
    seed: int = 0,
) -> QuantileHead:
    """Train a :class:`QuantileHead` by the pinball loss on (features (n, d), target (n,))."""
    f = np.asarray(features, dtype=np.float32)
    t = np.asarray(target, dtype=np.float32)
    if f.ndim != 2 or t.shape != (f.shape[0],):
        raise ValueError(f"features must be (n, d) and target (n,), got {f.shape} and {t.shape}")
    torch.manual_seed(seed)
    head = QuantileHead(f.shape[1], quantiles, hidden, f.mean(axis=0), f.std(axis=0) + 1e-6)
    return fit_feature_mlp(head, f, t, _pinball(torch.as_tensor(head.quantiles)), steps, batch_size, lr, seed)
