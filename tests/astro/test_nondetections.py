"""Non-detections: flux measurements of low S/N and limiting magnitudes enter through their
flux likelihood (astro.nondetections), not as missing bands and not as magnitudes."""

import astropy.units as u
import numpy as np
from astropy.table import Table

from astro import infer
from astro.catalog import read_photometry
from astro.nondetections import nondetection_log_weights
from astro.population import available_bands, photometry, vega_minus_ab


def test_a_draw_predicting_a_bright_cluster_loses_weight_against_a_faint_one():
    """U not detected (0 +- 1 uJy at 10 pc): a young 10^6 Msun draw, bright in U, must weigh far
    less than an old 10^3 Msun one."""
    draws = np.array([[[6.0, 6.7, 0.1, 0.008], [3.0, 9.8, 0.1, 0.008]]])
    logw, tension = nondetection_log_weights(
        draws, np.array([[0.0]]), np.array([[1e-6]]), ["U"], np.array([25.0]), np.zeros((1, 1)), 0.0, seed=0
    )
    assert logw.shape == (1, 2) and logw[0, 0] < logw[0, 1] - 100
    # the tension is the faint draw's |z|: its model flux against 0 +- 1 uJy
    faint_mag = photometry(*draws[0].T, ["U"], stochastic=True, seed=0)[1, 0] + 25.0 - vega_minus_ab(["U"])[0]
    assert tension.shape == (1, 1) and np.isclose(tension[0, 0], (faint_mag * u.ABmag).to_value(u.Jy) / 1e-6)
    unused, no_tension = nondetection_log_weights(
        draws, np.array([[np.nan]]), np.array([[np.nan]]), ["U"], np.array([25.0]), np.zeros((1, 1)), 0.0, seed=0
    )
    assert np.array_equal(unused, np.zeros((1, 2))) and np.isnan(no_tension).all()


def test_limiting_magnitudes_and_faint_fluxes_are_read_as_flux_measurements():
    known = available_bands()
    table = Table({"V": [18.0, np.nan], "V_err": [0.05, np.nan], "V_lim": [21.0, 22.0]})
    p = read_photometry(table, known)
    assert np.isfinite(p.mag[0, 0]) and np.isnan(p.limit_flux[0, 0])  # detected: the limit is unused
    threshold = ((22.0 - vega_minus_ab(["V"])[0]) * u.ABmag).to_value(u.Jy)
    assert np.isclose(p.limit_flux[1, 0], threshold) and np.isclose(p.limit_sigma[1, 0], threshold / 3)
    assert p.limit_censored[1, 0] and not p.limit_censored[0, 0]
    assert "not detected (limit 22.00 mag at 3 sigma)" in p.notes[1][0]
    faint = read_photometry({"V": [2.0, -1.0, 50.0] * u.uJy, "V_err": [1.0, 1.0, 1.0] * u.uJy}, known)
    assert np.isnan(faint.mag[:2, 0]).all() and np.isfinite(faint.mag[2, 0])
    np.testing.assert_allclose(faint.limit_flux[:2, 0], [2e-6, -1e-6])
    assert not faint.limit_censored.any()  # measured fluxes, not limits
    assert "S/N 2.0, used as a flux measurement" in faint.notes[0][0]


def test_a_limit_is_censored_every_draw_below_it_is_equally_likely():
    """A 3-sigma limit says only that the flux fell below the threshold: draws far below it
    (faint clusters of any brightness) weigh the same, draws above it lose weight, unlike a
    measurement of flux 0, which would prefer the faintest."""
    draws = np.array([[[3.0, 9.8, 0.1, 0.008], [2.5, 10.0, 1.0, 0.008], [6.0, 6.7, 0.1, 0.008]]])
    args = (["U"], np.array([25.0]), np.zeros((1, 1)), 0.0)
    fluxes = (
        (photometry(*draws[0].T, ["U"], stochastic=True, seed=0)[:, 0] + 25.0 - vega_minus_ab(["U"])[0]) * u.ABmag
    ).to_value(u.Jy)
    threshold = 30 * fluxes[:2].max()  # both faint draws lie far below the limit, the bright one above
    assert fluxes[2] > 2 * threshold
    censored, tension = nondetection_log_weights(
        draws, np.array([[threshold]]), np.array([[threshold / 3]]), *args, seed=0, censored=np.array([[True]])
    )
    assert tension[0, 0] == 0.0  # draws below a limit are in no tension with it
    assert abs(censored[0, 0] - censored[0, 1]) < 1e-3 and censored[0, 0] > np.log(0.998)  # Phi(3) at zero flux
    assert censored[0, 2] < censored[0, 0] - 10


def test_low_signal_to_noise_fluxes_narrow_the_posteriors_and_keep_them_calibrated():
    """40 simulated clusters at distance modulus 20, B V R I with 0.05 mag errors, U measured
    as a flux at S/N ~2 (below the trained magnitude errors): with the U fluxes the age
    posteriors are narrower on average than with U left out, and the 68 % intervals still
    cover the truth at the nominal rate (binomial sd 0.07 for 40 clusters)."""
    rng = np.random.default_rng(5)
    n, bands = 40, ["U", "B", "V", "R", "I"]
    truth = np.c_[rng.uniform(3.5, 5.5, n), rng.uniform(6.5, 10, n), rng.uniform(0, 1.5, n), np.full(n, 0.008)]
    mag = photometry(*truth.T, bands, stochastic=True, seed=2) + 20.0
    row = {b: mag[:, j + 1] + 0.05 * rng.normal(size=n) for j, b in enumerate(bands[1:])}
    row |= {f"{b}_err": np.full(n, 0.05) for b in bands[1:]}
    true_flux = ((mag[:, 0] - vega_minus_ab(["U"])[0]) * u.ABmag).to_value(u.uJy)
    sigma = true_flux / 2.0
    with_u = {**row, "U": (true_flux + sigma * rng.normal(size=n)) * u.uJy, "U_err": sigma * u.uJy}
    without_u = {**row, "U": np.full(n, np.nan), "U_err": np.full(n, np.nan)}
    options = dict(n=400, seed=1, population=None, distance_modulus=20.0)
    results = {name: infer(cat, **options) for name, cat in (("with", with_u), ("without", without_u))}
    assert results["with"]["valid"].all()
    assert all("used as a flux measurement" in f or "U" not in f for f in results["with"]["flag"])
    assert sum("used as a flux measurement" in f for f in results["with"]["flag"]) > n / 2
    assert np.mean(results["with"]["log_age_std"]) < np.mean(results["without"]["log_age_std"])
    for table in results.values():
        covered = (table["log_age_q16"] <= truth[:, 1]) & (truth[:, 1] <= table["log_age_q84"])
        assert 0.45 <= covered.mean() <= 0.9


def test_absurd_flux_errors_are_noted_not_turned_into_invalid_rows():
    """Found by the long fuzz run: a flux error of 1e300 uJy overflowed the likelihood's
    variance and left a row invalid without a reason."""
    table = infer(
        {"B": [18.0], "B_err": [0.05], "R": [17.0], "R_err": [0.05], "U": [0.0] * u.uJy, "U_err": [1e300] * u.uJy},
        n=20,
        population=None,
        distance_modulus=20.0,
    )
    assert table["valid"][0] and "U flux or its error outside any cluster's range" in table["flag"][0]
    logw, _ = nondetection_log_weights(
        np.array([[[4.0, 8.0, 0.1, 0.008]]]),
        np.array([[0.0]]),
        np.array([[1e300]]),
        ["U"],
        np.zeros(1),
        np.zeros((1, 1)),
        0.0,
        0,
    )
    assert np.array_equal(logw, np.zeros((1, 1)))  # an infinite variance carries no information


def test_a_limit_no_draw_can_meet_is_flagged_not_silently_ignored():
    """A V = 20, B = 20.3 cluster at distance modulus 18.5 reported with U_lim = 40 (a limit
    no cluster of these colours can lie below, e.g. a flux limit typed in the wrong units):
    with the model error every draw misses it by the same relative amount, so the weights
    cannot tell the draws apart; the row stays valid but the non-detection is flagged. An
    ordinary limit (U_lim = 19, above the predicted U) is not."""
    catalogue = {"V": [20.0, 20.0], "V_err": [0.05] * 2, "B": [20.3] * 2, "B_err": [0.05] * 2}
    catalogue |= {"U": [np.nan] * 2, "U_err": [np.nan] * 2, "U_lim": [40.0, 19.0]}
    table = infer(catalogue, distance_modulus=18.5, n=200, population=None, seed=0)
    assert table["valid"].all()
    assert "U: non-detection not explained by any posterior draw" in table["flag"][0]
    assert "not explained" not in table["flag"][1]
