"""The conditional INN (Ardizzone et al. 2019): an invertible map x <-> z conditioned on y.

Trained by maximum likelihood: with z = f(x; c(y)) and z ~ N(0, I),
``log q(x | y) = log N(f(x; c(y)); 0, I) + log|det df/dx|``. Posterior sampling inverts f
for fresh z. All tensors here live in the standardized spaces the Estimator prepares.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from inn_engine.devices import seeded_normal
from inn_engine.flow import coupling_stack
from inn_engine.subnets import mlp

__all__ = ["ConditionalINN"]

_LOG_2PI = math.log(2 * math.pi)


class ConditionalINN(nn.Module):
    """Conditional invertible network for p(x | y).

    Args:
        dim_x, dim_y: sizes of parameters and observations.
        n_blocks: coupling blocks (each followed by a fixed random permutation).
        hidden, n_hidden_layers: size of every coupling subnet.
        coupling: "spline" (rational-quadratic, the default: on sbibm's two_moons it reached
            C2ST 0.54 where 8 affine blocks reached 0.58, benchmarks/engine.py) or "affine"
            (GLOW, soft-clamped).
        cond_features: if > 0, y first passes through an MLP conditioning net with this many
            outputs (width ``cond_hidden``); 0 feeds y to the couplings directly.
        actnorm: an ActNorm before every coupling.
        two_sided: couplings transform both halves (two subnets per block, GLOW) or only one
            (one subnet per block, as RealNVP and FrEIA's AllInOneBlock).
        seed: seeds the permutations (weights are initialised from torch's global RNG,
            which the trainer seeds).
        clamp (affine), n_bins / bound (spline): coupling options.
    """

    kind = "cinn"

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        n_blocks: int = 6,
        hidden: int = 128,
        n_hidden_layers: int = 2,
        coupling: str = "spline",
        cond_features: int = 0,
        cond_hidden: int = 128,
        actnorm: bool = True,
        two_sided: bool = True,
        seed: int = 0,
        clamp: float = 2.0,
        n_bins: int = 8,
        bound: float = 5.0,
    ):
        super().__init__()
        if dim_x < 1 or dim_y < 1:
            raise ValueError(f"dim_x and dim_y must be >= 1, got {dim_x}, {dim_y}")
        self.config = dict(
            dim_x=dim_x,
            dim_y=dim_y,
            n_blocks=n_blocks,
            hidden=hidden,
            n_hidden_layers=n_hidden_layers,
            coupling=coupling,
            cond_features=cond_features,
            cond_hidden=cond_hidden,
            actnorm=actnorm,
            two_sided=two_sided,
            seed=seed,
            clamp=clamp,
            n_bins=n_bins,
            bound=bound,
        )
        self.dim_x, self.dim_y = dim_x, dim_y
        self.cond_net = mlp(dim_y, cond_features, cond_hidden, 2) if cond_features > 0 else nn.Identity()
        cond_dim = cond_features if cond_features > 0 else dim_y
        options = {"clamp": clamp} if coupling == "affine" else {"n_bins": n_bins, "bound": bound}
        options["two_sided"] = two_sided
        self.flow = coupling_stack(
            dim_x, n_blocks, cond_dim, coupling, hidden, n_hidden_layers, actnorm, seed, **options
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (batch, dim_x), ``y`` (batch, dim_y) -> ``(z (batch, dim_x), log|det J| (batch,))``."""
        return self.flow(x, self.cond_net(y))

    def log_prob(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log q(x | y) in the standardized space, shape (batch,)."""
        z, log_det = self(x, y)
        return -0.5 * (z * z).sum(dim=1) - 0.5 * self.dim_x * _LOG_2PI + log_det

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
        """Negative log-likelihood per dimension (nats), and its parts for logging."""
        nll = -self.log_prob(x, y).mean() / self.dim_x
        return nll, {"nll": nll.detach()}

    def validation_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per dimension on held-out data (for early stopping)."""
        return -self.log_prob(x, y).mean() / self.dim_x

    @torch.no_grad()
    def sample(self, y: torch.Tensor, n_draws: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n_draws`` posterior draws for each row of ``y`` (n_obs, dim_y): (n_obs, n_draws, dim_x)."""
        c = self.cond_net(y)
        z = seeded_normal(c.shape[0] * n_draws, self.dim_x, like=c, generator=generator)
        return self.flow.sample_inverse(z, c, n_draws).reshape(y.shape[0], n_draws, self.dim_x)

    @torch.no_grad()
    def invert(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x for latent rows ``z`` (batch, dim_x) paired with observation rows ``y`` (batch, dim_y)."""
        return self.flow.sample_inverse(z, self.cond_net(y))
