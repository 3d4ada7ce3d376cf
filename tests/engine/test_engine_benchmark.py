"""The engine benchmark's --quick mode: real training runs with thresholds that can fail."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_engine_benchmark_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("engine_benchmark", ROOT / "benchmarks" / "engine.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.main(["--quick", "--sections", "ik,padded", "--out", str(tmp_path / "engine.json")])
    assert (tmp_path / "engine.json").is_file()
    ik = results["inverse_kinematics"][0]
    assert ik["samples_per_s"] > 1000 and ik["resim_error"] < 0.3
    cinn = {r["problem"]: r for r in results["padded_vs_cinn"] if r["model"] == "cINN"}
    # the exact 8-mode posterior: the cINN's draws must be close to it
    assert cinn["8 modes"]["mmd_to_reference"] < 0.1


def test_sbibm_table_puts_c2st_and_seconds_side_by_side(tmp_path):
    spec = importlib.util.spec_from_file_location("engine_benchmark", ROOT / "benchmarks" / "engine.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = [
        {"task": "two_moons", "simulations": 10000, "method": m, "c2st_mean": c, "train_s": s}
        for m, c, s in (
            ("innfer cINN", 0.52, 90.0),
            ("sbi NPE (defaults)", 0.6, 130.0),
            ("zuko NSF", 0.55, 100.0),
            ("innfer cINN, one spline network", 0.5, 1.0),
        )
    ]
    rows.append(
        {"task": "gaussian_linear", "simulations": 10000, "method": "innfer cINN", "c2st_mean": 0.51, "train_s": 40.0}
    )
    table = bench.sbibm_summary(rows)
    assert table[0] == {
        "task": "two_moons",
        "simulations": 10000,
        "innfer C2ST": 0.52,
        "innfer s": 90.0,
        "sbi NPE C2ST": 0.6,
        "sbi NPE s": 130.0,
        "zuko NSF C2ST": 0.55,
        "zuko NSF s": 100.0,
    }
    assert table[1] == {"task": "gaussian_linear", "simulations": 10000, "innfer C2ST": 0.51, "innfer s": 40.0}
    assert set(bench.sbibm_columns()) >= set(table[0])
    bench.plot_c2st_time(rows, str(tmp_path / "plot.png"))
    assert (tmp_path / "plot.png").stat().st_size > 1000
    assert bench._observations("1-3") == [1, 2, 3] and bench._observations("2,5") == [2, 5]
