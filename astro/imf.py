"""Stellar initial mass functions on 0.08-120 Msun, tabulated for fast sampling.

An :class:`IMF` is the number of stars formed per unit initial mass per solar mass of
stars formed, phi(m) [Msun^-2], normalized so that integral(m phi(m) dm) = 1 over
[m_low, m_high]. It is stored on a fine grid in ln m (``ln_m``), on which the runtime
evaluates phi, the cumulative number above a mass, and the inverse of that cumulative
for sampling. Three shapes are provided:

- ``kroupa``: Kroupa (2001, MNRAS 322, 231), dN/dm ~ m^-1.3 below 0.5 Msun, m^-2.3 above.
- ``chabrier``: Chabrier (2003, PASP 115, 763) single-star IMF, lognormal in log m below
  1 Msun (m_c = 0.079 Msun, sigma = 0.69 dex), dN/dlog m ~ m^-1.3 above, continuous at 1.
- ``salpeter``: Salpeter (1955, ApJ 121, 161), dN/dm ~ m^-2.35.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["IMF", "get_imf", "IMF_NAMES", "M_LOW", "M_HIGH"]

M_LOW, M_HIGH = 0.08, 120.0
IMF_NAMES = ("kroupa", "chabrier", "salpeter")
_N_GRID = 8001


def _dn_dm_unnormalized(name: str, m: np.ndarray) -> np.ndarray:
    if name == "kroupa":
        # continuous at 0.5 Msun: m^-1.3 below, 0.5 * m^-2.3 above
        return np.where(m < 0.5, m**-1.3, 0.5 * m**-2.3)
    if name == "salpeter":
        return m**-2.35
    if name == "chabrier":
        # dN/dlog10 m, continuous at 1 Msun; converted to dN/dm by 1 / (m ln 10)
        low = np.exp(-((np.log10(m) - np.log10(0.079)) ** 2) / (2 * 0.69**2))
        high = np.exp(-((0.0 - np.log10(0.079)) ** 2) / (2 * 0.69**2)) * m**-1.3
        return np.where(m < 1.0, low, high) / (m * np.log(10))
    raise ValueError(f"imf must be one of {IMF_NAMES}, got {name!r}")


@dataclass(frozen=True)
class IMF:
    """A tabulated IMF. Arrays share the grid ``ln_m`` (uniform in ln m, shape (n,)).

    ``phi``: dN/dm per Msun formed [Msun^-2]; ``n_above``: number of stars above m per Msun
    formed; ``m_below``: share of the formed mass in stars below m; ``mean_mass``: mean
    stellar mass [Msun].
    """

    name: str
    ln_m: np.ndarray
    phi: np.ndarray
    n_above: np.ndarray
    m_below: np.ndarray
    mean_mass: float

    def mass_fraction_below(self, m) -> np.ndarray:
        """Share of the mass formed that is in stars of initial mass below ``m`` [Msun]."""
        return np.interp(np.log(m), self.ln_m, self.m_below)

    def number_above(self, m) -> np.ndarray:
        """Stars above mass ``m`` [Msun] per Msun formed."""
        return np.interp(np.log(m), self.ln_m, self.n_above)

    def mass_with_number_above(self, n_per_msun) -> np.ndarray:
        """The mass above which there are ``n_per_msun`` stars per Msun formed."""
        return np.exp(np.interp(n_per_msun, self.n_above[::-1], self.ln_m[::-1]))

    def sample_above(self, m_min, uniforms) -> np.ndarray:
        """Masses drawn from the IMF truncated to [m_min, M_HIGH], one per uniform in [0, 1).

        ``m_min`` broadcasts against ``uniforms`` (one threshold per star).
        """
        n = self.number_above(m_min) * (1.0 - np.asarray(uniforms))
        return np.minimum(self.mass_with_number_above(n), M_HIGH)


def get_imf(name: str = "kroupa") -> IMF:
    """The named IMF (``kroupa``, ``chabrier`` or ``salpeter``), cached per process."""
    if not isinstance(name, str) or name.lower() not in IMF_NAMES:
        raise ValueError(f"imf must be one of {IMF_NAMES}, got {name!r}")
    return _imf(name.lower())


@lru_cache(maxsize=None)
def _imf(name: str) -> IMF:
    ln_m = np.linspace(np.log(M_LOW), np.log(M_HIGH), _N_GRID)
    m = np.exp(ln_m)
    dn_dm = _dn_dm_unnormalized(name, m)
    dln = ln_m[1] - ln_m[0]
    # integrals in ln m (dm = m dln m) by the trapezoid rule on the fine grid
    number_density = dn_dm * m
    mass_density = dn_dm * m * m
    total_mass = np.sum(0.5 * (mass_density[1:] + mass_density[:-1])) * dln
    phi = dn_dm / total_mass
    pieces = 0.5 * (number_density[1:] + number_density[:-1]) * dln / total_mass
    n_above = np.concatenate([np.cumsum(pieces[::-1])[::-1], [0.0]])
    mass_pieces = 0.5 * (mass_density[1:] + mass_density[:-1]) * dln / total_mass
    m_below = np.concatenate([[0.0], np.cumsum(mass_pieces)])
    return IMF(name=name, ln_m=ln_m, phi=phi, n_above=n_above, m_below=m_below, mean_mass=1.0 / n_above[0])
