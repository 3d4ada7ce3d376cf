"""Tissue optics: Prahl's table spot values, coefficient formulas, the priors."""

import numpy as np
import pytest

from oximetry.optics import (
    absorption_coefficient,
    extinction_table,
    hemoglobin_extinction,
    reduced_scattering_coefficient,
    scattering_coefficient,
)
from oximetry.tissue import COLON, GENERIC, tissue_model


def test_table_covers_450_to_1000_nm_in_2_nm_steps():
    wl, oxy, deoxy = extinction_table()
    np.testing.assert_array_equal(wl, np.arange(450, 1001, 2))
    assert np.all(oxy > 0) and np.all(deoxy > 0)


@pytest.mark.parametrize(
    "wl, oxy, deoxy",
    [
        (450, 62816, 103292),
        (500, 20932.8, 20862),
        (560, 32613.2, 53788),
        (660, 319.6, 3226.56),
        (700, 290, 1794.28),
        (800, 816, 761.72),
    ],
)
def test_prahl_spot_values_exact(wl, oxy, deoxy):
    e_oxy, e_deoxy = hemoglobin_extinction(wl)
    assert e_oxy == oxy and e_deoxy == deoxy


def test_absorption_formula():
    mua = absorption_coefficient(0.7, 0.05, [560.0])
    expected = np.log(10) * 120 * 0.05 * (0.7 * 32613.2 + 0.3 * 53788) / 64500
    np.testing.assert_allclose(mua, [expected], rtol=1e-12)


def test_scattering_formulas():
    musp = reduced_scattering_coefficient(18.9, 1.286, [500.0, 1000.0])
    np.testing.assert_allclose(musp, [18.9, 18.9 * 2**-1.286], rtol=1e-12)
    np.testing.assert_allclose(scattering_coefficient(musp, 0.9), musp / 0.1)


def test_wavelength_outside_table_rejected():
    with pytest.raises(ValueError, match="wavelengths_nm"):
        hemoglobin_extinction([440.0])


def test_colon_prior_names_bounds_and_samples():
    names = ["sO2", "vhb_1", "vhb_2", "vhb_3", "amie_1", "amie_2", "amie_3", "g_1", "g_2", "g_3", "d_1", "d_2", "d_3"]
    assert COLON.param_names == names
    x = COLON.sample(20000, 1)
    bounds = np.array([[p.low, p.high] for p in COLON.parameters])
    assert np.all(x >= bounds[:, 0]) and np.all(x <= bounds[:, 1])
    np.testing.assert_allclose(bounds[10:], [[600, 1010], [415, 847], [395, 603]])
    amie = x[:, 4]
    # truncated N(18.9, 10.2) on [5, 50] has mean ~20.6; a uniform would give 27.5
    assert 20.0 < amie.mean() < 21.3
    np.testing.assert_array_equal(COLON.sample(5, 3), COLON.sample(5, np.random.default_rng(3)))


def test_colon_slab_units_and_shapes():
    x = COLON.sample(4, 0)
    slab = COLON.slab(x, [470.0, 560.0])
    assert slab.batch_shape == (4, 2) and slab.n_layers == 3
    np.testing.assert_allclose(slab.d[0, 0], x[0, 10:13] * 1e-4)
    np.testing.assert_allclose(slab.n[0, 0], [1.36, 1.36, 1.38])
    musp = x[:, 4:7] * (560 / 500) ** -1.286
    np.testing.assert_allclose(slab.mus[:, 1] * (1 - x[:, 7:10]), musp)


def test_generic_prior_is_wider():
    assert len(GENERIC.parameters) == 19
    assert tissue_model("generic") is GENERIC
    slab = GENERIC.slab(GENERIC.sample(3, 0), [600.0])
    assert np.all((slab.n >= 1.33) & (slab.n <= 1.54))
    with pytest.raises(ValueError, match="prior"):
        tissue_model("skin")
    with pytest.raises(ValueError, match=r"shape \(n, 13\)"):
        COLON.slab(np.zeros((2, 12)), [500.0])
