"""Small MLPs on standardized spectral features, stored as safetensors with their settings.

The base of the amortized heads that sit beside the cINN in an estimator directory (the sO2
quantile head, the specular-highlight detector): features (n, d) are standardized by
buffers stored with the weights, pass 3 SiLU layers of ``hidden`` units, and give
``n_outputs`` numbers per row. Saving writes weights plus a JSON-able settings record into
one safetensors file (no code runs on load).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["FeatureMLP", "fit_feature_mlp"]


class FeatureMLP(nn.Module):
    """MLP (n_features -> hidden x 3 -> n_outputs) on features standardized by ``center``/``scale``.

    ``settings`` (JSON-able dict) is saved with the weights; subclasses keep their own
    parameters there (quantile levels, thresholds).
    """

    def __init__(
        self, n_features: int, n_outputs: int, hidden: int = 128, center=None, scale=None, settings: dict | None = None
    ):
        super().__init__()
        self.settings = dict(settings or {})
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, n_outputs),
        )
        self.register_buffer(
            "center", torch.as_tensor(np.zeros(n_features) if center is None else center, dtype=torch.float32)
        )
        self.register_buffer(
            "scale", torch.as_tensor(np.ones(n_features) if scale is None else scale, dtype=torch.float32)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net((features - self.center) / self.scale)

    @torch.inference_mode()
    def predict(self, features, batch: int = 4096) -> np.ndarray:
        """Outputs (n, n_outputs) float64 of features (n, n_features), ``batch`` rows per pass
        (4096 x 128 activations stay in the cache: a 512 x 512 image 1.6x faster than 65536)."""
        f = torch.as_tensor(np.asarray(features, dtype=np.float32))
        return torch.cat([self(f[i : i + batch]) for i in range(0, len(f), batch)]).double().numpy()

    def to_bytes(self) -> bytes:
        """Weights, sizes and ``settings`` as the bytes of one safetensors file."""
        from safetensors.torch import save

        info = {
            "settings": json.dumps(self.settings),
            "hidden": str(self.net[0].out_features),
            "n_features": str(self.net[0].in_features),
            "n_outputs": str(self.net[-1].out_features),
        }
        return save({k: v.contiguous() for k, v in self.state_dict().items()}, metadata=info)

    def save(self, path) -> None:
        """Write :meth:`to_bytes` to the file ``path``."""
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path):
        """Read a file written by :meth:`save` (ValueError when it is not one)."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(path), framework="pt") as handle:
            info = handle.metadata() or {}
        try:
            model = cls._from_record(info)
        except (KeyError, ValueError) as err:
            raise ValueError(f"{path} is not a {cls.__name__} file: {err}") from err
        model.load_state_dict(load_file(str(path)))
        return model.eval()

    @classmethod
    def _from_record(cls, info: dict):
        return cls(
            int(info["n_features"]), int(info["n_outputs"]), int(info["hidden"]), settings=json.loads(info["settings"])
        )


def fit_feature_mlp(
    model: FeatureMLP, features, target, loss, steps: int, batch_size: int = 1024, lr: float = 2e-3, seed: int = 0
) -> FeatureMLP:
    """Adam with cosine decay on random batches: minimizes ``loss(model(f), t)`` over rows of
    (features (n, d), target (n, ...)); returns the model in eval mode."""
    ft = torch.as_tensor(np.asarray(features, dtype=np.float32))
    tt = torch.as_tensor(np.asarray(target, dtype=np.float32))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(ft), (batch_size,), generator=gen)
        value = loss(model(ft[idx]), tt[idx])
        opt.zero_grad()
        value.backward()
        opt.step()
        sched.step()
    return model.eval()
