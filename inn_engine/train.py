"""One training loop for every model: Adam, LR schedule, gradient clipping, validation,
early stopping, checkpoints with exact resume, progress reports (a bar on a terminal, plain
lines in a log), repeatable seeds, and
torch.distributed data parallelism when a process group is initialised.

A model plugs in by providing ``training_loss(x, y, generator) -> (loss, parts)`` and
``validation_loss(x, y) -> loss`` on standardized float32 tensors.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from inn_engine.batches import as_source
from inn_engine.blocks import ActNorm
from inn_engine.devices import resolve_device
from inn_engine.progress import Progress, format_duration
from inn_engine.threads import PiecePool, torch_threads, training_threads

__all__ = ["TrainConfig", "TrainResult", "train"]

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TrainConfig:
    """Settings of :func:`train`; every field has a default that works for ~1e4-1e6 samples.

    steps: optimizer steps in total. batch_size: global batch (split across ranks under DDP).
    schedule: "cosine" (decay to ``lr * final_lr_fraction`` after ``warmup_steps`` of linear
    warm-up), "plateau" (halve after 3 validation passes without improvement) or "constant".
    grad_clip: max global gradient norm (None: no clipping).
    eval_every: steps between validation passes; patience: validation passes without
    improvement before stopping early (None: never stop early); the best weights are kept.
    checkpoint_dir / checkpoint_every: write a resumable checkpoint every N steps; a run
    with the same directory resumes exactly where the last checkpoint left off.
    progress: None or True: a bar on a terminal, plain lines at least every 30 s otherwise
    (:class:`~inn_engine.progress.Progress`); False: silent.
    device: where the network trains (:func:`inn_engine.devices.resolve_device`: "cpu",
    "cuda", "cuda:N", "auto"); batches are moved there, the trained model comes back on the CPU.
    """

    steps: int = 5000
    batch_size: int = 512
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 1e-5
    schedule: str = "cosine"
    warmup_steps: int = 100
    final_lr_fraction: float = 0.01
    grad_clip: float | None = 10.0
    eval_every: int = 250
    patience: int | None = None
    checkpoint_dir: str | None = None
    checkpoint_every: int = 500
    seed: int = 0
    progress: bool | None = None
    max_bad_steps: int = 50
    device: str = "cpu"

    def __post_init__(self):
        for name in ("steps", "batch_size", "eval_every", "checkpoint_every", "max_bad_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.schedule not in ("cosine", "plateau", "constant"):
            raise ValueError(f"TrainConfig.schedule must be 'cosine', 'plateau' or 'constant', got {self.schedule!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr}")
        self.betas = tuple(float(b) for b in self.betas)
        resolve_device(self.device, "TrainConfig.device")
        self.device = str(self.device)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """What training did: ``history`` rows {step, lr, train, val, ...}, best validation loss;
    ``seconds``: wall seconds of training up to ``steps_done``, the parts before a resume included
    (checkpoints carry the count)."""

    history: list[dict] = field(default_factory=list)
    best_val: float = math.inf
    best_step: int = 0
    steps_done: int = 0
    stopped_early: bool = False
    paused: bool = False
    seconds: float = 0.0
    threads: int = 1


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _lr_lambda(config: TrainConfig):
    def factor(step: int) -> float:
        if config.schedule != "cosine":
            return 1.0
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = min((step - config.warmup_steps) / max(config.steps - config.warmup_steps, 1), 1.0)
        return config.final_lr_fraction + (1 - config.final_lr_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


@torch.no_grad()
def _initialize_actnorm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
    """Data-dependent ActNorm init on one global batch, identical on every rank."""
    if any(isinstance(m, ActNorm) and not bool(m.initialized) for m in model.modules()):
        model.train()
        model.training_loss(x, y, generator=torch.Generator().manual_seed(generator.initial_seed()))


@torch.no_grad()
def _validation_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 4096) -> float:
    model.eval()
    total = 0.0
    for i in range(0, x.shape[0], batch):
        total += float(model.validation_loss(x[i : i + batch], y[i : i + batch])) * min(batch, x.shape[0] - i)
    model.train()
    return total / x.shape[0]


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _network_signature(model: nn.Module) -> str:
    """The model's constructor options (its ``config``) as JSON: a checkpoint records it, so a run
    never resumes from one written for another network."""
    return json.dumps(getattr(model, "config", None), sort_keys=True, default=str)


def _load_checkpoint(path: Path, model: nn.Module) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file
        raise ValueError(f"checkpoint {path} cannot be read ({err}); delete it to start afresh") from err
    written_for, this_one = state.get("network"), _network_signature(model)  # absent in older checkpoints
    if written_for is not None and written_for != this_one:
        raise ValueError(
            f"checkpoint {path} was written for another network ({written_for}), not this one "
            f"({this_one}); give this run its own checkpoint_dir or delete the checkpoint"
        )
    return state


def train(
    model: nn.Module,
    data,
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
    config: TrainConfig | None = None,
    desc: str = "training",
    pause_at: int | None = None,
) -> TrainResult:
    """Train ``model`` in place on standardized float32 data.

    ``data``: an (x (n, dx), y (n, dy)) pair of tensors or a batch source from
    :mod:`inn_engine.batches` (e.g. a grid streamed from zarr); ``validation``: an (x, y)
    pair of tensors for early stopping and model selection (None: keep the last weights).
    ``desc`` names the run in the progress report. ``pause_at``: end this call after that
    step (counted from the run's start) with a checkpoint, which needs ``config.checkpoint_dir``;
    calling again with the same config resumes the run exactly (a pilot of a longer run). A
    paused call leaves the model at its latest weights and returns ``paused=True``.

    Under torch.distributed every rank passes the same data; each takes its share of every
    global batch and DDP averages the gradients, so the run equals a single-process run with
    the same global batch (for losses that are means over independent rows).

    Small networks train with one intra-op thread (:func:`inn_engine.threads.training_threads`:
    several times faster on 2 cores than splitting every small op); ``TrainResult.threads``
    says how many were used.
    """
    config = config or TrainConfig()
    n_parameters = sum(p.numel() for p in model.parameters())
    cores, world = torch.get_num_threads(), _world()[1]
    threads = training_threads(n_parameters, max(1, config.batch_size // world))
    # an ensemble's members run side by side, one per core, when each step is single-threaded
    device = resolve_device(config.device, "TrainConfig.device")
    side_by_side = threads == 1 and world == 1 and hasattr(model, "member_loss") and device.type == "cpu"
    try:
        with torch_threads(threads), PiecePool(cores if side_by_side else 1) as pool:
            result = _run(
                model.to(device), data, validation, config, desc, pause_at, pool if side_by_side else None, device
            )
    finally:
        model.to("cpu")
    result.threads = cores if side_by_side else threads
    return result


def _forward_backward(net: nn.Module, model: nn.Module, pool: PiecePool | None, x, y, generator):
    """The step's (loss, parts), with the loss's gradients accumulated when it is finite.

    With a ``pool``, an ensemble's members (``model.member_loss``) run forward and backward
    on the pool's threads: the gradient of the mean loss with respect to member k's weights
    is that of member k's loss divided by K, so this is one backward of the mean.
    """
    if pool is None:
        loss, parts = net(x, y, generator=generator)
        if torch.isfinite(loss):
            loss.backward()
        return loss, parts
    k = model.n_members

    def member(i: int) -> torch.Tensor:
        loss_i = model.member_loss(i, x, y)
        if torch.isfinite(loss_i):
            (loss_i / k).backward()
        return loss_i.detach()

    loss = torch.stack(pool.map(member, range(k))).mean()
    return loss, {"nll": loss}


def _run(model, data, validation, config: TrainConfig, desc: str, pause_at, pool, device) -> TrainResult:
    """The loop of :func:`train`, on the thread count it chose (``pool``: ensemble members side by side),
    with the model on ``device``."""
    if pause_at is not None and config.checkpoint_dir is None:
        raise ValueError("train(pause_at=...) needs config.checkpoint_dir to resume from")
    rank, world = _world()
    source = as_source(data)
    batch = min(config.batch_size, source.n_rows)
    if batch % world:
        raise ValueError(f"batch_size {batch} must be divisible by the world size {world}")
    x_val, y_val = validation if validation is not None else (None, None)
    has_val = x_val is not None and x_val.shape[0] > 0
    if has_val:
        x_val, y_val = x_val.to(device), y_val.to(device)

    noise = torch.Generator().manual_seed(config.seed * 7919 + rank)
    _initialize_actnorm(model, *(t.to(device) for t in source.first_batch(batch, config.seed)), noise)
    objective = _Objective(model)
    on_gpu = [device.index] if device.type == "cuda" else None
    net = nn.parallel.DistributedDataParallel(objective, device_ids=on_gpu) if world > 1 else objective
    # the fused (one kernel) Adam and the foreach clipping: ~20 % of a small network's step
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=config.lr,
        betas=config.betas,
        eps=config.eps,
        weight_decay=config.weight_decay,
        fused=True,
    )
    schedule = _lr_lambda(config)
    plateau_factor, plateau_bad = 1.0, 0

    result = TrainResult()
    best_state = None
    bad_evals = 0
    start_step = 0
    seconds_before = 0.0
    ckpt_path = Path(config.checkpoint_dir) / CHECKPOINT_NAME if config.checkpoint_dir else None
    if ckpt_path is not None and ckpt_path.exists():
        state = _load_checkpoint(ckpt_path, model)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        plateau_factor, plateau_bad = float(state["plateau_factor"]), int(state["plateau_bad"])
        if len(state["noise"]) == world:
            noise.set_state(state["noise"][rank])
        else:  # another process count wrote it: the training noise cannot continue exactly
            warnings.warn(
                f"checkpoint written by {len(state['noise'])} process(es), resumed by {world}: "
                "training noise restarts from a fresh seed (weights and batches resume exactly)"
            )
            noise.manual_seed(config.seed * 7919 + rank + 104729 * int(state["step"]))
        start_step = int(state["step"])
        result.history = list(state["history"])
        result.best_val, result.best_step = float(state["best_val"]), int(state["best_step"])
        best_state = state.get("best_model")
        bad_evals = int(state["bad_evals"])
        seconds_before = float(state.get("seconds", 0.0))  # absent in older checkpoints

    report = Progress(config.steps, desc, initial=start_step, enabled=config.progress if rank == 0 else False)
    t0 = time.perf_counter()
    bad_steps = 0
    model.train()
    step = start_step
    batches = source.iterate(start_step, batch, config.seed, rank, world)
    while step < config.steps:
        for group in optimizer.param_groups:
            group["lr"] = config.lr * schedule(step) * plateau_factor
        x_batch, y_batch = (t.to(device, non_blocking=True) for t in next(batches))
        optimizer.zero_grad(set_to_none=True)
        loss, parts = _forward_backward(net, model, pool, x_batch, y_batch, noise)
        if not torch.isfinite(loss):  # the step is skipped; its gradients are cleared next step
            bad_steps += 1
            if bad_steps > config.max_bad_steps:
                raise RuntimeError(
                    f"training diverged: {bad_steps} non-finite losses (last at step {step}); "
                    "lower the learning rate or standardize the data"
                )
            step += 1
            report.update(1)
            continue
        if config.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip, foreach=True)
        optimizer.step()
        step += 1
        row = None
        if step % config.eval_every == 0 or step == config.steps:
            row = {"step": step, "lr": optimizer.param_groups[0]["lr"], "train": float(loss.detach())}
            row.update({k: float(v) for k, v in parts.items()})
            if has_val:
                val = _validation_loss(model, x_val, y_val)
                row["val"] = val
                if val < result.best_val - 1e-6:
                    result.best_val, result.best_step, bad_evals, plateau_bad = val, step, 0, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    bad_evals += 1
                    plateau_bad += 1
                    if config.schedule == "plateau" and plateau_bad >= 3:
                        plateau_factor, plateau_bad = plateau_factor * 0.5, 0
            result.history.append(row)
        report.update(1, **({k: v for k, v in row.items() if k in ("train", "val")} if row else {}))
        stop = has_val and config.patience is not None and bad_evals >= config.patience
        pause = step == pause_at and not stop
        save = ckpt_path is not None and (step % config.checkpoint_every == 0 or step == config.steps or stop or pause)
        if save:
            noise_states = _all_ranks(noise.get_state(), world)
        if save and rank == 0:
            ckpt_path.parent.mkdir(parents=True, exist_ok=True)
            _save_checkpoint(
                ckpt_path,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "plateau_factor": plateau_factor,
                    "plateau_bad": plateau_bad,
                    "noise": noise_states,
                    "step": step,
                    "history": result.history,
                    "best_val": result.best_val,
                    "best_step": result.best_step,
                    "bad_evals": bad_evals,
                    "best_model": best_state,
                    "config": config.to_dict(),
                    "network": _network_signature(model),
                    "seconds": seconds_before + time.perf_counter() - t0,
                },
            )
        if stop:
            result.stopped_early = True
            break
        if pause:
            result.paused = True
            break
    result.steps_done = step
    result.seconds = seconds_before + time.perf_counter() - t0
    report.close(_summary(desc, result, has_val))
    if best_state is not None and not result.paused:
        model.load_state_dict(best_state)
    model.eval()
    return result


def _summary(desc: str, result: TrainResult, has_val: bool) -> str:
    """The closing line of a training run's report."""
    verb = "paused after" if result.paused else "done"
    text = f"{desc}: {verb} {result.steps_done} steps in {format_duration(result.seconds)}"
    if result.stopped_early:
        text += " (stopped early)"
    if has_val and math.isfinite(result.best_val):
        text += f", best val {result.best_val:.4g} at step {result.best_step}"
    return text


def _all_ranks(value, world: int) -> list:
    """``value`` from every rank, in rank order (the value itself outside DDP)."""
    if world == 1:
        return [value]
    gathered = [None] * world
    dist.all_gather_object(gathered, value)
    return gathered


class _Objective(nn.Module):
    """The model's training loss as a module's forward, so DDP can hook the all-reduce onto it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
        return self.model.training_loss(x, y, generator=generator)
