"""Reading cluster catalogues for :func:`astro.infer`: columns, errors, distances, bad values.

A catalogue (astropy Table, pandas DataFrame, dict of columns, or a dict of scalars for
one cluster) has one column per band holding APPARENT Vega magnitudes and a
``<band>_err`` column with 1-sigma errors [mag]. Columns with astropy units may instead
hold AB magnitudes (``u.ABmag``) or flux densities f_nu (Jy, mJy, erg/s/cm^2/Hz, ...), with
their errors in the same kind of unit; they are converted to Vega magnitudes per band
(:func:`astro.population.vega_minus_ab`; sigma_m = 2.5 / ln 10 * sigma_F / F).
Non-detections: a flux whose magnitude error would exceed the trained range (S/N below ~2.2,
zero and negative fluxes included) is kept as a flux measurement (applied through its
flux likelihood, :mod:`astro.nondetections`), and a ``<band>_lim`` column gives limiting Vega
magnitudes for rows without a magnitude: a censored measurement, the flux fell below the
limit's flux with noise limit / k, k from an optional ``<band>_lim_sigmas`` column (default
3 sigma); :func:`astro.infer` gives them to the network of an estimator trained with limits
(:mod:`astro.observe`), else their flux likelihood. Per entry, rather than failing the
whole catalogue, problems make a band unusable and are reported in a per-row note:
NaN / masked magnitude (not observed, no note), sentinel magnitudes (|m| >= 90, e.g. 99 or
100), missing, NaN or negative errors, and errors above the trained range. Malformed
input as a whole (no band column, an error column missing, wrong types or shapes, both
``distance`` and ``distance_modulus``) raises ValueError naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np

from astro.observe import MAG_PER_RELATIVE_FLUX, SIGMA_RANGE
from astro.population import vega_minus_ab
from inn_engine.checks import check_array, label_list, string_labels

__all__ = ["Photometry", "read_photometry", "distance_moduli", "per_cluster", "catalogue_from_observations"]

SENTINEL_ABS_MAG = 90.0  # |magnitude| at or above this is a "no data" sentinel (99, 100, -99)
LIMIT_SIGMAS = 3.0  # a "<band>_lim" column holds limiting magnitudes at this many sigma unless told
# fluxes and flux errors [Jy] beyond these are damaged entries (a 10^7 Msun cluster at 10 pc:
# ~10^4 Jy in V; 1e-15 Jy is AB mag 46)
MAX_FLUX_JY, MIN_FLUX_ERROR_JY = 1e6, 1e-15


@dataclass
class Photometry:
    """Parsed catalogue: ``bands`` (K,), ``mag`` and ``err`` (n, K) [mag] with NaN where the
    band is unusable, ``notes`` (n,) lists of strings explaining dropped bands, ``names``
    (n,) cluster labels; ``limit_flux`` and ``limit_sigma`` (n, K) [Jy]: the measured flux
    and its error of a band not detected, or where ``limit_censored`` (n, K) the detection
    threshold and its noise (see :mod:`astro.nondetections`), NaN elsewhere; ``limit_mag``
    (n, K) the limiting Vega magnitude where ``limit_censored``, NaN elsewhere."""

    bands: tuple
    mag: np.ndarray
    err: np.ndarray
    notes: list
    names: np.ndarray
    limit_flux: np.ndarray
    limit_sigma: np.ndarray
    limit_censored: np.ndarray
    limit_mag: np.ndarray

    @property
    def n(self) -> int:
        return self.mag.shape[0]

    @property
    def usable(self) -> np.ndarray:
        """(n, K) bool: band has a finite magnitude and error."""
        return np.isfinite(self.mag) & np.isfinite(self.err)


def _columns(photometry) -> tuple[dict, int]:
    """({column name: 1-D column}, n rows); a dict of scalars is one cluster."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    from astropy.table import Table

    if isinstance(photometry, Table):
        raw = {name: photometry[name] for name in photometry.colnames}
    elif pd is not None and isinstance(photometry, pd.DataFrame):
        raw = {str(name): photometry[name].to_numpy() for name in photometry.columns}
    elif isinstance(photometry, dict):
        raw = dict(photometry)
    else:
        raise ValueError(
            "photometry must be an astropy Table, a pandas DataFrame or a dict of columns "
            f"(one row per cluster), got {type(photometry).__name__}"
        )
    if not raw:
        raise ValueError("photometry has no columns")
    single = all(np.ndim(np.ma.getdata(v)) == 0 for v in raw.values())
    columns = {str(name): (np.ma.atleast_1d(v) if single else v) for name, v in raw.items()}
    lengths = {np.size(np.ma.getdata(v)) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"photometry columns must all have the same length, got lengths {sorted(lengths)}")
    return columns, lengths.pop()


def _as_float(values, name: str, n: int) -> np.ndarray:
    """1-D float64 array (n,) with masked / None entries as NaN (any astropy unit dropped)."""
    masked = np.ma.getmaskarray(values) if np.ma.isMaskedArray(values) or hasattr(values, "mask") else None
    data = np.ma.getdata(values)
    data = getattr(data, "value", data)  # a Quantity's numbers
    try:
        out = np.array(data, dtype=object).reshape(n)
        out = np.array([np.nan if v is None else v for v in out], dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"column {name!r} must hold numbers (magnitudes or errors in mag), got {data!r}") from err
    if masked is not None:
        out[np.asarray(masked).reshape(n)] = np.nan
    return out


def read_photometry(photometry, known_bands, bands=None) -> Photometry:
    """Parse a catalogue into a :class:`Photometry` over the bands it has.

    known_bands: the band names any estimator understands. bands: None (columns named by
    band), a sequence of band names to use, or a dict {column name: band name} for
    catalogues with other column names; the error column is ``<column>_err``.
    """
    columns, n = _columns(photometry)
    if bands is None:
        mapping = {b: b for b in known_bands if b in columns}
    elif isinstance(bands, dict):
        names = string_labels(list(bands) + list(bands.values()))
        if names is None:
            raise ValueError(f"bands must map column names to band names (strings), got {bands!r}")
        mapping = dict(zip(names[: len(bands)], names[len(bands) :]))
    else:
        mapping = {b: b for b in label_list("bands (None, a list of band names or a dict {column: band})", bands)}
    unknown = sorted(b for b in mapping.values() if b not in known_bands)
    if unknown:
        raise ValueError(f"bands: {unknown} are not bands of a pretrained estimator; known: {list(known_bands)}")
    absent = sorted(c for c in mapping if c not in columns)
    if absent:
        raise ValueError(f"photometry has no column(s) {absent}; columns are {sorted(columns)}")
    if not mapping:
        raise ValueError(
            f"photometry has no band column: name magnitude columns by band {list(known_bands)} "
            f"with errors in '<band>_err', or map them with bands={{column: band}}; "
            f"got columns {sorted(columns)}"
        )
    if len(set(mapping.values())) != len(mapping):
        raise ValueError(f"bands maps several columns to one band: {mapping}")
    order = [b for b in known_bands if b in mapping.values()]
    column_of = {b: c for c, b in mapping.items()}
    mag = np.full((n, len(order)), np.nan)
    err = np.full((n, len(order)), np.nan)
    limit_flux = np.full((n, len(order)), np.nan)
    limit_sigma = np.full((n, len(order)), np.nan)
    censored = np.zeros((n, len(order)), bool)
    limit_mag = np.full((n, len(order)), np.nan)
    notes = [[] for _ in range(n)]
    for j, band in enumerate(order):
        column = column_of[band]
        if f"{column}_err" not in columns:
            raise ValueError(
                f"photometry lacks the error column {column + '_err'!r} for band {band} "
                f"(1-sigma magnitude errors are required)"
            )
        m, e, f, s = _vega_magnitudes(band, column, columns[column], columns[f"{column}_err"], n, notes)
        if f"{column}_lim" in columns:
            depth = columns.get(f"{column}_lim_sigmas", np.full(n, LIMIT_SIGMAS))
            lim, f_lim, s_lim = _limiting_magnitudes(band, column, columns[f"{column}_lim"], depth, m, n, notes)
            f, s = np.where(np.isfinite(f_lim), f_lim, f), np.where(np.isfinite(f_lim), s_lim, s)
            censored[:, j], limit_mag[:, j] = np.isfinite(f_lim), lim
        _drop_bad_entries(band, m, e, notes)
        mag[:, j], err[:, j], limit_flux[:, j], limit_sigma[:, j] = m, e, f, s
    names = _cluster_names(columns, n)
    return Photometry(
        tuple(order), mag, np.maximum(err, SIGMA_RANGE[0]), notes, names, limit_flux, limit_sigma, censored, limit_mag
    )


def _unit(values, name: str):
    """The astropy unit of a column: None (plain numbers, Vega magnitudes), u.mag, u.ABmag
    or an f_nu flux density unit; anything else is a ValueError naming the column."""
    unit = getattr(values, "unit", None)
    if unit is None or unit == u.mag or unit == u.ABmag or unit.is_equivalent(u.Jy):
        return unit
    raise ValueError(
        f"column {name!r} has unit {unit}: give Vega magnitudes (no unit or u.mag), AB magnitudes "
        "(u.ABmag) or a flux density f_nu (e.g. u.Jy, u.mJy, erg / (s cm2 Hz))"
    )


def _is_flux(unit) -> bool:
    """Whether a unit :func:`_unit` accepted is a flux density (not None, u.mag or u.ABmag)."""
    return unit is not None and unit != u.mag and unit != u.ABmag


def _vega_magnitudes(band: str, column: str, values, errors, n: int, notes: list):
    """(Vega magnitudes, 1-sigma errors [mag], non-detection flux, its sigma [Jy]), each (n,),
    of ``band`` from a column of magnitudes or fluxes (see the module's docstring). A flux
    whose magnitude error would exceed the trained range (S/N below ~2.2, zero or negative
    included) is kept as a flux measurement instead, its magnitude NaN; elsewhere the flux
    pair is NaN."""
    unit, err_unit = _unit(values, column), _unit(errors, f"{column}_err")
    m, e = _as_float(values, column, n), _as_float(errors, f"{column}_err", n)
    limit_flux, limit_sigma = np.full(n, np.nan), np.full(n, np.nan)
    is_flux = _is_flux(unit)
    if is_flux != _is_flux(err_unit):
        raise ValueError(
            f"columns {column!r} and {column + '_err'!r} must both be fluxes or both magnitudes, "
            f"got units {unit} and {err_unit}"
        )
    if is_flux:
        flux, sigma = m * unit.to(u.Jy), e * err_unit.to(u.Jy)
        measured = np.isfinite(flux) & np.isfinite(sigma) & (sigma > 0)
        absurd = measured & ((np.abs(flux) > MAX_FLUX_JY) | (sigma > MAX_FLUX_JY) | (sigma < MIN_FLUX_ERROR_JY))
        for i in np.flatnonzero(absurd):
            notes[i].append(
                f"{band} flux or its error outside any cluster's range ({MIN_FLUX_ERROR_JY:g}-{MAX_FLUX_JY:g} Jy)"
            )
        measured &= ~absurd
        with np.errstate(divide="ignore", invalid="ignore"):
            detected = measured & (flux > 0) & (MAG_PER_RELATIVE_FLUX * sigma / flux <= SIGMA_RANGE[1])
        faint = measured & ~detected
        for i in np.flatnonzero(faint):
            notes[i].append(f"{band}: S/N {flux[i] / sigma[i]:.1f}, used as a flux measurement (non-detection)")
        limit_flux[faint], limit_sigma[faint] = flux[faint], sigma[faint]
        m, e = np.full(n, np.nan), np.full(n, np.nan)
        m[detected] = (flux[detected] * u.Jy).to_value(u.ABmag)  # -2.5 log10(f_nu / (erg/s/cm2/Hz)) - 48.60
        e[detected] = MAG_PER_RELATIVE_FLUX * sigma[detected] / flux[detected]
    if unit is not None and unit != u.mag:  # AB magnitudes, given or from fluxes
        m = m + vega_minus_ab([band])[0]
    return m, e, limit_flux, limit_sigma


def _limiting_magnitudes(band: str, column: str, values, depth, m: np.ndarray, n: int, notes: list):
    """(limit [Vega mag], detection threshold [Jy], its noise [Jy]), each (n,), from a
    ``<band>_lim`` column of limiting Vega magnitudes at ``depth`` sigma (a column or the
    default), for the rows whose magnitude is not given (NaN elsewhere): the threshold is the
    limit's flux, the noise a depth-th of it. A limit at a depth that is not a positive
    number is left out with a note."""
    if _unit(values, f"{column}_lim") not in (None, u.mag):
        raise ValueError(f"column {column + '_lim'!r} must hold Vega limiting magnitudes (no unit or u.mag)")
    lim = _as_float(values, f"{column}_lim", n)
    k = _as_float(depth, f"{column}_lim_sigmas", n)
    use = np.isfinite(lim) & ~np.isfinite(m) & (np.abs(lim) < SENTINEL_ABS_MAG)
    for i in np.flatnonzero(use & ~(k > 0)):
        notes[i].append(f"{band} limit left out: {column}_lim_sigmas must be a positive number of sigma, got {k[i]}")
    use &= k > 0
    for i in np.flatnonzero(use):
        notes[i].append(f"{band} not detected (limit {lim[i]:.2f} mag at {k[i]:.3g} sigma)")
    flux, sigma = np.full(n, np.nan), np.full(n, np.nan)
    flux[use] = ((lim[use] - vega_minus_ab([band])[0]) * u.ABmag).to_value(u.Jy)
    sigma[use] = flux[use] / k[use]
    return np.where(use, lim, np.nan), flux, sigma


def _drop_bad_entries(band: str, m: np.ndarray, e: np.ndarray, notes: list) -> None:
    """Set unusable (m, e) pairs to NaN in place and explain why in ``notes``."""
    observed = np.isfinite(m)
    checks = [
        (np.isinf(m), f"{band} magnitude is infinite"),
        (observed & (np.abs(m) >= SENTINEL_ABS_MAG), f"{band} magnitude is a no-data sentinel (|m| >= 90)"),
        (observed & np.isnan(e), f"{band} has no error"),
        (observed & (e < 0), f"{band} error is negative"),
        (observed & np.isinf(e), f"{band} error is infinite"),
        (observed & (e > SIGMA_RANGE[1]) & np.isfinite(e), f"{band} error > {SIGMA_RANGE[1]} mag (beyond training)"),
    ]
    bad = np.zeros(m.shape, bool)
    for mask, reason in checks:
        for i in np.flatnonzero(mask & ~bad):
            notes[i].append(reason)
        bad |= mask
    m[bad | ~np.isfinite(e)] = np.nan
    e[bad | ~np.isfinite(m)] = np.nan


def _cluster_names(columns: dict, n: int) -> np.ndarray:
    for key in ("name", "names", "id", "ID", "Name", "cluster"):
        if key in columns:
            return np.array([str(v) for v in np.ma.getdata(columns[key]).reshape(n)] if n else [], dtype=str)
    return np.array([str(i) for i in range(n)], dtype=str)


def per_cluster(value, n: int, name: str) -> np.ndarray:
    """A scalar or length-n sequence as a float array (n,); NaN stays NaN (flagged later)."""
    if hasattr(value, "unit"):
        raise ValueError(f"{name} must be a plain number or array, got a Quantity {value!r}")
    array = check_array(name, value, ndim=(0, 1), finite=False, form=f"a number, or one per cluster (shape ({n},))")
    if array.ndim == 0:
        return np.full(n, float(array))
    if array.shape != (n,):
        raise ValueError(f"{name} must be a scalar or one value per cluster ({n}), got shape {array.shape}")
    return array.astype(float)


def distance_moduli(n: int, distance_modulus=None, distance=None) -> np.ndarray:
    """(n,) distance moduli [mag] from ``distance_modulus`` [mag] or ``distance`` (an astropy
    Quantity of length, scalar or per cluster); NaN entries stay NaN (the row is flagged)."""
    import astropy.units as u

    if (distance_modulus is None) == (distance is None):
        raise ValueError(
            "give exactly one of distance_modulus (mag) or distance (astropy Quantity, e.g. "
            "50 * u.kpc): the magnitudes are apparent"
        )
    if distance_modulus is not None:
        return per_cluster(distance_modulus, n, "distance_modulus")
    if not isinstance(distance, u.Quantity) or not distance.unit.is_equivalent(u.pc):
        raise ValueError(f"distance must be an astropy Quantity with a length unit (e.g. 50 * u.kpc), got {distance!r}")
    parsec = per_cluster(distance.to_value(u.pc), n, "distance")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(parsec > 0, 5.0 * np.log10(parsec / 10.0), np.nan)


def catalogue_from_observations(y, bands, distance_modulus: float = 0.0):
    """The catalogue ``astro.infer`` reads, from conditioning rows y (n, 4K) in the layout of
    :mod:`astro.observe` (absolute magnitudes, errors, detected and limit masks; or (n, 3K)
    without limits) for ``bands``: an astropy Table of apparent magnitudes (+
    ``distance_modulus`` [mag]) and errors "<band>_err", NaN where a band was not detected,
    and for rows with limits "<band>_lim" (apparent limiting magnitude) and
    "<band>_lim_sigmas" (its depth, 2.5 / ln 10 / sigma). Simulated catalogues are made this way."""
    from astropy.table import Table

    y = np.asarray(y, dtype=float)
    k = len(bands)
    if y.ndim != 2 or y.shape[1] not in (3 * k, 4 * k):
        raise ValueError(
            f"y must be (n, {4 * k}) (or (n, {3 * k}) without limits) conditioning rows for bands "
            f"{list(bands)}, got shape {np.shape(y)}"
        )
    has = y[:, 2 * k : 3 * k] > 0.5
    lim = y[:, 3 * k :] > 0.5 if y.shape[1] == 4 * k else np.zeros_like(has)
    table = Table()
    for j, band in enumerate(bands):
        table[band] = np.where(has[:, j], y[:, j] + distance_modulus, np.nan)
        table[f"{band}_err"] = np.where(has[:, j], y[:, k + j], np.nan)
        if lim[:, j].any():
            table[f"{band}_lim"] = np.where(lim[:, j], y[:, j] + distance_modulus, np.nan)
            with np.errstate(divide="ignore"):
                table[f"{band}_lim_sigmas"] = np.where(lim[:, j], MAG_PER_RELATIVE_FLUX / y[:, k + j], np.nan)
    return table
