"""Figures of estimates: parameter maps with uncertainty and OOD mask, one pixel's corner plot,
and the calibration curve (observed vs nominal coverage of central credible intervals)."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["plot_maps", "plot_corner", "plot_calibration"]


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def plot_maps(result: xr.Dataset, param: str = "sO2", path=None):
    """Three panels for an image result (dims y, x): ``param`` median, 68 % interval width, OOD mask."""
    import matplotlib.pyplot as plt

    if f"{param}_median" not in result:
        raise ValueError(
            f"result has no {param}_median; parameters: "
            f"{sorted(v[:-7] for v in result.data_vars if v.endswith('_median'))}"
        )
    median = result[f"{param}_median"]
    if median.ndim != 2:
        raise ValueError(f"plot_maps needs an image result (2 dims), got dims {median.dims}")
    width = result[f"{param}_q84"] - result[f"{param}_q16"]
    unit = median.attrs.get("units", "")
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    panels = [
        (median, f"{param} median [{unit}]", "viridis", (0, 1) if param == "sO2" else (None, None)),
        (width, f"{param} 68 % interval width [{unit}]", "magma", (None, None)),
        (result["ood"].astype(float), "out of distribution / invalid", "gray_r", (0, 1)),
    ]
    for ax, (values, title, cmap, (lo, hi)) in zip(axes, panels):
        image = ax.imshow(np.asarray(values), cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.046)
    return _save(fig, path)


def plot_corner(samples, names, truth=None, path=None, bins: int = 30):
    """Corner plot of one spectrum's posterior draws (n_draws, d): marginals on the diagonal,
    pairwise histograms below; ``truth`` (d,) marked when known. Parameters the spectrum
    does not constrain show marginals as wide as their prior."""
    import matplotlib.pyplot as plt

    s = np.asarray(samples, dtype=float)
    if s.ndim != 2 or s.shape[1] != len(names):
        raise ValueError(f"samples must be (n_draws, {len(names)}), got {s.shape}")
    d = s.shape[1]
    fig, axes = plt.subplots(d, d, figsize=(1.4 * d, 1.4 * d))
    axes = np.atleast_2d(axes)
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j > i:
                ax.axis("off")
            elif i == j:
                ax.hist(s[:, i], bins=bins, color="C0")
                if truth is not None:
                    ax.axvline(truth[i], color="C3")
            else:
                ax.hist2d(s[:, j], s[:, i], bins=bins, cmap="Blues")
                if truth is not None:
                    ax.plot(truth[j], truth[i], "r+")
            if i == d - 1:
                ax.set_xlabel(names[j], fontsize=7)
            if j == 0 and i > 0:
                ax.set_ylabel(names[i], fontsize=7)
    return _save(fig, path)


def plot_calibration(draws, x_true, names, path=None):
    """Observed vs nominal coverage of central credible intervals, one line per parameter.

    draws (n_obs, n_draws, d), x_true (n_obs, d); a calibrated posterior lies on the diagonal.
    """
    import matplotlib.pyplot as plt

    from inn_engine.diagnostics import LEVELS_99, calibration_curve

    levels = LEVELS_99
    observed = levels[:, None] + calibration_curve(draws, x_true, levels)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    for k, name in enumerate(names):
        ax.plot(levels, observed[:, k], lw=2 if name == "sO2" else 0.8, label=name if name == "sO2" else None)
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("observed coverage")
    ax.legend()
    return _save(fig, path)
