import numpy as np

from astro.imf import get_imf
from astro.living_mass import living_mass_fraction
from astro.stellar_data import load_isochrones


def _kroupa_mass_below(m):
    """Closed form: Kroupa 2001 (slope 1.3 below 0.5 Msun, 2.3 above) on 0.08-120 Msun."""

    def below_half(u):
        return (u**0.7 - 0.08**0.7) / 0.7

    def above_half(u):
        return 0.5 * (0.5**-0.3 - u**-0.3) / 0.3

    total = below_half(0.5) + above_half(120.0)
    return np.where(m < 0.5, below_half(np.minimum(m, 0.5)), below_half(0.5) + above_half(np.maximum(m, 0.5))) / total


def test_imf_mass_fraction_matches_the_closed_form():
    m = np.array([0.1, 0.3, 0.5, 1.0, 5.26, 50.0, 120.0])
    np.testing.assert_allclose(get_imf("kroupa").mass_fraction_below(m), _kroupa_mass_below(m), atol=2e-4)


def test_living_fraction_follows_the_remnant_mass():
    iso = load_isochrones()
    z, t = 3, int(np.argmin(np.abs(iso.log_age - 10.0)))  # a table node: no interpolation
    expected = _kroupa_mass_below(iso.m_remnant[z, t])
    np.testing.assert_allclose(living_mass_fraction(iso.log_age[t], iso.Z[z]), expected, atol=2e-4)
    # every star formed is alive before the first remnant (~3 Myr); then the share falls with age
    assert abs(living_mass_fraction(6.0, 0.008) - 1.0) < 1e-9
    ages = np.linspace(6.5, 10.1, 40)
    share = living_mass_fraction(ages, 0.008)
    assert np.all(np.diff(share) <= 0) and 0.35 < share[-1] < 0.55
    assert np.isnan(living_mass_fraction(np.nan, 0.008))
