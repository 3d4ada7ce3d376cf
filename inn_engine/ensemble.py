"""An ensemble of conditional INNs, used as the equal-weight mixture of its members.

``q(x | y) = (1/K) sum_k q_k(x | y)``. The members differ by their initial weights and
permutations (member k is built with ``seed + k``) and are trained side by side on the
same batches, each by its own maximum likelihood (the ensemble's training loss is the mean
of the members' losses, so no member's gradient depends on another's). Averaging K
independently fitted flows cancels much of the estimation noise that dominates small
simulation budgets. Sampling costs the same as one member: each draw picks its member at
random and only that member is run.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from inn_engine.cinn import ConditionalINN
from inn_engine.devices import seeded_normal

__all__ = ["EnsembleINN"]


class EnsembleINN(nn.Module):
    """``n_members`` :class:`~inn_engine.cinn.ConditionalINN` s as one mixture density.

    Args:
        dim_x, dim_y: sizes of parameters and observations.
        n_members: K >= 2 members.
        seed: member k uses ``seed + k`` for its permutations.
        **member_options: passed to every member (``n_blocks``, ``hidden``, ``coupling``, ...).
    """

    kind = "ensemble"

    def __init__(self, dim_x: int, dim_y: int, n_members: int = 3, seed: int = 0, **member_options):
        super().__init__()
        if int(n_members) < 2:
            raise ValueError(f"n_members must be >= 2 (use model='cinn' for one network), got {n_members}")
        self.config = dict(dim_x=dim_x, dim_y=dim_y, n_members=int(n_members), seed=seed, **member_options)
        self.dim_x, self.dim_y = dim_x, dim_y
        self.members = nn.ModuleList(
            ConditionalINN(dim_x, dim_y, seed=seed + k, **member_options) for k in range(int(n_members))
        )

    def log_prob(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log of the mixture density in the standardized space, shape (batch,)."""
        per_member = torch.stack([m.log_prob(x, y) for m in self.members])
        return torch.logsumexp(per_member, dim=0) - math.log(len(self.members))

    @property
    def n_members(self) -> int:
        return len(self.members)

    def member_loss(self, k: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Member ``k``'s negative log-likelihood per dimension (nats) on a batch: it alone
        depends on member k's weights, so :func:`~inn_engine.train.train` may run the members'
        backward passes side by side on separate threads."""
        return -self.members[k].log_prob(x, y).mean() / self.dim_x

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
        """Mean of the members' negative log-likelihoods per dimension (nats)."""
        nll = torch.stack([self.member_loss(k, x, y) for k in range(self.n_members)]).mean()
        return nll, {"nll": nll.detach()}

    def validation_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The mixture's negative log-likelihood per dimension on held-out data."""
        return -self.log_prob(x, y).mean() / self.dim_x

    @torch.no_grad()
    def sample(self, y: torch.Tensor, n_draws: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n_draws`` mixture draws for each row of ``y`` (n_obs, dim_y): (n_obs, n_draws, dim_x)."""
        rows = y.repeat_interleave(n_draws, dim=0)
        z = seeded_normal(rows.shape[0], self.dim_x, like=rows, generator=generator)
        member = torch.randint(len(self.members), (rows.shape[0],), generator=generator).to(rows.device)
        out = torch.empty_like(z)
        for k, m in enumerate(self.members):
            pick = member == k
            if pick.any():
                out[pick] = m.invert(z[pick], rows[pick])
        return out.reshape(y.shape[0], n_draws, self.dim_x)
