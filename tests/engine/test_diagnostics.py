"""Diagnostics of posterior draws, checked against closed forms of a conjugate Gaussian model.

Model: x ~ N(0, I_d), y = x + N(0, s^2 I): the exact posterior is N(y / (1 + s^2),
s^2 / (1 + s^2) I). Draws from it are calibrated; draws with the spread scaled by c are
over- (c < 1) or under-confident (c > 1), with coverage known in closed form.
"""

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import minimize

from inn_engine.diagnostics import (
    LEVELS_K101,
    c2st,
    calibration_curve,
    calibration_error,
    calibration_error_floor,
    central_intervals,
    data_averaged_posterior,
    expected_coverage,
    kde_bandwidth_factor,
    map_error,
    map_estimate,
    resimulation_error,
    sbc_ranks,
    sbc_uniformity,
    tarp_coverage,
)

NOISE = 0.5
POST_STD = NOISE / np.sqrt(1 + NOISE**2)


def gaussian_case(n_obs, n_draws, d, spread=1.0, seed=0):
    """True x (n_obs, d), posterior means (n_obs, d), draws (n_obs, n_draws, d)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_obs, d))
    y = x + NOISE * rng.normal(size=(n_obs, d))
    mean = y / (1 + NOISE**2)
    draws = mean[:, None, :] + spread * POST_STD * rng.normal(size=(n_obs, n_draws, d))
    return x, mean, draws


def expected_central_error(levels, spread):
    """e(q) for Gaussian draws whose std is ``spread`` times the true posterior's."""
    half = spread * stats.norm.ppf((1 + levels) / 2)
    return 2 * stats.norm.cdf(half) - 1 - levels


@pytest.mark.parametrize("spread", [1.0, 0.5, 2.0])
def test_calibration_curve_matches_closed_form(spread):
    x, _, draws = gaussian_case(4000, 400, 2, spread=spread)
    e = calibration_curve(draws, x)
    assert e.shape == (99, 2)
    expected = expected_central_error(np.arange(1, 100) / 100, spread)
    # binomial noise of an inlier fraction over 4000 cases is <= 0.008 (1 sigma)
    np.testing.assert_allclose(e, np.repeat(expected[:, None], 2, axis=1), atol=0.035)


def test_calibration_error_summary():
    x, _, draws = gaussian_case(2000, 300, 3)
    good = calibration_error(draws, x)
    assert good.errors.shape == (99, 3) and good.level_68 == pytest.approx(0.68)
    assert np.all(good.median_abs_error < 0.02) and np.all(np.abs(good.error_at_68) < 0.04)
    # 68 % central interval of N(m, POST_STD^2) is 2 * 0.9945 * POST_STD wide
    np.testing.assert_allclose(good.width_at_68, 2 * stats.norm.ppf(0.84) * POST_STD, rtol=0.03)
    centre = draws.mean(axis=1, keepdims=True)
    over = calibration_error((draws - centre) * 0.5 + centre, x)
    assert np.all(over.error_at_68 < -0.2) and np.all(over.median_abs_error > 0.1)
    paper = calibration_error(draws, x, levels=LEVELS_K101)
    assert paper.levels.size == 100 and paper.level_68 == pytest.approx(69 / 101)


def test_calibration_error_floor_is_binomial_noise():
    # median over levels of |e(q)| for exact posteriors: ~0.67 sd of a binomial fraction
    # (sd ~ sqrt(q (1 - q) / n)); 9x the test cases divide it by ~3
    small, small_sd = calibration_error_floor(500, 300, repeats=16, seed=1)
    large, large_sd = calibration_error_floor(4500, 300, repeats=16, seed=2)
    assert 0.008 < small < 0.03, small
    assert 1.8 < small / large < 4.5, (small, large)
    assert small_sd > 0 and large_sd > 0
    with pytest.raises(ValueError, match="n_draws"):
        calibration_error_floor(100, 1)


def test_central_intervals_shapes_and_order():
    _, _, draws = gaussian_case(5, 100, 2)
    lo, hi = central_intervals(draws, [0.5, 0.9])
    assert lo.shape == hi.shape == (2, 5, 2)
    assert np.all(hi[1] - lo[1] > hi[0] - lo[0])
    np.testing.assert_allclose(lo[0], np.quantile(draws, 0.25, axis=1))


def test_bad_shapes_give_value_errors():
    with pytest.raises(ValueError, match="draws"):
        calibration_error(np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="x_true"):
        calibration_error(np.zeros((5, 10, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="levels"):
        calibration_curve(np.zeros((5, 10, 2)), np.zeros((5, 2)), levels=[0.5, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        sbc_ranks(np.full((5, 10, 2), np.nan), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="bandwidth"):
        map_estimate(np.zeros((2, 10, 1)) + np.arange(10)[None, :, None], bandwidth="wide")


def test_sbc_detects_miscalibration():
    x, mean, draws = gaussian_case(2000, 199, 2)
    ranks = sbc_ranks(draws, x)
    assert ranks.shape == (2000, 2) and ranks.min() >= 0 and ranks.max() <= 199
    good = sbc_uniformity(ranks, n_draws=199, bins=20)
    assert good.counts.sum(axis=0).tolist() == [2000, 2000]
    assert good.expected.sum() == pytest.approx(2000)
    assert np.all(good.p_value > 1e-3)
    biased = sbc_uniformity(sbc_ranks(draws + 0.3 * POST_STD, x), n_draws=199, bins=20)
    narrow = sbc_uniformity(sbc_ranks((draws - mean[:, None]) * 0.7 + mean[:, None], x), n_draws=199)
    assert np.all(biased.p_value < 1e-6) and np.all(narrow.p_value < 1e-6)


def test_sbc_uniformity_uneven_bins_expected_counts():
    ranks = np.arange(11)[:, None]  # each rank value 0..10 exactly once
    test = sbc_uniformity(ranks, n_draws=10, bins=3)
    assert test.counts[:, 0].tolist() == test.expected.tolist() == [4, 4, 3]
    assert test.statistic[0] == pytest.approx(0.0) and test.p_value[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="ranks"):
        sbc_uniformity(np.array([[11]]), n_draws=10, bins=3)


@pytest.mark.parametrize("spread", [1.0, 0.6])
def test_expected_coverage_matches_chi_square_closed_form(spread):
    d = 3
    x, mean, draws = gaussian_case(3000, 300, d, spread=spread)
    var = (spread * POST_STD) ** 2
    logq = lambda pts: -0.5 * ((pts - mean[:, None, :]) ** 2).sum(-1) / var  # noqa: E731 (constants drop out)
    levels = np.linspace(0.05, 0.95, 19)
    coverage = expected_coverage(logq(draws), logq(x[:, None, :])[:, 0], levels)
    # truth's squared radius in draw-std units is chi2_d / spread^2
    expected = stats.chi2.cdf(spread**2 * stats.chi2.ppf(levels, d), d)
    np.testing.assert_allclose(coverage, expected, atol=0.035)


def test_tarp_calibrated_vs_overconfident():
    x, mean, draws = gaussian_case(2000, 300, 3)
    good = tarp_coverage(draws, x, seed=0)
    assert good.ecp.shape == (99,) and good.max_deviation < 0.06
    narrow = (draws - mean[:, None]) * 0.4 + mean[:, None]
    assert tarp_coverage(narrow, x, seed=0).max_deviation > 0.15
    biased = draws + 1.5 * POST_STD
    assert tarp_coverage(biased, x, seed=0).max_deviation > 0.15


def _scipy_kde_mode(points):
    kde = stats.gaussian_kde(points.T)
    starts = points[np.argsort(-kde.logpdf(points[::10].T))[:3] * 10]
    fits = [
        minimize(
            lambda p: -kde.logpdf(p)[0], s, method="Nelder-Mead", options=dict(xatol=1e-9, fatol=1e-13, maxiter=4000)
        )
        for s in starts
    ]
    return min(fits, key=lambda r: r.fun).x, kde


def test_map_estimate_is_the_scipy_kde_mode():
    rng = np.random.default_rng(5)
    mixing = np.array([[1.0, 0.0], [0.8, 0.6]])
    draws = rng.normal(size=(4, 600, 2)) @ mixing.T
    draws[rng.random((4, 600)) < 0.3] += np.array([4.0, -3.0])
    x_map = map_estimate(draws)
    for i in range(4):
        mode, kde = _scipy_kde_mode(draws[i])
        # the heavier (70 %) component near the origin holds the mode
        assert np.linalg.norm(x_map[i]) < 1.0
        assert kde.logpdf(x_map[i])[0] == pytest.approx(kde.logpdf(mode)[0], abs=1e-6)
        np.testing.assert_allclose(x_map[i], mode, atol=2e-3)


def test_map_estimate_reports_its_progress_and_quiet_by_default(capsys):
    draws = np.random.default_rng(2).normal(size=(7, 200, 2))
    quiet = map_estimate(draws, chunk_size=3)
    assert capsys.readouterr().err == ""
    talking = map_estimate(draws, chunk_size=3, progress=True)
    err = capsys.readouterr().err
    assert "posterior mode: observation 3/7" in err and "posterior mode: done 7 observations" in err
    np.testing.assert_array_equal(quiet, talking)


def test_map_estimate_bandwidth_rules_and_degenerate_parameter():
    assert kde_bandwidth_factor(1000, 2) == pytest.approx(
        stats.gaussian_kde(np.random.default_rng(0).normal(size=(2, 1000))).factor
    )
    assert kde_bandwidth_factor(1000, 2, "silverman") == pytest.approx(
        stats.gaussian_kde(np.random.default_rng(0).normal(size=(2, 1000)), bw_method="silverman").factor
    )
    rng = np.random.default_rng(1)
    draws = np.concatenate([rng.normal(2.0, 0.1, size=(3, 800, 1)), np.full((3, 800, 1), 7.0)], axis=2)
    x_map = map_estimate(draws, bandwidth="silverman")
    np.testing.assert_allclose(x_map[:, 1], 7.0)
    np.testing.assert_allclose(x_map[:, 0], 2.0, atol=0.05)


def test_map_and_resimulation_errors():
    x_true = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    x_map = x_true + np.array([[0.3, -0.4], [0.0, 0.0], [-0.6, 0.8]])
    err = map_error(x_map, x_true)
    np.testing.assert_allclose(err.distances, [0.5, 0.0, 1.0])
    np.testing.assert_allclose(err.mean_abs, [0.3, 0.4])
    assert err.mean_distance == pytest.approx(0.5) and err.sem_distance == pytest.approx(0.5 / np.sqrt(3))
    np.testing.assert_allclose(map_error(x_map, x_true, scale=[0.1, 0.2]).mean_abs, [3.0, 2.0])
    forward = lambda x: np.stack([x.sum(1), x[:, 0] * x[:, 1]], axis=1)  # noqa: E731
    y_obs = forward(x_true)
    assert resimulation_error(x_true, y_obs, forward).mean_distance == 0.0
    res = resimulation_error(x_map, y_obs, forward)
    np.testing.assert_allclose(res.abs_errors[:, 0], [0.1, 0.0, 0.2], atol=1e-12)
    with pytest.raises(ValueError, match="forward"):
        resimulation_error(x_map, y_obs, lambda x: x[:, :1])
    with pytest.raises(ValueError, match="scale"):
        map_error(x_map, x_true, scale=[0.0, 1.0])


def test_c2st_chance_level_and_separable():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(400, 2)), rng.normal(size=(400, 2))
    assert 0.42 < c2st(a, b) < 0.58
    assert c2st(a, b + 4.0) > 0.97
    with pytest.raises(ValueError, match="columns"):
        c2st(a, b[:, :1])


def _wavy(draws, amplitude, seed=0):
    """Draws resampled within each case by weights 1 + amplitude * sin(3 x): a posterior whose
    density is a few per cent off in waves, as a network's can be."""
    rng = np.random.default_rng(seed)
    w = 1 + amplitude * np.sin(3 * draws[:, :, 0])
    cdf = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
    index = (cdf[:, :, None] < rng.random((len(draws), 1, draws.shape[1]))).sum(axis=1)
    return np.take_along_axis(draws, index[:, :, None], axis=1)


def test_data_averaged_posterior_finds_density_waves_that_coverage_misses():
    x, _, draws = gaussian_case(4000, 200, 2, seed=3)
    prior = np.random.default_rng(4).normal(size=(200_000, 2))
    exact = data_averaged_posterior(draws, prior, bins=20)
    assert exact.ratio.shape == (20, 2) and exact.edges.shape == (2, 21)
    assert np.all(exact.p_value > 1e-3) and np.all(np.abs(exact.z) < 4)
    wavy = _wavy(draws, 0.1)
    off = data_averaged_posterior(wavy, prior, bins=20)
    assert off.p_value[0] < 1e-6 and off.p_value[1] > 1e-3  # only x_0 was distorted
    assert 0.03 < off.max_deviation[0] < 0.2
    # the same distortion leaves the coverage of central intervals nearly intact
    assert calibration_error(wavy, x).median_abs_error[0] < 0.02


def test_data_averaged_posterior_rejects_bad_input():
    _, _, draws = gaussian_case(50, 20, 2)
    with pytest.raises(ValueError, match="prior_draws must have shape"):
        data_averaged_posterior(draws, np.zeros((100, 3)))
    with pytest.raises(ValueError, match="bins"):
        data_averaged_posterior(draws, np.zeros((100, 2)), bins=1)
    with pytest.raises(ValueError, match="empty"):  # a prior with an atom
        data_averaged_posterior(draws, np.zeros((100, 2)), bins=5)
