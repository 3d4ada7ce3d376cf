"""Build the compact physical tables committed in ``astro/data`` (``make tables``).

Run as ``python -m astro.build_tables``. It needs the ``tables`` extra (cosmic-popsynth,
pyphot, speclite, dust_extinction, SEDFit) and is NEVER imported by the runtime package, which reads
only the two ``.npz`` files written here:

``sse_isochrones.npz``
    Single-star evolution (Hurley, Pols & Tout 2000, SSE as implemented in cosmic-popsynth,
    evolved with companion mass 0) on isochrones: for every metallicity Z and log age, the
    luminosity, effective temperature, surface gravity and stellar type of stars at
    ``n_u`` initial masses. The masses of one isochrone follow a phase-aligned layout
    (see :func:`isochrone_masses`) so that the same column u means the same evolutionary
    phase at every age; interpolating between ages at fixed u is isochrone interpolation
    at equal phase.

``bolometric_corrections.npz``
    The absolute AB magnitude of a star of 1 L_sun, for every (Z, Teff, log g, A_V, band):
    Castelli & Kurucz (2003) model surface fluxes (the grid shipped in the SEDFit sdist),
    interpolated to [M/H] = log10(Z / 0.02), blackbodies outside the grid's Teff range,
    scaled by L / (sigma Teff^4) (never by integrating the model, which lacks flux below
    955 A), reddened star by star with a dust_extinction law at each A_V node, integrated
    over each filter (speclite's Bessell UBVRI, pyphot's library for the others; photon or
    energy counting as the filter says).
    Vega zero points (pyphot's Vega spectrum at 0 mag) are stored as Vega - AB offsets.

A star's magnitude is then ``M = table(Teff, log g, A_V) - 2.5 log10(L / L_sun)``, and the
runtime expands these two files into per-star extincted magnitudes on every isochrone.
"""

from __future__ import annotations

import argparse
import bz2
import importlib.metadata as md
import importlib.resources
import importlib.util
import json
import pickle
import time
import warnings
from pathlib import Path

import numpy as np

OUT_DIR = Path(__file__).resolve().parent / "data"

METALLICITIES = (0.002, 0.004, 0.008, 0.02, 0.03)
Z_SUN_TRACKS = 0.02  # Hurley et al. (2000) solar metallicity; [M/H] = log10(Z / 0.02)
LOG_AGES = np.round(np.arange(5.0, 10.2 + 1e-9, 0.05), 3)
M_MIN, M_MAX = 0.08, 120.0
# nodes per isochrone segment (see isochrone_masses): lower main sequence, upper main
# sequence, early post-main sequence, late post-main sequence, remnants
SEGMENT_NODES = (100, 40, 160, 80, 40)
LAYOUT = {
    "turnoff_fraction": 0.85,  # the upper main sequence starts at 0.85 m_turnoff
    "late_fraction": 0.1,  # the last 10 % of [m_to, m_rem] is the late post-main sequence
    "late_depth": 1e-4,  # ... resolved down to 1e-4 of its width before m_rem
    "remnant_depth": 1e-8,  # remnant nodes start 1e-8 (M_MAX - m_rem) above m_rem
}
AV_NODES = np.round(np.arange(0.0, 3.0 + 1e-9, 0.5), 3)
R_V = 3.1
BANDS = {  # innfer band name -> filter: "speclite:<name>" or a pyphot library name
    # Johnson-Cousins UBVRI: the Bessell & Murphy (2012) photon-counting curves in speclite
    # (pyphot's GROUND_JOHNSON curves give the solar STIS spectrum B-V = 0.67; these 0.645)
    "U": "speclite:bessell-U",
    "B": "speclite:bessell-B",
    "V": "speclite:bessell-V",
    "R": "speclite:bessell-R",
    "I": "speclite:bessell-I",
    "F275W": "HST_WFC3_F275W",
    "F336W": "HST_WFC3_F336W",
    "F438W": "HST_WFC3_F438W",
    "F555W": "HST_WFC3_F555W",
    "F814W": "HST_WFC3_F814W",
    "FUV": "GALEX_FUV",
    "NUV": "GALEX_NUV",
    "u": "SDSS_u",
    "g": "SDSS_g",
    "r": "SDSS_r",
    "i": "SDSS_i",
    "z": "SDSS_z",
    "J": "2MASS_J",
    "H": "2MASS_H",
    "Ks": "2MASS_Ks",
}
BLACKBODY_TEFF_LOW = (1000.0, 1500.0, 2000.0, 2500.0, 3000.0)
BLACKBODY_TEFF_HIGH = (
    55000.0,
    60000.0,
    70000.0,
    80000.0,
    100000.0,
    130000.0,
    160000.0,
    200000.0,
    300000.0,
    500000.0,
    1000000.0,
)
LOGG_NODES = np.arange(0.0, 5.0 + 1e-9, 0.5)
MAG_OFFSET, MAG_SCALE = 10.0, 1000.0  # int16 storage: (mag - 10) * 1000, 1 mmag steps

SIGMA_SB = 5.670374419e-5  # erg s^-1 cm^-2 K^-4
L_SUN = 3.828e33  # erg s^-1 (IAU 2015 nominal)
PC = 3.0856775814913673e18  # cm
C_AA = 2.99792458e18  # speed of light, Angstrom s^-1
H_PLANCK, K_BOLTZ = 6.62607015e-27, 1.380649e-16


def _version(package: str) -> str:
    return md.version(package)


# ------------------------------------------------------------------ stellar evolution
def _cosmic_bse_settings() -> dict:
    """cosmic's documented default BSE flags, with the Hurley et al. (2000) SSE winds."""
    settings = json.loads((importlib.resources.files("cosmic") / "data" / "cosmic-settings.json").read_text())
    flags = {}
    for category in settings:
        if category["category"] != "bse":
            continue
        for setting in category["settings"]:
            default = [o["name"] for o in setting["options"] if o.get("default")][0]
            if isinstance(default, str):  # list-valued defaults are written as literals
                default = eval(default, {"__builtins__": {}})  # noqa: S307 - cosmic's own file
            flags[setting["name"]] = default
    flags["windflag"] = 0  # standard SSE/BSE winds (Hurley et al. 2000)
    flags["zsun"] = Z_SUN_TRACKS
    # SSE's published main-sequence step (Hurley et al. 2000, sec. 7); cosmic's 0.001 costs
    # 3x the time and moves the final luminosities by < 1e-4 dex (single stars are analytic)
    flags["pts1"] = 0.05
    return flags


def evolve_single_stars(masses, ages_myr, metallicity: float, nproc: int = 1):
    """Evolve single stars with cosmic (companion mass 0) to the given ages.

    Returns (bpp, bcm) pandas tables; bcm's last row per star is its state at ``ages_myr``.
    """
    from cosmic.evolve import Evolve
    from cosmic.sample.initialbinarytable import InitialBinaryTable

    masses = np.asarray(masses, float)
    ages_myr = np.broadcast_to(np.asarray(ages_myr, float), masses.shape)
    zeros = np.zeros_like(masses)
    table = InitialBinaryTable.InitialBinaries(
        m1=masses,
        m2=zeros,
        porb=zeros,
        ecc=zeros,
        tphysf=ages_myr,
        kstar1=np.where(masses < 0.7, 0, 1),
        kstar2=zeros,
        metallicity=np.full_like(masses, metallicity),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bpp, bcm, _, _ = Evolve.evolve(
            initialbinarytable=table, BSEDict=_cosmic_bse_settings(), randomseed=1, nproc=nproc
        )
    return bpp, bcm


def phase_boundaries(metallicity: float, t_end_myr: float, n_masses: int = 1500, nproc: int = 1):
    """Main-sequence and nuclear lifetimes (Myr) on a fine initial-mass grid.

    Returns (masses, t_ms_end, t_remnant), the times a star leaves the main sequence
    (stellar type >= 2) and becomes a remnant (type >= 10), made non-increasing in mass.
    """
    masses = np.geomspace(M_MIN, M_MAX, n_masses)
    bpp, _ = evolve_single_stars(masses, t_end_myr, metallicity, nproc)
    t_ms = np.full(n_masses, np.inf)
    t_rem = np.full(n_masses, np.inf)
    for i, (_, rows) in enumerate(bpp.groupby("bin_num", sort=True)):
        left = rows["tphys"][rows["kstar_1"] >= 2]
        dead = rows["tphys"][rows["kstar_1"] >= 10]
        t_ms[i] = left.min() if len(left) else np.inf
        t_rem[i] = dead.min() if len(dead) else np.inf
    t_ms = np.minimum.accumulate(t_ms)
    t_rem = np.maximum(np.minimum.accumulate(t_rem), t_ms)
    return masses, t_ms, t_rem


def _mass_at_time(masses, lifetimes, t_myr):
    """Initial mass whose lifetime equals ``t_myr`` (lifetimes non-increasing in mass)."""
    finite = np.isfinite(lifetimes)
    if t_myr >= lifetimes[finite].max():
        return masses[finite][0] if not finite.all() else M_MIN
    if t_myr <= lifetimes.min():
        return M_MAX
    lt, lm = np.log10(lifetimes[finite][::-1]), np.log10(masses[finite][::-1])
    lt, keep = np.unique(lt, return_index=True)
    return float(10 ** np.interp(np.log10(t_myr), lt, lm[keep]))


def isochrone_masses(m_turnoff: float, m_remnant: float, segment_nodes=SEGMENT_NODES) -> np.ndarray:
    """The phase-aligned initial-mass nodes of one isochrone, shape (sum(segment_nodes),).

    With the post-main-sequence width w = m_rem - m_to and LAYOUT's constants f, l, d, e:
    A log-spaced [M_MIN, f m_to]; B uniform [f m_to, m_to]; C uniform [m_to, m_rem - l w]
    (subgiants, giants); D approaching death geometrically, m_rem - l w (1 .. d) (late
    giant branch, core helium burning, AGB, resolved to short phases); E leaving it
    geometrically, m_rem + (M_MAX - m_rem) (e .. 1) (remnants: the cooling of young white
    dwarfs is resolved). Every segment keeps its node count at every age, so node u means
    the same phase on every isochrone. Masses are clipped to M_MAX (young isochrones have
    degenerate upper segments).
    """
    m_to = min(m_turnoff, M_MAX)
    m_rem = min(max(m_remnant, m_to), M_MAX)
    n_a, n_b, n_c, n_d, n_e = segment_nodes
    f, late = LAYOUT["turnoff_fraction"], LAYOUT["late_fraction"]
    width = m_rem - m_to
    return np.concatenate(
        [
            np.geomspace(M_MIN, f * m_to, n_a),
            np.linspace(f * m_to, m_to, n_b),
            np.linspace(m_to, m_rem - late * width, n_c),
            m_rem - late * width * np.geomspace(1.0, LAYOUT["late_depth"], n_d),
            m_rem + (M_MAX - m_rem) * np.geomspace(LAYOUT["remnant_depth"], 1.0, n_e),
        ]
    )


def build_isochrones(metallicity: float, log_ages=LOG_AGES, segment_nodes=SEGMENT_NODES, nproc: int = 1) -> dict:
    """SSE isochrones for one Z on ``log_ages``: masses, log L, log Teff, log g, type."""
    masses_fine, t_ms, t_rem = phase_boundaries(metallicity, 10 ** (log_ages[-1] + 0.3) / 1e6, nproc=nproc)
    ages_myr = 10 ** np.asarray(log_ages) / 1e6
    m_to = np.array([_mass_at_time(masses_fine, t_ms, t) for t in ages_myr])
    m_rem = np.array([_mass_at_time(masses_fine, t_rem, t) for t in ages_myr])
    m_rem = np.maximum(m_rem, m_to)
    nodes = np.stack([isochrone_masses(a, b, segment_nodes) for a, b in zip(m_to, m_rem)])  # (n_t, n_u)
    n_t, n_u = nodes.shape
    _, bcm = evolve_single_stars(nodes.ravel(), np.repeat(ages_myr, n_u), metallicity, nproc)
    final = bcm.groupby("bin_num", sort=True).tail(1).sort_values("bin_num")
    if len(final) != nodes.size:
        raise RuntimeError(f"cosmic returned {len(final)} final states for {nodes.size} stars")
    lum = final["lum_1"].to_numpy().reshape(n_t, n_u)
    teff = final["teff_1"].to_numpy().reshape(n_t, n_u)
    rad = final["rad_1"].to_numpy().reshape(n_t, n_u)
    mass_now = final["mass_1"].to_numpy().reshape(n_t, n_u)
    kstar = final["kstar_1"].to_numpy().reshape(n_t, n_u).astype(np.int8)
    dark = (kstar >= 13) | (lum <= 0) | (rad <= 0) | (mass_now <= 0)  # NS, BH, massless
    with np.errstate(divide="ignore", invalid="ignore"):
        log_l = np.where(dark, -np.inf, np.log10(np.where(dark, 1.0, lum)))
        log_teff = np.where(dark, 0.0, np.log10(np.where(dark, 1.0, teff)))
        # g = G M / R^2 in cgs with M, R in solar units: log g_sun = 4.438
        log_g = np.where(
            dark, 0.0, 4.438 + np.log10(np.where(dark, 1.0, mass_now)) - 2 * np.log10(np.where(dark, 1.0, rad))
        )
    return {
        "mass": nodes,
        "log_L": log_l,
        "log_Teff": log_teff,
        "log_g": log_g,
        "kstar": kstar,
        "m_turnoff": m_to,
        "m_remnant": m_rem,
    }


# ------------------------------------------------------------------ atmospheres
def _sedfit_kurucz_path() -> Path:
    spec = importlib.util.find_spec("SEDFit")  # locate the package data without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("SEDFit is not installed: pip install SEDFit (the `tables` extra)")
    return Path(list(spec.submodule_search_locations)[0]) / "sed_kurucz.p"


class _DataOnlyUnpickler(pickle.Unpickler):
    """Unpickles only the data classes SEDFit's grid is made of (numpy arrays, an astropy Table
    and Quantity with their units); any other global, e.g. a callable that would run code while
    loading, is refused."""

    ALLOWED = {
        ("astropy.table.column", "Column"),
        ("astropy.table.table", "Table"),
        ("astropy.units.core", "CompositeUnit"),
        ("astropy.units.core", "IrreducibleUnit"),
        ("astropy.units.core", "PrefixUnit"),
        ("astropy.units.core", "Unit"),
        ("astropy.units.core", "_recreate_irreducible_unit"),
        ("astropy.units.quantity", "Quantity"),
        ("collections", "OrderedDict"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"SEDFit grid: {module}.{name} is not one of the data classes allowed")
        return super().find_class(module, name)


def load_castelli_kurucz():
    """The SEDFit Castelli-Kurucz grid: wavelength (A), log10 surface F_lambda, teff, logg, feh."""
    with bz2.BZ2File(_sedfit_kurucz_path(), "rb") as fh:
        log_lam_flam, table, wavelength = _DataOnlyUnpickler(fh).load()  # the sdist ships it as a pickle
    wave = np.asarray(wavelength.to_value("Angstrom"), float)
    log_flam = np.asarray(log_lam_flam, float) - np.log10(wave)
    return (
        wave,
        log_flam,
        np.asarray(table["teff"], float),
        np.asarray(table["logg"], float),
        np.asarray(table["feh"], float),
    )


def castelli_kurucz_cube(feh_target: float, wave_max: float = 30000.0):
    """log10 surface flux on the regular (Teff, log g) grid at [M/H] = feh_target.

    Linear interpolation in log flux between the two bracketing [M/H] grids; models missing
    at low gravity (hot stars) take the lowest-gravity model present at that Teff.
    Returns (wave (n_w,), teffs (n_T,), cube (n_T, n_g, n_w)).
    """
    wave, log_flam, teff, logg, feh = load_castelli_kurucz()
    keep_w = wave <= wave_max
    wave, log_flam = wave[keep_w], log_flam[:, keep_w]
    fehs = np.unique(feh)
    hi = int(np.clip(np.searchsorted(fehs, feh_target), 1, len(fehs) - 1))
    f0, f1 = fehs[hi - 1], fehs[hi]
    w1 = float(np.clip((feh_target - f0) / (f1 - f0), 0.0, 1.0))
    teffs = np.unique(teff)
    cube = np.empty((len(teffs), len(LOGG_NODES), len(wave)))
    for it, t in enumerate(teffs):
        for ig, g in enumerate(LOGG_NODES):
            parts = []
            for f in (f0, f1):
                here = (teff == t) & (feh == f)
                gs = logg[here]
                pick = (
                    np.flatnonzero(here)[np.argmin(np.where(gs >= g - 1e-6, gs - g, np.inf))]
                    if np.any(gs >= g - 1e-6)
                    else np.flatnonzero(here)[np.argmax(gs)]
                )
                parts.append(log_flam[pick])
            cube[it, ig] = (1 - w1) * parts[0] + w1 * parts[1]
    return wave, teffs, cube


def blackbody_log_flam(wave_aa, teff):
    """log10 of the surface flux pi B_lambda(T) in erg s^-1 cm^-2 A^-1."""
    lam_cm = wave_aa * 1e-8
    x = H_PLANCK * C_AA * 1e-8 / (lam_cm * K_BOLTZ * teff)
    with np.errstate(over="ignore"):
        b = 2 * H_PLANCK * (C_AA * 1e-8) ** 2 / lam_cm**5 / np.expm1(x)
    return np.log10(np.pi * b * 1e-8 + 1e-300)


# ------------------------------------------------------------------ filters and photometry
def filter_weights(wave, band_names):
    """Linear maps from a spectrum on ``wave`` to band-mean F_lambda, one row per band.

    Each filter curve is resampled on ``wave`` (which is fine compared with the filters);
    photon-counting filters weight by T lambda, energy-counting ones by T.
    Returns (weights (n_band, n_w), pivot wavelength (n_band,), dtypes, pyphot names).
    """
    dw = np.gradient(wave)
    rows, pivots, dtypes = [], [], []
    for name in band_names:
        fw, ft, dtype = load_filter_curve(BANDS[name])
        t = np.interp(wave, fw, ft, left=0.0, right=0.0)
        if np.count_nonzero(t) < 10:
            raise RuntimeError(f"filter {name} is under-sampled by the atmosphere grid")
        w = t * dw * (wave if dtype == "photon" else 1.0)
        rows.append(w / w.sum())
        pivots.append(np.sqrt(np.sum(t * wave * dw) / np.sum(t * dw / wave)))
        dtypes.append(dtype)
    return np.array(rows), np.array(pivots), dtypes


def load_filter_curve(source: str):
    """(wavelength A, response, "photon" | "energy") of a speclite or pyphot filter."""
    if source.startswith("speclite:"):
        import speclite.filters

        filt = speclite.filters.load_filter(source.split(":", 1)[1])
        return (np.asarray(filt.wavelength, float), np.clip(np.asarray(filt.response, float), 0, None), "photon")
    from pyphot import get_library

    filt = get_library()[source]
    return (
        np.asarray(filt.wavelength.to_value("Angstrom"), float),
        np.clip(np.asarray(filt.transmit, float), 0, None),
        filt.dtype,
    )


def ab_flam_band_mean(weights, wave):
    """Band-mean F_lambda of the AB reference source (3631 Jy) for each band row."""
    f_nu_ab = 3631e-23  # erg s^-1 cm^-2 Hz^-1
    return weights @ (f_nu_ab * C_AA / wave**2)


def vega_flam_band_mean(weights, wave):
    """Band-mean F_lambda of pyphot's Vega spectrum, and its source name."""
    from pyphot import Vega

    with Vega() as vega:
        vw = np.asarray(vega.wavelength.to_value("Angstrom"), float)
        vf = np.asarray(vega.flux.value, float)
        source = str(getattr(vega, "source", "pyphot vega.hd5"))
    return weights @ np.interp(wave, vw, vf, left=0.0, right=0.0), source


def extinction_transmission(wave):
    """dust_extinction G23 (R_V = 3.1) transmission at each AV_NODES: (n_av, n_w)."""
    import astropy.units as u
    from dust_extinction.parameter_averages import G23

    law = G23(Rv=R_V)
    lam = wave * u.AA
    return np.stack([law.extinguish(lam, Av=float(av)) for av in AV_NODES])


def absolute_ab_mag_per_lsun(log_flam, teff, weights, transmission, ab_mean):
    """AB absolute magnitude of a 1 L_sun star for each spectrum, A_V node and band.

    ``log_flam``: (n_s, n_w) log10 surface F_lambda; ``teff``: (n_s,). The star's
    luminosity density is L_lambda = L_sun F_lambda / (sigma Teff^4), seen from 10 pc.
    Returns (n_s, n_av, n_band).
    """
    scale = L_SUN / (SIGMA_SB * teff**4) / (4 * np.pi * (10 * PC) ** 2)
    flam = 10**log_flam * scale[:, None]
    band = np.einsum("sw,aw,bw->sab", flam, transmission, weights)
    return -2.5 * np.log10(np.maximum(band, 1e-300) / ab_mean)


def build_bolometric_corrections(band_names, metallicities) -> dict:
    """The BC table: AB mag per L_sun on (Z, Teff, log g, A_V, band) and Vega - AB offsets."""
    wave0, teffs_ck, _ = castelli_kurucz_cube(0.0)
    weights, pivots, dtypes = filter_weights(wave0, band_names)
    ab_mean = ab_flam_band_mean(weights, wave0)
    vega_mean, vega_source = vega_flam_band_mean(weights, wave0)
    vega_minus_ab = -2.5 * np.log10(ab_mean / vega_mean)  # m_vega = m_ab - 2.5 log(ab/vega)
    transmission = extinction_transmission(wave0)
    teff_nodes = np.concatenate([BLACKBODY_TEFF_LOW, teffs_ck, BLACKBODY_TEFF_HIGH])
    out = np.empty((len(metallicities), len(teff_nodes), len(LOGG_NODES), len(AV_NODES), len(band_names)))
    for iz, z in enumerate(metallicities):
        wave, teffs, cube = castelli_kurucz_cube(np.log10(z / Z_SUN_TRACKS))
        assert np.array_equal(wave, wave0) and np.array_equal(teffs, teffs_ck)
        n_lo = len(BLACKBODY_TEFF_LOW)
        for ig in range(len(LOGG_NODES)):
            ck = absolute_ab_mag_per_lsun(cube[:, ig], teffs, weights, transmission, ab_mean)
            out[iz, n_lo : n_lo + len(teffs), ig] = ck
        bb_teff = np.array(BLACKBODY_TEFF_LOW + BLACKBODY_TEFF_HIGH)
        bb = absolute_ab_mag_per_lsun(
            np.stack([blackbody_log_flam(wave0, t) for t in bb_teff]), bb_teff, weights, transmission, ab_mean
        )
        out[iz, :n_lo] = bb[:n_lo, None]
        out[iz, n_lo + len(teffs) :] = bb[n_lo:, None]
    return {
        "mag_per_lsun_ab": out,
        "log_Teff": np.log10(teff_nodes),
        "log_g": LOGG_NODES,
        "vega_minus_ab": vega_minus_ab,
        "pivot_AA": pivots,
        "filter_dtype": np.array(dtypes),
        "vega_source": vega_source,
    }


# ------------------------------------------------------------------ writing
def _header(kind: str, extra: dict) -> str:
    packages = {p: _version(p) for p in ("cosmic-popsynth", "SEDFit", "pyphot", "speclite", "dust_extinction", "numpy")}
    return json.dumps(
        {"table": kind, "built_by": "python -m astro.build_tables", "packages": packages, **extra}, sort_keys=True
    )


def write_isochrones(path: Path, jobs: int, log_ages=LOG_AGES, segment_nodes=SEGMENT_NODES) -> dict:
    """Build every metallicity (``jobs`` processes, one Z each) and write one npz."""
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    build = partial(build_isochrones, log_ages=log_ages, segment_nodes=segment_nodes, nproc=1)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        parts = list(pool.map(build, METALLICITIES))
    arrays = {key: np.stack([p[key] for p in parts]) for key in parts[0]}
    header = _header(
        "sse_isochrones",
        {
            "reference": "Hurley, Pols & Tout 2000, MNRAS 315, 543 (SSE) via cosmic-popsynth "
            "(Breivik et al. 2020, ApJ 898, 71), single stars, companion mass 0",
            "cosmic_flags": {
                "windflag": 0,
                "zsun": Z_SUN_TRACKS,
                "pts1": 0.05,
                "others": "cosmic-settings.json defaults",
            },
            "segment_nodes": list(segment_nodes),
            "layout": LAYOUT,
            "units": {
                "mass": "Msun (initial)",
                "log_L": "log10 L/Lsun (-inf: dark remnant)",
                "log_Teff": "log10 K",
                "log_g": "log10 cm s^-2",
                "log_age": "log10 yr",
            },
        },
    )
    np.savez_compressed(
        path,
        header=np.array(header),
        Z=np.array(METALLICITIES),
        log_age=np.asarray(log_ages),
        mass=arrays["mass"].astype(np.float32),
        log_L=arrays["log_L"].astype(np.float32),
        log_Teff=arrays["log_Teff"].astype(np.float32),
        log_g=arrays["log_g"].astype(np.float32),
        kstar=arrays["kstar"],
        m_turnoff=arrays["m_turnoff"],
        m_remnant=arrays["m_remnant"],
    )
    return arrays


def write_bolometric_corrections(path: Path) -> dict:
    names = list(BANDS)
    bc = build_bolometric_corrections(names, METALLICITIES)
    stored = np.clip(np.round((bc["mag_per_lsun_ab"] - MAG_OFFSET) * MAG_SCALE), -32767, 32767).astype(np.int16)
    header = _header(
        "bolometric_corrections",
        {
            "reference": "Castelli & Kurucz 2003 (IAU Symp. 210) ATLAS9 grid as shipped in SEDFit "
            "0.6.1 (sed_kurucz.p); blackbody outside 3500-50000 K; extinction "
            f"Gordon et al. 2023 (G23, R_V={R_V}) from dust_extinction; UBVRI: Bessell & "
            "Murphy 2012 curves from speclite; other filters and the Vega spectrum "
            f"from pyphot ({Path(bc['vega_source']).name})",
            "metallicity_scale": "[M/H] = log10(Z / 0.02)",
            "storage": f"int16 mmag: AB mag of a 1 Lsun star at 10 pc = stored / {MAG_SCALE} + {MAG_OFFSET}",
            "pyphot_names": BANDS,
            "vega_convention": "Vega has magnitude 0 in every band",
        },
    )
    np.savez_compressed(
        path,
        header=np.array(header),
        Z=np.array(METALLICITIES),
        bands=np.array(names),
        log_Teff=bc["log_Teff"],
        log_g=bc["log_g"],
        A_V=AV_NODES,
        mag_per_lsun_ab_mmag=stored,
        vega_minus_ab=bc["vega_minus_ab"],
        pivot_AA=bc["pivot_AA"],
        filter_dtype=bc["filter_dtype"],
    )
    return bc


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--jobs", type=int, default=2, help="processes, one metallicity each")
    parser.add_argument("--only", choices=["isochrones", "bc"], default=None)
    parser.add_argument(
        "--smoke", action="store_true", help="a coarse isochrone grid (log age step 0.4, 160 nodes) to try the pipeline"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    timings = {}
    if args.only in (None, "bc"):
        t0 = time.perf_counter()
        write_bolometric_corrections(args.out / "bolometric_corrections.npz")
        timings["bolometric_corrections"] = time.perf_counter() - t0
    if args.only in (None, "isochrones"):
        t0 = time.perf_counter()
        if args.smoke:
            write_isochrones(
                args.out / "sse_isochrones.npz",
                args.jobs,
                np.round(np.arange(5.0, 10.2 + 1e-9, 0.4), 3),
                (50, 20, 40, 30, 20),
            )
        else:
            write_isochrones(args.out / "sse_isochrones.npz", args.jobs)
        timings["sse_isochrones"] = time.perf_counter() - t0
    for name, seconds in timings.items():
        size = (args.out / f"{name}.npz").stat().st_size
        print(f"{name}.npz: {size / 1e6:.2f} MB, built in {seconds:.1f} s")


if __name__ == "__main__":
    main()
