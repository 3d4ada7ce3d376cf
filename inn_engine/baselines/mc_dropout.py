"""MC-dropout regression network (Gal & Ghahramani 2016) with a heteroscedastic Gaussian head.

An MLP maps y to the mean and log-variance of x. Dropout on every hidden layer stays on
at sampling time, so each posterior draw uses its own dropout mask (a draw from the
approximate weight posterior: epistemic spread) and then adds Gaussian noise with the
predicted variance (aleatoric spread). The network is trained with the Gaussian
negative log-likelihood under dropout, the "combined aleatoric and epistemic" model of
Kendall & Gal (2017). This is the paper's "NN (+ dropout)" row made into a sampler:
a plain regressor with dropout only would give draws whose spread is the epistemic part
alone, far narrower than the posterior.

Choices: dropout acts on the hidden layers only (y itself is kept whole), with one mask
per row drawn from the ``generator`` passed in (not torch's global RNG), so training and
sampling are repeatable; the weight-decay prior of Gal's derivation is the trainer's
Adam ``weight_decay`` (TrainConfig, default 1e-5).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from inn_engine.baselines.gaussian import diag_gaussian_log_prob, split_mean_log_var
from inn_engine.baselines.options import check_dropout, check_int
from inn_engine.devices import seeded_normal
from inn_engine.subnets import mlp

__all__ = ["MCDropoutRegressor"]

_VALIDATION_SEED = 12345


class MCDropoutRegressor(nn.Module):
    """Heteroscedastic MLP regressor x_hat(y) with Monte Carlo dropout.

    Args:
        dim_x, dim_y: sizes of parameters and observations.
        hidden, n_hidden_layers: the MLP (ReLU; dropout after every hidden layer).
        dropout: probability of dropping a hidden unit, in (0, 1); kept on when sampling.
        n_validation_passes: dropout masks averaged in the held-out predictive likelihood.
        seed: recorded for the artifact (weights come from torch's RNG, seeded by the trainer).
    """

    kind = "mc_dropout"

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        hidden: int = 128,
        n_hidden_layers: int = 3,
        dropout: float = 0.1,
        n_validation_passes: int = 16,
        seed: int = 0,
    ):
        super().__init__()
        self.dim_x = check_int("dim_x", dim_x, 1)
        self.dim_y = check_int("dim_y", dim_y, 1)
        self.dropout = check_dropout("dropout", dropout)
        self.n_validation_passes = check_int("n_validation_passes", n_validation_passes, 1)
        self.config = dict(
            dim_x=self.dim_x,
            dim_y=self.dim_y,
            hidden=check_int("hidden", hidden, 1),
            n_hidden_layers=check_int("n_hidden_layers", n_hidden_layers, 1),
            dropout=self.dropout,
            n_validation_passes=self.n_validation_passes,
            seed=int(seed),
        )
        self.net = mlp(self.dim_y, 2 * self.dim_x, hidden, n_hidden_layers)

    def predict(self, y: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One stochastic pass: ``y`` (batch, dim_y) -> (mean, log-variance), each (batch, dim_x).

        Every row gets its own dropout mask (inverted dropout: kept units scaled by 1/(1-p)).
        """
        keep = 1.0 - self.dropout
        h = y
        for layer in self.net:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                mask = torch.rand(h.shape, generator=generator, dtype=h.dtype) < keep
                h = h * mask / keep
        return split_mean_log_var(h)

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
        """Gaussian negative log-likelihood per dimension (nats) under one dropout mask per row."""
        mean, log_var = self.predict(y, generator)
        nll = -diag_gaussian_log_prob(x, mean, log_var).mean() / self.dim_x
        return nll, {"nll": nll.detach()}

    @torch.no_grad()
    def validation_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Negative log of the MC predictive density per dimension (nats).

        The predictive is the mixture over ``n_validation_passes`` dropout masks drawn from a
        fixed seed: ``-log mean_t N(x; mu_t(y), var_t(y))``, so the loss is deterministic.
        """
        generator = torch.Generator().manual_seed(_VALIDATION_SEED)
        log_probs = torch.stack(
            [diag_gaussian_log_prob(x, *self.predict(y, generator)) for _ in range(self.n_validation_passes)]
        )
        log_mix = torch.logsumexp(log_probs, dim=0) - math.log(self.n_validation_passes)
        return -log_mix.mean() / self.dim_x

    @torch.no_grad()
    def sample(self, y: torch.Tensor, n_draws: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n_draws`` draws per row of ``y`` (n_obs, dim_y), a fresh dropout mask and noise each:
        (n_obs, n_draws, dim_x)."""
        mean, log_var = self.predict(y.repeat_interleave(n_draws, dim=0), generator)
        noise = seeded_normal(mean.shape, like=mean, generator=generator)
        return (mean + torch.exp(0.5 * log_var) * noise).reshape(y.shape[0], n_draws, self.dim_x)
