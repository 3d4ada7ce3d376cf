"""oximetry.train builds a working estimator for a custom camera (tiny sizes: a pipeline check, not a model)."""

import numpy as np
import pytest

import oximetry
from oximetry import Camera, OximetrySimulator, estimate
from oximetry.quantile_head import HEAD_FILE


def test_train_for_a_custom_camera_end_to_end(tmp_path):
    camera = Camera.from_bands([470, 500, 530, 560, 590, 620, 650, 700], 20.0, name="wide-test")
    with pytest.raises(ValueError, match="give out="):
        oximetry.train(camera=camera)
    est = oximetry.train(
        camera=camera,
        out=tmp_path / "est",
        work=tmp_path / "work",
        n=1000,
        n_test=100,
        n_generic=0,
        steps=30,
        n_draws=40,
        n_workers=1,
        head_steps=50,
        network={"n_blocks": 2, "hidden": 32, "coupling": "affine"},
    )
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


def test_train_the_papers_padded_inn_with_the_noise_as_nuisance(tmp_path):
    camera = Camera.from_bands([470, 500, 530, 560, 590, 620, 650, 700], 20.0, name="wide-test")
    est = oximetry.train(
        camera=camera,
        out=tmp_path / "est",
        work=tmp_path / "work",
        n=1000,
        n_test=100,
        n_generic=0,
        steps=30,
        n_draws=40,
        n_workers=1,
        model="padded",
        head_steps=0,
        network={"n_blocks": 2, "hidden": 32, "clamp": 2.0},
    )
    assert est.model.kind == "padded"
    assert est.model.config["dim_nuisance"] == 7  # 8 relative features sum to zero: 7 noise draws
    assert est.metadata["pretrain"]["settings"]["model"] == "padded"
    assert "quantile_head" not in est.metadata["metrics"] and not (tmp_path / "est" / HEAD_FILE).exists()
    y = OximetrySimulator(camera=camera, n_quad=8).simulate(OximetrySimulator().sample_prior(5, 0), 0)
    out = estimate(y, camera=camera, estimator=tmp_path / "est", n=16)
    assert out.attrs["method"] == "sample" and np.isfinite(out["sO2_median"].values).all()
    assert "ood" in out


def test_the_readme_call_works_from_a_plain_script(tmp_path):
    """`oximetry.train(camera=..., out=...)` in a script without a __main__ guard (the default 2
    grid workers would re-run the script): it prints the expected time, works in-process and says so."""
    import subprocess
    import sys

    script = tmp_path / "retrain.py"
    script.write_text(
        "import oximetry\n"
        "camera = oximetry.Camera.from_bands([470, 500, 530, 560, 590, 620, 650, 700], 20.0, name='plain')\n"
        f"est = oximetry.train(camera=camera, out={str(tmp_path / 'est')!r}, work={str(tmp_path / 'work')!r}, "
        "quick=True, n=2000, n_test=100, n_generic=0, steps=20, n_draws=20, head_steps=20, "
        "network={'n_blocks': 1, 'hidden': 16, 'coupling': 'affine'})\n"
        "print('trained', est.metadata['oximetry']['camera']['name'])\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained plain" in result.stdout
    assert "oximetry.train plain / colon" in result.stdout and "by fast" in result.stdout
    assert "simulating in this process instead of 2 worker processes" in result.stderr
