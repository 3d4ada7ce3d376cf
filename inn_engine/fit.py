"""``fit``: from paired simulations (x, y) to a trained :class:`~inn_engine.estimator.Estimator`."""
from __future__ import annotations

import hashlib
from dataclasses import fields

import numpy as np
import torch

from inn_engine.estimator import Estimator
from inn_engine.models import MODELS
from inn_engine.simulator import Simulator
from inn_engine.train import TrainConfig, train
from inn_engine.transforms import BoundTransform, Standardizer

__all__ = ["fit", "default_train_config", "data_sha256"]

_TRAIN_KEYS = {f.name for f in fields(TrainConfig)}


def data_sha256(x: np.ndarray, y: np.ndarray) -> str:
    """SHA-256 of the float64 training arrays (recorded so an estimator names its data)."""
    digest = hashlib.sha256()
    for a in (x, y):
        a = np.ascontiguousarray(a, dtype=np.float64)
        digest.update(str(a.shape).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def default_train_config(n_train: int, **overrides) -> TrainConfig:
    """Training settings scaled to the data size: ~150 passes over small sets, ~30 over 1e6 rows."""
    batch = 256 if n_train < 50_000 else 512 if n_train < 400_000 else 1024
    batch = int(overrides.pop("batch_size", batch))
    steps = int(np.clip(150 * n_train / batch, 3000, 30000))
    settings = dict(steps=steps, batch_size=batch, eval_every=max(steps // 40, 50),
                    checkpoint_every=max(steps // 10, 100))
    settings.update(overrides)
    return TrainConfig(**settings)


def _check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"x and y must be 2-D arrays (n, dx) and (n, dy), got shapes {x.shape} and {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y need the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    if x.shape[0] < 10:
        raise ValueError(f"need at least 10 training pairs, got {x.shape[0]}")
    for name, a in (("x", x), ("y", y)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or infinite values (first at row {np.argwhere(~np.isfinite(a))[0][0]})")
    return x, y


def fit(x, y, model: str = "cinn", *, seed: int = 0, bounds=None, simulator: Simulator | None = None,
        param_names=None, obs_names=None, param_units=None, obs_units=None, validation_fraction: float = 0.1,
        metadata: dict | None = None, **options) -> Estimator:
    """Train a posterior estimator on simulated pairs.

    Args:
        x: parameters (n, dx); y: observations (n, dy); physical units, float.
        model: "cinn" (conditional INN, maximum likelihood; the default) or "padded" (the 2018 INN).
        seed: seeds weights, data split, batch order and training noise.
        bounds: (dx, 2) rows of (low, high) prior support (use +-inf for an open side);
            taken from ``simulator`` when given. Samples never leave the bounds.
        simulator: supplies names, units and bounds (optional).
        validation_fraction: held-out share for early stopping / model selection.
        metadata: JSON-safe information stored with the estimator.
        **options: network options (see the model class, e.g. ``n_blocks``, ``hidden``,
            ``coupling``) and :class:`~inn_engine.train.TrainConfig` fields (``steps``,
            ``batch_size``, ``lr``, ``checkpoint_dir``, ``patience``, ``progress``, ...).

    Returns:
        The trained :class:`~inn_engine.estimator.Estimator`; ``metadata['training']`` holds
        the data hash, sizes, the training history and the best validation loss.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
    x, y = _check_xy(x, y)
    if not 0 <= validation_fraction < 0.5:
        raise ValueError(f"validation_fraction must lie in [0, 0.5), got {validation_fraction}")
    if simulator is not None:
        bounds = simulator.bounds if bounds is None else bounds
        param_names = param_names or simulator.param_names
        obs_names = obs_names or simulator.obs_names
        param_units = param_units or [p.unit for p in simulator.parameters]
        obs_units = obs_units or [o.unit for o in simulator.observables]
    param_names = list(param_names or [f"x{i}" for i in range(x.shape[1])])
    obs_names = list(obs_names or [f"y{i}" for i in range(y.shape[1])])
    if len(param_names) != x.shape[1] or len(obs_names) != y.shape[1]:
        raise ValueError(f"{len(param_names)} param_names / {len(obs_names)} obs_names for data of "
                         f"{x.shape[1]} / {y.shape[1]} columns")
    x_transform = BoundTransform.from_bounds(bounds, x.shape[1])
    x_transform.check_inside(x)

    train_options = {k: options.pop(k) for k in list(options) if k in _TRAIN_KEYS}
    rng = np.random.default_rng(seed)
    order = rng.permutation(x.shape[0])
    n_val = int(round(validation_fraction * x.shape[0]))
    val_idx, train_idx = order[:n_val], order[n_val:]
    u = x_transform.forward(x)
    x_scaler = Standardizer.fit(u[train_idx])
    y_scaler = Standardizer.fit(y[train_idx])
    xs = torch.as_tensor(x_scaler.forward(u), dtype=torch.float32)
    ys = torch.as_tensor(y_scaler.forward(y), dtype=torch.float32)

    torch.manual_seed(seed)
    network = MODELS[model](dim_x=x.shape[1], dim_y=y.shape[1], seed=seed, **options)
    config = default_train_config(len(train_idx), seed=seed, **train_options)
    result = train(network, xs[train_idx], ys[train_idx], xs[val_idx], ys[val_idx], config)

    info = dict(metadata or {})
    info["training"] = {
        "data_sha256": data_sha256(x, y), "n_train": int(len(train_idx)), "n_val": int(n_val),
        "config": config.to_dict(), "best_val": result.best_val if np.isfinite(result.best_val) else None,
        "best_step": result.best_step, "steps_done": result.steps_done, "stopped_early": result.stopped_early,
        "seconds": result.seconds, "history": result.history,
    }
    if simulator is not None:
        info.setdefault("simulator", simulator.metadata())
    return Estimator(network, x_transform, x_scaler, y_scaler, param_names, obs_names, param_units, obs_units, info)
