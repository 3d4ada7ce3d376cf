"""benchmarks/sampling_speed.py --quick: the shipped estimators' batched sampling agrees with the module path."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "sampling_speed.py"


def test_sampling_speed_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("sampling_speed", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(["--quick", "--out", str(tmp_path / "s.json")])["rows"]
    assert [r["estimator"] for r in rows] == ["oximetry", "astro ubvri", "astro hst"]
    for row in rows:
        assert row["share_diff_above_1e-4_range"] == 0 and row["draws_per_s"] > 0 and row["draws_per_cpu_s"] > 0
    assert (tmp_path / "s.json").is_file()
