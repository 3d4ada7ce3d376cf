"""Rejection approximate Bayesian computation (ABC) over a prior-sampled library.

A library of N pairs (x_i, y_i) is drawn once from the prior and the simulator. For an
observation y*, rejection ABC keeps the x_i whose y_i lie closest to y* (distance in
y standardized per column by the library's spread, or a given scale): either the
n_draws nearest (quantile acceptance, acceptance rate n_draws / N) or all within a radius
epsilon (then n_draws of them at random). As N grows and the accepted radius shrinks, the
accepted x follow p(x | y*) (for a noisy simulator exactly the posterior of the noisy
observation, up to the radius). The search is a k-d tree (scipy cKDTree) queried for all
observations at once, so 1000 observations over a 10^6 library take seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from inn_engine.simulator import Simulator, as_generator

__all__ = ["ABCDraws", "RejectionABC", "rejection_abc"]


def _finite_2d(values, field: str, n_cols: int | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1 and n_cols is not None and arr.size == n_cols:
        arr = arr[None, :]
    cols = "d" if n_cols is None else str(n_cols)
    if arr.ndim != 2 or arr.shape[0] == 0 or (n_cols is not None and arr.shape[1] != n_cols):
        raise ValueError(f"{field} must have shape (n, {cols}), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{field} contains NaN or infinite values")
    return arr


@dataclass(frozen=True)
class ABCDraws:
    """Accepted draws: draws (n_obs, n_draws, dx); distances (n_obs, n_draws), the
    standardized distances of their simulated y to each observation; epsilon (n_obs,), the
    acceptance radius used (the largest accepted distance for quantile acceptance)."""

    draws: np.ndarray
    distances: np.ndarray
    epsilon: np.ndarray


class RejectionABC:
    """Rejection ABC over a fixed library x_library (N, dx), y_library (N, dy).

    ``scale`` (dy,): the per-column units of the distance; default the library's standard
    deviation of y (a column with zero spread gets scale 1).
    """

    def __init__(self, x_library, y_library, scale=None):
        self.x_library = _finite_2d(x_library, "x_library")
        self.y_library = _finite_2d(y_library, "y_library")
        if self.x_library.shape[0] != self.y_library.shape[0]:
            raise ValueError(
                f"x_library and y_library must have the same number of rows, got "
                f"{self.x_library.shape[0]} and {self.y_library.shape[0]}"
            )
        if scale is None:
            std = self.y_library.std(axis=0)
            scale = np.where(std > 0, std, 1.0)
        scale = np.broadcast_to(np.asarray(scale, dtype=float), (self.y_library.shape[1],)).copy()
        if not np.all(np.isfinite(scale) & (scale > 0)):
            raise ValueError(f"scale must be positive and finite, one value per y column, got {scale}")
        self.scale = scale
        self._tree = cKDTree(self.y_library / scale)

    @classmethod
    def from_simulator(cls, simulator: Simulator, size: int = 10**6, seed=0, scale=None) -> RejectionABC:
        """A library of ``size`` prior draws and their noisy simulations."""
        rng = as_generator(seed)
        x = simulator.sample_prior(_positive_int(size, "size"), rng)
        return cls(x, simulator.simulate(x, rng), scale=scale)

    @classmethod
    def from_forward(
        cls,
        forward: Callable[[np.ndarray], np.ndarray],
        prior: Callable[[int, np.random.Generator], np.ndarray],
        size: int = 10**6,
        seed=0,
        scale=None,
    ) -> RejectionABC:
        """A library from ``prior(n, rng) -> x (n, dx)`` and ``forward(x) -> y (n, dy)``."""
        x = prior(_positive_int(size, "size"), as_generator(seed))
        return cls(x, forward(x), scale=scale)

    def _observations(self, y_obs) -> np.ndarray:
        return _finite_2d(y_obs, "y_obs", self.y_library.shape[1]) / self.scale

    def nearest(self, y_obs, n_draws: int) -> ABCDraws:
        """Quantile acceptance: the ``n_draws`` library entries nearest to each observation.

        y_obs (n_obs, dy) (or (dy,)) -> :class:`ABCDraws` with draws (n_obs, n_draws, dx),
        ordered by distance.
        """
        n_draws = _positive_int(n_draws, "n_draws")
        if n_draws > self.x_library.shape[0]:
            raise ValueError(f"n_draws ({n_draws}) exceeds the library size ({self.x_library.shape[0]})")
        distances, index = self._tree.query(self._observations(y_obs), k=n_draws, workers=-1)
        distances = distances.reshape(-1, n_draws)
        index = index.reshape(-1, n_draws)
        return ABCDraws(draws=self.x_library[index], distances=distances, epsilon=distances[:, -1].copy())

    def within(self, y_obs, epsilon: float, n_draws: int, seed=0) -> ABCDraws:
        """Epsilon acceptance: ``n_draws`` drawn at random (without replacement) from the
        library entries within standardized distance ``epsilon`` of each observation.

        Raises ValueError naming the observations with fewer than ``n_draws`` acceptances
        (enlarge the library or epsilon).
        """
        n_draws = _positive_int(n_draws, "n_draws")
        if not (np.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"epsilon must be a positive number, got {epsilon!r}")
        obs = self._observations(y_obs)
        hits = self._tree.query_ball_point(obs, r=epsilon, workers=-1, return_sorted=False)
        counts = np.array([len(h) for h in hits])
        short = np.flatnonzero(counts < n_draws)
        if short.size:
            raise ValueError(
                f"epsilon={epsilon} accepts fewer than n_draws={n_draws} library entries for "
                f"observations {short[:10].tolist()} (fewest: {counts.min()}); enlarge the library or epsilon"
            )
        rng = as_generator(seed)
        index = np.stack([rng.choice(np.asarray(h), size=n_draws, replace=False) for h in hits])
        distances = np.linalg.norm(self.y_library[index] / self.scale - obs[:, None, :], axis=2)
        return ABCDraws(draws=self.x_library[index], distances=distances, epsilon=np.full(obs.shape[0], float(epsilon)))


def _positive_int(value, field: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{field} must be a positive integer, got {value!r}")
    return int(value)


def rejection_abc(
    simulator_or_forward: Simulator | Callable[[np.ndarray], np.ndarray],
    y_obs,
    n_draws: int,
    *,
    prior: Callable[[int, np.random.Generator], np.ndarray] | None = None,
    library_size: int = 10**6,
    epsilon: float | None = None,
    scale=None,
    seed=0,
) -> np.ndarray:
    """Rejection-ABC posterior draws for each observation: array (n_obs, n_draws, dx).

    ``simulator_or_forward``: a :class:`~inn_engine.Simulator` (its prior and noisy
    ``simulate`` build the library) or a callable x (n, dx) -> y (n, dy), which then needs
    ``prior(n, rng) -> x``. ``library_size`` prior draws are simulated once (from ``seed``).
    Without ``epsilon``, the ``n_draws`` nearest entries are kept (quantile acceptance);
    with it, ``n_draws`` are drawn from those within ``epsilon`` (standardized units).
    For repeated queries build a :class:`RejectionABC` once and call it.
    """
    rng = as_generator(seed)
    if isinstance(simulator_or_forward, Simulator):
        if prior is not None:
            raise ValueError("prior must not be given with a Simulator (its sample_prior is used)")
        abc = RejectionABC.from_simulator(simulator_or_forward, library_size, seed=rng, scale=scale)
    elif callable(simulator_or_forward):
        if prior is None:
            raise ValueError("prior (a callable (n, rng) -> x) is required when a forward function is given")
        abc = RejectionABC.from_forward(simulator_or_forward, prior, library_size, seed=rng, scale=scale)
    else:
        raise ValueError(
            f"simulator_or_forward must be a Simulator or a callable x -> y, got {type(simulator_or_forward).__name__}"
        )
    if epsilon is None:
        return abc.nearest(y_obs, n_draws).draws
    return abc.within(y_obs, epsilon, n_draws, seed=rng).draws
