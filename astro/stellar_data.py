"""Read the committed tables in ``astro/data`` and expand them into per-star magnitudes.

Two compact files (written by ``python -m astro.build_tables``; see ``astro/data/README.md``):
SSE isochrones (initial mass, L, Teff, log g, type on phase-aligned mass nodes, per Z and
log age) and bolometric corrections (AB magnitude of a 1 L_sun star on a Teff x log g x
A_V grid per Z and band, from extincted Castelli-Kurucz / blackbody spectra).
:func:`star_magnitudes` combines them into the absolute AB magnitude of every isochrone
star at every A_V node: shape (n_Z, n_age, n_u, n_AV, n_band). Everything is cached per
process with ``functools.lru_cache`` (simulators stay small when pickled).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = [
    "Isochrones",
    "BolometricCorrections",
    "load_isochrones",
    "load_bolometric_corrections",
    "star_magnitudes",
    "DATA_DIR",
    "DARK_MAG",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
DARK_MAG = 99.0  # magnitude of a star that emits nothing (neutron star, black hole)


@dataclass(frozen=True)
class Isochrones:
    """SSE isochrones. Shapes: Z (n_z,), log_age (n_t,), mass/log_L/log_Teff/log_g/kstar
    (n_z, n_t, n_u), m_turnoff/m_remnant (n_z, n_t) [Msun], segment_nodes (5,) and
    layout (4,): turn-off fraction, late fraction, late depth, remnant depth (see
    ``astro.build_tables.isochrone_masses``)."""

    Z: np.ndarray
    log_age: np.ndarray
    mass: np.ndarray
    log_L: np.ndarray
    log_Teff: np.ndarray
    log_g: np.ndarray
    kstar: np.ndarray
    m_turnoff: np.ndarray
    m_remnant: np.ndarray
    segment_nodes: tuple
    layout: np.ndarray
    header: dict


@dataclass(frozen=True)
class BolometricCorrections:
    """AB magnitude of a 1 L_sun star: ``mag`` (n_z, n_T, n_g, n_av, n_band) on the nodes
    ``log_Teff`` (n_T,), ``log_g`` (n_g,), ``A_V`` (n_av,); ``vega_minus_ab`` (n_band,)."""

    Z: np.ndarray
    bands: tuple
    log_Teff: np.ndarray
    log_g: np.ndarray
    A_V: np.ndarray
    mag: np.ndarray
    vega_minus_ab: np.ndarray
    header: dict


@lru_cache(maxsize=None)
def load_isochrones() -> Isochrones:
    with np.load(DATA_DIR / "sse_isochrones.npz", allow_pickle=False) as d:
        header = json.loads(str(d["header"]))
        return Isochrones(
            Z=d["Z"].astype(float),
            log_age=d["log_age"].astype(float),
            mass=d["mass"].astype(float),
            log_L=d["log_L"].astype(float),
            log_Teff=d["log_Teff"].astype(float),
            log_g=d["log_g"].astype(float),
            kstar=d["kstar"],
            m_turnoff=d["m_turnoff"].astype(float),
            m_remnant=d["m_remnant"].astype(float),
            segment_nodes=tuple(header["segment_nodes"]),
            layout=np.array(
                [header["layout"][k] for k in ("turnoff_fraction", "late_fraction", "late_depth", "remnant_depth")]
            ),
            header=header,
        )


@lru_cache(maxsize=None)
def load_bolometric_corrections() -> BolometricCorrections:
    with np.load(DATA_DIR / "bolometric_corrections.npz", allow_pickle=False) as d:
        header = json.loads(str(d["header"]))
        scale, offset = 1000.0, 10.0  # int16 millimagnitudes, see the file header
        return BolometricCorrections(
            Z=d["Z"].astype(float),
            bands=tuple(str(b) for b in d["bands"]),
            log_Teff=d["log_Teff"].astype(float),
            log_g=d["log_g"].astype(float),
            A_V=d["A_V"].astype(float),
            mag=d["mag_per_lsun_ab_mmag"].astype(np.float32) / scale + offset,
            vega_minus_ab=d["vega_minus_ab"].astype(float),
            header=header,
        )


def _bracket(nodes: np.ndarray, values: np.ndarray):
    """Lower node index and linear weight of ``values`` on sorted ``nodes`` (clamped)."""
    values = np.clip(values, nodes[0], nodes[-1])
    lo = np.clip(np.searchsorted(nodes, values, side="right") - 1, 0, len(nodes) - 2)
    w = (values - nodes[lo]) / (nodes[lo + 1] - nodes[lo])
    return lo, w


@lru_cache(maxsize=4)
def star_magnitudes(bands: tuple) -> np.ndarray:
    """Absolute AB magnitudes of every isochrone star at every A_V node, float32.

    ``bands``: tuple of band names. Shape (n_Z, n_age, n_u, n_AV, n_band). The 1 L_sun
    magnitudes are interpolated bilinearly in (log Teff, log g) (clamped to the table's
    edges, which are blackbodies in Teff) and shifted by -2.5 log10(L / L_sun).
    """
    iso, bc = load_isochrones(), load_bolometric_corrections()
    if not np.allclose(iso.Z, bc.Z):
        raise RuntimeError("the isochrone and bolometric-correction tables have different Z grids")
    band_index = [bc.bands.index(b) for b in bands]
    table = bc.mag[..., band_index]  # (n_z, n_T, n_g, n_av, n_b)
    it, wt = _bracket(bc.log_Teff, iso.log_Teff)
    ig, wg = _bracket(bc.log_g, iso.log_g)
    iz = np.arange(len(iso.Z))[:, None, None]
    wt, wg = wt[..., None, None], wg[..., None, None]
    mag = (
        (1 - wt) * (1 - wg) * table[iz, it, ig]
        + wt * (1 - wg) * table[iz, it + 1, ig]
        + (1 - wt) * wg * table[iz, it, ig + 1]
        + wt * wg * table[iz, it + 1, ig + 1]
    )
    with np.errstate(invalid="ignore"):
        mag = mag - 2.5 * iso.log_L[..., None, None]
    mag = np.where(np.isfinite(iso.log_L)[..., None, None], mag, DARK_MAG)
    return np.ascontiguousarray(np.minimum(mag, DARK_MAG), dtype=np.float32)
