"""Run a function in K processes of one torch.distributed process group on this machine.

:func:`launch` spawns ``nproc`` processes (``torch.multiprocessing``, start method
"spawn"), joins them into a process group on a free localhost port - gloo for networks on
the CPU, nccl on CUDA GPUs (one per rank) - and calls ``fn(*args)`` in each; :func:`inn_engine.train.train`
then runs data-parallel (DDP) by itself. ``innfer train --nproc-per-node K`` uses it.

Under ``torchrun`` the processes already exist and the launcher's environment variables
(``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) describe the group;
:func:`init_from_env` joins it, e.g. across two nodes of 4 GPUs each::

    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d \\
        --rdzv-endpoint HOST0:29500 -m inn_engine.cli train grid.zarr --out model

Only rank 0 should write results (the estimator, checkpoints).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from inn_engine.devices import resolve_device

__all__ = ["launch", "init_from_env", "leave_process_group", "default_backend", "free_port", "is_rank_zero"]


def default_backend(device="cpu") -> str:
    """The process group's backend for networks on ``device`` (see :mod:`inn_engine.devices`):
    "nccl" for CUDA GPUs, "gloo" for the CPU."""
    return "nccl" if resolve_device(device).type == "cuda" else "gloo"


def free_port() -> int:
    """A TCP port on localhost that no one listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_rank_zero() -> bool:
    """True outside a process group and on its rank 0 (the rank that writes files)."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _select_device(backend: str, local_rank: int) -> None:
    if backend == "nccl":
        torch.cuda.set_device(local_rank % torch.cuda.device_count())


def init_from_env(backend: str | None = None) -> bool:
    """Join the process group that ``torchrun`` (or any env:// launcher) describes.

    Does nothing and returns False when ``RANK`` is not set (a plain single process);
    returns True when this process is (now) part of an initialised group.
    ``backend``: default :func:`default_backend`.
    """
    if dist.is_available() and dist.is_initialized():
        return True
    if "RANK" not in os.environ:
        return False
    missing = [k for k in ("WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ValueError(f"RANK is set but {', '.join(missing)} is not: launch with torchrun, which sets all four")
    backend = backend or default_backend()
    _select_device(backend, int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend, init_method="env://")
    return True


def _worker(
    rank: int, nproc: int, port: int, backend: str, threads: int, fn: Callable, args: tuple, result_file: str
) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(nproc),
        LOCAL_WORLD_SIZE=str(nproc),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(threads)
    init_from_env(backend)
    try:
        value = fn(*args)
        if rank == 0:
            with open(result_file, "w") as f:
                json.dump(value, f)
    except BaseException:
        dist.destroy_process_group()
        raise
    leave_process_group()


def leave_process_group() -> None:
    """Wait for every rank, tear the process group down and end this spawned process at once.

    The end skips the interpreter's finalisation (``os._exit(0)`` after flushing the output):
    on a loaded CI machine a spawned gloo rank, its work done, once died with SIGABRT
    ("terminate called without an active exception", a C++ thread still joinable when
    destroyed) while the interpreter was shutting down.
    """
    dist.barrier()  # no rank tears gloo down while another still talks to it
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def launch(
    fn: Callable, nproc: int, args: tuple = (), *, backend: str | None = None, threads_per_process: int | None = None
):
    """Call ``fn(*args)`` in ``nproc`` processes joined in one process group; return rank 0's result.

    ``fn`` must be importable by name (a module-level function), its arguments picklable and
    its result JSON-serializable (read back without unpickling). ``backend``: "gloo" or
    "nccl" (default :func:`default_backend`).
    ``threads_per_process``: torch threads of each process (default: the CPU cores divided
    among the processes). An exception in any process is raised here
    (``torch.multiprocessing.ProcessRaisedException``, with the child's traceback).
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be an integer >= 1, got {nproc!r}")
    backend = backend or default_backend()
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo' or 'nccl', got {backend!r}")
    if backend == "nccl" and not torch.cuda.is_available():
        raise ValueError("backend 'nccl' needs CUDA GPUs; use 'gloo' on CPU")
    threads = threads_per_process or max(1, (os.cpu_count() or 1) // nproc)
    with tempfile.TemporaryDirectory(prefix="innfer-launch-") as tmp:
        result_file = str(Path(tmp) / "rank0.json")
        mp.spawn(
            _worker, args=(nproc, free_port(), backend, threads, fn, tuple(args), result_file), nprocs=nproc, join=True
        )
        with open(result_file) as f:
            return json.load(f)
