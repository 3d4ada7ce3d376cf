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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from inn_engine.grid.chunks import simulate_chunk
from inn_engine.grid.store import write_chunk
from inn_engine.simulator import Simulator

__all__ = ["chunk_job", "run_jobs"]

# Native thread pools a simulator may use (numpy/BLAS, numba): each worker process gets its
# share of the cores, so n_workers workers do not oversubscribe the machine.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")

ChunkResult = tuple[int, "np.ndarray | None", "np.ndarray | None"]


def chunk_job(
    simulator: Simulator, seed: int, index: int, n: int, chunk_size: int, path: str | None
) -> ChunkResult:
    """Compute chunk ``index``; write it to ``path`` (returning ``(index, None, None)``)
    or, with ``path=None``, return ``(index, x, y)``."""
    x, y = simulate_chunk(simulator, seed, index, n, chunk_size)
    if path is None:
        return index, x, y
    write_chunk(path, index, n, chunk_size, x, y)
    return index, None, None


@contextmanager
def _dask_client(scheduler: str | None, n_workers: int):
    """A distributed.Client: to ``scheduler`` (an address) or to a new LocalCluster of
    ``n_workers`` single-threaded worker processes sharing the cores between them."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    threads = str(max(1, (os.cpu_count() or 1) // n_workers))
    with LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
        env={name: threads for name in _THREAD_VARIABLES},
    ) as cluster, Client(cluster) as client:
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
    only one chunk is left); otherwise on dask (see :func:`_dask_client`).
    """
    args = (simulator, seed)
    if scheduler is None and min(n_workers, len(indices)) <= 1:
        for index in indices:
            yield chunk_job(*args, int(index), n, chunk_size, path)
        return
    from distributed import as_completed

    with _dask_client(scheduler, n_workers) as client:
        futures = [
            client.submit(chunk_job, *args, int(index), n, chunk_size, path, pure=False)
            for index in indices
        ]
        for future in as_completed(futures):
            yield future.result()
            future.release()
