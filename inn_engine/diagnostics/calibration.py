"""The paper's calibration error of central credible intervals (Ardizzone et al. 2019, sec. 4.2).

For each credible level q, the central interval of a parameter's marginal posterior is
[Q((1 - q) / 2), Q((1 + q) / 2)] of its draws; a test case is an inlier when its true
value lies inside. For a calibrated posterior the inlier fraction over test cases equals
q; e(q) = inlier fraction - q is the calibration error at q (positive: intervals too wide,
under-confident; negative: over-confident). Quantiles use numpy's default linear
interpolation between order statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inn_engine.diagnostics._arrays import credible_levels, draws_and_truth, finite_array

__all__ = [
    "CalibrationResult",
    "central_intervals",
    "calibration_curve",
    "calibration_error",
    "calibration_error_floor",
]


def central_intervals(draws, levels=None) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the central credible intervals of each marginal.

    draws (n_obs, n_draws, d); levels (n_levels,) in (0, 1), default q = 0.01..0.99.
    Returns (lower, upper), each (n_levels, n_obs, d), in the units of the draws.
    """
    draws = finite_array(draws, "draws", 3, "(n_obs, n_draws, d)")
    q = credible_levels(levels)
    probs = np.concatenate([(1.0 - q) / 2.0, (1.0 + q) / 2.0])
    bounds = np.quantile(draws, probs, axis=1)  # (2 n_levels, n_obs, d)
    return bounds[: q.size], bounds[q.size :]


def _inlier_fraction(lower, upper, x_true) -> np.ndarray:
    inside = (lower <= x_true[None]) & (x_true[None] <= upper)
    return inside.mean(axis=1)  # (n_levels, d)


def calibration_curve(draws, x_true, levels=None) -> np.ndarray:
    """e(q) = (fraction of test cases inside the central q-interval) - q.

    draws (n_obs, n_draws, d) posterior draws per test case, x_true (n_obs, d) the true
    parameters, levels (n_levels,) (default :data:`LEVELS_99`; :data:`LEVELS_K101` is
    the paper code's k/101 grid). Returns e, shape (n_levels, d), levels sorted ascending.
    """
    draws, x_true = draws_and_truth(draws, x_true)
    q = credible_levels(levels)
    lower, upper = central_intervals(draws, q)
    return _inlier_fraction(lower, upper, x_true) - q[:, None]


@dataclass(frozen=True)
class CalibrationResult:
    """Calibration of central credible intervals, per parameter (arrays of length d).

    levels (n_levels,) and errors (n_levels, d): the curve e(q). median_abs_error: median
    over q of |e(q)| (the paper's "calibration error"); mean_abs_error: the mean over q
    (the wording of the paper's table). level_68: the level nearest 0.68; error_at_68:
    e at that level; width_at_68: the median over test cases of that interval's width,
    in the units of the draws (a calibrated but uninformative posterior has a wide one).
    """

    levels: np.ndarray
    errors: np.ndarray
    median_abs_error: np.ndarray
    mean_abs_error: np.ndarray
    level_68: float
    error_at_68: np.ndarray
    width_at_68: np.ndarray


def calibration_error(draws, x_true, levels=None) -> CalibrationResult:
    """The paper's calibration summary of posterior draws against true parameters.

    draws (n_obs, n_draws, d), x_true (n_obs, d); levels as in :func:`calibration_curve`.
    Vectorized over test cases (one quantile pass over the draws).
    """
    draws, x_true = draws_and_truth(draws, x_true)
    q = credible_levels(levels)
    lower, upper = central_intervals(draws, q)
    errors = _inlier_fraction(lower, upper, x_true) - q[:, None]
    i68 = int(np.argmin(np.abs(q - 0.68)))
    return CalibrationResult(
        levels=q,
        errors=errors,
        median_abs_error=np.median(np.abs(errors), axis=0),
        mean_abs_error=np.mean(np.abs(errors), axis=0),
        level_68=float(q[i68]),
        error_at_68=errors[i68],
        width_at_68=np.median(upper[i68] - lower[i68], axis=0),
    )


def calibration_error_floor(
    n_obs: int, n_draws: int, levels=None, repeats: int = 16, seed: int = 0
) -> tuple[float, float]:
    """The calibration error a perfectly calibrated posterior shows with this many test cases.

    With n_obs test cases an inlier fraction is binomial, so even exact posteriors have
    median |e(q)| > 0 (about 0.6 % at n_obs = 2000, halving for 4x the cases). The floor is
    simulated: ``repeats`` replicates in which the truth and the ``n_draws`` draws of every
    case come from the same distribution. Returns (mean, standard deviation) over the
    replicates of the median over q of |e(q)|, as fractions (compare with
    :attr:`CalibrationResult.median_abs_error`).
    """
    if n_obs < 1 or n_draws < 2 or repeats < 2:
        raise ValueError(f"need n_obs >= 1, n_draws >= 2, repeats >= 2; got {n_obs}, {n_draws}, {repeats}")
    rng = np.random.default_rng(seed)
    draws = rng.random((n_obs, n_draws, repeats), dtype=np.float32)
    truth = rng.random((n_obs, repeats), dtype=np.float32)
    floor = calibration_error(draws, truth, levels).median_abs_error
    return float(floor.mean()), float(floor.std(ddof=1))
