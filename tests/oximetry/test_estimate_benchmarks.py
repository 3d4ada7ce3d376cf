"""The oximetry table and speed benchmarks run end to end in --quick mode (smoke tests, tiny grids)."""

import importlib.util
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_quick(tmp_path):
    result = _load("oximetry_table").main(
        ["--quick", "--methods", "cinn,abc,floor,padded_x", "--out", str(tmp_path / "t.json")]
    )
    rows = {r["method"].split(" (")[0]: r for r in result["rows"]}
    assert list(rows) == ["cINN", "rejection ABC", "simulation-noise floor", "INN only L_x"]
    assert result["n_test"] == 100 and "sO2" in result["recoverable"]
    assert 0 < rows["simulation-noise floor"]["resim_error_pct"] < rows["cINN"]["resim_error_pct"]
    # every estimate is evaluated like the artifact: the same test size, draws and floor
    assert rows["cINN"]["draws"] == rows["INN only L_x"]["draws"] == 100
    assert rows["cINN"]["calibration_floor_pct"] == rows["rejection ABC"]["calibration_floor_pct"] > 0
    assert rows["INN only L_x"]["budget"] == "30 x 250"
    assert (tmp_path / "t.json").is_file()
    # a rerun of one method into the same file keeps the other rows (a table is built method by method)
    rerun = _load("oximetry_table").main(["--quick", "--methods", "floor", "--out", str(tmp_path / "t.json")])
    assert [r["method"] for r in rerun["rows"]] == [
        r["method"] for r in result["rows"] if "floor" not in r["method"]
    ] + [rows["simulation-noise floor"]["method"]]


def test_speed_quick(tmp_path):
    result = _load("oximetry_speed").main(["--quick", "--out", str(tmp_path / "s.json")])
    assert result["pixels"] == 96 * 96 and result["default_method"] == "quantiles"
    default, full, head = result["rows"][:3]
    assert "AUTO_MAX_DRAWS" in result["default_method_reason"] and len(result["sample_parameters"]) == 13
    assert abs(default["coverage_error_68_pct"]) < 10 and abs(full["coverage_error_68_pct"]) < 15
    assert np.isfinite(head["coverage_error_68_pct"]) and head["pixels_per_second"] > 0
    assert (tmp_path / "s.json").is_file()


def test_ood_quick():
    rows = {r["outliers"]: r for r in _load("oximetry_ood").main(["--quick"])}
    assert rows["in-distribution (colon)"]["flagged"] < 0.03
    assert rows["specular"]["auroc_highlight_detector"] > 0.98 and rows["specular"]["flagged"] > 0.8
    assert rows["saturated"]["flagged"] > 0.9
    generic = rows["generic-prior tissue"]
    assert 0.6 < generic["auroc_density"] <= generic["auroc_supervised_classifier"] + 0.05


def test_mc_check_quick():
    rows = {r["estimator"]: r for r in _load("oximetry_mc_check").main(["--quick"])["rows"]}
    cinn = rows["cINN (packaged)"]
    assert cinn["spectra"] == 20 and 0 <= cinn["coverage_68"] <= cinn["coverage_95"] <= 1
    assert 0 < cinn["median_abs_error"] < 0.25 and cinn["width_68"] > 0


def test_phantom_quick_the_image_population_sharpens_the_common_tissue(tmp_path):
    """On the bundled phantom the image population over sO2 at least halves the sO2 error of
    the background tissue and narrows its intervals; the benchmark reports every region."""
    result = _load("oximetry_phantom").main(["--quick", "--json", str(tmp_path / "p.json")])
    rows = {(r["prior"], r["region"]): r for r in result["rows"]}
    flat, learned = (
        rows["flat prior", "background (0.67-0.73)"],
        rows["image population: sO2", "background (0.67-0.73)"],
    )
    assert learned["mae_pp"] < 0.5 * flat["mae_pp"] and learned["width_68"] < 0.8 * flat["width_68"]
    assert rows["image population: sO2", "all tissue"]["mae_pp"] < 0.6 * rows["flat prior", "all tissue"]["mae_pp"]
    assert 0 < learned["median_effective_draws"] < 64 == flat["median_effective_draws"]
    assert {r["region"] for r in result["rows"]} == {
        "all tissue",
        "background (0.67-0.73)",
        "artery (0.95)",
        "vein (0.40)",
    }
    assert (tmp_path / "p.json").is_file()
