"""Grid-generation throughput (rows/s) with 1 and 2 dask workers, for a CPU-bound toy simulator.

The toy simulator integrates a damped, driven oscillator per row (explicit steps, numpy,
single-threaded) and reports its position at 8 times plus noise, so the cost is pure
computation, as for the domain simulators. Every configuration writes the same zarr grid
(same seed and chunk size); the script checks that the grids are bit-for-bit identical.

Configurations:
- in-process: ``simulate_grid(..., n_workers=1)`` (no dask);
- dask 1 / 2 workers: ``inn_engine.grid.local_cluster`` already running (workers warmed
  up with a tiny grid), passed by scheduler address: the steady-state scaling;
- dask 1 worker, dask's default worker environment: a plain ``LocalCluster``, whose
  ``MALLOC_TRIM_THRESHOLD_`` makes numpy temporaries above 128 KiB expensive (why
  local_cluster leaves it out);
- LocalCluster(2) end to end: ``simulate_grid(..., n_workers=2)``, cluster start included.

Each configuration runs ``--repeats`` times (3; 1 with --quick) and keeps its best time;
in-process and the 1- and 2-worker clusters take turns, so the machine's load changes hit
them alike, and the speed-up is also given as the median of the per-turn ratios. The load
average printed with the table says how busy the machine was: with Linux's autogroup
scheduling (``/proc/sys/kernel/sched_autogroup_enabled``), a busy machine shares the CPU
between login sessions, not processes, so when other sessions keep the cores busy a second
worker in this session adds no CPU and the 1-to-2 speed-up cannot be measured.

Usage: python benchmarks/grid_scaling.py [--quick] [--repeats R] [--out results.json]
Prints a markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time

import numpy as np

from inn_engine import Observable, Parameter, Simulator
from inn_engine.grid import local_cluster, open_grid, simulate_grid


class DrivenOscillator(Simulator):
    """x'' = -omega^2 x - 2 zeta omega x' + a sin(t), integrated with ``n_steps`` semi-implicit
    Euler steps of 0.01 s; y = x(t) at 8 equally spaced times plus 1 % Gaussian noise."""

    parameters = (
        Parameter("omega", "rad/s", 0.5, 5.0),
        Parameter("zeta", "", 0.01, 0.5),
        Parameter("drive", "m/s^2", 0.0, 2.0),
    )
    observables = tuple(Observable(f"x_{k}", "m") for k in range(8))

    def __init__(self, n_steps: int = 2000):
        self.n_steps = n_steps

    def sample_prior(self, n, rng=None):
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        return self.bounds[:, 0] + np.ptp(self.bounds, axis=1) * rng.uniform(size=(n, 3))

    def simulate(self, x, rng=None):
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        x = self.check_x(x)
        omega, zeta, drive = x.T
        pos, vel, dt = np.ones(len(x)), np.zeros(len(x)), 0.01
        record = np.linspace(0, self.n_steps, 9).astype(int)[1:] - 1
        out = np.empty((len(x), 8))
        for step in range(self.n_steps):
            vel += dt * (-(omega**2) * pos - 2 * zeta * omega * vel + drive * np.sin(step * dt))
            pos += dt * vel
            hits = np.flatnonzero(record == step)
            if hits.size:
                out[:, hits[0]] = pos
        return out + 0.01 * rng.normal(size=out.shape)

    def metadata(self):
        return {**super().metadata(), "n_steps": self.n_steps}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid (seconds), for tests")
    parser.add_argument("--repeats", type=int, default=None, help="runs per configuration (best is kept)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "grid_scaling.json"))
    args = parser.parse_args(argv)
    from distributed import LocalCluster

    n, chunk_size = (4_000, 500) if args.quick else (400_000, 20_000)
    repeats = args.repeats or (1 if args.quick else 3)
    simulator = DrivenOscillator()
    workdir = tempfile.mkdtemp(prefix="grid_scaling_")
    grid_kwargs = dict(seed=0, chunk_size=chunk_size, progress=False)
    times, workers_of, last_path = {}, {}, {}

    def timed(label, workers, run):
        """Time one ``run(path)`` on a fresh path under ``label``."""
        path = os.path.join(workdir, f"run_{sum(map(len, times.values()))}.zarr")  # a new grid every run
        start = time.perf_counter()
        run(path)
        times.setdefault(label, []).append(time.perf_counter() - start)
        workers_of[label], last_path[label] = workers, path

    def on(cluster):
        """A run on a running cluster, after a warm-up grid (imports, the simulator) on every worker."""
        address = cluster.scheduler_address
        simulate_grid(
            simulator, 2 * len(cluster.workers), None, scheduler=address, seed=1, chunk_size=1, progress=False
        )
        return lambda path: simulate_grid(simulator, n, path, scheduler=address, **grid_kwargs)

    try:
        with local_cluster(1) as one, local_cluster(2) as two:
            runs = [
                ("in-process", 1, lambda path: simulate_grid(simulator, n, path, n_workers=1, **grid_kwargs)),
                ("dask, 1 worker", 1, on(one)),
                ("dask, 2 workers", 2, on(two)),
            ]
            for _ in range(repeats):  # interleaved, so changes in the machine's load hit all alike
                for label, workers, run in runs:
                    timed(label, workers, run)
        for _ in range(repeats):
            timed(
                "LocalCluster(2) incl. start",
                2,
                lambda path: simulate_grid(simulator, n, path, n_workers=2, **grid_kwargs),
            )
        # last: a plain LocalCluster leaves MALLOC_TRIM_THRESHOLD_ in this process's
        # environment, which every process spawned after it would inherit
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as plain:
            run = on(plain)
            for _ in range(repeats):
                timed("dask, 1 worker, dask's default environment", 1, run)
        grids = {label: open_grid(path) for label, path in last_path.items()}
        reference = grids["in-process"]
        identical = all(
            np.array_equal(g.x.values, reference.x.values) and np.array_equal(g.y.values, reference.y.values)
            for g in grids.values()
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    rows = [
        {
            "configuration": label,
            "workers": workers_of[label],
            "seconds": min(t),
            "all_seconds": t,
            "rows_per_s": n / min(t),
        }
        for label, t in times.items()
    ]
    speedup = min(times["dask, 1 worker"]) / min(times["dask, 2 workers"])
    paired = float(np.median(np.array(times["dask, 1 worker"]) / np.array(times["dask, 2 workers"])))
    result = {
        "benchmark": "grid_scaling",
        "quick": args.quick,
        "n": n,
        "chunk_size": chunk_size,
        "simulator": simulator.metadata()["simulator"],
        "n_steps": simulator.n_steps,
        "repeats": repeats,
        "load_average_1min": os.getloadavg()[0],
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "results": rows,
        "speedup_2_vs_1_workers": speedup,
        "speedup_median_of_interleaved_pairs": paired,
        "grids_identical": identical,
    }
    print(
        f"Grid generation, {n} rows in chunks of {chunk_size}, DrivenOscillator ({simulator.n_steps} steps), "
        f"{os.cpu_count()} cores, best of {repeats} runs, load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| configuration | workers | seconds | rows/s |\n|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['configuration']} | {r['workers']} | {r['seconds']:.2f} | {r['rows_per_s']:.0f} |")
    print(
        f"\nspeed-up 2 vs 1 dask workers: {speedup:.2f}x (best times), {paired:.2f}x (median of interleaved "
        f"pairs); all grids bit-for-bit identical: {identical}"
    )
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"JSON written to {args.out}")
    return result


if __name__ == "__main__":
    main()
