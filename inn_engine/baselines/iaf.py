"""Inverse autoregressive flow (Kingma et al. 2016) on a VAE posterior sample.

Each step t maps z -> sigma_t * z + (1 - sigma_t) * m_t with [m_t, s_t] = MADE_t(z, h) and
sigma_t = sigmoid(s_t + gate_bias) (the paper's numerically stable "LSTM-type" update).
The Jacobian is triangular, so log|det dz_t / dz_{t-1}| = sum_i log sigma_t,i. The
variable order is reversed between steps so every dimension gets to depend on every other.
``gate_bias`` (+2, sigma ~ 0.88) starts every step close to the identity, as the paper advises.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from inn_engine.baselines.made import MADE
from inn_engine.baselines.options import check_int

__all__ = ["InverseAutoregressiveFlow"]


class InverseAutoregressiveFlow(nn.Module):
    """``n_steps`` IAF steps: (z0 (batch, dim), context (batch, context_dim)) -> (z_T, log|det| (batch,)).

    Args:
        dim: latent size; context_dim: size of the encoder's context h (0: none).
        n_steps: number of IAF steps; hidden, n_hidden_layers: each step's MADE.
        gate_bias: constant added to the gate pre-activation s_t.
    """

    def __init__(
        self, dim: int, context_dim: int, n_steps: int, hidden: int, n_hidden_layers: int, gate_bias: float = 2.0
    ):
        super().__init__()
        check_int("n_steps", n_steps, 1)
        self.gate_bias = float(gate_bias)
        self.steps = nn.ModuleList(MADE(dim, context_dim, hidden, n_hidden_layers, n_outputs=2) for _ in range(n_steps))

    def forward(self, z: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``z`` (batch, dim), ``context`` (batch, context_dim) -> (z_T (batch, dim), log|det dz_T/dz| (batch,))."""
        log_det = z.new_zeros(z.shape[0])
        for k, made in enumerate(self.steps):
            if k > 0:
                z = z.flip(-1)
            shift, gate = made(z, context).unbind(1)
            gate = gate + self.gate_bias
            sigma = torch.sigmoid(gate)
            z = sigma * z + (1.0 - sigma) * shift
            log_det = log_det + F.logsigmoid(gate).sum(dim=1)
        return z, log_det
