"""The oximetry benchmark's --quick mode runs end to end and writes its JSON."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_quick(tmp_path):
    out = tmp_path / "oximetry_sim.json"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "oximetry_sim.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr
    results = json.loads(out.read_text())
    assert {"mc_throughput", "reference_values", "solver_throughput", "solver_vs_mc", "surrogate"} <= set(results)
    assert "| adding-doubling N=16" in completed.stdout
    for row in results["reference_values"]:
        assert abs(row["adding_doubling_N16"] - row["reference"]) < 2e-4
