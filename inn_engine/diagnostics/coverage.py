"""Calibration checks from ranks: SBC, expected coverage of highest-density regions, TARP.

- SBC (Talts et al. 2018, arXiv 1804.06788): the rank of each true parameter among its
  M posterior draws is uniform on {0, ..., M} when the posterior is calibrated; a
  chi-square test over rank bins checks it, per parameter.
- Expected coverage of highest-density regions (HPD): the fraction of draws whose
  log-density exceeds the true parameter's is the smallest HPD level containing the
  truth; a calibrated posterior covers the truth at level q for a fraction q of test cases.
- TARP (Lemos et al. 2023, arXiv 2302.03026): the same with balls around random
  reference points instead of density contours; needs only draws, no density.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from inn_engine.diagnostics._arrays import credible_levels, draws_and_truth, finite_array
from inn_engine.simulator import as_generator

__all__ = [
    "UniformityTest",
    "TarpResult",
    "sbc_ranks",
    "sbc_uniformity",
    "expected_coverage",
    "tarp_coverage",
]


def sbc_ranks(draws, x_true) -> np.ndarray:
    """SBC ranks: the number of draws below the true value, per observation and parameter.

    draws (n_obs, n_draws, d), x_true (n_obs, d) -> int ranks (n_obs, d) in 0..n_draws.
    (Continuous draws tie with probability 0; a tie counts as "not below".)
    """
    draws, x_true = draws_and_truth(draws, x_true)
    return (draws < x_true[:, None, :]).sum(axis=1)


@dataclass(frozen=True)
class UniformityTest:
    """Chi-square test of rank uniformity, per parameter.

    counts (bins, d): observed ranks per bin; expected (bins,): counts a uniform rank
    gives; statistic and p_value (d,). A small p-value (say < 0.01) flags miscalibration.
    """

    counts: np.ndarray
    expected: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray


def sbc_uniformity(ranks, n_draws: int, bins: int = 20) -> UniformityTest:
    """Chi-square test that SBC ranks (n_obs, d) are uniform on {0, ..., n_draws}.

    Rank r falls in bin floor(r * bins / (n_draws + 1)); each bin's expected count is the
    number of rank values it holds times n_obs / (n_draws + 1), so bins need not divide
    n_draws + 1 evenly (n_draws = 999 with 20 bins does). Keep n_obs / bins >= ~5.
    """
    ranks = finite_array(ranks, "ranks", 2, "(n_obs, d)")
    if int(n_draws) != n_draws or n_draws < 1:
        raise ValueError(f"n_draws must be a positive integer, got {n_draws!r}")
    if int(bins) != bins or not 2 <= bins <= n_draws + 1:
        raise ValueError(f"bins must be an integer in [2, n_draws + 1], got {bins!r}")
    if np.any(ranks < 0) or np.any(ranks > n_draws) or np.any(ranks != np.round(ranks)):
        raise ValueError(f"ranks must be integers in [0, n_draws] = [0, {n_draws}]")
    n_values = n_draws + 1
    which = (ranks.astype(np.int64) * bins) // n_values  # (n_obs, d)
    counts = np.stack([np.bincount(col, minlength=bins) for col in which.T], axis=1)
    values_per_bin = np.bincount((np.arange(n_values) * bins) // n_values, minlength=bins)
    expected = values_per_bin * ranks.shape[0] / n_values
    statistic, p_value = stats.chisquare(counts, expected[:, None], axis=0)
    return UniformityTest(
        counts=counts, expected=expected, statistic=np.asarray(statistic), p_value=np.asarray(p_value)
    )


def expected_coverage(logq_draws, logq_true, levels=None) -> np.ndarray:
    """Expected coverage of highest-density regions at each credible level.

    logq_draws (n_obs, n_draws): the posterior's log-density at its own draws; logq_true
    (n_obs,): at the true parameters. The truth lies in the level-q HPD region when fewer
    than a fraction q of draws are denser than it. Returns coverage (n_levels,); a
    calibrated posterior gives coverage == levels, a lower curve means over-confidence.
    """
    logq_draws = finite_array(logq_draws, "logq_draws", 2, "(n_obs, n_draws)")
    logq_true = finite_array(logq_true, "logq_true", 1, "(n_obs,)")
    if logq_true.shape[0] != logq_draws.shape[0]:
        raise ValueError(f"logq_true must have shape ({logq_draws.shape[0]},), got {logq_true.shape}")
    q = credible_levels(levels)
    denser = (logq_draws > logq_true[:, None]).mean(axis=1)  # smallest HPD level holding the truth
    return (denser[None, :] < q[:, None]).mean(axis=1)


@dataclass(frozen=True)
class TarpResult:
    """TARP expected coverage: ecp (n_levels,) at levels (n_levels,); f (n_obs,) the
    per-case fractions of draws closer to the reference point than the truth;
    max_deviation = max |ecp - levels| (0 for a calibrated posterior, up to sampling noise)."""

    levels: np.ndarray
    ecp: np.ndarray
    f: np.ndarray
    max_deviation: float


def tarp_coverage(
    draws, x_true, levels=None, seed: int | np.random.Generator | None = 0, normalize: bool = True
) -> TarpResult:
    """TARP expected coverage probability (Lemos et al. 2023).

    draws (n_obs, n_draws, d), x_true (n_obs, d). With ``normalize``, every parameter is
    rescaled to [0, 1] by the min and max of x_true (as the authors' reference code does);
    one reference point per case is drawn uniformly in [0, 1]^d (from ``seed``), else in
    the bounding box of x_true. f_i = fraction of case i's draws nearer (Euclidean) to
    its reference than x_true_i; ECP(q) = fraction of cases with f_i < q.
    """
    draws, x_true = draws_and_truth(draws, x_true)
    q = credible_levels(levels)
    lo, hi = x_true.min(axis=0), x_true.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    if normalize:
        draws, x_true = (draws - lo) / span, (x_true - lo) / span
        lo, span = np.zeros_like(lo), np.ones_like(span)
    rng = as_generator(seed)
    refs = lo + span * rng.random(x_true.shape)
    draw_dist = np.linalg.norm(draws - refs[:, None, :], axis=2)
    true_dist = np.linalg.norm(x_true - refs, axis=1)
    f = (draw_dist < true_dist[:, None]).mean(axis=1)
    ecp = (f[None, :] < q[:, None]).mean(axis=1)
    return TarpResult(levels=q, ecp=ecp, f=f, max_deviation=float(np.max(np.abs(ecp - q))))
