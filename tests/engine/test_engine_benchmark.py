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
