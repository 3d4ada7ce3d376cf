"""``python -m astro.demo``: infer a small synthetic UBVR catalogue, print the table, write a figure.

The catalogue is simulated here (seeded; 12 clusters at the LMC distance, one with a
sentinel B = 99 and one with a negative error to show the flags), so nothing is downloaded.
"""

from __future__ import annotations

import argparse

import numpy as np

DM = 18.48


def demo_catalogue(n: int = 12, seed: int = 2026):
    """(true x (n, 4), astropy Table of apparent U B V R and errors) with two bad entries."""
    from astropy.table import Table

    from astro.library import ClusterLibrarySimulator

    bands = ("U", "B", "V", "R")
    sim = ClusterLibrarySimulator(("U", "B", "V", "R", "I"), priors={"log_mass": (3.0, 6.0)})
    rng = np.random.default_rng(seed)
    x = sim.sample_prior(n, rng)
    mags = sim.simulate(x, rng)[:, :4]
    sigma = rng.uniform(0.02, 0.1, size=mags.shape)
    table = Table()
    table["name"] = [f"synthetic-{i:02d}" for i in range(n)]
    for j, b in enumerate(bands):
        table[b] = mags[:, j] + DM + sigma[:, j] * rng.standard_normal(n)
        table[f"{b}_err"] = sigma[:, j]
    table["B"][1] = 99.0
    table["V_err"][2] = -0.05
    return x, table


def main(argv=None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from astro import infer
    from astro.plots import colour_plots, corner_plot, stacked_age_posteriors

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="astro_demo.png", help="figure path (PNG)")
    args = parser.parse_args(argv)
    x, table = demo_catalogue()
    result = infer(table, distance_modulus=DM, model_error=0.0, draws=1000, seed=0)  # simulated: no model error
    result["true_log_age"] = x[:, 1]
    result["true_log_mass"] = x[:, 0]
    show = [
        "name",
        "n_bands",
        "log_mass_median",
        "log_mass_q16",
        "log_mass_q84",
        "true_log_mass",
        "log_age_median",
        "log_age_q16",
        "log_age_q84",
        "true_log_age",
        "A_V_median",
        "flag",
    ]
    for c in show[2:-1]:
        result[c].format = ".2f"
    result[show].pprint_all()
    draws = result.meta["draws"]
    figures = [
        corner_plot(draws.isel(cluster=0), title=str(table["name"][0])),
        colour_plots(table["U"], table["B"], table["V"], DM),
        stacked_age_posteriors(draws, labels=table["name"]),
    ]
    for i, fig in enumerate(figures):
        path = args.out if i == 0 else args.out.replace(".png", f"_{i}.png")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        print(f"figure written to {path}")


if __name__ == "__main__":
    main()
