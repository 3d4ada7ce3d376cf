"""oximetry.estimate with the packaged estimator: shapes, invariance, bad input, accuracy, OOD flags."""

import json

import numpy as np
import pytest
import xarray as xr

import oximetry
from inn_engine.artifact import sign_metadata
from oximetry import Camera, OximetrySimulator, estimate, load_estimator
from oximetry.pretrain import specular_and_saturated

N_DRAWS = 64


@pytest.fixture(scope="module")
def held_out():
    """300 colon-prior spectra (seed unrelated to the training grids) and their parameters."""
    simulator = OximetrySimulator("colon", n_quad=8)
    rng = np.random.default_rng(12345)
    x = simulator.sample_prior(300, rng)
    return x, simulator.simulate(x, rng)


@pytest.fixture(scope="module")
def result(held_out):
    return estimate(held_out[1], n=N_DRAWS, seed=3)


def test_batch_result_has_every_summary_with_units(result):
    est = load_estimator()
    assert result.sizes == {"spectrum": 300}
    for name, unit in zip(est.param_names, est.param_units):
        for key in ("median", "mean", "std", "q025", "q16", "q84", "q975"):
            assert result[f"{name}_{key}"].attrs["units"] == unit
    lo, mid, hi = (result[f"sO2_{k}"].values for k in ("q025", "median", "q975"))
    assert np.all((0 <= lo) & (lo <= mid) & (mid <= hi) & (hi <= 1))
    assert result["ood"].dtype == bool and result["valid"].all()


def test_posterior_is_informative_and_calibrated_on_held_out_spectra(held_out, result):
    x = held_out[0]
    so2 = x[:, 0]
    error = np.abs(result["sO2_median"].values - so2).mean()
    prior_error = np.abs(0.5 - so2).mean()  # the prior median's error
    assert error < 0.6 * prior_error
    inside = (result["sO2_q16"].values <= so2) & (so2 <= result["sO2_q84"].values)
    se = np.sqrt(0.68 * 0.32 / len(so2))
    assert abs(inside.mean() - 0.68) < 4 * se + 0.03  # shipped model's calibration, binomial noise


def test_one_spectrum_a_cube_and_xarray_give_the_same_numbers(held_out, result):
    y = held_out[1]
    single = estimate(y[0], n=N_DRAWS, seed=3)
    assert single["sO2_median"].dims == ()
    assert single["sO2_median"].item() == pytest.approx(result["sO2_median"].values[0])
    cube = estimate(y[:12].reshape(3, 4, 8), n=N_DRAWS, seed=3)
    assert cube["sO2_median"].dims == ("y", "x")
    np.testing.assert_allclose(cube["sO2_median"].values.ravel(), result["sO2_median"].values[:12])
    names = load_estimator().metadata["oximetry"]["band_names"]
    reversed_bands = xr.DataArray(
        y[:12, ::-1], dims=("pixel", "band"), coords={"band": names[::-1], "pixel": np.arange(12) * 10}
    )
    labelled = estimate(reversed_bands, n=N_DRAWS, seed=3)
    assert labelled["sO2_median"].dims == ("pixel",) and list(labelled["pixel"].values[:2]) == [0, 10]
    np.testing.assert_allclose(labelled["sO2_median"].values, result["sO2_median"].values[:12])


def test_unknown_overall_intensity_does_not_change_the_estimate(held_out):
    y = held_out[1][:20]
    a = estimate(y, n=N_DRAWS, seed=1)
    b = estimate(0.37 * y, n=N_DRAWS, seed=1)
    np.testing.assert_allclose(a["sO2_median"].values, b["sO2_median"].values, atol=1e-6)
    np.testing.assert_allclose(a["vhb_1_q84"].values, b["vhb_1_q84"].values, atol=1e-6)


def test_raw_counts_with_white_and_dark_references(held_out):
    y = held_out[1][:10]
    white, dark = np.linspace(3000, 4000, 8), np.full(8, 100.0)
    raw = y * (white - dark) + dark
    np.testing.assert_allclose(
        estimate(raw, white=white, dark=dark, n=N_DRAWS)["sO2_median"].values,
        estimate(y, n=N_DRAWS)["sO2_median"].values,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="both white and dark"):
        estimate(raw, white=white)
    with pytest.raises(ValueError, match="raw counts"):
        estimate(np.round(raw).astype(int))


def test_posterior_draws_on_request(held_out):
    out = estimate(held_out[1][:4], n=N_DRAWS, draws=7)
    assert out["samples"].dims == ("spectrum", "draw", "param")
    assert out["samples"].shape == (4, 7, load_estimator().dim_x)
    assert list(out["param"].values) == load_estimator().param_names


def test_bad_pixels_are_masked_with_a_reason(held_out):
    cube = held_out[1][:6].reshape(2, 3, 8).copy()
    cube[0, 0, 3] = np.nan
    cube[0, 1, 0] = np.inf
    cube[0, 2, 5] = -0.01
    cube[1, 0, 7] = 1.7
    out = estimate(cube, n=N_DRAWS)
    reasons = out["reason"].values
    assert "NaN or infinite" in reasons[0, 0] and "NaN or infinite" in reasons[0, 1]
    assert "<= 0" in reasons[0, 2] and "above 1.5" in reasons[1, 0]
    assert list(out["valid"].values[1, 1:]) == [True, True] and reasons[1, 1] == ""
    assert np.isnan(out["sO2_median"].values[0]).all() and np.isnan(out["sO2_median"].values[1, 0])
    assert out["ood"].values[0].all() and out["ood"].values[1, 0]
    assert np.isfinite(out["sO2_median"].values[1, 1:]).all()


@pytest.mark.parametrize(
    "data, match",
    [
        (np.full(8, np.nan), "invalid: NaN"),
        (np.ones(7) * 0.3, "8 bands"),
        (np.ones((4, 9)) * 0.3, "8 bands"),
        (np.zeros((0, 8)), "empty"),
        (np.array(["0.1"] * 8), "real numbers"),
        (np.ones(8, dtype=complex), "real numbers"),
        (np.ones((2, 2, 2, 8)) * 0.3, "image cube"),
        (xr.Dataset({"r": (("s", "band"), np.ones((2, 8)))}), "not a Dataset"),
        (xr.DataArray(np.ones((2, 8)) * 0.3, dims=("s", "wavelength")), "'band' dim"),
        (xr.DataArray(np.ones((2, 8)) * 0.3, dims=("s", "band"), coords={"band": list("abcdefgh")}), "does not name"),
    ],
)
def test_malformed_input_raises_a_clear_error(data, match):
    with pytest.raises(ValueError, match=match):
        estimate(data, n=N_DRAWS)


def test_other_camera_asks_for_a_trained_estimator(held_out):
    other = Camera.from_bands([470, 480, 511, 560, 580, 600, 660, 700], 20.0, name="wide")
    with pytest.raises(ValueError, match=r"oximetry.train\(camera="):
        estimate(held_out[1][:2], camera=other)
    estimate(held_out[1][:2], camera=oximetry.default_camera(), n=N_DRAWS)  # the trained camera is accepted


def test_specular_and_saturated_spectra_are_flagged(held_out, result):
    y = held_out[1]
    specular, saturated = specular_and_saturated(y, seed=5)
    in_rate = result["ood"].values.mean()
    saturated_rate = estimate(saturated, n=16)["ood"].values.mean()
    specular_rate = estimate(specular, n=16)["ood"].values.mean()
    assert in_rate <= 0.03
    assert saturated_rate >= 0.9
    assert specular_rate >= 0.8  # the highlight detector (oximetry.highlight) catches them
    assert np.isfinite(result["highlight_score"].values).all()


def test_artifact_records_its_evaluation():
    meta = load_estimator().metadata
    metrics = meta["metrics"]
    assert metrics["n_test"] >= 1000
    assert set(metrics["calibration_error_pct"]) == set(load_estimator().param_names)
    assert {"auroc_specular", "auroc_saturated", "auroc_generic_prior"} <= set(metrics["ood"])
    assert metrics["ood"]["auroc_specular_highlight_detector"] >= 0.99
    assert metrics["calibration_error_sO2_pct"] <= 0.34  # the paper's best, on 20,000 test cases
    assert meta["oximetry"]["features"] == "relative" and meta["oximetry"]["prior"] == "colon"


def test_quantile_head_gives_whole_image_sO2_intervals_close_to_the_cinn(held_out, result):
    fast = estimate(held_out[1].reshape(15, 20, 8), method="quantiles")
    assert fast["sO2_median"].dims == ("y", "x") and "vhb_1_median" not in fast
    median = fast["sO2_median"].values.ravel()
    assert np.abs(median - result["sO2_median"].values).mean() < 0.05
    so2 = held_out[0][:, 0]
    inside = (fast["sO2_q16"].values.ravel() <= so2) & (so2 <= fast["sO2_q84"].values.ravel())
    assert abs(inside.mean() - 0.68) < 4 * np.sqrt(0.68 * 0.32 / len(so2)) + 0.03
    assert np.all(fast["sO2_q025"].values <= fast["sO2_q975"].values)
    with pytest.raises(ValueError, match="draws need method='sample'"):
        estimate(held_out[1][:2], method="quantiles", draws=3)
    with pytest.raises(ValueError, match="method must be"):
        estimate(held_out[1][:2], method="fast")


def test_default_method_follows_the_input_size_and_says_why(held_out, monkeypatch, tmp_path):
    """method="auto": full posteriors while spectra x n <= AUTO_MAX_DRAWS or draws are asked
    for, the quantile head above it, and sampling again for an estimator without a head."""
    import shutil
    import sys

    estimate_module = sys.modules["oximetry.estimate"]  # the module (the package's `estimate` is the function)
    from oximetry.pretrain import PACKAGED_DIR
    from oximetry.quantile_head import HEAD_FILE

    monkeypatch.setattr(estimate_module, "AUTO_MAX_DRAWS", 20 * 16)
    spectra = held_out[1]
    small = estimate(spectra[:20], n=16)
    assert small.attrs["method"] == "sample" and "vhb_1_median" in small
    assert "AUTO_MAX_DRAWS" in small.attrs["method_reason"] and "<=" in small.attrs["method_reason"]
    image = spectra[:42].reshape(6, 7, 8)
    large = estimate(image, n=16)
    assert large.attrs["method"] == "quantiles" and "vhb_1_median" not in large
    assert "42 spectra x 16 draws >" in large.attrs["method_reason"]
    np.testing.assert_array_equal(large["sO2_median"].values, estimate(image, method="quantiles")["sO2_median"].values)
    assert {"ood", "ood_score", "valid", "reason", "highlight_score"} <= set(large.data_vars)
    assert estimate(image, n=16, draws=3).attrs["method"] == "sample"
    assert estimate(image, n=16, method="sample").attrs["method_reason"] == "method='sample' was asked for"

    # an estimator directory made without a quantile head (its listing has none either)
    headless = tmp_path / "headless"
    shutil.copytree(PACKAGED_DIR, headless, ignore=shutil.ignore_patterns(HEAD_FILE, "__init__.py"))
    meta = json.loads((headless / "estimator.json").read_text())
    del meta["side_files"][HEAD_FILE]
    (headless / "estimator.json").write_text(json.dumps(sign_metadata(meta)))
    fallback = estimate(image, n=16, estimator=headless)
    assert fallback.attrs["method"] == "sample" and "no quantile head" in fallback.attrs["method_reason"]
    assert fallback["sO2_median"].shape == (6, 7) and "vhb_1_median" in fallback
    loaded = estimate(image, n=16, estimator=load_estimator())
    assert loaded.attrs["method"] == "sample" and "no quantile head" in loaded.attrs["method_reason"]


def test_sampling_progress_is_shown_for_many_spectra_only(held_out, monkeypatch, capsys):
    import sys

    estimate_module = sys.modules["oximetry.estimate"]

    estimate(held_out[1][:40], n=16, method="sample")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(estimate_module, "_SPECTRA_PER_BLOCK", 16)
    estimate(held_out[1][:40], n=16, method="sample")
    err = capsys.readouterr().err
    assert "oximetry.estimate: 16 posterior draws per spectrum: spectrum 16/40 (40 %)" in err
    assert "oximetry.estimate: 16 posterior draws per spectrum: done 40 spectra in" in err
    estimate(held_out[1][:40], n=16, method="sample", progress=False)
    assert capsys.readouterr().err == ""


def test_the_papers_padded_inn_is_packaged_beside_the_cinn(held_out, result):
    """oximetry.PAPER_INN_DIR: the same call, the same output, its own posteriors (no quantile head)."""
    x, y = held_out
    paper = estimate(y, estimator=oximetry.PAPER_INN_DIR, n=N_DRAWS, seed=3)
    assert set(paper.data_vars) == set(result.data_vars) and paper.sizes == result.sizes
    assert paper.attrs["method"] == "sample" and load_estimator(oximetry.PAPER_INN_DIR).model.kind == "padded"
    assert paper["ood"].dtype == bool and paper["valid"].all()
    so2 = x[:, 0]
    assert np.abs(paper["sO2_median"].values - so2).mean() < 0.6 * np.abs(0.5 - so2).mean()
    inside = (paper["sO2_q16"].values <= so2) & (so2 <= paper["sO2_q84"].values)
    assert abs(inside.mean() - 0.68) < 4 * np.sqrt(0.68 * 0.32 / len(so2)) + 0.03  # as for the cINN
