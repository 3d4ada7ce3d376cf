"""The specular-highlight detector: trained on simulated highlights, it flags unseen ones."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from oximetry import OximetrySimulator, default_camera
from oximetry.feature_mlp import FeatureMLP
from oximetry.highlight import HighlightDetector, add_highlight, fit_highlight_detector
from oximetry.pretrain import specular_and_saturated
from oximetry.quantile_head import QuantileHead


@pytest.fixture(scope="module")
def spectra():
    """6000 noisy colon spectra from the surrogate forward model (fast)."""
    simulator = OximetrySimulator("colon", solver="surrogate")
    rng = np.random.default_rng(7)
    return simulator.simulate(simulator.sample_prior(6000, rng), rng)


@pytest.fixture(scope="module")
def detector(spectra):
    return fit_highlight_detector(spectra[:4000], spectra[4000:5000], default_camera().centres_nm, steps=600)


def test_detector_flags_highlights_of_another_model_than_its_training(spectra, detector):
    inliers = spectra[5000:]
    specular, _ = specular_and_saturated(inliers, seed=3)  # flat highlights of 0.3-1.5 x the peak
    s_in, s_out = detector.score(inliers), detector.score(specular)
    assert roc_auc_score(np.r_[np.zeros(len(s_in)), np.ones(len(s_out))], np.r_[s_in, s_out]) > 0.97
    assert detector.is_highlight(specular).mean() > 0.7
    assert detector.is_highlight(inliers).mean() < 0.03  # threshold at 99.5 % of held-out tissue


def test_highlight_model_adds_light_in_proportion_to_the_peak():
    r = np.array([[0.1, 0.2, 0.4], [0.05, 0.05, 0.1]])
    out = add_highlight(r, [500.0, 550.0, 600.0], np.random.default_rng(0), strength=(1.0, 1.0), colour=0.0)
    np.testing.assert_allclose(out - r, [[0.4] * 3, [0.1] * 3])


def test_detector_round_trips_and_other_files_are_refused(tmp_path, spectra, detector):
    detector.save(tmp_path / "h.safetensors")
    loaded = HighlightDetector.load(tmp_path / "h.safetensors")
    np.testing.assert_allclose(loaded.score(spectra[:50]), detector.score(spectra[:50]), rtol=1e-6)
    assert loaded.threshold == detector.threshold
    FeatureMLP(8, 2).save(tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="not a QuantileHead file"):
        QuantileHead.load(tmp_path / "plain.safetensors")
