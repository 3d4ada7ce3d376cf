"""Tissue optics: hemoglobin absorption and Mie-like scattering as functions of wavelength.

Formulas (all coefficients in 1/cm, wavelengths in nm):

- mu_a = ln(10) * c_Hb * v_hb * (sO2 * eps_HbO2 + (1 - sO2) * eps_Hb) / 64500,
  with c_Hb = 120 g/L whole-blood hemoglobin, 64500 g/mol its molar mass and eps the molar
  extinction in cm^-1/M from Prahl's table (``data/hemoglobin_prahl.csv``).
- mu_s' = a_mie * (lambda / 500 nm) ** (-b_mie)   (Jacques 2013 power law)
- mu_s = mu_s' / (1 - g).
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

__all__ = [
    "HEMOGLOBIN_G_PER_L",
    "HEMOGLOBIN_MOLAR_MASS",
    "extinction_table",
    "hemoglobin_extinction",
    "absorption_coefficient",
    "reduced_scattering_coefficient",
    "scattering_coefficient",
]

HEMOGLOBIN_G_PER_L = 120.0
HEMOGLOBIN_MOLAR_MASS = 64500.0


@functools.lru_cache(maxsize=1)
def extinction_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prahl's table: (wavelength_nm (276,), eps_HbO2 (276,), eps_Hb (276,)), cm^-1/M, 450-1000 nm."""
    text = resources.files("oximetry").joinpath("data/hemoglobin_prahl.csv").read_text()
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    table = np.array([[float(v) for v in row.split(",")] for row in rows[1:]])
    for column in (table[:, 0], table[:, 1], table[:, 2]):
        column.setflags(write=False)
    return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy()


def _check_wavelengths(wavelengths_nm) -> np.ndarray:
    wl = np.asarray(wavelengths_nm, dtype=float)
    lo, hi = extinction_table()[0][[0, -1]]
    if not np.all(np.isfinite(wl)) or np.any(wl < lo) or np.any(wl > hi):
        raise ValueError(f"wavelengths_nm must lie within [{lo:g}, {hi:g}] nm, got {wl.min()}..{wl.max()}")
    return wl


def hemoglobin_extinction(wavelengths_nm) -> tuple[np.ndarray, np.ndarray]:
    """Molar extinction (eps_HbO2, eps_Hb) in cm^-1/M, linearly interpolated in the table."""
    wl = _check_wavelengths(wavelengths_nm)
    table_wl, eps_oxy, eps_deoxy = extinction_table()
    return np.interp(wl, table_wl, eps_oxy), np.interp(wl, table_wl, eps_deoxy)


def absorption_coefficient(so2, vhb, wavelengths_nm) -> np.ndarray:
    """mu_a in 1/cm of tissue with blood volume fraction ``vhb`` at saturation ``so2``.

    ``so2`` and ``vhb`` broadcast against each other (shape S); the result has shape
    S + wavelengths.shape.
    """
    eps_oxy, eps_deoxy = hemoglobin_extinction(wavelengths_nm)
    so2 = np.asarray(so2, dtype=float)[..., None] if np.ndim(wavelengths_nm) else np.asarray(so2, float)
    vhb = np.asarray(vhb, dtype=float)[..., None] if np.ndim(wavelengths_nm) else np.asarray(vhb, float)
    eps = so2 * eps_oxy + (1.0 - so2) * eps_deoxy
    return np.log(10.0) * HEMOGLOBIN_G_PER_L * vhb * eps / HEMOGLOBIN_MOLAR_MASS


def reduced_scattering_coefficient(a_mie, b_mie, wavelengths_nm) -> np.ndarray:
    """mu_s' in 1/cm: ``a_mie`` (1/cm at 500 nm) times (lambda/500 nm)^-b_mie; shape S + wavelengths.shape."""
    wl = np.asarray(wavelengths_nm, dtype=float)
    if np.ndim(wl):
        a_mie = np.asarray(a_mie, dtype=float)[..., None]
        b_mie = np.asarray(b_mie, dtype=float)[..., None]
    return a_mie * (wl / 500.0) ** (-np.asarray(b_mie, dtype=float))


def scattering_coefficient(reduced_scattering, g) -> np.ndarray:
    """mu_s = mu_s' / (1 - g) in 1/cm."""
    g = np.asarray(g, dtype=float)
    if np.any(g >= 1.0):
        raise ValueError("g must be < 1 to turn mu_s' into mu_s")
    return np.asarray(reduced_scattering, dtype=float) / (1.0 - g)
