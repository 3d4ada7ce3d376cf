"""Integrated magnitudes of star clusters: isochrone synthesis with stochastic IMF sampling.

A cluster of initial stellar mass M, age t, extinction A_V and metallicity Z shines with

    F_band = M * integral_{0.08}^{m_th} phi(m) f_band(m; t, Z, A_V) dm + sum_{stars} f_band(m_i)

where f_band is the (extincted) band flux of one star of initial mass m on the isochrone,
phi the IMF per Msun formed, and the stars above the threshold m_th are drawn one by one:
their number is Poisson with mean M * N_IMF(> m_th) and their masses follow the IMF
truncated to [m_th, 120 Msun]. The threshold is the mass above which the cluster expects
``max_stochastic_stars`` stars (never below 0.08 Msun), so low-mass clusters are sampled
star by star and massive clusters keep their rare luminous stars stochastic while their
numerous low-mass stars are integrated. ``stochastic=False`` integrates everything.

Isochrones between the tabulated ages and metallicities are interpolated at equal phase:
the phase-aligned mass nodes u of the tables are re-placed with turn-off and remnant masses
interpolated in (log t, log Z), and fluxes at the same u are blended linearly in log t and
log Z; magnitudes are interpolated linearly in A_V (extinction is exact at the nodes,
computed on each star's spectrum).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from astro.imf import M_HIGH, M_LOW, get_imf
from astro.stellar_data import load_bolometric_corrections, load_isochrones, star_magnitudes
from inn_engine.checks import check_array, check_integer, check_seed, label_list
from inn_engine.simulator import as_generator

__all__ = [
    "photometry",
    "star_photometry",
    "available_bands",
    "parameter_ranges",
    "vega_minus_ab",
    "DEFAULT_MAX_STOCHASTIC_STARS",
]

DEFAULT_MAX_STOCHASTIC_STARS = 3000
#: the largest ``max_stochastic_stars``: every star of a 10^6 Msun cluster down to 0.19 Msun (Kroupa)
#: (below the threshold the IMF is integrated, which is exact in the mean and whose Poisson
#: noise is negligible there); ~0.2 s of work per cluster, where 10^9 took minutes
MAX_STOCHASTIC_STARS = 10**6
_MAX_STARS_PER_BATCH = 4_000_000  # ~100 MB of temporaries per batch of clusters
SYSTEMS = ("vega", "ab")
_LN10_04 = 0.4 * np.log(10.0)


def available_bands() -> tuple:
    """Names of the bands the committed tables support."""
    return load_bolometric_corrections().bands


def parameter_ranges() -> dict:
    """Valid (low, high) of each physical input: log_age [log yr], av [mag], metallicity Z."""
    iso, bc = load_isochrones(), load_bolometric_corrections()
    return {
        "log_age": (float(iso.log_age[0]), float(iso.log_age[-1])),
        "av": (float(bc.A_V[0]), float(bc.A_V[-1])),
        "metallicity": (float(iso.Z[0]), float(iso.Z[-1])),
    }


@njit(cache=True)
def _bracket(nodes, value):
    n = nodes.shape[0]
    if value <= nodes[0]:
        return 0, 0.0
    if value >= nodes[n - 1]:
        return n - 2, 1.0
    lo = np.searchsorted(nodes, value, side="right") - 1
    return lo, (value - nodes[lo]) / (nodes[lo + 1] - nodes[lo])


@njit(cache=True)
def _clip_turnoff(m_to, m_rem):
    m_to = min(m_to, M_HIGH)
    return m_to, min(max(m_rem, m_to), M_HIGH)


@njit(cache=True)
def _node_masses(m_to, m_rem, seg, layout, out):
    """The isochrone's initial-mass nodes (the layout of astro.build_tables.isochrone_masses).

    ``seg``: nodes per segment (5,); ``layout``: turn-off fraction, late fraction, late
    depth, remnant depth.
    """
    m_to, m_rem = _clip_turnoff(m_to, m_rem)
    f, late, late_depth, rem_depth = layout[0], layout[1], layout[2], layout[3]
    width = m_rem - m_to
    a_end = f * m_to
    i = 0
    for k in range(seg[0]):
        out[i] = np.exp(np.log(M_LOW) + (np.log(a_end) - np.log(M_LOW)) * k / (seg[0] - 1))
        i += 1
    for k in range(seg[1]):
        out[i] = a_end + (m_to - a_end) * k / (seg[1] - 1)
        i += 1
    for k in range(seg[2]):
        out[i] = m_to + (width - late * width) * k / (seg[2] - 1)
        i += 1
    for k in range(seg[3]):
        out[i] = m_rem - late * width * late_depth ** (k / (seg[3] - 1))
        i += 1
    for k in range(seg[4]):
        out[i] = m_rem + (M_HIGH - m_rem) * rem_depth ** (1.0 - k / (seg[4] - 1))
        i += 1


@njit(cache=True)
def _node_position(m, m_to, m_rem, seg, layout):
    """Fractional node index u of initial mass m (inverse of _node_masses)."""
    m_to, m_rem = _clip_turnoff(m_to, m_rem)
    f, late, late_depth, rem_depth = layout[0], layout[1], layout[2], layout[3]
    width = m_rem - m_to
    a_end = f * m_to
    if m <= a_end:
        return (seg[0] - 1) * (np.log(m) - np.log(M_LOW)) / (np.log(a_end) - np.log(M_LOW))
    start = seg[0]
    if m <= m_to:
        return start + (seg[1] - 1) * (m - a_end) / (m_to - a_end)
    start += seg[1]
    c_end = m_to + (1.0 - late) * width
    if m <= c_end:
        return start + (seg[2] - 1) * (m - m_to) / (c_end - m_to)
    start += seg[2]
    d_end = m_rem - late * width * late_depth
    if m <= d_end:
        return start + (seg[3] - 1) * np.log((m_rem - m) / (late * width)) / np.log(late_depth)
    start += seg[3]
    e_start = m_rem + (M_HIGH - m_rem) * rem_depth
    if m < e_start:  # between the last pre-remnant node and the first remnant node
        return start - 1 + (m - d_end) / (e_start - d_end)
    return start + (seg[4] - 1) * (1.0 - np.log((m - m_rem) / (M_HIGH - m_rem)) / np.log(rem_depth))


@njit(cache=True)
def _local_isochrone(
    mags, log_z_nodes, log_age_nodes, av_nodes, log_mto, log_mrem, seg, layout, log_age, av, log_z, masses, iso
):
    """Fill ``masses`` (n_u,) and band fluxes ``iso`` (n_u, n_band) of the isochrone at
    (log_age, av, log_z); return its turn-off and remnant masses."""
    n_u, n_band = mags.shape[2], mags.shape[4]
    iz, wz = _bracket(log_z_nodes, log_z)
    it, wt = _bracket(log_age_nodes, log_age)
    ia, wa = _bracket(av_nodes, av)
    lmto, lmrem = 0.0, 0.0
    for dz in range(2):
        for dt in range(2):
            w = (wz if dz else 1.0 - wz) * (wt if dt else 1.0 - wt)
            lmto += w * log_mto[iz + dz, it + dt]
            lmrem += w * log_mrem[iz + dz, it + dt]
    m_to, m_rem = 10.0**lmto, 10.0**lmrem
    _node_masses(m_to, m_rem, seg, layout, masses)
    iso[:, :] = 0.0
    for dz in range(2):
        for dt in range(2):
            w = (wz if dz else 1.0 - wz) * (wt if dt else 1.0 - wt)
            if w <= 0.0:
                continue
            for u in range(n_u):
                row = mags[iz + dz, it + dt, u]
                for b in range(n_band):
                    mag = (1.0 - wa) * row[ia, b] + wa * row[ia + 1, b]
                    iso[u, b] += w * np.exp(-_LN10_04 * mag)
    return m_to, m_rem


@njit(cache=True)
def _add_star(iso, m, m_to, m_rem, seg, layout, out_row):
    """Add the band fluxes of one star of initial mass m (linear in u on the local
    isochrone ``iso``) to ``out_row`` (n_band,)."""
    upos = _node_position(m, m_to, m_rem, seg, layout)
    u0 = min(max(int(upos), 0), iso.shape[0] - 2)
    w = min(max(upos - u0, 0.0), 1.0)
    for b in range(iso.shape[1]):
        out_row[b] += (1.0 - w) * iso[u0, b] + w * iso[u0 + 1, b]


@njit(cache=True)
def _star_fluxes(
    mags, log_z_nodes, log_age_nodes, av_nodes, log_mto, log_mrem, seg, layout, star_mass, log_age, av, log_z, out
):
    """Band fluxes of single stars (initial mass, age, A_V, Z) into out (n_stars, n_band)."""
    masses = np.empty(mags.shape[2])
    iso = np.empty((mags.shape[2], mags.shape[4]))
    for c in range(star_mass.shape[0]):
        m_to, m_rem = _local_isochrone(
            mags,
            log_z_nodes,
            log_age_nodes,
            av_nodes,
            log_mto,
            log_mrem,
            seg,
            layout,
            log_age[c],
            av[c],
            log_z[c],
            masses,
            iso,
        )
        _add_star(iso, star_mass[c], m_to, m_rem, seg, layout, out[c])


@njit(cache=True)
def _cluster_fluxes(
    mags,
    log_z_nodes,
    log_age_nodes,
    av_nodes,
    log_mto,
    log_mrem,
    seg,
    layout,
    imf_ln_m0,
    imf_dln,
    imf_phi,
    mass,
    log_age,
    av,
    log_z,
    m_th,
    star_offsets,
    star_masses,
    out,
):
    """Band fluxes (10^(-0.4 M_AB)) of each cluster into out (n_clusters, n_band)."""
    n_u, n_band = mags.shape[2], mags.shape[4]
    masses = np.empty(n_u)
    iso = np.empty((n_u, n_band))
    for c in range(mass.shape[0]):
        m_to, m_rem = _local_isochrone(
            mags,
            log_z_nodes,
            log_age_nodes,
            av_nodes,
            log_mto,
            log_mrem,
            seg,
            layout,
            log_age[c],
            av[c],
            log_z[c],
            masses,
            iso,
        )
        # smooth part: M * integral of phi(m) f(m) dm below m_th (trapezoid in ln m)
        ln_th = np.log(m_th[c])
        prev_ln = np.log(masses[0])
        prev_phi = imf_phi[0]
        for u in range(1, n_u):
            ln_m = np.log(masses[u])
            if prev_ln >= ln_th:
                break
            j = (ln_m - imf_ln_m0) / imf_dln
            j0 = min(max(int(j), 0), imf_phi.shape[0] - 2)
            phi = imf_phi[j0] + (j - j0) * (imf_phi[j0 + 1] - imf_phi[j0])
            dln = ln_m - prev_ln
            if dln > 0.0:
                s = 1.0 if ln_m <= ln_th else (ln_th - prev_ln) / dln
                g0m = prev_phi * np.exp(prev_ln)  # integrand phi(m) f(m) m, as dm = m dln m
                g1m = phi * np.exp(ln_m)
                for b in range(n_band):
                    g0 = g0m * iso[u - 1, b]
                    g1 = g1m * iso[u, b]
                    out[c, b] += mass[c] * dln * s * (g0 + 0.5 * s * (g1 - g0))
            prev_ln, prev_phi = ln_m, phi
        # stochastic part: the drawn stars, read off the same isochrone
        for s_i in range(star_offsets[c], star_offsets[c + 1]):
            _add_star(iso, star_masses[s_i], m_to, m_rem, seg, layout, out[c])


def _check_range(name, arr, low, high, unit):
    bad = (arr < low - 1e-9) | (arr > high + 1e-9)
    if np.any(bad):
        raise ValueError(
            f"{name} must lie in [{low}, {high}] {unit}; got {arr[bad][0]!r} ({int(bad.sum())} value(s) outside)"
        )


def _check_bands(bands) -> tuple:
    known = available_bands()
    names = label_list("bands", bands)
    unknown = [b for b in names if b not in known]
    if unknown:
        raise ValueError(f"bands must be a non-empty list of {list(known)}; unknown: {unknown}")
    return tuple(names)


def _physical_inputs(first_name, first, log_age, av, metallicity, first_range, first_unit):
    """The four physical inputs as validated float64 columns of equal length n."""
    names = (first_name, "log_age", "av", "metallicity")
    arrays = [
        check_array(name, value, ndim=(0, 1), form="a number or a 1-D array of numbers")
        for name, value in zip(names, (first, log_age, av, metallicity))
    ]
    sizes = [a.size for a in arrays]
    n = max(sizes)
    if any(s not in (1, n) for s in sizes):
        raise ValueError(
            f"{first_name}, log_age, av, metallicity must have equal lengths or be scalars, got sizes {sizes}"
        )
    columns = [np.ascontiguousarray(np.broadcast_to(a.reshape(-1), (n,))) for a in arrays]
    ranges = parameter_ranges()
    _check_range(first_name, columns[0], *first_range, first_unit)
    _check_range("log_age", columns[1], *ranges["log_age"], "log10 yr")
    _check_range("av", columns[2], *ranges["av"], "mag")
    _check_range("metallicity", columns[3], *ranges["metallicity"], "(Z)")
    return columns


def _table_arguments(bands):
    """The stellar-table arguments shared by the numba kernels, for these bands."""
    iso, bc = load_isochrones(), load_bolometric_corrections()
    return (
        star_magnitudes(bands),
        np.log10(iso.Z),
        iso.log_age,
        bc.A_V,
        np.log10(iso.m_turnoff),
        np.log10(iso.m_remnant),
        np.array(iso.segment_nodes, dtype=np.int64),
        iso.layout,
    )


def vega_minus_ab(bands) -> np.ndarray:
    """m_Vega - m_AB of a source in each band (K,) [mag]: add to AB magnitudes to get Vega ones."""
    bc = load_bolometric_corrections()
    return bc.vega_minus_ab[[bc.bands.index(b) for b in _check_bands(bands)]]


def _to_magnitudes(flux, bands, system):
    if not isinstance(system, str) or system.lower() not in SYSTEMS:
        raise ValueError(f"system must be one of {SYSTEMS}, got {system!r}")
    with np.errstate(divide="ignore"):
        out = -2.5 * np.log10(flux)
    if system.lower() == "vega":
        out += vega_minus_ab(bands)
    return out


def star_photometry(initial_mass, log_age, av, metallicity, bands, system="vega"):
    """Absolute magnitudes of single stars (SSE + atmospheres), shape (n, n_bands).

    ``initial_mass`` [Msun] in 0.08 - 120; the other inputs as in :func:`photometry`.
    Stars that are dark remnants (neutron stars, black holes) come out at +inf.
    """
    bands = _check_bands(bands)
    _to_magnitudes(np.zeros((0, len(bands))), bands, system)  # validates system
    m, log_age, av, z = _physical_inputs(
        "initial_mass", initial_mass, log_age, av, metallicity, (M_LOW, M_HIGH), "Msun"
    )
    flux = np.zeros((len(m), len(bands)))
    _star_fluxes(*_table_arguments(bands), m, log_age, av, np.log10(z), flux)
    flux[flux < 1e-30] = 0.0
    return _to_magnitudes(flux, bands, system)


def photometry(
    log_mass,
    log_age,
    av,
    metallicity,
    bands,
    stochastic=True,
    seed=0,
    system="vega",
    imf="kroupa",
    max_stochastic_stars=DEFAULT_MAX_STOCHASTIC_STARS,
):
    """Absolute magnitudes of star clusters in the given bands.

    Args:
        log_mass: array (n,) or scalar, log10 initial stellar mass [Msun], 0 - 9.
        log_age: array (n,) or scalar, log10 age [yr], within the tables (5.0 - 10.2).
        av: array (n,) or scalar, V-band extinction A_V [mag], 0 - 3 (dust_extinction G23,
            R_V = 3.1, applied to each star's spectrum).
        metallicity: array (n,) or scalar, Z (mass fraction; Z_sun = 0.02), 0.002 - 0.03.
        bands: sequence of band names (see :func:`available_bands`), e.g. ("U", "B", "V").
        stochastic: bool, draw the stars above the threshold one by one (else smooth IMF).
        seed: int, numpy Generator or None; the only source of randomness.
        system: "vega" (Vega = 0 mag) or "ab".
        imf: "kroupa" (default), "chabrier" or "salpeter", 0.08 - 120 Msun.
        max_stochastic_stars: int, expected number of individually drawn stars per cluster
            above which the least massive stars are integrated instead.

    Returns:
        array (n, n_bands) float64: absolute magnitudes (10 pc). A cluster whose Poisson draw
        leaves no luminous star (possible only for log_mass below ~1.5) comes out at +inf.
    """
    bands = _check_bands(bands)
    _to_magnitudes(np.zeros((0, len(bands))), bands, system)  # validates system
    max_stochastic_stars = check_integer("max_stochastic_stars", max_stochastic_stars, 1, MAX_STOCHASTIC_STARS)
    if not isinstance(stochastic, (bool, np.bool_)):
        raise ValueError(f"stochastic must be True or False, got {stochastic!r}")
    seed = check_seed("seed", seed, allow_none=True)
    imf_table = get_imf(imf)
    log_mass, log_age, av, z = _physical_inputs(
        "log_mass", log_mass, log_age, av, metallicity, (0.0, 9.0), "log10 Msun"
    )
    n = len(log_mass)
    mass = 10.0**log_mass
    if stochastic:
        rng = as_generator(seed)
        m_th = np.maximum(imf_table.mass_with_number_above(max_stochastic_stars / mass), M_LOW)
        counts = rng.poisson(mass * imf_table.number_above(m_th))
    else:
        m_th = np.full(n, M_HIGH)
        counts = np.zeros(n, dtype=np.int64)
    tables = _table_arguments(bands)
    flux = np.zeros((n, len(bands)))
    for rows in _star_batches(counts):
        offsets = np.concatenate([[0], np.cumsum(counts[rows])]).astype(np.int64)
        stars = (
            imf_table.sample_above(np.repeat(m_th[rows], counts[rows]), rng.random(offsets[-1]))
            if stochastic
            else np.zeros(0)
        )
        _cluster_fluxes(
            *tables,
            imf_table.ln_m[0],
            imf_table.ln_m[1] - imf_table.ln_m[0],
            imf_table.phi,
            mass[rows],
            log_age[rows],
            av[rows],
            np.log10(z[rows]),
            m_th[rows],
            offsets,
            stars,
            flux[rows],
        )
    return _to_magnitudes(flux, bands, system)


def _star_batches(counts, max_stars=_MAX_STARS_PER_BATCH):
    """Consecutive slices of clusters holding at most ``max_stars`` drawn stars each (or one
    cluster), so memory stays bounded whatever the cluster masses."""
    ends = np.cumsum(counts)
    start = 0
    while start < len(counts):
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + max_stars, side="right")), start + 1)
        yield slice(start, stop)
        start = stop
