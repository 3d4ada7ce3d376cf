"""astro.observe (training noise / mask model) and astro.model_check."""

import numpy as np

from astro.model_check import library_chi2
from astro.observe import ALL_BANDS_PROBABILITY, MISSING_PROBABILITY, SIGMA_RANGE, observe


def test_observe_layout_noise_and_masks():
    rng = np.random.default_rng(0)
    true = rng.normal(-8, 2, size=(20_000, 5))
    true[0, 2] = np.inf  # an empty cluster's band is always masked
    y = observe(true, rng)
    mag, sigma, has = y[:, :5], y[:, 5:10], y[:, 10:] > 0.5
    assert has.any(axis=1).all() and not has[0, 2]
    assert np.all(mag[~has] == 0) and np.all(sigma[~has] == 0)
    assert sigma[has].min() >= SIGMA_RANGE[0] and sigma[has].max() <= SIGMA_RANGE[1]
    pulls = (mag[has] - true[has]) / sigma[has]
    assert abs(pulls.std() - 1) < 0.02 and abs(pulls.mean()) < 0.02
    expected_missing = (1 - ALL_BANDS_PROBABILITY) * MISSING_PROBABILITY
    assert abs((~has[1:]).mean() - expected_missing) < 0.01


def test_library_chi2_matches_a_direct_minimum():
    rng = np.random.default_rng(1)
    library = rng.normal(size=(300, 4))
    mag = rng.normal(size=(7, 4))
    sigma = rng.uniform(0.05, 0.3, size=(7, 4))
    has = rng.random((7, 4)) > 0.3
    has[0] = False
    got = library_chi2(mag, sigma, has, library, block=3)
    for i in range(1, 7):
        w = has[i] / (sigma[i] ** 2 + 0.05**2)
        direct = ((library - mag[i]) ** 2 * w).sum(axis=1).min() / max(has[i].sum(), 1)
        if has[i].any():
            np.testing.assert_allclose(got[i], direct, rtol=1e-9, atol=1e-9)
    assert np.isnan(got[0])
