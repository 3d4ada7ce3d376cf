"""The long fuzz run: 10^4 generated hostile inputs per public entry point, counted by outcome.

    python benchmarks/fuzz.py                       # 10,000 inputs per entry point (hours on 2 cores)
    python benchmarks/fuzz.py --n 500 --entries sample,load --show 3

Outcomes (tests/fuzz/hostile.py): ValueError (refused, allowed), other exception, NaN without
flag, shape mismatch (broken contracts) and ok. Prints a markdown table and the first
``--show`` details of every broken-contract outcome; ``--json`` keeps the counts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))

import hostile  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402


def _cli_runner():
    """run_cli with its grid, model and work directory made once."""
    from inn_engine.grid import simulate_grid
    from inn_engine.toys import InverseKinematics

    work = Path(tempfile.mkdtemp(prefix="innfer-fuzz-cli-"))
    simulate_grid(InverseKinematics(), 400, work / "ik.zarr", chunk_size=200, n_workers=1, progress=False)
    hostile.tiny_estimator().save(work / "model")
    return lambda args: hostile.run_cli(args, work / "ik.zarr", work / "model", work)


ENTRIES = {
    "oximetry.estimate": (hostile.oximetry_args, lambda: hostile.run_oximetry),
    "astro.infer": (hostile.astro_args, lambda: hostile.run_astro),
    "astro.photometry": (hostile.photometry_args, lambda: hostile.run_photometry),
    "inn_engine.fit": (hostile.fit_args, lambda: hostile.run_fit),
    "Estimator.sample": (hostile.sample_args, lambda: hostile.run_sample),
    "inn_engine.load": (hostile.tampering, lambda: hostile.run_load),
    "innfer CLI": (hostile.cli_args, _cli_runner),
}


def fuzz(strategy, run, n: int, seed: int) -> tuple[Counter, dict]:
    """Counts by outcome of ``n`` inputs drawn from ``strategy``, and the first details of each."""
    counts, details = Counter(), {}

    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=False,
        phases=["generate"],
        suppress_health_check=list(HealthCheck),
    )
    @given(args=strategy())
    def one(args):
        kind, detail = run(args)
        counts[kind] += 1
        if kind not in hostile.ALLOWED:
            details.setdefault(kind, []).append(f"{detail}\n  input: {args!r}"[:3000])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one()
    return counts, details


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="inputs per entry point")
    parser.add_argument("--entries", default=",".join(ENTRIES), help=f"comma-separated, of {list(ENTRIES)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=2, help="details shown per broken-contract outcome")
    parser.add_argument("--json", default=None, help="write the counts here")
    args = parser.parse_args()
    rows = {}
    print("| entry point | inputs | " + " | ".join(hostile.OUTCOMES) + " | seconds |")
    print("|---|---:|" + "---:|" * (len(hostile.OUTCOMES) + 1))
    for name in args.entries.split(","):
        strategy, make_run = ENTRIES[name]
        start = time.perf_counter()
        counts, details = fuzz(strategy, make_run(), args.n, args.seed)
        seconds = time.perf_counter() - start
        rows[name] = {**{k: counts.get(k, 0) for k in hostile.OUTCOMES}, "seconds": round(seconds, 1)}
        print(
            f"| {name} | {sum(counts.values())} | "
            + " | ".join(str(counts.get(k, 0)) for k in hostile.OUTCOMES)
            + f" | {seconds:.0f} |",
            flush=True,
        )
        for kind, texts in details.items():
            for text in texts[: args.show]:
                print(f"    {kind}: {text}", file=sys.stderr, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
