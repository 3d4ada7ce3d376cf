"""The paper's padded INN (Ardizzone et al., ICLR 2019): one network x <-> [y, z, pad].

The forward pass predicts y from x and puts what y cannot tell about x into a latent z;
the inverse g(y, z) with z ~ N(0, I) samples the posterior. Everything is zero-padded to
a common width. Losses, all on standardized data (weights as in the paper's code):

- fit (L_y): squared error of the predicted y, and of the padding outputs against zero;
- latent MMD (L_z): MMD between [y_hat (no gradient), z] and [y, N(0, I)], so z is
  Gaussian and independent of y;
- backward MMD (L_x): MMD between g(y, z ~ N(0, I), pad noise) and the true x, each pair
  weighted by the similarity of its y (``exp(-|y_i - y_j|^2 / (2 * 0.48^2))``);
- reconstruction: g(f(x) + small noise) = x, through the inverse only (f's outputs detached).

Choices where the paper's public code was broken or switched off: its maximum-likelihood
term is not used (the published runs had it off); the learning rate follows the trainer's
schedule (cosine decay) rather than a constant; the backward MMD is ramped in linearly
over ``backward_ramp_steps`` (the 8-mode toy's code notes the model "can get stuck"
without a ramp), measured in calls of :meth:`training_loss`.
"""

from __future__ import annotations

import torch
from torch import nn

from inn_engine.devices import seeded_normal
from inn_engine.flow import coupling_stack
from inn_engine.mmd import (
    PAPER_BACKWARD_KERNEL_PARAMS,
    PAPER_FORWARD_KERNEL_PARAMS,
    PAPER_Y_SIGMA,
    mmd,
    multiquadratic_kernel,
    y_similarity_weights,
)

__all__ = ["PaddedINN"]


class PaddedINN(nn.Module):
    """Padded, bidirectionally trained INN.

    Args:
        dim_x, dim_y: sizes of parameters and observations; dim_z: latent size. Default
            without nuisance: dim_x, enough for any posterior of a noisy simulator. Default
            with nuisance: y is then a function of the dim_x + dim_nuisance inputs, so the
            latent needs only what y leaves free, dim_x + dim_nuisance - dim_y (the paper's
            layout, at least 1).
        dim_nuisance: trailing columns of the training x that are the simulator's own noise
            (the draws of its observation noise, say), so that y is a deterministic function of
            the network's input, as the paper's method assumes; they are trained like x and
            dropped from every posterior draw. 0: the forward process is taken as deterministic.
        width: network width (default max(dim_x + dim_nuisance, dim_y + dim_z)); the rest is padding.
        n_blocks, hidden, n_hidden_layers, clamp: affine coupling stack (paper: 4 blocks,
            width 128, clamp 4.0).
        weights: loss weights {"fit", "latent", "backward", "reconstruction"}; a weight of
            0 switches that loss off (the paper's ablations "only L_y, L_z" and "only L_x").
        noise: {"y", "z", "pad"} standard deviations of the training noise (paper: 0.05,
            0.02, 0.01).
        backward_ramp_steps: training steps over which the backward MMD weight ramps from 0.
        y_sigma: width of the backward MMD's y-similarity weighting (None: unweighted).
        latent_kernel, backward_kernel: (C, a) pairs of the generalized multiquadratic MMD
            kernels (default: the paper code's oximetry kernels; an inverse multiquadratic of
            width h is the pair (h^2, 1)).
    """

    kind = "padded"
    DEFAULT_WEIGHTS = {"fit": 1.0, "latent": 50.0, "backward": 500.0, "reconstruction": 1.0}
    DEFAULT_NOISE = {"y": 0.05, "z": 0.02, "pad": 0.01}

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        dim_z: int | None = None,
        dim_nuisance: int = 0,
        width: int | None = None,
        n_blocks: int = 4,
        hidden: int = 128,
        n_hidden_layers: int = 3,
        clamp: float = 4.0,
        weights: dict | None = None,
        noise: dict | None = None,
        backward_ramp_steps: int = 1000,
        y_sigma: float | None = PAPER_Y_SIGMA,
        latent_kernel=PAPER_FORWARD_KERNEL_PARAMS,
        backward_kernel=PAPER_BACKWARD_KERNEL_PARAMS,
        seed: int = 0,
    ):
        super().__init__()
        dim_in = dim_x + dim_nuisance
        if dim_z is None:
            dim_z = max(dim_in - dim_y, 1) if dim_nuisance else dim_x
        width = max(dim_in, dim_y + dim_z) if width is None else width
        if width < max(dim_in, dim_y + dim_z):
            raise ValueError(
                f"width {width} is smaller than max(dim_x + dim_nuisance, dim_y + dim_z) = {max(dim_in, dim_y + dim_z)}"
            )
        unknown = set(weights or {}) - set(self.DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown loss weights {sorted(unknown)}; expected keys {sorted(self.DEFAULT_WEIGHTS)}")
        self.weights = {**self.DEFAULT_WEIGHTS, **(weights or {})}
        self.noise = {**self.DEFAULT_NOISE, **(noise or {})}
        self.config = dict(
            dim_x=dim_x,
            dim_y=dim_y,
            dim_z=dim_z,
            dim_nuisance=dim_nuisance,
            width=width,
            n_blocks=n_blocks,
            hidden=hidden,
            n_hidden_layers=n_hidden_layers,
            clamp=clamp,
            weights=self.weights,
            noise=self.noise,
            backward_ramp_steps=backward_ramp_steps,
            y_sigma=y_sigma,
            latent_kernel=[list(map(float, p)) for p in latent_kernel],
            backward_kernel=[list(map(float, p)) for p in backward_kernel],
            seed=seed,
        )
        self.dim_x, self.dim_y, self.dim_z, self.width = dim_x, dim_y, dim_z, width
        self.dim_in = dim_in  # the network's input: x, then the nuisance columns
        self.backward_ramp_steps = backward_ramp_steps
        self.y_sigma = y_sigma
        self.flow = coupling_stack(
            width, n_blocks, 0, "affine", hidden, n_hidden_layers, actnorm=False, seed=seed, clamp=clamp
        )
        self.latent_kernel = multiquadratic_kernel(latent_kernel)
        self.backward_kernel = multiquadratic_kernel(backward_kernel)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    # layout of the output side: [y (dim_y), z (dim_z), pad]
    def _split(self, v: torch.Tensor):
        dy, dz = self.dim_y, self.dim_z
        return v[:, :dy], v[:, dy : dy + dz], v[:, dy + dz :]

    def _pad_x(self, x: torch.Tensor, scale: float, generator) -> torch.Tensor:
        extra = self.width - self.dim_in
        return torch.cat([x, scale * seeded_normal(x.shape[0], extra, like=x, generator=generator)], 1)

    def _output_side(self, y: torch.Tensor, z: torch.Tensor, pad_scale: float, generator) -> torch.Tensor:
        extra = self.width - self.dim_y - self.dim_z
        pad = pad_scale * seeded_normal(y.shape[0], extra, like=y, generator=generator)
        return torch.cat([y, z, pad], 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x`` (batch, dim_x + dim_nuisance), zero-padded -> (y_hat (batch, dim_y), z (batch, dim_z),
        pad (batch, rest))."""
        out, _ = self.flow(self._pad_x(x, 0.0, None))
        return self._split(out)

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
        """The weighted sum of the four losses on a batch, and each part for logging."""
        w, nz = self.weights, self.noise
        n = x.shape[0]
        x_pad = self._pad_x(x, nz["pad"], generator)
        y_noisy = y + nz["y"] * seeded_normal(y.shape, like=y, generator=generator)
        parts: dict[str, torch.Tensor] = {}
        total = x.new_zeros(())
        out = None
        if w["fit"] or w["latent"] or w["reconstruction"]:
            out, _ = self.flow(x_pad)
            y_hat, z_hat, pad_hat = self._split(out)
        if w["fit"]:
            parts["fit"] = (((y_hat - y_noisy) ** 2).sum() + (pad_hat**2).sum()) / n
            total = total + w["fit"] * parts["fit"]
        if w["latent"]:
            z_prior = seeded_normal(n, self.dim_z, like=x, generator=generator)
            parts["latent"] = mmd(
                torch.cat([y_hat.detach(), z_hat], 1), torch.cat([y_noisy, z_prior], 1), self.latent_kernel
            )
            total = total + w["latent"] * parts["latent"]
        if w["backward"]:
            z_prior = seeded_normal(n, self.dim_z, like=x, generator=generator)
            x_samples = self.flow.inverse(self._output_side(y_noisy, z_prior, nz["pad"], generator))
            pair_w = y_similarity_weights(y_noisy, self.y_sigma) if self.y_sigma else None
            parts["backward"] = mmd(x_samples, x_pad, self.backward_kernel, weights=pair_w)
            ramp = min(1.0, float(self.calls + 1) / self.backward_ramp_steps) if self.backward_ramp_steps else 1.0
            total = total + ramp * w["backward"] * parts["backward"]
        if w["reconstruction"]:
            noisy_out = out.detach() + torch.cat(
                [
                    nz["y"] * seeded_normal(n, self.dim_y, like=x, generator=generator),
                    nz["z"] * seeded_normal(n, self.dim_z, like=x, generator=generator),
                    nz["pad"] * seeded_normal(n, self.width - self.dim_y - self.dim_z, like=x, generator=generator),
                ],
                1,
            )
            parts["reconstruction"] = ((self.flow.inverse(noisy_out) - x_pad) ** 2).sum() / n
            total = total + w["reconstruction"] * parts["reconstruction"]
        if self.training and torch.is_grad_enabled():
            self.calls += 1
        return total, {k: v.detach() for k, v in parts.items()}

    @torch.no_grad()
    def validation_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Held-out loss for model selection: the noise-free fit of y and the latent and backward
        MMDs, each with its training weight (so an ablation is selected by the losses it trains).

        Uses a fixed generator so successive evaluations are comparable.
        """
        generator = torch.Generator().manual_seed(12345)
        n = min(x.shape[0], 2000)
        x, y = x[:n], y[:n]
        y_hat, z_hat, pad_hat = self(x)
        fit = (((y_hat - y) ** 2).sum() + (pad_hat**2).sum()) / n
        z_prior = seeded_normal(n, self.dim_z, like=x, generator=generator)
        latent = mmd(torch.cat([y_hat, z_hat], 1), torch.cat([y, z_prior], 1), self.latent_kernel)
        x_samples = self.flow.inverse(self._output_side(y, z_prior, 0.0, None))
        pair_w = y_similarity_weights(y, self.y_sigma) if self.y_sigma else None
        backward = mmd(x_samples, self._pad_x(x, 0.0, None), self.backward_kernel, weights=pair_w)
        w = self.weights
        return w["fit"] * fit + w["latent"] * latent + w["backward"] * backward

    @torch.no_grad()
    def sample(self, y: torch.Tensor, n_draws: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n_draws`` posterior draws per row of ``y`` (n_obs, dim_y): (n_obs, n_draws, dim_x)."""
        y_rep = y.repeat_interleave(n_draws, dim=0)
        z = seeded_normal(y_rep.shape[0], self.dim_z, like=y, generator=generator)
        x = self.flow.inverse(self._output_side(y_rep, z, 0.0, None))
        return x[:, : self.dim_x].reshape(y.shape[0], n_draws, self.dim_x)
