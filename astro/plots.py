"""Figures for astro.infer results (matplotlib; every function returns the Figure).

- :func:`corner_plot`: pairwise draws of one cluster's posterior.
- :func:`colour_plots`: U-B vs B-V (colour-colour) and V vs B-V (colour-magnitude, absolute)
  of a catalogue over the model's smooth-IMF tracks (log age 6-10.1) at Z = 0.004 / 0.008
  / 0.02, with an A_V = 1 reddening arrow.
- :func:`stacked_age_posteriors`: each cluster's log age posterior as a normalised
  histogram row (multi-modal ages show as several peaks in a row).
"""

from __future__ import annotations

import numpy as np

__all__ = ["corner_plot", "colour_plots", "stacked_age_posteriors", "model_tracks"]

LABELS = {
    "log_mass": r"log $M/M_\odot$",
    "log_age": r"log age/yr",
    "A_V": r"$A_V$",
    "Z": "Z",
    "log_mass_living": r"log $M_{\rm living}/M_\odot$",
}


def corner_plot(draws, title: str = ""):
    """Corner plot of one cluster: ``draws`` an xarray DataArray (draw, param) or (n, 4) array."""
    import matplotlib.pyplot as plt

    names = list(draws.param.values) if hasattr(draws, "param") else list(LABELS)
    values = np.asarray(draws, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(names) or not np.isfinite(values).all():
        raise ValueError(f"draws must be finite with shape (n_draws, {len(names)}), got {values.shape}")
    d = len(names)
    fig, axes = plt.subplots(d, d, figsize=(2.2 * d, 2.2 * d))
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
            elif i == j:
                ax.hist(values[:, i], bins=40, color="0.3", histtype="step")
                ax.set_yticks([])
            else:
                ax.hist2d(values[:, j], values[:, i], bins=40, cmap="Greys")
            if i == d - 1:
                ax.set_xlabel(LABELS.get(names[j], names[j]))
            if j == 0 and i > 0:
                ax.set_ylabel(LABELS.get(names[i], names[i]))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def model_tracks(metallicities=(0.004, 0.008, 0.02), log_mass: float = 4.0, n_ages: int = 60) -> dict:
    """{Z: (log ages (n,), absolute U, B, V magnitudes (n, 3))} of smooth-IMF clusters, A_V = 0."""
    from astro.population import photometry

    ages = np.linspace(6.0, 10.1, n_ages)
    return {
        z: (ages, photometry(np.full(n_ages, log_mass), ages, 0.0, z, ("U", "B", "V"), stochastic=False))
        for z in metallicities
    }


def colour_plots(U, B, V, distance_modulus, log_mass_tracks: float = 4.0):
    """Colour-colour and colour-magnitude diagrams of a catalogue (apparent U, B, V arrays (n,))
    over model tracks; NaN entries are skipped. Returns the Figure (2 panels)."""
    import matplotlib.pyplot as plt

    from astro.infer import foreground_coefficients

    U, B, V = (np.where(np.abs(np.asarray(a, float)) < 90, np.asarray(a, float), np.nan) for a in (U, B, V))
    dm = np.broadcast_to(np.asarray(distance_modulus, float), V.shape)
    fig, (cc, cmd) = plt.subplots(1, 2, figsize=(10, 4.5))
    cc.scatter(B - V, U - B, s=8, c="k", label="catalogue")
    cmd.scatter(B - V, V - dm, s=8, c="k")
    for z, (ages, mags) in model_tracks(log_mass=log_mass_tracks).items():
        line = cc.plot(mags[:, 1] - mags[:, 2], mags[:, 0] - mags[:, 1], lw=1, label=f"model Z={z}")[0]
        cmd.plot(mags[:, 1] - mags[:, 2], mags[:, 2], lw=1, color=line.get_color())
    a_u, a_b, a_v = foreground_coefficients(("U", "B", "V"))
    cc.annotate("", xy=(0.0 + (a_b - a_v), -1.0 + (a_u - a_b)), xytext=(0.0, -1.0), arrowprops=dict(arrowstyle="->"))
    cc.text(0.02, -1.05, r"$A_V=1$", fontsize=8)
    cc.invert_yaxis()
    cc.set_xlabel("B - V")
    cc.set_ylabel("U - B")
    cc.legend(fontsize=7)
    cmd.invert_yaxis()
    cmd.set_xlabel("B - V")
    cmd.set_ylabel(f"M_V (tracks: 10^{log_mass_tracks:g} Msun)")
    fig.tight_layout()
    return fig


def stacked_age_posteriors(draws, bins: int = 60, labels=None):
    """Image of log-age posteriors, one row per cluster, from draws (cluster, draw, param)."""
    import matplotlib.pyplot as plt

    ages = np.asarray(draws.sel(param="log_age") if hasattr(draws, "sel") else draws[:, :, 1], float)
    edges = np.linspace(6.0, 10.1, bins + 1)
    rows = np.zeros((ages.shape[0], bins))
    for i, a in enumerate(ages):
        a = a[np.isfinite(a)]
        if a.size:
            rows[i] = np.histogram(a, bins=edges)[0] / a.size
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(rows) + 1.5))
    ax.imshow(
        rows / np.maximum(rows.max(axis=1, keepdims=True), 1e-12),
        aspect="auto",
        cmap="Greys",
        extent=(edges[0], edges[-1], len(rows) - 0.5, -0.5),
        interpolation="nearest",
    )
    ax.set_xlabel("log age / yr")
    if labels is not None:
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([str(s) for s in labels], fontsize=6)
    ax.set_ylabel("cluster")
    fig.tight_layout()
    return fig
