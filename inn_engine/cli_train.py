"""``innfer train``: fit an estimator on a grid's training rows, resumably, in 1..K processes.

The last ``holdout`` rows of the grid are never trained on (``innfer evaluate`` tests on
them); the model selects its best weights on a validation share of the rest (see
:func:`inn_engine.fit.fit_grid`). With a checkpoint directory, a run writes a manifest of
its settings there and a rerun with the same settings resumes from the last checkpoint;
different settings are refused rather than silently mixed.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

__all__ = [
    "TrainRequest",
    "check_options",
    "default_holdout",
    "checkpoint_step",
    "check_manifest",
    "run_training",
    "grid_identity",
]

MANIFEST_NAME = "innfer-train.json"
#: request fields a resumed run may change: where things go and the domain's work after training
NOT_IN_MANIFEST = ("out", "checkpoint_dir", "progress", "grid", "device", "domain_options")
SIDE_MODEL_ROWS = 200_000  # training rows a domain's side models (OOD density, ...) are fitted on


@dataclass(frozen=True)
class TrainRequest:
    """Everything one ``innfer train`` run needs (picklable, so spawned ranks receive it)."""

    grid: str
    out: str
    model: str
    holdout: int
    seed: int
    model_options: dict = field(default_factory=dict)
    #: parsed ``--domain-option`` settings of the domain's finish (not training: not in the manifest)
    domain_options: dict = field(default_factory=dict)
    steps: int | None = None
    batch_size: int | None = None
    checkpoint_dir: str | None = None
    checkpoint_every: int | None = None
    stream: bool | None = None
    validation_rows: int | None = None
    progress: bool | None = None
    device: str | None = None

    def train_options(self) -> dict:
        """The TrainConfig fields this request sets (the rest keep fit's data-scaled defaults)."""
        names = ("steps", "batch_size", "checkpoint_dir", "checkpoint_every", "progress", "device")
        return {k: getattr(self, k) for k in names if getattr(self, k) is not None}


def check_options(model: str, options: dict) -> None:
    """ValueError naming the ``-o`` options that neither the network of ``model`` nor TrainConfig
    takes, or whose values have another type (``hidden=abc``), as :func:`inn_engine.fit.fit` would."""
    from inn_engine.fit import _split_options

    if "seed" in options:
        raise ValueError("seed is not a network option: give --seed")
    _split_options(model, dict(options))


def default_holdout(n: int) -> int:
    """Rows held out for testing when none is asked: 10 % of the grid, at most 1000."""
    return min(1000, n // 10)


def grid_identity(ds) -> dict:
    """What identifies a grid's rows: its size, seed, chunking and a hash of its simulator record."""
    simulator = str(ds.attrs.get("simulator", ""))
    return {
        "n": int(ds.sizes["sample"]),
        "seed": ds.attrs.get("seed"),
        "chunk_size": ds.attrs.get("chunk_size"),
        "simulator_sha256": hashlib.sha256(simulator.encode()).hexdigest(),
    }


def checkpoint_step(checkpoint_dir: str | Path) -> int | None:
    """The step of the checkpoint in ``checkpoint_dir`` (None when there is none)."""
    from inn_engine.train import CHECKPOINT_NAME

    path = Path(checkpoint_dir) / CHECKPOINT_NAME
    if not path.exists():
        return None
    return int(torch.load(path, map_location="cpu", weights_only=True)["step"])


def _manifest(request: TrainRequest, identity: dict, world_size: int) -> dict:
    settings = {k: v for k, v in asdict(request).items() if k not in NOT_IN_MANIFEST}
    return {"grid": identity, "world_size": world_size, **settings}


def check_manifest(request: TrainRequest, identity: dict, world_size: int) -> None:
    """Write the run's manifest to its checkpoint directory, or check it against the one there.

    Raises ValueError naming the first setting that differs from the interrupted run.
    """
    if request.checkpoint_dir is None:
        return
    path = Path(request.checkpoint_dir) / MANIFEST_NAME
    current = _manifest(request, identity, world_size)
    if path.exists():
        previous = json.loads(path.read_text())
        for key in sorted(set(previous) | set(current)):
            if previous.get(key) != current.get(key):
                raise ValueError(
                    f"--checkpoint-dir {request.checkpoint_dir} holds a run with {key}="
                    f"{previous.get(key)!r}, this run has {current.get(key)!r}: use the same "
                    "settings to resume, or another directory"
                )
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=1))


def run_training(request: TrainRequest) -> dict:
    """Train on ``request.grid`` (in this process, or as one rank of a process group) and,
    on rank 0, save the estimator to ``request.out``. Returns a summary of the training.

    A grid made by a registered domain (its ``domain`` attr) gets that domain's conditioning
    of the observables and its record; rank 0 fits the domain's side models on (up to
    :data:`SIDE_MODEL_ROWS` of) the training rows and saves them with the estimator.
    """
    from inn_engine.domain import Domain, domain_of_grid
    from inn_engine.fit import fit_grid
    from inn_engine.grid import open_grid
    from inn_engine.launch import default_backend, init_from_env, is_rank_zero

    init_from_env(default_backend(request.device or "cpu"))
    ds = open_grid(request.grid)
    n = ds.sizes["sample"]
    if not 0 <= request.holdout <= n - 20:
        raise ValueError(f"--holdout must lie in [0, {n - 20}] for a grid of {n} rows, got {request.holdout}")
    n_train = n - request.holdout
    metadata = {
        "innfer_train": {
            "grid": str(Path(request.grid).resolve()),
            "grid_identity": grid_identity(ds),
            "train_rows": [0, n_train],
            "holdout_rows": [n_train, n],
            "command": {k: v for k, v in asdict(request).items() if k != "progress"},
        }
    }
    domain, record, conditioning = domain_of_grid(ds.attrs), None, None
    if domain is not None:
        simulator = json.loads(ds.attrs["simulator"])
        observables = [o["name"] for o in simulator["observables"]]
        units = [o.get("unit", "") for o in simulator["observables"]]
        record = domain.record(ds.attrs, simulator)
        conditioning = domain.conditioning(record, observables, units)
        metadata["domain"] = {"name": domain.name, "observables": observables, "observable_units": units}
        metadata[domain.name] = record
    estimator = fit_grid(
        ds.isel(sample=slice(0, n_train)),
        request.model,
        seed=request.seed,
        stream=request.stream,
        validation_rows=request.validation_rows,
        metadata=metadata,
        conditioning=conditioning,
        **{**request.model_options, **request.train_options()},
    )
    if is_rank_zero():
        side_files = None
        if domain is not None and type(domain).side_models is not Domain.side_models:
            rows = ds.isel(sample=slice(0, min(n_train, SIDE_MODEL_ROWS)))
            print(
                f"fitting the {domain.name} side models on {rows.sizes['sample']} training rows",
                file=sys.stderr,
                flush=True,
            )
            side = domain.side_models(record, rows["x"].values, rows["y"].values, estimator.param_names, request.seed)
            estimator.metadata[domain.name].update(side.record)
            side_files = side.files
        estimator.save(request.out, side_files)
        if domain is not None:
            domain.finish(Path(request.out), record, request.seed, request.progress, **request.domain_options)
    training = estimator.metadata["training"]
    return {k: training.get(k) for k in ("n_train", "n_val", "steps_done", "best_val", "best_step", "seconds")}
