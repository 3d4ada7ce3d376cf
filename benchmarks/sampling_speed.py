"""Posterior sampling speed of the shipped estimators, before and after the batched inverse.

Usage: python benchmarks/sampling_speed.py [--quick] [--obs 1000] [--draws 100] [--out FILE]

For each shipped estimator (``oximetry/pretrained``, ``astro/pretrained/ubvri`` and ``hst``):
draws per second of ``Estimator.sample`` (numpy in, numpy out) on ``--obs`` observations x
``--draws`` draws, against the previous path timed in the same process, interleaved, best of
``--repeats``: ``InvertibleSequence.inverse`` (the autograd-capable module inverse) on
conditions repeated per draw, in one pass, then the float64 transforms. Also the largest
difference between the two paths' draws for the same seed (physical units; float32
rounding of the network) and the share of draws differing by more than 1e-4 of the
parameter's range. Observations are the estimator's standardized space drawn N(0, 1) and
mapped back, so no data file is needed. Prints a markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/report.py

from report import best_rates, markdown_table, write_json  # noqa: E402

from inn_engine.estimator import Estimator  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ESTIMATORS = {
    "oximetry": "oximetry/pretrained",
    "astro ubvri": "astro/pretrained/ubvri",
    "astro hst": "astro/pretrained/hst",
}


def previous_sample(est: Estimator, y_obs: np.ndarray, n: int, seed: int) -> np.ndarray:
    """The sampling path before 2026-12: the module inverse on conditions repeated per draw."""
    ys = est._standardized_y(est._check_y(y_obs))
    generator = torch.Generator().manual_seed(int(seed))
    with torch.inference_mode():
        c = est.model.cond_net(ys).repeat_interleave(n, dim=0)
        z = torch.randn(c.shape[0], est.dim_x, generator=generator, dtype=c.dtype)
        s = est.model.flow.inverse(z, c).reshape(ys.shape[0], n, est.dim_x)
    return est._physical_in_place(s.double().numpy())


def run(n_obs: int, n_draws: int, repeats: int) -> list[dict]:
    rows = []
    for name, path in ESTIMATORS.items():
        est = Estimator.load(os.path.join(ROOT, path))
        rng = np.random.default_rng(0)
        y_obs = est.y_scaler.inverse(rng.standard_normal((n_obs, est.dim_y)))
        now, before = est.sample(y_obs, n=n_draws, seed=0), previous_sample(est, y_obs, n_draws, seed=0)
        span = est.x_transform.high - est.x_transform.low
        rates = best_rates(
            {
                "now": lambda: est.sample(y_obs, n=n_draws, seed=0),
                "before": lambda: previous_sample(est, y_obs, n_draws, seed=0),
            },
            n_obs * n_draws,
            repeats,
        )
        (now_rate, now_cpu), (before_rate, before_cpu) = rates["now"], rates["before"]
        rows.append(
            {
                "estimator": name,
                "draws_per_s": now_rate,
                "before_draws_per_s": before_rate,
                "speed_up": now_rate / before_rate,
                "draws_per_cpu_s": now_cpu,
                "before_draws_per_cpu_s": before_cpu,
                "max_abs_diff": float(np.abs(now - before).max()),
                "share_diff_above_1e-4_range": float((np.abs(now - before) > 1e-4 * span).any(-1).mean()),
                "load_avg_1min": os.getloadavg()[0],
            }
        )
        print(markdown_table([rows[-1]], list(rows[-1])).split("\n")[-1], flush=True)
    return rows


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 observations x 50 draws, one repeat")
    parser.add_argument("--obs", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--out", default="benchmarks/results/sampling_speed.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.obs, args.draws, args.repeats = 20, 50, 1
    rows = run(args.obs, args.draws, args.repeats)
    print(f"\n## Shipped estimators: {args.obs} observations x {args.draws} draws, best of {args.repeats}\n")
    print(markdown_table(rows, list(rows[0])))
    result = {"quick": args.quick, "n_obs": args.obs, "n_draws": args.draws, "rows": rows}
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
