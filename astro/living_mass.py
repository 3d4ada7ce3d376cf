"""Present-day stellar mass: the share of a cluster's initial stellar mass still in living stars.

The estimators infer the initial stellar mass (0.08-120 Msun formed). Resolved-star (CMD)
studies count the stars alive today. A star of initial mass m is alive at a given age while
m is below the SSE remnant mass m_remnant(Z, age) of the committed isochrone tables; the
living share is the IMF's mass fraction below that mass. Living stars are counted at their
initial masses (their own wind losses are ignored: they matter only for the few massive
and AGB stars) and remnants are not counted.
"""
from __future__ import annotations

import numpy as np

from astro.imf import get_imf
from astro.stellar_data import load_isochrones

__all__ = ["living_mass_fraction"]


def living_mass_fraction(log_age, metallicity, imf: str = "kroupa") -> np.ndarray:
    """Share of the initial stellar mass in stars still alive, in (0, 1].

    Args:
        log_age: log10 age [yr], any shape (NaN passes through).
        metallicity: Z (mass fraction), broadcast against ``log_age``.
        imf: "kroupa" (the estimators' IMF), "chabrier" or "salpeter".

    m_remnant is interpolated bilinearly in (log10 Z, log age) between the table nodes and
    clamped to the tables' range.
    """
    iso = load_isochrones()
    log_age, log_z = np.broadcast_arrays(np.asarray(log_age, float), np.log10(np.asarray(metallicity, float)))
    log_m_rem = np.log10(iso.m_remnant)  # (n_z, n_t)
    z_nodes = np.log10(iso.Z)
    t = np.clip(log_age, iso.log_age[0], iso.log_age[-1])
    zz = np.clip(log_z, z_nodes[0], z_nodes[-1])
    i = np.clip(np.searchsorted(z_nodes, zz, side="right") - 1, 0, len(z_nodes) - 2)
    j = np.clip(np.searchsorted(iso.log_age, t, side="right") - 1, 0, len(iso.log_age) - 2)
    fz = (zz - z_nodes[i]) / (z_nodes[i + 1] - z_nodes[i])
    ft = (t - iso.log_age[j]) / (iso.log_age[j + 1] - iso.log_age[j])
    log_m = ((1 - fz) * (1 - ft) * log_m_rem[i, j] + fz * (1 - ft) * log_m_rem[i + 1, j]
             + (1 - fz) * ft * log_m_rem[i, j + 1] + fz * ft * log_m_rem[i + 1, j + 1])
    fraction = get_imf(imf).mass_fraction_below(10.0 ** log_m)
    return np.where(np.isfinite(log_age) & np.isfinite(log_z), fraction, np.nan)
