"""astro.plots: figures build from draws and catalogues; multi-modal ages show as such."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from astro.plots import colour_plots, corner_plot, model_tracks, stacked_age_posteriors  # noqa: E402


def _draws(n_clusters=3, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    d = np.column_stack(
        [rng.normal(4, 0.2, n), rng.normal(8, 0.15, n), rng.uniform(0, 1, n), rng.uniform(0.004, 0.02, n)]
    )
    data = np.repeat(d[None], n_clusters, axis=0)
    data[1, : n // 2, 1] -= 1.0  # cluster 1: two age modes, ~7 and ~8
    return xr.DataArray(data, dims=("cluster", "draw", "param"), coords={"param": ["log_mass", "log_age", "A_V", "Z"]})


def test_corner_plot_has_a_panel_per_pair():
    fig = corner_plot(_draws().isel(cluster=0), title="c0")
    assert len(fig.axes) == 16
    plt.close(fig)
    with pytest.raises(ValueError, match="draws must be finite"):
        corner_plot(np.full((10, 4), np.nan))


def test_stacked_ages_show_both_modes():
    fig = stacked_age_posteriors(_draws(), bins=41)
    image = fig.axes[0].images[0].get_array()

    def regions(values):  # contiguous runs above 30 % of the row's peak
        above = np.asarray(values) > 0.3
        return int(above[0]) + int(np.count_nonzero(above[1:] & ~above[:-1]))

    assert regions(image[1]) == 2
    assert regions(image[0]) == 1
    plt.close(fig)


def test_colour_plots_draw_tracks_and_points():
    tracks = model_tracks(metallicities=(0.008,), n_ages=20)
    ages, mags = tracks[0.008]
    # young populations are bluer in B - V than old ones (Hunter et al. 2003, Fig. 5 trend)
    assert mags[0, 1] - mags[0, 2] < mags[-1, 1] - mags[-1, 2]
    fig = colour_plots([14.0, 15.0, 99.0], [14.2, 15.1, 14.0], [14.0, 14.8, 13.9], 18.5)
    cc, cmd = fig.axes
    assert len(cc.lines) == 3 and len(cmd.lines) == 3
    offsets = np.ma.filled(np.ma.asarray(cc.collections[0].get_offsets(), dtype=float), np.nan)
    assert np.isfinite(offsets).all(axis=1).sum() == 2  # the sentinel row is skipped
    plt.close(fig)
