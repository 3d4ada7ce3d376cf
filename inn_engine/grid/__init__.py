"""Simulation grids: a simulator's (x, y) samples, made in chunks, resumable, on dask.

``simulate_grid`` makes a grid (in memory or as a zarr store), ``open_grid`` opens a
finished one lazily, ``local_cluster`` starts the dask cluster simulate_grid would use
(to share one between grids). See :mod:`inn_engine.grid.store` for the on-disk layout
and :mod:`inn_engine.grid.chunks` for the per-chunk recipe that makes grids reproducible.

On a real cluster
-----------------
Start a scheduler (``dask scheduler``, port 8786) and, on each node, workers of one
thread each (``dask worker tcp://SCHEDULER:8786 --nworkers K --nthreads 1``) in an
environment where the simulator's package imports. The grid path must be on a file
system every worker sees (NFS, Lustre, ...), because workers write their chunks
themselves; then ``simulate_grid(sim, n, "/shared/grid.zarr",
scheduler="tcp://SCHEDULER:8786")``. Killing the client and calling again resumes.
dask's workers set ``MALLOC_TRIM_THRESHOLD_``, which slows numpy simulators with large
temporaries many times over (see :func:`local_cluster`); a dask config file on the
worker nodes (``~/.config/dask/innfer.yaml``) removes it::

    distributed:
      nanny:
        pre-spawn-environ:
          MALLOC_TRIM_THRESHOLD_: null
"""

from inn_engine.grid.chunks import chunk_generator, chunk_length, chunk_rows, n_chunks, simulate_chunk
from inn_engine.grid.execution import local_cluster
from inn_engine.grid.simulate import simulate_grid
from inn_engine.grid.store import completed_chunks, open_grid

__all__ = [
    "simulate_grid",
    "open_grid",
    "local_cluster",
    "completed_chunks",
    "simulate_chunk",
    "chunk_generator",
    "chunk_rows",
    "chunk_length",
    "n_chunks",
]
