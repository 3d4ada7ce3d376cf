"""Simulation grids: a simulator's (x, y) samples, made in chunks, resumable, on dask.

``simulate_grid`` makes a grid (in memory or as a zarr store), ``open_grid`` opens a
finished one lazily. See :mod:`inn_engine.grid.store` for the on-disk layout and
:mod:`inn_engine.grid.chunks` for the per-chunk recipe that makes grids reproducible.
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
