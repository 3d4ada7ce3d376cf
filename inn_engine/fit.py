"""``fit`` and ``fit_grid``: from simulations to a trained :class:`~inn_engine.estimator.Estimator`.

``fit`` takes (x, y) arrays in memory; ``fit_grid`` takes a simulation grid (zarr, from
:func:`inn_engine.grid.simulate_grid`), loading it when it fits in memory and streaming
it chunk by chunk when it does not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from inn_engine.batches import StreamBatches
from inn_engine.checks import SEED_LIMIT, check_array, check_integer, check_options, check_real, option_defaults
from inn_engine.domain import Conditioning
from inn_engine.estimator import Estimator
from inn_engine.models import MODELS
from inn_engine.schema import SIZE_LIMITS, network_options
from inn_engine.simulator import Observable, Parameter, Simulator
from inn_engine.train import TrainConfig, train
from inn_engine.transforms import BoundTransform, Standardizer

__all__ = ["fit", "fit_grid", "default_train_config", "data_sha256"]

_TRAIN_DEFAULTS = option_defaults(TrainConfig, exclude=("seed",))
_TRAIN_KEYS = set(_TRAIN_DEFAULTS)
_TRAIN_LIMITS = {
    "steps": (1, 10**9),
    "batch_size": (1, 2**24),
    "eval_every": (1, 10**9),
    "checkpoint_every": (1, 10**9),
    "max_bad_steps": (1, 10**9),
    "patience": (1, 10**9),
}
# A default ``fit(model="cinn")`` pilots two candidates, the default spline network and
# SMALL_BUDGET, for PILOT_FRACTION of their steps and finishes the one with the lower
# validation loss so far: on sbibm the spline network is far better on two_moons (C2ST 0.546
# vs 0.618 at 10^4 simulations) and worse on the 10-D gaussian_linear (0.574 vs 0.525 at 10^4;
# 0.532 at 10^5, where zuko reached 0.513), where it overfits within a few hundred steps, so
# a pilot of one network each tells them apart. Below ENSEMBLE_BELOW training pairs a
# winning SMALL_BUDGET candidate is trained as an ensemble of SMALL_DATA_MEMBERS networks
# (0.525 -> 0.515 on gaussian_linear at 10^4; at 10^5 three networks scored 0.517 against
# one's 0.511); the spline candidate stays one network (a 3-ensemble took two_moons only from
# 0.546 to 0.539 for 3x the time).
ENSEMBLE_BELOW = 20_000
SMALL_DATA_MEMBERS = 3
# at 0.2 the spline network led a 3-ensemble of affine ones on two_moons (10^4) by 0.0006 nats only
PILOT_FRACTION = 0.3
SMALL_BUDGET = {
    "network": dict(coupling="affine", n_blocks=4, hidden=64),
    "training": dict(weight_decay=1e-3, batch_size=512, eval_every=25, patience=40),
}
_STREAM_ABOVE_BYTES = 2 * 1024**3  # grids above this (as float64) are streamed, not loaded
_MAX_ABS_VALUE = 1e150  # training values above this overflow the standard deviation's squares


def data_sha256(x: np.ndarray, y: np.ndarray) -> str:
    """SHA-256 of the float64 training arrays (recorded so an estimator names its data)."""
    digest = hashlib.sha256()
    for a in (x, y):
        a = np.ascontiguousarray(a, dtype=np.float64)
        digest.update(str(a.shape).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def default_train_config(n_train: int, model: str = "cinn", **overrides) -> TrainConfig:
    """Training settings scaled to the data size (and, below 20,000 pairs, to the model).

    Flows ("cinn", "ensemble") below 20,000 pairs: batch 512 at learning rate 2e-3 for ~160
    passes, 500 to 3,000 steps. sbibm at 10^4 simulations (observations 1-3, idle machine,
    2026-12-01), 80 passes (1,406 steps) against 2,800 steps: two_moons C2ST 0.522 -> 0.510,
    gaussian_mixture 0.576 -> 0.575, slcp 0.856 -> 0.851, for 33-55 s -> 103-111 s (zuko's NSF
    recipe: 0.520, 0.575, 0.869 in 107-140 s; sbi NPE 161-212 s). Other models below
    20,000 pairs keep batch 128 at 1e-3 (their recipes were tuned so). Above: batch 256-1024
    for ~120 passes over small sets and ~30 over 10^6 rows (3,000-30,000 steps), as measured
    at 10^5.
    """
    if n_train < 20_000 and model in ("cinn", "ensemble"):
        batch, lr, epochs, low, high = 512, 2e-3, 160, 500, 3000
    else:
        batch = 128 if n_train < 20_000 else 256 if n_train < 50_000 else 512 if n_train < 400_000 else 1024
        lr, epochs, low, high = 1e-3, 120, 3000, 30000
    batch = int(overrides.pop("batch_size", batch))
    steps = int(np.clip(epochs * n_train / batch, low, high))
    settings = dict(
        steps=steps, batch_size=batch, lr=lr, eval_every=max(steps // 40, 25), checkpoint_every=max(steps // 10, 100)
    )
    settings.update(overrides)
    return TrainConfig(**settings)


@dataclass
class _Labels:
    """Names, units and prior bounds of the parameters and observables."""

    param_names: list
    obs_names: list
    param_units: list
    obs_units: list
    bounds: object

    @classmethod
    def resolve(
        cls,
        dx: int,
        dy: int,
        simulator=None,
        bounds=None,
        param_names=None,
        obs_names=None,
        param_units=None,
        obs_units=None,
    ) -> "_Labels":
        if simulator is not None:
            bounds = simulator.bounds if bounds is None else bounds
            param_names = param_names or simulator.param_names
            obs_names = obs_names or simulator.obs_names
            param_units = param_units or [p.unit for p in simulator.parameters]
            obs_units = obs_units or [o.unit for o in simulator.observables]
        labels = cls(
            list(param_names or [f"x{i}" for i in range(dx)]),
            list(obs_names or [f"y{i}" for i in range(dy)]),
            list(param_units or [""] * dx),
            list(obs_units or [""] * dy),
            bounds,
        )
        if len(labels.param_names) != dx or len(labels.obs_names) != dy:
            raise ValueError(
                f"{len(labels.param_names)} param_names / {len(labels.obs_names)} obs_names for data "
                f"of {dx} / {dy} columns"
            )
        return labels


def _check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = check_array("x", x, ndim=(1, 2), finite=False, form="a real array (n, dx) or (n,)")
    y = check_array("y", y, ndim=(1, 2), finite=False, form="a real array (n, dy) or (n,)")
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
            raise ValueError(
                f"{name} contains NaN or infinite values (first at row {np.argwhere(~np.isfinite(a))[0][0]})"
            )
        huge = np.abs(a).max(axis=0) > _MAX_ABS_VALUE
        if huge.any():
            raise ValueError(
                f"{name}[:, {int(np.argmax(huge))}] holds values beyond +-{_MAX_ABS_VALUE:g}, which "
                "cannot be standardized: rescale the column"
            )
    return x, y


def _split_options(model: str, options: dict) -> tuple[dict, dict]:
    """(network options, TrainConfig options), or a ValueError naming unknown or mistyped ones."""
    if not isinstance(model, str) or model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
    network = network_options(model)
    unknown = sorted(set(options) - set(network) - _TRAIN_KEYS)
    if unknown:
        raise ValueError(
            f"{unknown} are not options of the {model!r} network ({sorted(network)}) or of training "
            f"({sorted(_TRAIN_KEYS)})"
        )
    train_options = {k: options.pop(k) for k in list(options) if k in _TRAIN_KEYS}
    check_options(f"the {model!r} network", options, network, SIZE_LIMITS)
    check_options("training (inn_engine.train.TrainConfig)", train_options, _TRAIN_DEFAULTS, _TRAIN_LIMITS)
    return options, train_options


def _network(model: str, model_options: dict, seed: int, labels: _Labels):
    torch.manual_seed(seed)
    return MODELS[model](dim_x=len(labels.param_names), dim_y=len(labels.obs_names), seed=seed, **model_options)


def _wrap(
    network,
    config: TrainConfig,
    results: list,
    labels: _Labels,
    x_transform,
    x_scaler,
    y_scaler,
    n_train: int,
    n_val: int,
    info: dict,
) -> Estimator:
    """The trained network with its transforms and metadata; ``results``: the TrainResults of its
    run (a pilot and its continuation, or one call), the last holding the whole history."""
    result = results[-1]
    info["training"] = {
        **info.get("training", {}),
        "n_train": int(n_train),
        "n_val": int(n_val),
        "config": config.to_dict(),
        "best_val": result.best_val if np.isfinite(result.best_val) else None,
        "best_step": result.best_step,
        "steps_done": result.steps_done,
        "stopped_early": result.stopped_early,
        "seconds": result.seconds,  # a continuation's count includes its pilot's
        "threads": results[-1].threads,
        "history": result.history,
    }
    return Estimator(
        network,
        x_transform,
        x_scaler,
        y_scaler,
        labels.param_names,
        labels.obs_names,
        labels.param_units,
        labels.obs_units,
        info,
    )


def _train_estimator(
    model,
    model_options,
    train_options,
    seed,
    labels: _Labels,
    x_transform,
    x_scaler,
    y_scaler,
    data,
    validation,
    n_train: int,
    info: dict,
) -> Estimator:
    """Build the network, train it on ``data`` and wrap it with its transforms and metadata."""
    network = _network(model, model_options, seed, labels)
    config = default_train_config(n_train, model, seed=seed, **train_options)
    result = train(network, data, validation, config)
    return _wrap(network, config, [result], labels, x_transform, x_scaler, y_scaler, n_train, len(validation[0]), info)


def _describe(model: str, options: dict) -> str:
    """A candidate's short name for progress lines, e.g. "spline cINN", "affine ensemble of 3"."""
    kind = f"ensemble of {options['n_members']}" if model == "ensemble" else "cINN"
    return f"{options.get('coupling', 'spline')} {kind}"


def _select_and_train(
    candidates: list, seed, labels: _Labels, x_transform, x_scaler, y_scaler, data, validation, n_train: int, info: dict
) -> Estimator:
    """Pilot every candidate (model_options, train_options, members), one cINN each, for
    :data:`PILOT_FRACTION` of its steps, and finish the one with the lowest validation loss so
    far: with ``members == 1`` the piloted network trains on to the end (paused and resumed
    from a checkpoint, exactly as one run); otherwise an ensemble of ``members`` such networks
    trains from the start."""
    with tempfile.TemporaryDirectory(prefix="innfer-pilot-") as tmp:
        runs = []
        for k, (model_options, train_options, _) in enumerate(candidates):
            network = _network("cinn", model_options, seed, labels)
            config = default_train_config(
                n_train, "cinn", seed=seed, checkpoint_dir=os.path.join(tmp, str(k)), **train_options
            )
            pause = max(1, round(PILOT_FRACTION * config.steps))
            name = _describe("cinn", model_options)
            result = train(
                network, data, validation, config, desc=f"pilot {k + 1}/{len(candidates)}, {name}", pause_at=pause
            )
            runs.append((network, config, [result], name))
        pilot_vals = [r[2][0].best_val for r in runs]
        best = int(np.argmin(pilot_vals))
        network, config, results, name = runs[best]
        model_options, train_options, members = candidates[best]
        if members > 1:
            model_options = {"n_members": members, **model_options}
            network = _network("ensemble", model_options, seed, labels)
            config = default_train_config(n_train, "ensemble", seed=seed, **train_options)
            results = [
                train(network, data, validation, config, desc=f"training, {_describe('ensemble', model_options)}")
            ]
        elif results[0].paused:
            results.append(train(network, data, validation, config, desc=f"training, {name}"))
    config = dataclasses.replace(config, checkpoint_dir=None)  # a pilot's was temporary
    info["training"] = {
        **info.get("training", {}),
        "selection": [
            {"model": net.config, "pilot_steps": res[0].steps_done, "pilot_val": val if np.isfinite(val) else None}
            for (net, _, res, _), val in zip(runs, pilot_vals)
        ],
    }
    return _wrap(network, config, results, labels, x_transform, x_scaler, y_scaler, n_train, len(validation[0]), info)


def fit(
    x,
    y,
    model: str = "cinn",
    *,
    seed: int = 0,
    bounds=None,
    simulator: Simulator | None = None,
    param_names=None,
    obs_names=None,
    param_units=None,
    obs_units=None,
    validation_fraction: float = 0.1,
    metadata: dict | None = None,
    nuisance=None,
    **options,
) -> Estimator:
    """Train a posterior estimator on simulated pairs.

    Args:
        x: parameters (n, dx); y: observations (n, dy); physical units, float.
        model: a key of :data:`inn_engine.models.MODELS`: "cinn" (conditional INN, maximum
            likelihood; the default), "padded" (the 2018 INN), or the baselines
            "mc_dropout", "cvae", "cvae_iaf".
        seed: seeds weights, data split, batch order and training noise.
        bounds: (dx, 2) rows of (low, high) prior support (use +-inf for an open side);
            taken from ``simulator`` when given. Samples never leave the bounds.
        simulator: supplies names, units and bounds (optional).
        validation_fraction: held-out share for early stopping / model selection.
        metadata: JSON-safe information stored with the estimator.
        nuisance: (n, k) the simulator's own random draws behind each y (its observation
            noise, say), for ``model="padded"`` only: the paper's padded INN assumes y is a
            function of x, so with a noisy simulator it must see the noise as extra inputs
            (trained like x, never in the posterior draws); without them its posteriors are
            as narrow as if y had no noise. The other models learn the noise from the pairs.
        **options: network options (see the model class, e.g. ``n_blocks``, ``hidden``,
            ``coupling``) and :class:`~inn_engine.train.TrainConfig` fields (``steps``,
            ``batch_size``, ``lr``, ``checkpoint_dir``, ``patience``, ``progress``, ...).

    With ``model="cinn"``, no network options, no ``checkpoint_dir`` and a validation split,
    two candidates, the default spline network and :data:`SMALL_BUDGET`, are trained as one
    network each for :data:`PILOT_FRACTION` of their steps; the one with the lower validation
    loss then trains on to the end (``metadata['training']['selection']`` records both pilots).
    Below :data:`ENSEMBLE_BELOW` training pairs a winning SMALL_BUDGET candidate is trained
    afresh as an ensemble (:class:`~inn_engine.ensemble.EnsembleINN`) of
    :data:`SMALL_DATA_MEMBERS` cINNs. ``progress`` (None: a bar on a terminal, plain lines in a log file;
    False: silent) reports every pilot and the final run.

    Returns:
        The trained :class:`~inn_engine.estimator.Estimator`; ``metadata['training']`` holds
        the data hash, sizes, the training history and the best validation loss.
    """
    model_options, train_options = _split_options(model, dict(options))
    seed = check_integer("seed", seed, 0, SEED_LIMIT)
    x, y = _check_xy(x, y)
    if bounds is not None:
        bounds = check_array("bounds", bounds, finite=False, form="rows (dx, 2) of (low, high), +-inf for an open side")
    if check_real("validation_fraction", validation_fraction, 0.0) >= 0.5:
        raise ValueError(f"validation_fraction must lie in [0, 0.5), got {validation_fraction}")
    labels = _Labels.resolve(x.shape[1], y.shape[1], simulator, bounds, param_names, obs_names, param_units, obs_units)
    x_transform = BoundTransform.from_bounds(labels.bounds, x.shape[1])
    x_transform.check_inside(x)
    if nuisance is not None:
        nuisance = _check_nuisance(nuisance, model, x.shape[0], model_options)
        model_options["dim_nuisance"] = nuisance.shape[1]

    order = np.random.default_rng(seed).permutation(x.shape[0])
    n_val = int(round(validation_fraction * x.shape[0]))
    val_idx, train_idx = order[:n_val], order[n_val:]
    u = x_transform.forward(x)
    x_scaler, y_scaler = Standardizer.fit(u[train_idx]), Standardizer.fit(y[train_idx])
    xs = torch.as_tensor(x_scaler.forward(u), dtype=torch.float32)
    ys = torch.as_tensor(y_scaler.forward(y), dtype=torch.float32)
    if nuisance is not None:  # standardized like x; only the training data carries them
        ns = Standardizer.fit(nuisance[train_idx]).forward(nuisance)
        xs = torch.cat([xs, torch.as_tensor(ns, dtype=torch.float32)], 1)

    info = dict(metadata or {})
    info["training"] = {"data_sha256": data_sha256(x, y)}
    if simulator is not None:
        info.setdefault("simulator", simulator.metadata())
    data, validation = (xs[train_idx], ys[train_idx]), (xs[val_idx], ys[val_idx])
    setup = (seed, labels, x_transform, x_scaler, y_scaler, data, validation, len(train_idx), info)
    if model == "cinn" and not model_options and n_val > 0 and "checkpoint_dir" not in train_options:
        members = SMALL_DATA_MEMBERS if len(train_idx) < ENSEMBLE_BELOW else 1
        small = (SMALL_BUDGET["network"], {**SMALL_BUDGET["training"], **train_options}, members)
        return _usable(_select_and_train([({}, train_options, 1), small], *setup), y)
    return _usable(_train_estimator(model, model_options, train_options, *setup), y)


def _check_nuisance(nuisance, model: str, n: int, model_options: dict) -> np.ndarray:
    """``nuisance`` as a float (n, k) array, or a ValueError naming what is wrong."""
    if model != "padded":
        raise ValueError(
            f"nuisance= is for model='padded' (a deterministic forward map); "
            f"the {model!r} model learns the noise from the pairs"
        )
    if "dim_nuisance" in model_options:
        raise ValueError("dim_nuisance is set from nuisance=; do not pass both")
    nuisance = check_array(
        "nuisance", nuisance, ndim=2, form="an (n, k) array of the simulator's noise draws behind each row"
    )
    if nuisance.shape[0] != n or nuisance.shape[1] < 1:
        raise ValueError(f"nuisance must have shape ({n}, k >= 1), one row per row of x; got {nuisance.shape}")
    return nuisance


def _usable(est: Estimator, y: np.ndarray) -> Estimator:
    """``est``, or a ValueError when training diverged: draws for training rows ``y`` are not finite."""
    rows = y[:64][~est.refused_rows(y[:64])][:8]
    try:
        if len(rows):
            est.sample(rows, n=4, seed=0)
    except ValueError as err:
        raise ValueError(f"training diverged ({err}); lower lr or check the data's scale") from err
    return est


def _grid_labels(ds: xr.Dataset) -> tuple[_Labels, dict]:
    try:
        sim_meta = json.loads(ds.attrs["simulator"])
        params = [Parameter.from_dict(p) for p in sim_meta["parameters"]]
        observables = [Observable(**o) for o in sim_meta["observables"]]
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise ValueError(
            f"the grid's attrs lack a simulator description ({err}); was it made by simulate_grid?"
        ) from err
    labels = _Labels(
        [p.name for p in params],
        [o.name for o in observables],
        [p.unit for p in params],
        [o.unit for o in observables],
        [[p.low, p.high] for p in params],
    )
    return labels, sim_meta


def _grid_sha256(ds: xr.Dataset, rows_per_read: int = 200_000) -> str:
    """SHA-256 of a grid's x and y (float64), read in slices; equals data_sha256 of the arrays."""
    digest = hashlib.sha256()
    for name in ("x", "y"):
        digest.update(str(tuple(ds[name].shape)).encode())
        for start in range(0, ds.sizes["sample"], rows_per_read):
            block = ds[name].isel(sample=slice(start, start + rows_per_read)).values
            digest.update(np.ascontiguousarray(block, dtype=np.float64).tobytes())
    return digest.hexdigest()


def fit_grid(
    grid,
    model: str = "cinn",
    *,
    seed: int = 0,
    stream: bool | None = None,
    validation_rows: int | None = None,
    metadata: dict | None = None,
    conditioning: Conditioning | None = None,
    **options,
) -> Estimator:
    """Train an estimator on a simulation grid (a zarr path or the Dataset of ``open_grid``).

    Names, units and prior bounds come from the grid's simulator record. ``stream`` (default:
    only grids above 2 GiB) reads the grid chunk by chunk during training instead of loading it;
    then the first ``validation_rows`` rows (default 2 %, 1,000-50,000) are held out and the
    standardization is fitted on up to 200,000 training rows. ``conditioning`` (a domain's,
    :class:`~inn_engine.domain.Conditioning`) turns the grid's observables into the network's
    conditions, whose names and units the estimator then carries. Other arguments as :func:`fit`.
    """
    from inn_engine.grid import open_grid
    from inn_engine.streaming import GridStream

    ds = grid if isinstance(grid, xr.Dataset) else open_grid(os.fspath(grid))
    labels, sim_meta = _grid_labels(ds)
    condition = np.asarray  # the observables are the conditions
    if conditioning is not None:
        labels.obs_names, labels.obs_units = list(conditioning.names), list(conditioning.units)
        condition = conditioning.transform
    n, dx, dy = ds.sizes["sample"], ds.sizes["param"], ds.sizes["obs"]
    info = dict(metadata or {})
    info["grid"] = {k: ds.attrs[k] for k in ("n", "seed", "chunk_size", "innfer_version") if k in ds.attrs}
    info["simulator"] = sim_meta
    if stream is None:
        stream = n * (dx + dy) * 8 > _STREAM_ABOVE_BYTES
    if not stream:
        return fit(
            ds["x"].values,
            condition(ds["y"].values),
            model,
            seed=seed,
            bounds=labels.bounds,
            param_names=labels.param_names,
            obs_names=labels.obs_names,
            param_units=labels.param_units,
            obs_units=labels.obs_units,
            metadata=info,
            **options,
        )

    model_options, train_options = _split_options(model, dict(options))
    n_val = int(validation_rows or np.clip(int(0.02 * n), 1000, 50_000))
    if not 0 < n_val < n // 2:
        raise ValueError(f"validation_rows must lie in (0, {n // 2}), got {n_val}")
    x_transform = BoundTransform.from_bounds(labels.bounds, dx)
    stats = ds.isel(sample=slice(n_val, n_val + 200_000))
    x_stats, y_stats = stats["x"].values, condition(stats["y"].values)
    x_transform.check_inside(x_stats)
    x_scaler, y_scaler = Standardizer.fit(x_transform.forward(x_stats)), Standardizer.fit(y_stats)

    def prepare(xb, yb):
        xs = x_scaler.forward(x_transform.forward(np.asarray(xb, dtype=float)))
        ys = y_scaler.forward(condition(np.asarray(yb, dtype=float)))
        return torch.as_tensor(xs, dtype=torch.float32), torch.as_tensor(ys, dtype=torch.float32)

    training_part = ds.isel(sample=slice(n_val, None))
    chunk = int(ds.attrs.get("chunk_size", 10_000))

    def make_stream(batch, stream_seed, rank, world):
        return GridStream(
            training_part,
            batch,
            chunk_size=chunk,
            seed=stream_seed,
            rank=rank,
            world_size=world,
            balanced=True,
            drop_last=True,
        )

    validation = prepare(ds["x"].isel(sample=slice(0, n_val)).values, ds["y"].isel(sample=slice(0, n_val)).values)
    info["training"] = {"data_sha256": _grid_sha256(ds), "streamed": True}
    return _train_estimator(
        model,
        model_options,
        train_options,
        seed,
        labels,
        x_transform,
        x_scaler,
        y_scaler,
        StreamBatches(make_stream, prepare, n - n_val),
        validation,
        n - n_val,
        info,
    )
