"""A counter-seeded splitmix64 generator for numba kernels: reproducible whatever the thread count.

Each parallel task derives its own stream from (seed, task index), so results never depend on
how tasks are scheduled over threads (numba's own np.random state is per thread and is not).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["stream_state", "uniform01"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SCALE = 1.0 / 9007199254740992.0  # 2^-53


@numba.njit(cache=True, inline="always")
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True)
def stream_state(seed, stream):
    """A 1-element uint64 state array for stream number ``stream`` of ``seed`` (both >= 0 ints)."""
    state = np.empty(1, dtype=np.uint64)
    state[0] = _mix(_mix(np.uint64(seed) + _GOLDEN) + np.uint64(stream) * _GOLDEN)
    return state


@numba.njit(cache=True, inline="always")
def uniform01(state):
    """A float64 uniform on (0, 1) (never exactly 0 or 1), advancing ``state`` in place."""
    state[0] += _GOLDEN
    return (np.float64(_mix(state[0]) >> np.uint64(11)) + 0.5) * _SCALE
