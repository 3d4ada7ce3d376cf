"""How a grid is cut into chunks, and the recipe that makes one chunk.

The recipe is the whole of the grid's reproducibility: chunk ``i`` holds rows
``i * chunk_size`` up to ``min((i + 1) * chunk_size, n)`` and is drawn with its own
generator ``np.random.default_rng(np.random.SeedSequence([seed, i]))``, first the prior
sample then the noisy simulation. Nothing depends on which process computes the chunk,
in which order, or how often, so a grid is identical whatever the scheduler, the number
of workers or the interruptions.
"""

from __future__ import annotations

import numpy as np

from inn_engine.simulator import Simulator

__all__ = ["n_chunks", "chunk_rows", "chunk_length", "chunk_generator", "simulate_chunk"]


def n_chunks(n: int, chunk_size: int) -> int:
    """Number of chunks for ``n`` rows in chunks of ``chunk_size`` (the last may be short)."""
    return -(-n // chunk_size)


def chunk_rows(index: int, n: int, chunk_size: int) -> slice:
    """The rows of chunk ``index``: ``slice(start, stop)`` into the sample dimension."""
    start = index * chunk_size
    return slice(start, min(start + chunk_size, n))


def chunk_length(index: int, n: int, chunk_size: int) -> int:
    """Number of rows in chunk ``index`` (``chunk_size``, or fewer for the last chunk)."""
    rows = chunk_rows(index, n, chunk_size)
    return rows.stop - rows.start


def chunk_generator(seed: int, index: int) -> np.random.Generator:
    """The random generator of chunk ``index`` of a grid with seed ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


def simulate_chunk(
    simulator: Simulator, seed: int, index: int, n: int, chunk_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Parameters and observations of chunk ``index``.

    Returns ``x`` (m, n_params) and ``y`` (m, n_obs) as float64 in the simulator's units,
    with ``m`` the chunk's row count. A simulator returning other shapes is an error
    (ValueError naming the method), so a bad simulator never writes a malformed grid.
    """
    m = chunk_length(index, n, chunk_size)
    rng = chunk_generator(seed, index)
    x = np.asarray(simulator.sample_prior(m, rng), dtype=np.float64)
    expected_x = (m, len(simulator.parameters))
    if x.shape != expected_x:
        raise ValueError(
            f"{type(simulator).__name__}.sample_prior({m}, rng) returned shape {x.shape}, expected {expected_x}"
        )
    y = np.asarray(simulator.simulate(x, rng), dtype=np.float64)
    expected_y = (m, len(simulator.observables))
    if y.shape != expected_y:
        raise ValueError(
            f"{type(simulator).__name__}.simulate(x, rng) returned shape {y.shape} for {m} rows, expected {expected_y}"
        )
    return x, y
