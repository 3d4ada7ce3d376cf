"""A small amortized quantile head: features -> chosen posterior quantiles of one parameter.

Sampling the full cINN per pixel costs ~n_draws network passes per pixel; for whole
images the median and 68 % interval of sO2 can instead be regressed directly with the
pinball (quantile) loss on the training grid: the minimizer of E[rho_q(x - f(y))] is the
q-quantile of p(x | y). One MLP pass per pixel then gives all quantiles.
"""
from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn

__all__ = ["QuantileHead", "fit_quantile_head", "HEAD_FILE"]

HEAD_FILE = "quantile_head.safetensors"  # its name inside an estimator directory


class QuantileHead(nn.Module):
    """MLP (n_features -> hidden x 3 -> n_quantiles) with sorted outputs, on standardized features."""

    def __init__(self, n_features: int, quantiles, hidden: int = 128, center=None, scale=None):
        super().__init__()
        self.quantiles = [float(q) for q in quantiles]
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, len(self.quantiles)))
        self.register_buffer("center", torch.as_tensor(np.zeros(n_features) if center is None else center,
                                                       dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(np.ones(n_features) if scale is None else scale,
                                                      dtype=torch.float32))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out = self.net((features - self.center) / self.scale)
        return torch.sort(out, dim=-1).values

    @torch.inference_mode()
    def predict(self, features, batch: int = 1 << 16) -> np.ndarray:
        """Quantiles (n, n_quantiles) float64 of features (n, n_features)."""
        f = torch.as_tensor(np.asarray(features, dtype=np.float32))
        return torch.cat([self(f[i:i + batch]) for i in range(0, len(f), batch)]).double().numpy()


    def save(self, path) -> None:
        """Write weights and settings to a safetensors file."""
        from safetensors.torch import save_file

        info = {"quantiles": json.dumps(self.quantiles), "hidden": str(self.net[0].out_features),
                "n_features": str(self.net[0].in_features)}
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(path), metadata=info)

    @classmethod
    def load(cls, path) -> "QuantileHead":
        """Read a head written by :meth:`save`."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(path), framework="pt") as handle:
            info = handle.metadata()
        head = cls(int(info["n_features"]), json.loads(info["quantiles"]), int(info["hidden"]))
        head.load_state_dict(load_file(str(path)))
        return head.eval()


def _pinball(pred: torch.Tensor, target: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    diff = target[:, None] - pred
    return torch.maximum(q * diff, (q - 1) * diff).mean()


def fit_quantile_head(features, target, quantiles=(0.16, 0.5, 0.84), steps: int = 3000, batch_size: int = 1024,
                      lr: float = 2e-3, hidden: int = 128, seed: int = 0) -> QuantileHead:
    """Train a :class:`QuantileHead` by the pinball loss on (features (n, d), target (n,))."""
    f = np.asarray(features, dtype=np.float32)
    t = np.asarray(target, dtype=np.float32)
    if f.ndim != 2 or t.shape != (f.shape[0],):
        raise ValueError(f"features must be (n, d) and target (n,), got {f.shape} and {t.shape}")
    torch.manual_seed(seed)
    head = QuantileHead(f.shape[1], quantiles, hidden, f.mean(axis=0), f.std(axis=0) + 1e-6)
    q = torch.as_tensor(head.quantiles)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    ft, tt = torch.as_tensor(f), torch.as_tensor(t)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(ft), (batch_size,), generator=gen)
        loss = _pinball(head(ft[idx]), tt[idx], q)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return head.eval()
