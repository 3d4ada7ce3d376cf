"""Present-day stellar mass: the share of a cluster's initial stellar mass still in living stars.

The estimators infer the initial stellar mass (0.08-120 Msun formed). Resolved-star (CMD)
studies count the stars alive today. A star of initial mass m is alive at a given age while
m is below the SSE remnant mass m_remnant(Z, age) of the committed isochrone tables; the
living share is the IMF's mass fraction below that mass. Living stars are counted at their
initial masses (their own wind losses are ignored: they matter only for the few massive
and AGB stars) and remnants are not counted.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from astro.imf import get_imf
from astro.stellar_data import load_isochrones

__all__ = ["living_mass_fraction"]


@lru_cache(maxsize=None)
def _node_fractions(imf: str) -> np.ndarray:
    """Living share at the isochrone nodes, (n_z, n_t)."""
    return get_imf(imf).mass_fraction_below(load_isochrones().m_remnant)


def living_mass_fraction(log_age, metallicity, imf: str = "kroupa") -> np.ndarray:
    """Share of the initial stellar mass in stars still alive, in (0, 1].

    Args:
        log_age: log10 age [yr], any shape (NaN passes through).
        metallicity: Z (mass fraction), broadcast against ``log_age``.
        imf: "kroupa" (the estimators' IMF), "chabrier" or "salpeter".

    The share at the table nodes (the IMF's mass fraction below m_remnant(Z, age)) is
    interpolated bilinearly in (log10 Z, log age) and clamped to the tables' range; the age
    nodes are evenly spaced, so a draw's cell is found by arithmetic (10^7 draws: ~2 s).
    """
    iso = load_isochrones()
    fraction = _node_fractions(imf)
    log_age, log_z = np.broadcast_arrays(np.asarray(log_age, float), np.log10(np.asarray(metallicity, float)))
    z_nodes, t_nodes = np.log10(iso.Z), iso.log_age
    step = (t_nodes[-1] - t_nodes[0]) / (len(t_nodes) - 1)
    position = np.clip((log_age - t_nodes[0]) / step, 0.0, len(t_nodes) - 1.0)
    j = np.minimum(np.nan_to_num(position).astype(np.int64), len(t_nodes) - 2)
    ft = position - j
    zz = np.clip(log_z, z_nodes[0], z_nodes[-1])
    i = np.clip(np.searchsorted(z_nodes, zz, side="right") - 1, 0, len(z_nodes) - 2)
    fz = (zz - z_nodes[i]) / (z_nodes[i + 1] - z_nodes[i])
    return (1 - fz) * ((1 - ft) * fraction[i, j] + ft * fraction[i, j + 1]) + fz * (
        (1 - ft) * fraction[i + 1, j] + ft * fraction[i + 1, j + 1]
    )
