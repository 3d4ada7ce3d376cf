"""Conditional variational autoencoder (Sohn, Lee & Yan 2015) for p(x | y).

Generative model: z ~ N(0, I), x | z, y ~ N(mu_d(z, y), diag sigma_d^2(z, y)) (the decoder).
Inference model: q(z | x, y) from the encoder. Training maximises the ELBO

    log p(x | y) >= E_q[log p(x | z, y)] - KL(q(z | x, y) || N(0, I)),

with an optional linear warm-up of the KL weight from 0 to 1 over ``kl_warmup_steps``
calls of :meth:`training_loss` (counted in a buffer, so a resumed run continues the ramp).
Posterior draws: z ~ N(0, I), then x = mu_d + sigma_d * eps. The prior on z is N(0, I),
independent of y (Sohn et al. also allow a learned prior network p(z | y)); y reaches the
samples through the decoder, and sampling stays a single decoder pass.
"""

from __future__ import annotations

import abc

import torch
from torch import nn

from inn_engine.baselines.gaussian import diag_gaussian_log_prob, split_mean_log_var
from inn_engine.baselines.options import check_int
from inn_engine.devices import seeded_normal
from inn_engine.subnets import mlp

__all__ = ["ConditionalVAE", "GaussianCVAEBase"]

_VALIDATION_SEED = 12345


class GaussianCVAEBase(nn.Module, abc.ABC):
    """What every cVAE here shares: encoder, Gaussian decoder, ELBO, KL warm-up, sampling.

    Subclasses define :meth:`latent` (a draw from q(z | x, y) and its KL estimate) and set
    ``self.config``. The encoder outputs (mean, log-variance) of a diagonal Gaussian over z
    plus ``context_features`` extra outputs a posterior flow may use.
    """

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        dim_z: int | None,
        hidden: int,
        n_hidden_layers: int,
        kl_warmup_steps: int,
        context_features: int = 0,
    ):
        super().__init__()
        self.dim_x = check_int("dim_x", dim_x, 1)
        self.dim_y = check_int("dim_y", dim_y, 1)
        self.dim_z = self.dim_x if dim_z is None else check_int("dim_z", dim_z, 1)
        self.hidden = check_int("hidden", hidden, 1)
        self.n_hidden_layers = check_int("n_hidden_layers", n_hidden_layers, 1)
        self.kl_warmup_steps = check_int("kl_warmup_steps", kl_warmup_steps, 0)
        self.context_features = context_features
        self.encoder = mlp(self.dim_x + self.dim_y, 2 * self.dim_z + context_features, hidden, n_hidden_layers)
        self.decoder = mlp(self.dim_z + self.dim_y, 2 * self.dim_x, hidden, n_hidden_layers)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(batch, dim_x), (batch, dim_y) -> mean, log-variance (batch, dim_z), context (batch, context)."""
        out = self.encoder(torch.cat([x, y], dim=1))
        mean, log_var = split_mean_log_var(out[:, : 2 * self.dim_z])
        return mean, log_var, out[:, 2 * self.dim_z :]

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, dim_z), (batch, dim_y) -> decoder mean and log-variance, each (batch, dim_x)."""
        return split_mean_log_var(self.decoder(torch.cat([z, y], dim=1)))

    @abc.abstractmethod
    def latent(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None):
        """A reparameterised draw z ~ q(z | x, y) (batch, dim_z) and KL(q || N(0, I)) (batch,)."""

    def kl_weight(self) -> float:
        """The KL weight of the next training call: ramps linearly to 1 over ``kl_warmup_steps``."""
        if self.kl_warmup_steps == 0:
            return 1.0
        return min(1.0, float(self.calls + 1) / self.kl_warmup_steps)

    def elbo_terms(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None):
        """Reconstruction log-likelihood and KL per row, each (batch,), nats, one z draw per row."""
        z, kl = self.latent(x, y, generator)
        return diag_gaussian_log_prob(x, *self.decode(z, y)), kl

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
        """-(reconstruction - kl_weight * KL) per dimension of x (nats), and its parts."""
        weight = self.kl_weight()
        log_lik, kl = self.elbo_terms(x, y, generator)
        recon, kl = -log_lik.mean() / self.dim_x, kl.mean() / self.dim_x
        if self.training and torch.is_grad_enabled():
            self.calls += 1
        return recon + weight * kl, {
            "reconstruction": recon.detach(),
            "kl": kl.detach(),
            "kl_weight": torch.tensor(weight),
        }

    @torch.no_grad()
    def validation_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The negative ELBO per dimension (full KL weight), z drawn from a fixed seed."""
        log_lik, kl = self.elbo_terms(x, y, torch.Generator().manual_seed(_VALIDATION_SEED))
        return (kl - log_lik).mean() / self.dim_x

    @torch.no_grad()
    def sample(self, y: torch.Tensor, n_draws: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n_draws`` draws per row of ``y`` (n_obs, dim_y): z ~ N(0, I), decoded with decoder noise;
        (n_obs, n_draws, dim_x)."""
        y_rep = y.repeat_interleave(n_draws, dim=0)
        z = seeded_normal(y_rep.shape[0], self.dim_z, like=y, generator=generator)
        mean, log_var = self.decode(z, y_rep)
        x = mean + torch.exp(0.5 * log_var) * seeded_normal(mean.shape, like=mean, generator=generator)
        return x.reshape(y.shape[0], n_draws, self.dim_x)


class ConditionalVAE(GaussianCVAEBase):
    """cVAE with a diagonal Gaussian q(z | x, y) and the analytic KL to N(0, I).

    Args:
        dim_x, dim_y: sizes of parameters and observations.
        dim_z: latent size (default dim_x).
        hidden, n_hidden_layers: encoder and decoder MLPs.
        kl_warmup_steps: training steps over which the KL weight ramps from 0 to 1 (0: none).
        seed: recorded for the artifact (weights come from torch's RNG, seeded by the trainer).
    """

    kind = "cvae"

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        dim_z: int | None = None,
        hidden: int = 128,
        n_hidden_layers: int = 2,
        kl_warmup_steps: int = 0,
        seed: int = 0,
    ):
        super().__init__(dim_x, dim_y, dim_z, hidden, n_hidden_layers, kl_warmup_steps)
        self.config = dict(
            dim_x=self.dim_x,
            dim_y=self.dim_y,
            dim_z=self.dim_z,
            hidden=self.hidden,
            n_hidden_layers=self.n_hidden_layers,
            kl_warmup_steps=self.kl_warmup_steps,
            seed=int(seed),
        )

    def latent(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None):
        """z = mu + sigma * eps (batch, dim_z) and the closed-form KL to N(0, I) (batch,)."""
        mean, log_var, _ = self.encode(x, y)
        z = mean + torch.exp(0.5 * log_var) * seeded_normal(mean.shape, like=mean, generator=generator)
        kl = 0.5 * (torch.exp(log_var) + mean * mean - 1.0 - log_var).sum(dim=1)
        return z, kl
