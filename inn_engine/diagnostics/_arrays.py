"""Shape and value checks shared by the diagnostics (numpy float64 in, clear ValueErrors out)."""

from __future__ import annotations

import numpy as np

#: The issue's 99 credible levels q = 0.01, 0.02, ..., 0.99.
LEVELS_99 = np.arange(1, 100) / 100.0
#: The paper code's 100 levels q = k / 101, k = 1..100 (REFERENCES.md, calibration error).
LEVELS_K101 = np.arange(1, 101) / 101.0


def finite_array(values, field: str, ndim: int, shape_text: str) -> np.ndarray:
    """``values`` as float64 with ``ndim`` dimensions, finite, non-empty; else ValueError."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != ndim or arr.size == 0:
        raise ValueError(f"{field} must have shape {shape_text}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{field} contains NaN or infinite values")
    return arr


def draws_and_truth(draws, x_true) -> tuple[np.ndarray, np.ndarray]:
    """Checked draws (n_obs, n_draws, d) and x_true (n_obs, d) that agree in n_obs and d."""
    draws = finite_array(draws, "draws", 3, "(n_obs, n_draws, d)")
    x_true = finite_array(x_true, "x_true", 2, "(n_obs, d)")
    if x_true.shape != (draws.shape[0], draws.shape[2]):
        raise ValueError(
            f"x_true must have shape (n_obs, d) = {(draws.shape[0], draws.shape[2])} to match draws "
            f"{draws.shape}, got {x_true.shape}"
        )
    return draws, x_true


def credible_levels(levels) -> np.ndarray:
    """Levels q as a sorted float64 vector strictly inside (0, 1); None -> :data:`LEVELS_99`."""
    if levels is None:
        return LEVELS_99.copy()
    q = finite_array(levels, "levels", 1, "(n_levels,)")
    if np.any(q <= 0) or np.any(q >= 1):
        raise ValueError(f"levels must lie strictly between 0 and 1, got min {q.min()} max {q.max()}")
    return np.sort(q)
