"""Features and the OOD model behind oximetry.estimate, checked against independent references."""

import numpy as np
import pytest

from oximetry.features import feature_names, reflectance_features
from oximetry.ood import FeatureDensity, SpectrumOOD, shape_and_level


def test_relative_features_ignore_overall_intensity_and_absolute_ones_keep_it():
    r = np.random.default_rng(0).uniform(0.02, 0.7, (50, 8))
    np.testing.assert_allclose(reflectance_features(3.7 * r), reflectance_features(r), atol=1e-12)
    np.testing.assert_allclose(reflectance_features(r).sum(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(
        reflectance_features(2 * r, "absolute") - reflectance_features(r, "absolute"), np.log(2), atol=1e-12
    )
    assert feature_names(["R_470", "R_480"]) == ["lognorm_R_470", "lognorm_R_480"]
    with pytest.raises(ValueError, match="> 0"):
        reflectance_features(np.r_[r[0, :7], 0.0])
    with pytest.raises(ValueError, match="features must be one of"):
        reflectance_features(r, "ratio")


def test_gaussian_mixture_score_matches_a_direct_scipy_mixture():
    from scipy.stats import multivariate_normal

    f = np.random.default_rng(1).standard_normal((3000, 4)) @ np.diag([1, 2, 0.5, 3]) + 1.0
    density = FeatureDensity.fit(f, n_components=3, seed=0)
    z = (f[:100] - density.center) / density.scale
    p = sum(
        w * multivariate_normal(mu, np.linalg.inv(u @ u.T)).pdf(z)
        for w, mu, u in zip(density.weights, density.means, density.precision_cholesky)
    )
    np.testing.assert_allclose(density.score(f[:100]), -np.log(p), rtol=1e-8)
    back = FeatureDensity.from_dict(density.to_dict())
    np.testing.assert_allclose(back.score(f[:100]), density.score(f[:100]))


def test_spectrum_ood_penalizes_brightness_not_dimness_and_sets_its_threshold():
    rng = np.random.default_rng(2)
    base = np.linspace(0.1, 0.5, 8)
    train = base * rng.uniform(0.5, 1.0, (4000, 1)) * (1 + 0.05 * rng.standard_normal((4000, 8)))
    held = base * rng.uniform(0.5, 1.0, (2000, 1)) * (1 + 0.05 * rng.standard_normal((2000, 8)))
    ood = SpectrumOOD.fit(train, n_components=2).with_threshold(held[:1000], quantile=0.99)
    assert 0.0 <= ood.is_ood(held[1000:]).mean() < 0.03
    assert ood.is_ood(held[1000:] * 0.3).mean() < 0.03  # an unknown, lower intensity is not OOD
    assert ood.is_ood(held[1000:] * 2.5).mean() > 0.99  # brighter than any tissue in training
    assert ood.is_ood(held[1000:, ::-1]).mean() > 0.99  # a spectrum shape never seen
    shape, level = shape_and_level(held[:3])
    np.testing.assert_allclose(np.log(held[:3]), shape + level[:, None])
    np.testing.assert_allclose(SpectrumOOD.from_dict(ood.to_dict()).score(held[:5]), ood.score(held[:5]))


@pytest.mark.parametrize("n", [1, 2, 16, 63])
def test_sorted_quantiles_equal_numpy_quantiles(n):
    from inn_engine.posterior import sorted_quantiles

    s = np.random.default_rng(n).normal(size=(5, n, 3)) * [1.0, 100.0, 1e-3]
    levels = [0.0, 0.025, 0.16, 0.5, 0.84, 0.975, 1.0]
    got = sorted_quantiles(s, levels)
    np.testing.assert_allclose(got, np.quantile(s, levels, axis=1), rtol=1e-13, atol=0)
