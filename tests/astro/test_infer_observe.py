"""astro.observe (training noise / mask model) and astro.model_check."""

import numpy as np
import pytest

from astro.model_check import library_chi2
from astro.observe import (
    ALL_BANDS_PROBABILITY,
    LIMIT_MAG_RANGE,
    LIMIT_PROBABILITY,
    LIMIT_SIGMAS_RANGE,
    MAG_PER_RELATIVE_FLUX,
    MISSING_PROBABILITY,
    SIGMA_RANGE,
    observe,
)


def test_observe_layout_noise_and_masks():
    rng = np.random.default_rng(0)
    true = rng.normal(-8, 2, size=(20_000, 5))
    true[0, 2] = np.inf  # an empty cluster's band is always masked
    y = observe(true, rng, limits=False)
    assert y.shape == (20_000, 15)
    mag, sigma, has = y[:, :5], y[:, 5:10], y[:, 10:] > 0.5
    assert has.any(axis=1).all() and not has[0, 2]
    assert np.all(mag[~has] == 0) and np.all(sigma[~has] == 0)
    assert sigma[has].min() >= SIGMA_RANGE[0] and sigma[has].max() <= SIGMA_RANGE[1]
    pulls = (mag[has] - true[has]) / sigma[has]
    assert abs(pulls.std() - 1) < 0.02 and abs(pulls.mean()) < 0.02
    expected_missing = (1 - ALL_BANDS_PROBABILITY) * MISSING_PROBABILITY
    assert abs((~has[1:]).mean() - expected_missing) < 0.01


def test_observe_limits_censor_faint_bands_and_never_bright_ones():
    """A band from a survey with a limit is a non-detection (lim = 1, mag = the limit, sigma =
    the noise at it) when the measured flux falls below the limit: always for clusters fainter
    than every trained limit, never for clusters brighter than all of them."""
    rng = np.random.default_rng(1)
    n = 40_000
    observed = 1 - (1 - ALL_BANDS_PROBABILITY) * MISSING_PROBABILITY
    for true_mag, limited_share in ((LIMIT_MAG_RANGE[1] + 8.0, observed * LIMIT_PROBABILITY), (-30.0, 0.0)):
        y = observe(np.full((n, 3), true_mag), rng)
        assert y.shape == (n, 12)
        mag, sigma, has, lim = y[:, :3], y[:, 3:6], y[:, 6:9] > 0.5, y[:, 9:] > 0.5
        assert not (has & lim).any() and np.all(mag[~(has | lim)] == 0)
        assert abs(lim.mean() - limited_share) < 0.01
        if lim.any():
            assert LIMIT_MAG_RANGE[0] <= mag[lim].min() and mag[lim].max() <= LIMIT_MAG_RANGE[1]
            depth = MAG_PER_RELATIVE_FLUX / sigma[lim]
            assert LIMIT_SIGMAS_RANGE[0] - 1e-9 <= depth.min() and depth.max() <= LIMIT_SIGMAS_RANGE[1] + 1e-9
    # the bright clusters' bands are all detections, none beyond the error range
    assert has.mean() == pytest.approx(observed, abs=0.01) and sigma[has].max() <= SIGMA_RANGE[1]


def test_catalogue_from_observations_writes_limits_that_infer_reads_back():
    from astro.catalog import catalogue_from_observations, read_photometry

    y = observe(np.array([[LIMIT_MAG_RANGE[1] + 8.0, -30.0]] * 200), np.random.default_rng(2))
    table = catalogue_from_observations(y, ("U", "V"), 18.5)
    lim = y[:, 6] > 0.5
    assert lim.any() and "U_lim" in table.colnames and "V_lim" not in table.colnames
    p = read_photometry(table, ("U", "V"))
    np.testing.assert_array_equal(p.limit_censored[:, 0], lim)
    np.testing.assert_allclose(p.limit_mag[lim, 0], y[lim, 0] + 18.5)
    depth = p.limit_flux[lim, 0] / p.limit_sigma[lim, 0]
    np.testing.assert_allclose(depth, MAG_PER_RELATIVE_FLUX / y[lim, 2], rtol=1e-9)


def test_library_chi2_matches_a_direct_minimum():
    """Detections cost their squared residual; a non-detection only library clusters brighter
    than its limit, by the squared shortfall (both in sigma, with the library floor)."""
    rng = np.random.default_rng(1)
    library = rng.normal(size=(300, 4))
    mag = rng.normal(size=(7, 4))
    sigma = rng.uniform(0.05, 0.3, size=(7, 4))
    has = rng.random((7, 4)) > 0.3
    lim = ~has & (rng.random((7, 4)) > 0.4)
    has[0], lim[0] = False, False
    assert lim[1:].any()
    for limits in (None, lim):
        got = library_chi2(mag, sigma, has, library, limits, block=3)
        seen = has if limits is None else has | lim
        for i in range(1, 7):
            w = 1.0 / (sigma[i] ** 2 + 0.05**2)
            terms = has[i] * (library - mag[i]) ** 2
            if limits is not None:
                terms = terms + lim[i] * np.maximum(mag[i] - library, 0.0) ** 2
            direct = (terms * w).sum(axis=1).min() / max(seen[i].sum(), 1)
            if seen[i].any():
                np.testing.assert_allclose(got[i], direct, rtol=1e-9, atol=1e-9)
            else:
                assert np.isnan(got[i])
        assert np.isnan(got[0])


def test_fluxes_and_ab_magnitudes_are_read_as_vega_magnitudes():
    """f_nu columns (any flux density unit) and AB magnitudes become the same Vega magnitudes
    as the Vega input; a flux <= 0 is a non-detection left out with a note; other units are named."""
    import astropy.units as u
    from astropy.table import Table

    from astro.catalog import read_photometry
    from astro.population import available_bands, vega_minus_ab

    known = available_bands()
    vega = np.array([18.0, 20.5])
    ab = vega - vega_minus_ab(["V"])[0]
    flux = (ab * u.ABmag).to(u.mJy)
    err_mag = np.array([0.05, 0.2])
    given = {
        "vega": {"V": vega, "V_err": err_mag},
        "ab": Table({"V": ab * u.ABmag, "V_err": err_mag * u.mag}),
        "flux": {"V": flux, "V_err": flux * err_mag * np.log(10) / 2.5},
        "cgs": {"V": flux.to(u.erg / u.s / u.cm**2 / u.Hz), "V_err": (flux * err_mag * np.log(10) / 2.5).to(u.uJy)},
    }
    for name, catalogue in given.items():
        p = read_photometry(catalogue, known)
        np.testing.assert_allclose(p.mag[:, 0], vega, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(p.err[:, 0], err_mag, rtol=1e-9, err_msg=name)
    p = read_photometry({"V": [-1.0, 2.0] * u.uJy, "V_err": [0.5, 0.1] * u.uJy}, known)
    assert np.isnan(p.mag[0, 0]) and "non-detection" in p.notes[0][0] and np.isfinite(p.mag[1, 0])
    with pytest.raises(ValueError, match="'V' has unit .*Angstrom.*flux density f_nu"):
        read_photometry(
            {"V": [1.0] * u.erg / u.s / u.cm**2 / u.AA, "V_err": [0.1] * u.erg / u.s / u.cm**2 / u.AA}, known
        )
    with pytest.raises(ValueError, match="both be fluxes or both magnitudes"):
        read_photometry({"V": [1.0] * u.Jy, "V_err": [0.1]}, known)
