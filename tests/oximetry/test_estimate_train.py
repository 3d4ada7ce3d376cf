"""oximetry.train builds a working estimator for a custom camera (tiny sizes: a pipeline check, not a model)."""
import numpy as np
import pytest

import oximetry
from oximetry import Camera, OximetrySimulator, estimate


def test_train_for_a_custom_camera_end_to_end(tmp_path):
    camera = Camera.from_bands([470, 500, 530, 560, 590, 620, 650, 700], 20.0, name="wide-test")
    with pytest.raises(ValueError, match="give out="):
        oximetry.train(camera=camera)
    est = oximetry.train(camera=camera, out=tmp_path / "est", work=tmp_path / "work", n=1000, n_test=100,
                         n_generic=0, steps=30, n_draws=40, n_workers=1, head_steps=50,
                         network={"n_blocks": 2, "hidden": 32, "coupling": "affine"})
    metrics = est.metadata["metrics"]
    assert metrics["n_test"] == 100 and 0 <= metrics["calibration_error_sO2_pct"] <= 50
    assert {"auroc_specular", "auroc_saturated"} <= set(metrics["ood"]) and "quantile_head" in metrics
    assert est.metadata["oximetry"]["band_names"] == camera.band_names
    y = OximetrySimulator(camera=camera, n_quad=8).simulate(OximetrySimulator().sample_prior(5, 0), 0)
    out = estimate(y, camera=camera, estimator=tmp_path / "est", n=16)
    assert np.isfinite(out["sO2_median"].values).all()
    assert estimate(y, estimator=tmp_path / "est", method="quantiles")["sO2_q84"].shape == (5,)
    with pytest.raises(ValueError, match="trained for the camera 'wide-test'"):
        estimate(y, camera=oximetry.default_camera(), estimator=tmp_path / "est")
