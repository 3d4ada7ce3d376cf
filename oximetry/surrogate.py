"""A neural surrogate of the colon forward model: 13 tissue parameters -> 8 band reflectances.

A small MLP (float32) trained on adding-doubling spectra of the colon prior for the paper's
8-band camera (``python -m oximetry.surrogate_training``); it predicts log reflectance from
parameters scaled to [-1, 1] by the prior's bounds. It is fast (batched matrix products)
and differentiable (:meth:`SurrogateMLP.reflectance`), e.g. for re-simulation. Its
held-out errors against the solver are stored with the weights (:func:`surrogate_report`).
"""

from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np
import torch
from safetensors.torch import load_file, save_file

__all__ = ["SurrogateMLP", "colon_surrogate", "surrogate_report", "SURROGATE_FILE"]

SURROGATE_FILE = "data/surrogate_colon.safetensors"


class SurrogateMLP(torch.nn.Module):
    """MLP from scaled parameter features to standardized log reflectance (n, n_out).

    Buffers ``low`` / ``high`` (parameter bounds), ``log_input`` (1 where a parameter is
    scaled in log, e.g. blood volume fractions spanning three decades) and ``out_mean`` /
    ``out_std`` (log reflectance statistics of the training set) make the scaling part of
    the weights.
    """

    def __init__(self, low, high, out_mean, out_std, width: int = 256, depth: int = 4, log_input=None):
        super().__init__()
        self.width, self.depth = int(width), int(depth)
        log_input = np.zeros(len(low)) if log_input is None else np.asarray(log_input, dtype=float)
        buffers = (("low", low), ("high", high), ("out_mean", out_mean), ("out_std", out_std), ("log_input", log_input))
        for name, value in buffers:
            self.register_buffer(name, torch.as_tensor(np.asarray(value), dtype=torch.float32))
        n_in, n_out = self.low.numel() + int(self.log_input.sum()), self.out_mean.numel()
        layers, size = [], n_in
        for _ in range(self.depth):
            layers += [torch.nn.Linear(size, self.width), torch.nn.SiLU()]
            size = self.width
        layers.append(torch.nn.Linear(size, n_out))
        self.net = torch.nn.Sequential(*layers)

    @classmethod
    def for_colon(cls, width: int, depth: int, log_reflectance: np.ndarray) -> SurrogateMLP:
        from oximetry.tissue import COLON

        bounds = np.array([[p.low, p.high] for p in COLON.parameters])
        log_input = [name.startswith("vhb_") for name in COLON.param_names]
        return cls(
            bounds[:, 0],
            bounds[:, 1],
            log_reflectance.mean(axis=0),
            log_reflectance.std(axis=0),
            width,
            depth,
            log_input,
        )

    def _scale(self, x, numpy):
        """Features: every parameter mapped linearly to [-1, 1], then the ``log_input`` ones mapped
        in log to [-1, 1] as extra columns (numpy or torch input)."""
        if numpy:
            mask = self.log_input.numpy().astype(bool)
            low, high = self.low.numpy().astype(float), self.high.numpy().astype(float)
            linear = 2 * (x - low) / (high - low) - 1
            logged = (
                2 * (np.log(np.maximum(x[:, mask], 1e-30)) - np.log(low[mask])) / np.log(high[mask] / low[mask]) - 1
            )
            return np.concatenate([linear, logged], axis=1)
        mask = self.log_input.bool()
        linear = 2 * (x - self.low) / (self.high - self.low) - 1
        low, high = self.low[mask], self.high[mask]
        logged = 2 * (torch.log(torch.clamp(x[:, mask], min=1e-30)) - torch.log(low)) / torch.log(high / low) - 1
        return torch.cat([linear, logged], dim=1)

    def normalize_inputs(self, x: np.ndarray) -> np.ndarray:
        return self._scale(np.asarray(x, dtype=float), numpy=True)

    def normalize_outputs(self, log_reflectance: np.ndarray) -> np.ndarray:
        return (log_reflectance - self.out_mean.numpy()) / self.out_std.numpy()

    def forward(self, scaled: torch.Tensor) -> torch.Tensor:
        return self.net(scaled)

    def reflectance(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable band reflectances (n, n_out) from parameters in physical units (n, n_in)."""
        scaled = self._scale(x, numpy=False)
        return torch.exp(self.net(scaled) * self.out_std + self.out_mean)

    @torch.no_grad()
    def predict(self, x: np.ndarray, batch: int = 65536) -> np.ndarray:
        """Band reflectances (n, n_out) float64 for parameter rows ``x`` (n, n_in)."""
        x = np.asarray(x, dtype=np.float32)
        out = [self.reflectance(torch.from_numpy(x[i : i + batch])).numpy() for i in range(0, len(x), batch)]
        return np.concatenate(out).astype(float) if out else np.zeros((0, self.out_mean.numel()))

    def save(self, path, metadata: dict | None = None) -> None:
        tensors = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        info = {"width": str(self.width), "depth": str(self.depth), "report": json.dumps(metadata or {})}
        save_file(tensors, str(path), metadata=info)

    @classmethod
    def load(cls, path) -> tuple[SurrogateMLP, dict]:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            info = handle.metadata()
        tensors = load_file(str(path))
        model = cls(
            tensors["low"].numpy(),
            tensors["high"].numpy(),
            tensors["out_mean"].numpy(),
            tensors["out_std"].numpy(),
            int(info["width"]),
            int(info["depth"]),
            tensors["log_input"].numpy(),
        )
        model.load_state_dict(tensors)
        model.eval()
        return model, json.loads(info["report"])


@functools.lru_cache(maxsize=1)
def _load_packaged():
    path = resources.files("oximetry").joinpath(SURROGATE_FILE)
    if not path.is_file():
        raise ValueError(
            f"the packaged surrogate {SURROGATE_FILE} is missing; train it with python -m oximetry.surrogate_training"
        )
    with resources.as_file(path) as local:
        return SurrogateMLP.load(local)


def colon_surrogate() -> SurrogateMLP:
    """The packaged surrogate (colon prior, paper 8-band camera), loaded once per process."""
    return _load_packaged()[0]


def surrogate_report() -> dict:
    """Training size and held-out errors against adding-doubling stored with the packaged weights."""
    return dict(_load_packaged()[1])
