"""MCML against published reference values, at 3 sigma of its own photon noise; white MC; bad input."""

import numpy as np
import pytest

from oximetry.transport import LayeredSlab, monte_carlo, white_monte_carlo


def within_3_sigma(estimate, sigma, reference):
    assert abs(float(estimate) - reference) <= 3 * float(sigma), (estimate, sigma, reference)


def test_van_de_hulst_slab():
    # mua 10, mus 90 /cm, g 0.75, d 0.02 cm, n 1: Rd 0.09739, Tt 0.66096 (van de Hulst)
    slab = LayeredSlab([10.0], [90.0], [0.75], [1.0], [0.02])
    result = monte_carlo(slab, 100_000, seed=1)
    within_3_sigma(result.diffuse_reflectance, result.diffuse_reflectance_std, 0.09739)
    within_3_sigma(result.transmittance, result.transmittance_std, 0.66096)
    assert result.diffuse_reflectance_std < 0.001 and result.specular_reflectance == 0.0


def test_giovanelli_semi_infinite_matched_and_mismatched():
    # mua 1, mus 9 /cm, g 0: Rd 0.41495 at n 1; diffuse + specular 0.2600 at n 1.5 (Giovanelli 1955)
    matched = monte_carlo(LayeredSlab([1.0], [9.0], [0.0], [1.0], [np.inf]), 60_000, seed=2)
    within_3_sigma(matched.diffuse_reflectance, matched.diffuse_reflectance_std, 0.41495)
    mismatched = monte_carlo(LayeredSlab([1.0], [9.0], [0.0], [1.5], [np.inf]), 60_000, seed=3)
    assert mismatched.specular_reflectance == pytest.approx(0.04)
    within_3_sigma(
        mismatched.diffuse_reflectance + mismatched.specular_reflectance, mismatched.diffuse_reflectance_std, 0.2600
    )


def test_batch_and_determinism():
    slab = LayeredSlab([[1.0, 2.0], [0.5, 0.1]], [[100.0, 80.0], [50.0, 200.0]], 0.9, [1.4, 1.4], [0.05, 0.1])
    a = monte_carlo(slab, 3000, seed=7)
    b = monte_carlo(slab, 3000, seed=7)
    assert a.diffuse_reflectance.shape == (2,)
    np.testing.assert_array_equal(a.diffuse_reflectance, b.diffuse_reflectance)
    assert not np.array_equal(a.diffuse_reflectance, monte_carlo(slab, 3000, seed=8).diffuse_reflectance)


def test_white_monte_carlo_matches_direct_run():
    slab = LayeredSlab([0.0, 0.0], [150.0, 250.0], [0.9, 0.85], [1.36, 1.38], [0.05, 0.04])
    white = white_monte_carlo(slab, 40_000, seed=4)
    mua = np.array([[2.0, 0.5], [0.3, 4.0]])
    direct = monte_carlo(slab.with_absorption(mua), 40_000, seed=5)
    reweighted = white.diffuse_reflectance(mua)
    sigma = np.hypot(direct.diffuse_reflectance_std, 1.5 * direct.diffuse_reflectance_std)
    assert np.all(np.abs(reweighted - direct.diffuse_reflectance) <= 3 * sigma)
    assert white.diffuse_reflectance(np.zeros(2)) + white.transmittance(np.zeros(2)) == pytest.approx(
        1 - ((1.36 - 1) / 2.36) ** 2
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(mua=[-1.0]), "mua"),
        (dict(mus=[np.nan]), "mus"),
        (dict(g=[1.0]), "g"),
        (dict(g=[-1.2]), "g"),
        (dict(n=[0.9]), "n"),
        (dict(d=[0.0]), "d"),
        (dict(mua=[1.0, 1.0]), "number of layers"),
    ],
)
def test_bad_input_is_a_clear_value_error(kwargs, match):
    fields = dict(mua=[1.0], mus=[10.0], g=[0.9], n=[1.4], d=[0.1])
    fields.update(kwargs)
    with pytest.raises(ValueError, match=match):
        LayeredSlab(**fields)


def test_bad_photon_count_and_ambient():
    slab = LayeredSlab([1.0], [10.0], [0.9], [1.4], [0.1])
    with pytest.raises(ValueError, match="n_photons"):
        monte_carlo(slab, 0)
    with pytest.raises(ValueError, match="n_above"):
        LayeredSlab([1.0], [10.0], [0.9], [1.4], [0.1], n_above=0.5)
