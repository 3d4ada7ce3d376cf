"""``make demo`` (engine part): a conditional INN learns the inverse kinematics of a planar arm.

The arm (a vertical slider plus three joints, Kruse et al. 2021) reaches a target end point
in many ways: the posterior over its 4 parameters is wide and curved. The demo trains a
small cINN on 20,000 simulations (~1 minute on 2 cores), prints the posterior summary for
one target, checks the drawn arms against the target (re-simulation error) and draws them.

Run: ``python -m inn_engine.demo [--out DIR] [--steps N]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import inn_engine
from inn_engine.toys import InverseKinematics


def arm_joints(sim: InverseKinematics, x: np.ndarray) -> np.ndarray:
    """Joint positions (n, 4, 2): base on the slider, two elbows, the end point."""
    lengths = np.asarray(sim.lengths, dtype=float)
    points = [np.stack([np.zeros(len(x)), x[:, 0]], 1)]
    angle = np.zeros(len(x))
    for k, length in enumerate(lengths):
        angle = angle + x[:, k + 1]
        points.append(points[-1] + length * np.stack([np.cos(angle), np.sin(angle)], 1))
    return np.stack(points, 1)


def plot_arms(sim, draws: np.ndarray, target: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    joints = arm_joints(sim, draws)
    fig, ax = plt.subplots(figsize=(5, 5))
    for arm in joints[:150]:
        ax.plot(arm[:, 0], arm[:, 1], "-", color="tab:blue", alpha=0.12, lw=1)
    ax.plot(joints[:, -1, 0], joints[:, -1, 1], ".", color="tab:orange", ms=2, alpha=0.3, label="end points")
    ax.plot(*target, "x", color="k", ms=12, mew=2, label="target y")
    ax.set_aspect("equal")
    ax.set_title("cINN posterior: arms that reach the target")
    ax.legend(loc="lower right")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description="Engine demo: inverse kinematics with a cINN")
    parser.add_argument("--out", default="out/demo", help="folder for the figure")
    parser.add_argument("--steps", type=int, default=2500)
    args = parser.parse_args(argv)

    sim = InverseKinematics()
    rng = np.random.default_rng(0)
    x = sim.sample_prior(20_000, rng)
    y = sim.simulate(x, rng)
    print(
        f"training the default estimator (fit picks between two cINN ensembles) on {len(x)} simulated arms "
        f"({args.steps} steps each)...",
        flush=True,
    )
    est = inn_engine.fit(x, y, simulator=sim, seed=0, steps=args.steps, batch_size=256)
    target = np.array([1.5, 0.3])
    post = est.posterior(target[None], n=4000, seed=0)
    lo, hi = post.interval(0.68)
    print(f"\nposterior for end point y = {target.tolist()}:")
    print(f"{'parameter':>10} {'median':>8} {'68% interval':>20}")
    for j, name in enumerate(post.names):
        print(f"{name:>10} {post.median()[0, j]:8.3f} [{lo[0, j]:8.3f}, {hi[0, j]:8.3f}]")
    reached = sim.forward(post.samples[0])
    error = float(np.median(np.linalg.norm(reached - target, axis=1)))
    print(f"\nmedian distance of the drawn arms' end points to the target: {error:.4f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_arms(sim, post.samples[0], target, out / "inverse_kinematics.png")
    print(f"figure: {out / 'inverse_kinematics.png'}")
    return {"resimulation_median": error}


if __name__ == "__main__":
    main()
