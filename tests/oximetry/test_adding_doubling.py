"""Adding-doubling against published single-slab values, energy conservation, and our Monte Carlo."""

import numpy as np
import pytest

from oximetry.tissue import COLON, GENERIC
from oximetry.transport import LayeredSlab, adding_doubling, monte_carlo


def test_van_de_hulst_slab():
    result = adding_doubling(LayeredSlab([10.0], [90.0], [0.75], [1.0], [0.02]), n_quad=16)
    assert result.diffuse_reflectance == pytest.approx(0.09739, abs=5e-5)
    assert result.transmittance == pytest.approx(0.66096, abs=5e-5)


def test_giovanelli_semi_infinite():
    matched = adding_doubling(LayeredSlab([1.0], [9.0], [0.0], [1.0], [np.inf]))
    assert matched.diffuse_reflectance == pytest.approx(0.41495, abs=5e-5)
    mismatched = adding_doubling(LayeredSlab([1.0], [9.0], [0.0], [1.5], [np.inf]))
    assert mismatched.diffuse_reflectance + mismatched.specular_reflectance == pytest.approx(0.2600, abs=2e-4)


def test_energy_is_conserved_without_absorption_across_index_steps():
    slab = LayeredSlab(
        0.0,
        [100.0, 200.0, 300.0],
        [0.9, 0.8, 0.95],
        [[1.36, 1.36, 1.38], [1.5, 1.33, 1.45], [1.4, 1.4, 1.4]],
        [0.05, 0.03, 0.04],
        n_above=1.0,
        n_below=[1.0, 1.2, 1.0],
    )
    result = adding_doubling(slab)
    total = result.diffuse_reflectance + result.transmittance + result.specular_reflectance
    np.testing.assert_allclose(total, 1.0, atol=1e-10)


def test_split_layer_equals_whole_layer():
    split = adding_doubling(LayeredSlab(1.0, 100.0, 0.9, 1.4, [0.05, 0.05]))
    whole = adding_doubling(LayeredSlab([1.0], [100.0], [0.9], [1.4], [0.1]))
    assert split.diffuse_reflectance == pytest.approx(whole.diffuse_reflectance, rel=1e-6)


@pytest.mark.parametrize("model, seed", [(COLON, 21), (GENERIC, 22)])
def test_layered_tissue_matches_monte_carlo(model, seed):
    x = model.sample(3, seed)
    slab = model.slab(x, [470.0, 560.0, 660.0])
    fast = adding_doubling(slab, n_quad=16).diffuse_reflectance
    mc = monte_carlo(slab, 40_000, seed=seed)
    # 3 sigma of photon noise plus the solver's own 0.3 % (N = 16 against N = 24)
    tolerance = 3 * mc.diffuse_reflectance_std + 0.003 * fast
    assert np.all(np.abs(fast - mc.diffuse_reflectance) <= tolerance), (fast, mc.diffuse_reflectance)


def test_bad_quadrature_order():
    slab = LayeredSlab([1.0], [9.0], [0.0], [1.0], [1.0])
    with pytest.raises(ValueError, match="n_quad"):
        adding_doubling(slab, n_quad=15)
