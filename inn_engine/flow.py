"""A stack of invertible blocks applied in sequence, with log-determinants summed."""
from __future__ import annotations

import torch
from torch import nn

from inn_engine.blocks import ActNorm, AffineCoupling, InvertibleBlock, Permutation
from inn_engine.splines import SplineCoupling

__all__ = ["InvertibleSequence", "coupling_stack", "COUPLINGS"]

COUPLINGS = {"affine": AffineCoupling, "spline": SplineCoupling}


class InvertibleSequence(nn.Module):
    """Blocks ``b_1 ... b_K``: forward applies them in order, inverse in reverse order."""

    def __init__(self, blocks: list[InvertibleBlock]):
        super().__init__()
        if not blocks:
            raise ValueError("an InvertibleSequence needs at least one block")
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (batch, dim) -> ``(out (batch, dim), log|det J| (batch,))``."""
        log_det = x.new_zeros(x.shape[0])
        for block in self.blocks:
            x, ld = block(x, c)
            log_det = log_det + ld
        return x, log_det

    def inverse(self, out: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        for block in reversed(self.blocks):
            out = block.inverse(out, c)
        return out


def coupling_stack(dim: int, n_blocks: int, cond_dim: int = 0, coupling: str = "affine",
                   hidden: int = 128, n_hidden_layers: int = 2, actnorm: bool = True, seed: int = 0,
                   **coupling_options) -> InvertibleSequence:
    """``n_blocks`` x [ActNorm?] -> coupling -> fixed random permutation.

    Permutation ``k`` is drawn from a generator seeded with ``seed + k``, so the same
    arguments always build the same network.
    """
    if coupling not in COUPLINGS:
        raise ValueError(f"coupling must be one of {sorted(COUPLINGS)}, got {coupling!r}")
    if n_blocks < 1:
        raise ValueError(f"n_blocks must be >= 1, got {n_blocks}")
    block_cls = COUPLINGS[coupling]
    blocks: list[InvertibleBlock] = []
    for k in range(n_blocks):
        if actnorm:
            blocks.append(ActNorm(dim))
        blocks.append(block_cls(dim, cond_dim, hidden=hidden, n_hidden_layers=n_hidden_layers, **coupling_options))
        if dim > 1:
            blocks.append(Permutation(dim, seed=seed + k))
    return InvertibleSequence(blocks)
