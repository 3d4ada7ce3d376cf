"""cVAE whose posterior q(z | x, y) is a diagonal Gaussian refined by an inverse autoregressive
flow (Kingma et al. 2016), the INN paper's "cVAE-IAF" baseline.

z_0 = mu + sigma * eps from the encoder, z_T = IAF(z_0; h) with the encoder's context h, and

    log q(z_T | x, y) = log N(eps; 0, I) - sum log sigma - sum_t sum_i log sigma_t,i,

so the KL term of the ELBO is the single-sample estimate log q(z_T | x, y) - log N(z_T; 0, I).
Generation is unchanged: z ~ N(0, I) through the decoder.
"""

from __future__ import annotations

import torch

from inn_engine.baselines.cvae import GaussianCVAEBase
from inn_engine.baselines.gaussian import standard_normal_log_prob
from inn_engine.baselines.iaf import InverseAutoregressiveFlow
from inn_engine.baselines.options import check_int
from inn_engine.devices import seeded_normal

__all__ = ["ConditionalVAEIAF"]


class ConditionalVAEIAF(GaussianCVAEBase):
    """Conditional VAE with an IAF posterior.

    Args:
        dim_x, dim_y: sizes of parameters and observations.
        dim_z: latent size (default dim_x).
        hidden, n_hidden_layers: encoder and decoder MLPs.
        kl_warmup_steps: training steps over which the KL weight ramps from 0 to 1 (0: none).
        n_iaf_steps: IAF steps; iaf_hidden, iaf_hidden_layers: each step's MADE.
        context_features: size of the context h the encoder hands to every IAF step.
        seed: recorded for the artifact (weights come from torch's RNG, seeded by the trainer).
    """

    kind = "cvae_iaf"

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        dim_z: int | None = None,
        hidden: int = 128,
        n_hidden_layers: int = 2,
        kl_warmup_steps: int = 0,
        n_iaf_steps: int = 2,
        iaf_hidden: int = 64,
        iaf_hidden_layers: int = 1,
        context_features: int = 16,
        seed: int = 0,
    ):
        context_features = check_int("context_features", context_features, 0)
        super().__init__(dim_x, dim_y, dim_z, hidden, n_hidden_layers, kl_warmup_steps, context_features)
        self.flow = InverseAutoregressiveFlow(
            self.dim_z,
            context_features,
            check_int("n_iaf_steps", n_iaf_steps, 1),
            check_int("iaf_hidden", iaf_hidden, 1),
            check_int("iaf_hidden_layers", iaf_hidden_layers, 1),
        )
        self.config = dict(
            dim_x=self.dim_x,
            dim_y=self.dim_y,
            dim_z=self.dim_z,
            hidden=self.hidden,
            n_hidden_layers=self.n_hidden_layers,
            kl_warmup_steps=self.kl_warmup_steps,
            n_iaf_steps=int(n_iaf_steps),
            iaf_hidden=int(iaf_hidden),
            iaf_hidden_layers=int(iaf_hidden_layers),
            context_features=context_features,
            seed=int(seed),
        )

    def latent(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None):
        """z_T (batch, dim_z) and the single-sample KL estimate log q(z_T | x, y) - log p(z_T) (batch,)."""
        mean, log_var, context = self.encode(x, y)
        eps = seeded_normal(mean.shape, like=mean, generator=generator)
        z, log_det = self.flow(mean + torch.exp(0.5 * log_var) * eps, context if self.context_features else None)
        log_q = standard_normal_log_prob(eps) - 0.5 * log_var.sum(dim=1) - log_det
        return z, log_q - standard_normal_log_prob(z)
