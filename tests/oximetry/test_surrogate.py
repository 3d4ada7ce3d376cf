"""The packaged neural surrogate against fresh adding-doubling spectra; its interface."""

import numpy as np
import pytest
import torch

from oximetry import COLON, OximetrySimulator, band_reflectance
from oximetry.surrogate import colon_surrogate, surrogate_report


def test_training_report_meets_the_targets():
    report = surrogate_report()
    assert report["n_train"] >= 100_000
    assert report["test_median_rel_error"] <= 0.005
    assert report["test_p99_rel_error"] <= 0.02


def test_matches_adding_doubling_on_fresh_tissues():
    x = COLON.sample(100, 31337)
    solver = band_reflectance(x, method="fast")
    surrogate = band_reflectance(x, method="surrogate")
    rel = np.abs(surrogate / solver - 1)
    assert np.median(rel) <= 0.005
    assert np.percentile(rel, 99) <= 0.02


def test_surrogate_is_differentiable():
    model = colon_surrogate()
    x = torch.tensor(COLON.sample(4, 1), dtype=torch.float32, requires_grad=True)
    model.reflectance(x).sum().backward()
    assert torch.all(torch.isfinite(x.grad)) and x.grad.abs().sum() > 0


def test_surrogate_simulator_and_scope():
    sim = OximetrySimulator(solver="surrogate")
    y = sim.simulate(sim.sample_prior(5, 0), 1)
    assert y.shape == (5, 8)
    assert sim.metadata()["solver"]["method"] == "surrogate"
    with pytest.raises(ValueError, match="colon prior"):
        OximetrySimulator(prior="generic", solver="surrogate")
    with pytest.raises(ValueError, match="colon prior"):
        band_reflectance(np.zeros((1, 19)) + 0.5, method="surrogate", prior="generic")
