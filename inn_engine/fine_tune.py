"""Continue training a fitted estimator on fresh simulated pairs (a warm restart).

A network trained for its full schedule can still gain from more steps on new noise
draws of the same simulations, at a lower learning rate and a larger batch, without
paying for the first run again. The estimator's own transforms (bound transform and
standardizers) are part of its network's inputs and outputs, so they stay as they are;
only the network's weights move. The given estimator is left unchanged.

API::

    tuned = fine_tune(estimator, x, y, validation=(x_val, y_val), steps=6000, lr=3e-4)
    tuned.metadata["training"]["fine_tunes"]   # one record per fine-tune, in order
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from inn_engine.checks import check_array
from inn_engine.estimator import Estimator
from inn_engine.fit import data_sha256
from inn_engine.train import TrainConfig, train

__all__ = ["fine_tune"]


def fine_tune(
    estimator: Estimator, x, y, *, validation=None, data_record=None, desc: str = "fine-tune", **train_options
) -> Estimator:
    """A copy of ``estimator`` whose network trained on for ``train_options`` (TrainConfig fields).

    Args:
        estimator: a fitted :class:`~inn_engine.estimator.Estimator` (a single network).
        x: parameters (n, dx), y: observations (n, dy), physical units, the estimator's columns;
            x must lie inside its prior bounds.
        validation: None (keep the last weights) or (x_val, y_val) in the same form: the weights
            with the lowest validation loss are kept.
        data_record: None or a JSON-safe dict of how x, y were made, kept in the record.
        desc: the run's name in the progress report.
        **train_options: :class:`~inn_engine.train.TrainConfig` fields (steps, batch_size, lr,
            warmup_steps, checkpoint_dir: a killed run resumes from it, ...).

    Returns:
        A new Estimator; its ``metadata["training"]["fine_tunes"]`` gains one record
        (config, data hash, sizes, best validation loss and step, seconds, history).
    """
    xs, ys = _standardized(estimator, x, y, "x", "y")
    held_out = None if validation is None else _standardized(estimator, *validation, "validation x", "validation y")
    network = copy.deepcopy(estimator.model)
    config = TrainConfig(**train_options)
    result = train(network, (xs, ys), held_out, config, desc=desc)
    metadata = copy.deepcopy(estimator.metadata)
    record = {
        **(data_record or {}),
        "config": config.to_dict(),
        "data_sha256": data_sha256(np.asarray(x, float), np.asarray(y, float)),  # checked above
        "n_train": int(xs.shape[0]),
        "n_val": 0 if held_out is None else int(held_out[0].shape[0]),
        "best_val": result.best_val if np.isfinite(result.best_val) else None,
        "best_step": result.best_step,
        "steps_done": result.steps_done,
        "seconds": result.seconds,
        "history": result.history,
    }
    metadata.setdefault("training", {}).setdefault("fine_tunes", []).append(record)
    return Estimator(
        network.eval(),
        estimator.x_transform,
        estimator.x_scaler,
        estimator.y_scaler,
        estimator.param_names,
        estimator.obs_names,
        estimator.param_units,
        estimator.obs_units,
        metadata,
    )


def _standardized(estimator: Estimator, x, y, x_name: str, y_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) in the estimator's standardized network coordinates, float32 tensors; a ValueError
    naming the argument when a shape does not match or x leaves the prior bounds."""
    x = check_array(x_name, x, ndim=2, form=f"an (n, {estimator.dim_x}) array of parameters")
    y = check_array(y_name, y, ndim=2, form=f"an (n, {estimator.dim_y}) array of observations")
    if x.shape[1] != estimator.dim_x or y.shape[1] != estimator.dim_y or len(x) != len(y):
        raise ValueError(
            f"{x_name} and {y_name} must be (n, {estimator.dim_x}) and (n, {estimator.dim_y}) for this estimator "
            f"({estimator.param_names} from {estimator.obs_names}); got {x.shape} and {y.shape}"
        )
    estimator.x_transform.check_inside(x)
    u = estimator.x_scaler.forward(estimator.x_transform.forward(x))
    return (
        torch.as_tensor(u, dtype=torch.float32),
        torch.as_tensor(estimator.y_scaler.forward(y), dtype=torch.float32),
    )
