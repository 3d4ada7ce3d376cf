"""MADE (Germain et al. 2015): an MLP whose output i depends only on inputs 1..i-1.

Masks come from degrees: input i has degree i (1..D), hidden units get degrees cycling
through 0..D-1, and a connection is kept when the receiving degree is >= the sending
one (hidden layers) or strictly greater (outputs). Hidden units of degree 0 see no
input at all, only the unmasked context, so even output 1 can depend on the context.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from inn_engine.baselines.options import check_int

__all__ = ["MaskedLinear", "MADE"]


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed 0/1 mask (out_features, in_features)."""

    def __init__(self, mask: torch.Tensor):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.to(torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, in_features) -> (batch, out_features)."""
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Autoregressive MLP: (batch, dim) and context (batch, context_dim) -> (batch, n_outputs, dim).

    Output ``[:, k, i]`` depends on inputs ``[:, :i]`` and on the context only.

    Args:
        dim: autoregressive dimension D; context_dim: size of the context (0: none).
        hidden, n_hidden_layers: width and depth of the masked MLP (ReLU).
        n_outputs: values produced per dimension (2 for an IAF's shift and gate).
    """

    def __init__(self, dim: int, context_dim: int, hidden: int, n_hidden_layers: int, n_outputs: int = 2):
        super().__init__()
        self.dim = check_int("dim", dim, 1)
        self.n_outputs = check_int("n_outputs", n_outputs, 1)
        check_int("hidden", hidden, 1)
        check_int("n_hidden_layers", n_hidden_layers, 1)
        in_degree = torch.arange(1, dim + 1)
        hidden_degree = torch.arange(hidden) % dim
        out_degree = in_degree.repeat(n_outputs)
        self.first = MaskedLinear(hidden_degree[:, None] >= in_degree[None, :])
        self.context = nn.Linear(context_dim, hidden, bias=False) if context_dim > 0 else None
        self.hidden_layers = nn.ModuleList(
            MaskedLinear(hidden_degree[:, None] >= hidden_degree[None, :]) for _ in range(n_hidden_layers - 1)
        )
        self.last = MaskedLinear(out_degree[:, None] > hidden_degree[None, :])

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (batch, dim), ``context`` (batch, context_dim) -> (batch, n_outputs, dim)."""
        h = self.first(x)
        if self.context is not None:
            h = h + self.context(context)
        h = F.relu(h)
        for layer in self.hidden_layers:
            h = F.relu(layer(h))
        return self.last(h).reshape(x.shape[0], self.n_outputs, self.dim)
