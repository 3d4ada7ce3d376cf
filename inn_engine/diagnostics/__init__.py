"""Diagnostics of posterior draws: calibration, MAP and re-simulation errors, SBC,
coverage (HPD and TARP), the data-averaged posterior, C2ST and MMD between sample sets.

All functions take numpy arrays (plain arrays, no model objects): posterior draws
(n_obs, n_draws, d), true parameters x_true (n_obs, d), and return numpy arrays or small
frozen dataclasses, vectorized over observations.
"""

from inn_engine.diagnostics._arrays import LEVELS_99, LEVELS_K101
from inn_engine.diagnostics.averaged import DataAveragedPosterior, data_averaged_posterior
from inn_engine.diagnostics.c2st import c2st
from inn_engine.diagnostics.calibration import (
    CalibrationResult,
    calibration_curve,
    calibration_error,
    calibration_error_floor,
    central_intervals,
)
from inn_engine.diagnostics.coverage import (
    TarpResult,
    UniformityTest,
    expected_coverage,
    sbc_ranks,
    sbc_uniformity,
    tarp_coverage,
)
from inn_engine.diagnostics.point_estimates import (
    ErrorSummary,
    kde_bandwidth_factor,
    map_error,
    map_estimate,
    resimulation_error,
)
from inn_engine.mmd import mmd_numpy

__all__ = [
    "LEVELS_99",
    "LEVELS_K101",
    "CalibrationResult",
    "DataAveragedPosterior",
    "ErrorSummary",
    "TarpResult",
    "UniformityTest",
    "c2st",
    "calibration_curve",
    "calibration_error",
    "calibration_error_floor",
    "central_intervals",
    "data_averaged_posterior",
    "expected_coverage",
    "kde_bandwidth_factor",
    "map_error",
    "map_estimate",
    "mmd_numpy",
    "resimulation_error",
    "sbc_ranks",
    "sbc_uniformity",
    "tarp_coverage",
]
