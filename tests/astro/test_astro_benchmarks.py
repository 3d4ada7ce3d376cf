"""The astro population benchmark's quick mode (the full runs are in benchmarks/astro_population.py)."""

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_population_benchmark_quick(tmp_path):
    out = _load("astro_population").main(
        ["--quick", "--sections", "synthetic,synthetic_z,limits,averaged", "--json", str(tmp_path / "p.json")]
    )
    dust, age = out["synthetic"]
    assert dust["clusters"] == 100 and dust["fitted_q05_q50_q95"][1] < 0.6  # the true median A_V is 0.2
    assert dust["age_error_population"] < dust["age_error_flat"] and age["age_error_population"] < age["age_error_flat"]
    for known_z in out["synthetic_z"]:  # each cluster's metallicity given: Z is no posterior to calibrate
        assert known_z["metallicity_given"] and known_z["cal_population_Z"] is None
        assert known_z["age_error_population"] < known_z["age_error_flat"]
    limits = out["limits"]
    assert 20 <= limits["limited"] <= 30  # 30 % of the clusters whose U was observed
    # the limits carry information that dropping the band loses
    assert limits["sd_limited_limits_log_age"] < limits["sd_limited_dropped_log_age"]
    # every calibration error comes with the floor of its test size: fewer cases, higher floor
    assert 0 < limits["calibration_all_floor"] < limits["calibration_limited_floor"] < 0.2
    assert 0 < dust["calibration_floor"] < 0.05  # 100 clusters x 300 draws
    age = {r["parameter"]: r for r in out["averaged"]["parameters"]}["log_age"]
    assert out["averaged"]["clusters"] > 900 and len(age["ratio"]) == out["averaged"]["bins"]
    assert 0 <= age["p_value"] <= 1 and age["max_deviation"] > 0
    # a rerun of one section keeps the others in the JSON, each with where it was measured
    _load("astro_population").main(["--quick", "--sections", "averaged", "--json", str(tmp_path / "p.json")])
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved["synthetic"] == json.loads(json.dumps(out["synthetic"])) and "limits" in saved
    assert {"synthetic_machine", "limits_machine", "averaged_machine"} <= set(saved)


def test_real_cluster_figures_carry_their_catalogue_noise():
    """The validation's median error and coverage come with their sd over the catalogue's
    clusters: for 78 Gaussian errors of sd 0.3 dex the median |error| is 0.2 and its sd ~0.03."""
    import numpy as np
    import xarray as xr

    rng = np.random.default_rng(3)
    n, m = 78, 400
    truth = rng.uniform(7, 10, n)
    draws = truth[:, None] + 0.3 * rng.standard_normal((n, 1)) + 0.3 * rng.standard_normal((n, m))
    q = np.quantile(draws, [0.5, 0.16, 0.84, 0.025, 0.975], axis=1)
    result = {f"log_age_{k}": v for k, v in zip(("median", "q16", "q84", "q025", "q975"), q)}

    class Result(dict):
        meta = {
            "draws": xr.DataArray(draws[:, :, None], dims=("cluster", "draw", "param"), coords={"param": ["log_age"]})
        }

    out = _load("astro_validation")._coverage(Result(result), truth, "log_age", np.full(n, 0.1))
    assert 0.1 < out["median_abs_error_dex"] < 0.35
    assert 0.01 < out["median_abs_error_bootstrap_sd"] < 0.06
    p = out["coverage_68"]
    assert np.isclose(out["coverage_68_binomial_sd"], np.sqrt(p * (1 - p) / n))


def test_validation_reruns_one_section_and_keeps_the_others(tmp_path):
    """``--sections c2st`` reruns the C2ST alone (quick: the shipped reference library) and the
    JSON keeps an earlier run's real-cluster and calibration sections; a wrong section is refused."""
    import json

    import pytest

    path = tmp_path / "v.json"
    path.write_text(json.dumps({"real_clusters": [{"quantity": "log age"}], "calibration": {"n_test": 5}}))
    validation = _load("astro_validation")
    out = validation.main(["--quick", "--sections", "c2st", "--json", str(path)])
    assert set(out) == {"quick", "c2st", "seconds"} and len(out["c2st"]) == 2
    assert all(0.0 <= row["c2st_kde"] <= 1.0 and row["library"].startswith("shipped") for row in out["c2st"])
    written = json.loads(path.read_text())
    assert written["real_clusters"] == [{"quantity": "log age"}] and written["calibration"] == {"n_test": 5}
    assert written["c2st"] == out["c2st"]
    with pytest.raises(SystemExit):
        validation.main(["--quick", "--sections", "c2st,dust"])
