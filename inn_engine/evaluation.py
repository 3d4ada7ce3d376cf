"""One evaluation of an estimator on test pairs, used by ``innfer evaluate`` and the domains' training pipelines.

Metrics (per parameter unless noted; :mod:`inn_engine.diagnostics`):
- ``calibration_median_abs``: median over credible levels q of |e(q)|, e(q) = fraction of
  truths inside the central q-interval - q (the paper's calibration error);
  ``calibration_error_68``: e at q = 0.68 (> 0: too wide); ``width_68``: median width of
  the 68 % interval, in the parameter's unit.
- ``sbc_p_value``: chi-square test of uniform SBC ranks (small: miscalibrated).
- ``map_abs_error`` +- ``map_abs_error_sem``: |x_MAP - x_true| divided by the standard
  deviation of the parameter over the test rows (standardized units, as in the paper).
- ``tarp_max_deviation`` (all parameters jointly): max |TARP coverage - level|;
  ``hpd_max_deviation`` (models with a density): the same for highest-density regions.
- ``map_mean_abs_error`` +- ``_sem``: the same |x_MAP - x_true| in the parameter's unit.
- ``median_abs_error``: median |posterior median - x_true|, in the parameter's unit.
- ``calibration_error_floor`` (+- ``_sd``): the median calibration error exact posteriors
  would show with this many test rows and draws (:func:`~inn_engine.diagnostics.calibration_error_floor`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["evaluate", "format_table"]


def evaluate(
    estimator,
    x_true: np.ndarray,
    y: np.ndarray,
    draws: int,
    seed: int = 0,
    posterior=None,
    progress=False,
    x_map: np.ndarray | None = None,
) -> dict:
    """All metrics for test pairs x_true (n, dx), y (n, dy) with ``draws`` posterior draws each.

    ``posterior``: the :class:`~inn_engine.posterior.Posterior` of ``y`` when the caller already
    has it (drawn by ``estimator.posterior(y, n=draws, seed=seed)``, or by a method that is no
    estimator, such as rejection ABC, with ``estimator=None``): names and units are its own.
    ``x_map`` (n, dx): the posterior modes when the caller already has them (``posterior.map()``).
    ``progress``: report the drawing (as in :meth:`~inn_engine.estimator.Estimator.sample`) and the modes.
    """
    from inn_engine import diagnostics as dg

    if posterior is None:
        posterior = estimator.posterior(y, n=draws, seed=seed, progress=progress)
    samples = posterior.samples
    calib = dg.calibration_error(samples, x_true)
    ranks = dg.sbc_ranks(samples, x_true)
    sbc = dg.sbc_uniformity(ranks, draws, bins=int(np.clip(len(y) // 10, 2, min(20, draws + 1))))
    scale = x_true.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    if x_map is None:
        x_map = posterior.map(progress=progress)
    map_err = dg.map_error(x_map, x_true, scale=scale)
    tarp = dg.tarp_coverage(samples, x_true, seed=seed)
    median_error = np.median(np.abs(np.median(samples, axis=1) - x_true), axis=0)
    floor, floor_sd = dg.calibration_error_floor(len(y), draws, seed=seed)
    result = {
        "n_test": int(len(y)),
        "draws": int(draws),
        "calibration_error_floor": floor,
        "calibration_error_floor_sd": floor_sd,
        "parameters": {
            name: {
                "unit": unit,
                "calibration_median_abs": float(calib.median_abs_error[j]),
                "calibration_error_68": float(calib.error_at_68[j]),
                "width_68": float(calib.width_at_68[j]),
                "sbc_p_value": float(sbc.p_value[j]),
                "map_abs_error": float(map_err.mean_abs[j]),
                "map_abs_error_sem": float(map_err.sem_abs[j]),
                "map_mean_abs_error": float(map_err.mean_abs[j] * scale[j]),
                "map_mean_abs_error_sem": float(map_err.sem_abs[j] * scale[j]),
                "median_abs_error": float(median_error[j]),
            }
            for j, (name, unit) in enumerate(zip(posterior.names, posterior.units))
        },
        "tarp_max_deviation": tarp.max_deviation,
        "calibration_curve": {"levels": calib.levels.tolist(), "errors": calib.errors.T.tolist()},
    }
    if posterior.log_density is not None:
        logq_true = estimator.log_prob(x_true, y)
        coverage = dg.expected_coverage(posterior.log_density, logq_true, calib.levels)
        result["hpd_max_deviation"] = float(np.max(np.abs(coverage - calib.levels)))
    return result


def format_table(result: dict) -> str:
    """The per-parameter metrics as an aligned text table, then the joint coverage figures."""
    header = ("parameter", "calib |e| med", "e(68%)", "width 68%", "SBC p", "MAP |err| (std units)")
    rows = [header]
    for name, m in result["parameters"].items():
        label = f"{name} [{m['unit']}]" if m["unit"] else name
        rows.append(
            (
                label,
                f"{m['calibration_median_abs']:.4f}",
                f"{m['calibration_error_68']:+.4f}",
                f"{m['width_68']:.4g}",
                f"{m['sbc_p_value']:.3g}",
                f"{m['map_abs_error']:.4f} +- {m['map_abs_error_sem']:.4f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"TARP coverage, max |ECP - level|: {result['tarp_max_deviation']:.4f}")
    if "hpd_max_deviation" in result:
        lines.append(f"HPD coverage, max |coverage - level|: {result['hpd_max_deviation']:.4f}")
    lines.append(
        f"({result['n_test']} test rows, {result['draws']} draws each; exact posteriors would show a "
        f"calibration error of {result['calibration_error_floor']:.4f} +- "
        f"{result['calibration_error_floor_sd']:.4f} at this size)"
    )
    return "\n".join(lines)
