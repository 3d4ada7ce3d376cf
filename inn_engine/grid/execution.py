"""Where grid chunks are computed: in this process, or on dask workers.

A job computes one chunk with :func:`inn_engine.grid.chunks.simulate_chunk` and, for a
grid on disk, writes it and its completion record itself (on a dask worker that needs the
store path to be visible to the worker: always true for a local cluster, a shared file
system on a real one). For an in-memory grid the job returns the arrays instead.

On a dask cluster, a worker that dies mid-chunk loses nothing but that chunk: the
scheduler sees the worker go, re-runs its unfinished jobs on the remaining (or
restarted) workers, and since a chunk is a pure function of (seed, index) the rerun
writes the same bytes.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from inn_engine.grid.chunks import simulate_chunk
from inn_engine.grid.store import write_chunk
from inn_engine.processes import worker_processes_unsafe
from inn_engine.simulator import Simulator

__all__ = ["chunk_job", "run_jobs", "local_cluster"]

# Native thread pools a simulator may use (numpy/BLAS, numba): each worker process gets its
# share of the cores, so n_workers workers do not oversubscribe the machine.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")

ChunkResult = tuple[int, "np.ndarray | None", "np.ndarray | None"]


def chunk_job(simulator: Simulator, seed: int, index: int, n: int, chunk_size: int, path: str | None) -> ChunkResult:
    """Compute chunk ``index``; write it to ``path`` (returning ``(index, None, None)``)
    or, with ``path=None``, return ``(index, x, y)``."""
    x, y = simulate_chunk(simulator, seed, index, n, chunk_size)
    if path is None:
        return index, x, y
    write_chunk(path, index, n, chunk_size, x, y)
    return index, None, None


@contextmanager
def _worker_environment(n_workers: int):
    """The environment of LocalCluster workers, set before they are spawned.

    Each worker gets ``cpu_count // n_workers`` native threads (variables already set in
    this process win). dask's default ``MALLOC_TRIM_THRESHOLD_`` is left out: it turns off
    glibc's adaptive mmap threshold, so every temporary array above 128 KiB is mmapped
    and unmapped again, which made a numpy simulator 13x slower on a worker than in
    process (0.12 s vs 1.7 s CPU per 20 000-row chunk of benchmarks/grid_scaling.py).
    dask writes the workers' variables into this process's ``os.environ`` (before each
    spawn, and more); the environment is restored on exit.
    """
    import dask.config

    threads = str(max(1, (os.cpu_count() or 1) // n_workers))
    saved = dict(os.environ)
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": dict.fromkeys(_THREAD_VARIABLES, threads)}):
            yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        os.environ.update(saved)


@contextmanager
def local_cluster(n_workers: int):
    """A ``distributed.LocalCluster`` of ``n_workers`` single-threaded worker processes, as
    simulate_grid starts it (see :func:`_worker_environment`); closed on exit.

    Use it to run several grids on one cluster:
    ``with local_cluster(2) as c: simulate_grid(sim, n, path, scheduler=c.scheduler_address)``.
    """
    from distributed import LocalCluster

    with (
        _worker_environment(n_workers),
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: no clash with other clusters
            silence_logs=logging.CRITICAL,  # task errors reach the client as exceptions
        ) as cluster,
    ):
        yield cluster


@contextmanager
def _dask_client(scheduler: str | None, n_workers: int):
    """A distributed.Client: to ``scheduler`` (an address) or to a new :func:`local_cluster`."""
    from distributed import Client

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with local_cluster(n_workers) as cluster, Client(cluster) as client:
        yield client


def run_jobs(
    simulator: Simulator,
    seed: int,
    indices: Sequence[int],
    n: int,
    chunk_size: int,
    path: str | None,
    scheduler: str | None,
    n_workers: int,
) -> Iterator[ChunkResult]:
    """Run the chunk jobs for ``indices`` and yield their results as they finish.

    In this process when ``scheduler`` is None and at most one worker is asked for (or
    only one chunk is left, or worker processes cannot start: :mod:`inn_engine.processes`);
    otherwise on dask (see :func:`_dask_client`).
    """
    args = (simulator, seed)
    if scheduler is None and min(n_workers, len(indices)) > 1:
        unsafe = worker_processes_unsafe()
        if unsafe:
            print(
                f"simulating in this process instead of {n_workers} worker processes: {unsafe}",
                file=sys.stderr,
                flush=True,
            )
            n_workers = 1
    if scheduler is None and min(n_workers, len(indices)) <= 1:
        for index in indices:
            yield chunk_job(*args, int(index), n, chunk_size, path)
        return
    from distributed import as_completed

    with _dask_client(scheduler, n_workers) as client:
        futures = [client.submit(chunk_job, *args, int(index), n, chunk_size, path, pure=False) for index in indices]
        for future in as_completed(futures):
            yield future.result()
            future.release()
