"""Diagonal Gaussians parameterised by network outputs: the likelihood heads of the baselines."""

from __future__ import annotations

import math

import torch

from inn_engine.blocks import soft_clamp

__all__ = ["LOG_VAR_LIMIT", "split_mean_log_var", "diag_gaussian_log_prob", "standard_normal_log_prob"]

LOG_VAR_LIMIT = 10.0
"""Log-variances are soft-clamped to (-10, 10): standard deviations 0.0067-148 in the
standardized units every network here works in, which keeps the likelihood finite."""

_LOG_2PI = math.log(2 * math.pi)


def split_mean_log_var(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Network output (batch, 2 * d) -> (mean (batch, d), soft-clamped log-variance (batch, d))."""
    mean, raw = params.chunk(2, dim=-1)
    return mean, soft_clamp(raw, LOG_VAR_LIMIT)


def diag_gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, diag(exp(log_var))) summed over the last dim: (..., d) -> (...) in nats."""
    return -0.5 * (log_var + (x - mean) ** 2 * torch.exp(-log_var) + _LOG_2PI).sum(dim=-1)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last dim: (..., d) -> (...) in nats."""
    return -0.5 * (z * z + _LOG_2PI).sum(dim=-1)
