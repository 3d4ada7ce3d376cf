"""simulate_grid: a simulator's (x, y) training grid, in chunks, resumable, on dask."""

from __future__ import annotations

import logging
import os
import sys

import numpy as np
import xarray as xr

from inn_engine.checks import check_integer
from inn_engine.grid.chunks import chunk_length, chunk_rows, n_chunks
from inn_engine.grid.execution import run_jobs
from inn_engine.grid.store import (
    check_user_attrs,
    completed_chunks,
    damaged_chunks,
    empty_dataset,
    grid_attrs,
    open_grid,
    prepare_store,
)
from inn_engine.progress import Progress
from inn_engine.simulator import Simulator

__all__ = ["simulate_grid"]

logger = logging.getLogger(__name__)


def _local_path(path) -> str:
    """``path`` as an absolute local path (workers get it verbatim), or a ValueError."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be None or a directory path (str or os.PathLike), got {path!r}")
    path = os.fspath(path)
    if "://" in path:
        raise ValueError(f"path must be a directory on a local or shared file system, got the URL {path!r}")
    return os.path.abspath(os.path.expanduser(path))


def simulate_grid(
    simulator: Simulator,
    n: int,
    path=None,
    *,
    seed: int = 0,
    chunk_size: int = 10_000,
    scheduler: str | None = None,
    n_workers: int = 2,
    progress: bool = True,
    attrs: dict | None = None,
) -> xr.Dataset:
    """Simulate ``n`` rows (x from the prior, noisy y) as an xarray.Dataset.

    Args:
        simulator (inn_engine.Simulator): Must be picklable when dask workers are used.
        n (int >= 1): Number of rows (samples).
        path (str or os.PathLike or None): A ``.zarr`` directory: chunks are written as they
            finish, and calling again with the same arguments resumes (only missing chunks are
            computed, and chunks recorded as done whose data cannot be read back or hold NaN,
            which are reported); different arguments for an existing grid raise ValueError
            naming the argument. ``None``: the grid is returned in memory.
        seed (int >= 0): Chunk ``i`` is drawn with
            ``np.random.default_rng(np.random.SeedSequence([seed, i]))``, so the grid does not
            depend on scheduler, workers or interruptions.
        chunk_size (int >= 1): Rows per chunk (the unit of work, of storage and of resumption).
        scheduler (str or None): A dask scheduler address (``"tcp://host:8786"``) to run on an existing cluster,
            whose workers must see ``path`` and import the simulator's module. ``None``: in this
            process when ``n_workers <= 1`` or only one chunk is left to compute, else on a new
            :func:`inn_engine.grid.local_cluster` of ``n_workers`` single-threaded processes. A
            worker that dies mid-chunk costs only that chunk, which dask runs again elsewhere.
        n_workers (int >= 1): Worker processes of the local cluster (ignored when ``scheduler`` is given).
        progress (bool): Report progress (:class:`~inn_engine.progress.Progress`: a bar on a terminal, plain
            lines at least every 30 s in a log); False: silent.
        attrs (dict or None): Extra JSON-safe attrs recorded with the grid (e.g. camera, solver); part of the
            grid's identity, checked on resume.

    Returns:
        xarray.Dataset: ``x`` (sample, param) and ``y`` (sample, obs) float64, coords ``param`` / ``obs``
            (names), attrs ``n``, ``seed``, ``chunk_size``, ``simulator`` (metadata JSON),
            ``units`` (JSON), ``innfer_version`` and ``attrs``. Lazy (dask) when read from
            ``path``; numpy in memory otherwise.
    """
    if not isinstance(simulator, Simulator):
        raise ValueError(f"simulator must be an inn_engine.Simulator instance, got {type(simulator).__name__}")
    n = check_integer("n", n, 1)
    seed = check_integer("seed", seed, 0)
    chunk_size = check_integer("chunk_size", chunk_size, 1)
    n_workers = check_integer("n_workers", n_workers, 1)
    if scheduler is not None and not isinstance(scheduler, str):
        raise ValueError(f"scheduler must be None or a dask scheduler address string, got {scheduler!r}")
    attrs = grid_attrs(simulator, n, seed, chunk_size, check_user_attrs(attrs))
    total = n_chunks(n, chunk_size)

    if path is None:
        todo = np.arange(total)
        memory = empty_dataset(
            simulator,
            n,
            chunk_size,
            attrs,
            lambda shape, dtype, chunks: np.zeros(shape, dtype),
            completion_record=False,
        )
    else:
        path = _local_path(path)
        prepare_store(path, simulator, n, chunk_size, attrs)
        done = completed_chunks(path)
        damaged = damaged_chunks(path, np.flatnonzero(done), n, chunk_size)
        if damaged:
            print(
                f"grid {path}: {len(damaged)} chunk(s) recorded as done cannot be read back or hold NaN "
                f"(chunks {damaged[:10]}{', ...' if len(damaged) > 10 else ''}): computing them again",
                file=sys.stderr,
                flush=True,
            )
        todo = np.flatnonzero(~completed_chunks(path))
        if todo.size < total:
            logger.info("resuming grid %s: %d of %d chunks already done", path, total - todo.size, total)

    rows_left = sum(chunk_length(int(i), n, chunk_size) for i in todo)
    with Progress(n, "simulating grid", unit="row", initial=n - rows_left, enabled=None if progress else False) as bar:
        for index, x, y in run_jobs(simulator, seed, todo, n, chunk_size, path, scheduler, n_workers):
            if path is None:
                rows = chunk_rows(index, n, chunk_size)
                memory["x"].data[rows] = x
                memory["y"].data[rows] = y
            bar.update(chunk_length(index, n, chunk_size))
    return memory if path is None else open_grid(path)
