"""Posterior draws for a batch of observations, with the summaries users ask for."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

__all__ = ["Posterior", "SUMMARY_LEVELS", "quantile_label", "sorted_quantiles", "summarize"]

#: the credible levels of every summary: the median and the central 68 % and 95 % intervals
SUMMARY_LEVELS = (0.025, 0.16, 0.5, 0.84, 0.975)


def quantile_label(q: float) -> str:
    """The summary name of quantile ``q``: "median" for 0.5, else "q" + its per-mille digits
    without trailing zeros (0.025 -> "q025", 0.16 -> "q16", 0.975 -> "q975")."""
    return "median" if q == 0.5 else f"q{round(q * 1000):03d}".rstrip("0")


def sorted_quantiles(samples: np.ndarray, levels) -> np.ndarray:
    """``np.quantile(samples, levels, axis=1)`` (its default linear method) of draws (n_obs,
    n_draws, d), from one sort along the draws for all levels (~10x faster): (len(levels), n_obs, d)."""
    ordered = np.sort(samples, axis=1)
    n = samples.shape[1]
    out = np.empty((len(levels), samples.shape[0], samples.shape[2]))
    for k, level in enumerate(levels):
        position = (n - 1) * float(level)
        below = int(np.floor(position))
        above, t = min(below + 1, n - 1), position - below
        out[k] = ordered[:, below] + (ordered[:, above] - ordered[:, below]) * t
    return out


def summarize(samples, names, levels=SUMMARY_LEVELS) -> dict[str, np.ndarray]:
    """{"<name>_<stat>": (n_obs,)} for stat in mean, std and the :func:`quantile_label` of
    every level, from draws (n_obs, n_draws, len(names)). Rows holding a non-finite draw
    give NaN summaries (they mark observations that could not be inferred)."""
    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 3 or samples.shape[2] != len(names):
        raise ValueError(f"samples must be (n_obs, n_draws, {len(names)}), got shape {samples.shape}")
    ok = np.isfinite(samples).all(axis=(1, 2))
    stats = {"mean": np.full((len(samples), len(names)), np.nan)}
    stats["std"], quantiles = stats["mean"].copy(), np.full((len(levels), len(samples), len(names)), np.nan)
    if ok.any():
        good = samples if ok.all() else samples[ok]
        stats["mean"][ok], stats["std"][ok] = good.mean(axis=1), good.std(axis=1)
        quantiles[:, ok] = sorted_quantiles(good, levels)
    stats.update({quantile_label(q): values for q, values in zip(levels, quantiles)})
    return {f"{name}_{stat}": values[:, j] for j, name in enumerate(names) for stat, values in stats.items()}


@dataclass
class Posterior:
    """Draws from p(x | y) for ``n_obs`` observations.

    Attributes:
        samples: (n_obs, n_draws, n_params) in physical units.
        names, units: per parameter.
        log_density: optional (n_obs, n_draws) log q(x | y) of each draw (physical space),
            used for the density-based MAP.
    """

    samples: np.ndarray
    names: list[str]
    units: list[str] = field(default_factory=list)
    log_density: np.ndarray | None = None

    def __post_init__(self):
        self.samples = np.asarray(self.samples, dtype=float)
        if self.samples.ndim != 3:
            raise ValueError(f"samples must have shape (n_obs, n_draws, n_params), got {self.samples.shape}")
        if len(self.names) != self.samples.shape[2]:
            raise ValueError(f"{len(self.names)} names for {self.samples.shape[2]} parameters")
        if not self.units:
            self.units = [""] * len(self.names)
        if self.log_density is not None and self.log_density.shape != self.samples.shape[:2]:
            raise ValueError(f"log_density must have shape {self.samples.shape[:2]}, got {self.log_density.shape}")

    @property
    def n_obs(self) -> int:
        return self.samples.shape[0]

    @property
    def n_draws(self) -> int:
        return self.samples.shape[1]

    def mean(self) -> np.ndarray:
        """Posterior mean, (n_obs, n_params)."""
        return self.samples.mean(axis=1)

    def std(self) -> np.ndarray:
        """Posterior standard deviation, (n_obs, n_params)."""
        return self.samples.std(axis=1)

    def median(self) -> np.ndarray:
        """Marginal posterior medians, (n_obs, n_params)."""
        return np.median(self.samples, axis=1)

    def quantile(self, q) -> np.ndarray:
        """Marginal quantiles: (n_obs, n_params) for a scalar ``q``, (len(q), n_obs, n_params) for a list."""
        q_arr = np.asarray(q, dtype=float)
        if np.any((q_arr < 0) | (q_arr > 1)):
            raise ValueError(f"quantile levels must lie in [0, 1], got {q}")
        return np.quantile(self.samples, q_arr, axis=1)

    def interval(self, level: float = 0.68) -> tuple[np.ndarray, np.ndarray]:
        """Central credible interval holding ``level`` of the mass: (low, high), each (n_obs, n_params)."""
        if not 0 < level < 1:
            raise ValueError(f"level must lie in (0, 1), got {level}")
        lo, hi = self.quantile([(1 - level) / 2, (1 + level) / 2])
        return lo, hi

    def map(self, method: str = "auto", progress: bool | None = False) -> np.ndarray:
        """The posterior mode per observation, (n_obs, n_params).

        method: "density" - the draw with the highest model density (needs ``log_density``);
        "kde" - mean-shift on a Gaussian kernel density of the draws; "auto" - density
        when available, else kde. ``progress``: report the kde's observations done.
        """
        if method == "auto":
            method = "density" if self.log_density is not None else "kde"
        if method == "density":
            if self.log_density is None:
                raise ValueError("map(method='density') needs log_density; use method='kde'")
            best = np.argmax(self.log_density, axis=1)
            return self.samples[np.arange(self.n_obs), best]
        if method == "kde":
            from inn_engine.diagnostics import map_estimate

            return map_estimate(self.samples, progress=progress)
        raise ValueError(f"method must be 'auto', 'density' or 'kde', got {method!r}")

    def to_xarray(self) -> xr.DataArray:
        """The draws as a DataArray with dims (obs, draw, param) and units in attrs."""
        return xr.DataArray(
            self.samples,
            dims=("obs", "draw", "param"),
            coords={"param": list(self.names)},
            attrs={"units": dict(zip(self.names, self.units)), "description": "posterior draws"},
            name="samples",
        )

    def summary(self, levels=SUMMARY_LEVELS) -> xr.Dataset:
        """Per-observation mean, std and quantiles as variables ``P_mean``, ``P_std``, ``P_qNN``
        (:func:`summarize`), with each parameter's unit in attrs."""
        units = dict(zip(self.names, self.units))
        return xr.Dataset(
            {
                key: ("obs", values, {"units": units.get(key.rsplit("_", 1)[0], "")})
                for key, values in summarize(self.samples, self.names, levels).items()
            }
        )
