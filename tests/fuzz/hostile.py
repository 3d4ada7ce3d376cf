"""Hostile inputs for every public entry point, and the contract their outcomes are judged by.

Each ``<entry>_args`` is a hypothesis strategy of keyword arguments that mixes well-formed
values (so calls get deep) with hostile ones (wrong types, NaN / inf / 1e39, complex, bool,
object and string arrays, wrong shapes, mislabelled bands, absurd sizes); each ``run_<entry>``
calls the entry point and returns ``(outcome, detail)``, the outcome one of :data:`OUTCOMES`:

- ``ValueError``: refused with a ValueError (or a subclass such as ArtifactError): allowed;
- ``other exception``: any other exception: a broken contract;
- ``NaN without flag``: a NaN (or a value outside the parameter's support) in a row that is
  not flagged invalid: a broken contract;
- ``shape mismatch``: a result whose rows disagree with the input's: a broken contract;
- ``ok``: a result that honours the contract.

Used by the fuzz tests (``tests/fuzz``) and by ``benchmarks/fuzz.py`` (10^4+ inputs each).
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import xarray as xr
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from inn_engine.artifact import FORMAT_VERSION, sign_metadata
from inn_engine.cli_estimate import _is_number

OUTCOMES = ("ValueError", "other exception", "NaN without flag", "shape mismatch", "ok")
ALLOWED = ("ValueError", "ok")
REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- building blocks

_huge = st.sampled_from([1e39, -1e39, 1e300, -1e300, 1e-300, 5e-324, np.finfo(float).max])
_special_floats = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0])
#: scalars of every type a caller might pass by mistake
hostile_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(max_magnitude=1e3),
    st.text(max_size=4),
    st.lists(st.integers(0, 9), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.just(np.int64(20)),
    st.just(np.float32(20)),
    st.just(np.bool_(True)),
    st.builds(np.random.default_rng, st.integers(0, 9)),
    st.just(b"7"),
    st.just(()),
)
_dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.uint8, np.bool_, np.complex128, object, "U3"])


def _rarely(good, bad, one_in: int = 6):
    """``good`` most of the time, ``bad`` about once in ``one_in`` draws."""
    return st.integers(1, one_in).flatmap(lambda i: bad if i == one_in else good)


def _value(good):
    """Mostly ``good``, sometimes any hostile scalar."""
    return _rarely(good, hostile_scalar)


@st.composite
def _arrays(draw, shape, low, high):
    """Float arrays of ``shape`` in [low, high]; sometimes with a NaN / inf / huge / tiny entry,
    sometimes of a hostile dtype (int, bool, complex, object, str)."""
    a = draw(hnp.arrays(np.float64, shape, elements=st.floats(low, high)))
    if a.size and draw(st.integers(0, 3)) == 3:
        a.flat[draw(st.integers(0, a.size - 1))] = draw(st.one_of(_huge, _special_floats))
    if draw(st.integers(0, 5)) == 5:
        a = _cast(a, draw(_dtypes))
    return a


def _cast(a, dtype):
    with np.errstate(all="ignore"):
        try:
            return a.astype(dtype)
        except (ValueError, OverflowError):
            return a


def _reals(low, high):
    return _rarely(st.floats(low, high), st.one_of(_huge, _special_floats))


def outcome(call, check) -> tuple[str, str]:
    """Run ``call()``; classify it (``check(result)`` returns None or (outcome, detail))."""
    try:
        result = call()
    except ValueError as err:
        return "ValueError", f"{type(err).__name__}: {err}"
    except Exception as err:  # noqa: BLE001 - what the fuzzing is looking for
        return "other exception", "".join(traceback.format_exception(err))[-3000:]
    try:
        return check(result) or ("ok", "")
    except Exception as err:  # noqa: BLE001 - a result that cannot be used is a broken contract
        return "other exception", "the call succeeded but its result fails: " + "".join(
            traceback.format_exception(err)
        )[-3000:]


# ---------------------------------------------------------------- oximetry.estimate


@functools.lru_cache(maxsize=1)
def oximetry_bands() -> list[str]:
    import oximetry

    return list(oximetry.load_estimator().metadata["oximetry"]["band_names"])


def _spectra(shape):
    return _arrays(shape, 0.0, 1.6)


@st.composite
def oximetry_data(draw):
    """Spectra (8,), (n, 8), (h, w, 8) or wrong shapes, as arrays, lists or DataArrays with labels."""
    bands = oximetry_bands()
    shape = draw(
        _rarely(
            st.sampled_from([(8,), (1, 8), (3, 8), (2, 2, 8)]),
            st.sampled_from([(0, 8), (3, 7), (8, 3), (), (2, 1, 1, 8)]),
        )
    )
    values = draw(_spectra(shape))
    kind = draw(st.sampled_from(["array", "array", "list", "xarray", "xarray-object", "xarray-permuted"]))
    if kind == "list":
        return values.tolist()
    if not kind.startswith("xarray") or values.ndim == 0:
        return values
    dims = [f"d{i}" for i in range(values.ndim - 1)] + ["band"]
    labels = list(bands) if values.shape[-1] == len(bands) else [f"b{i}" for i in range(values.shape[-1])]
    if kind == "xarray-permuted":
        labels = draw(st.permutations(labels))
        labels = draw(
            _rarely(
                st.just(labels), st.lists(st.sampled_from(labels + ["x"]), min_size=len(labels), max_size=len(labels))
            )
        )
    coord = np.array(labels, dtype=object if kind != "xarray" else str)
    return xr.DataArray(values, dims=dims, coords={"band": coord})


@st.composite
def oximetry_args(draw):
    args = {"data": draw(oximetry_data())}
    if draw(st.integers(0, 3)) == 3:
        shape = draw(_rarely(st.sampled_from([(8,), ()]), st.sampled_from([(1, 8), (2, 3, 8), (7,)])))
        white = draw(_arrays(shape, 500.0, 2000.0))
        args.update(white=white, dark=draw(_rarely(st.just(np.zeros(8)), st.one_of(st.none(), _arrays(shape, 0, 600)))))
        args["data"] = (
            args["data"] * 1000.0
            if isinstance(args["data"], (np.ndarray, xr.DataArray)) and args["data"].dtype.kind == "f"
            else args["data"]
        )
    for name, good in (
        ("n", st.integers(16, 24)),
        ("seed", st.integers(0, 5)),
        ("draws", st.one_of(st.none(), st.integers(1, 4))),
        ("method", st.sampled_from(["sample", "sample", "quantiles"])),
        ("estimator", st.none()),
    ):
        if draw(st.integers(0, 2)) == 2:
            args[name] = draw(_value(good))
    if args.get("method") == "quantiles" and "draws" in args and args["draws"] is not None:
        del args["draws"]
    return args


def run_oximetry(args) -> tuple[str, str]:
    import oximetry

    return outcome(lambda: oximetry.estimate(**args), lambda ds: check_oximetry(args["data"], ds))


def check_oximetry(data, ds):
    expected = np.shape(np.asarray(data.values if isinstance(data, xr.DataArray) else data, dtype=object))[:-1]
    valid = np.asarray(ds["valid"].values)
    if valid.shape != expected:
        return "shape mismatch", f"valid has shape {valid.shape}, input spectra {expected}"
    for name, var in ds.data_vars.items():
        if name.startswith("sO2_") or name.endswith(("_median", "_mean", "_q16", "_q84", "_q025", "_q975")):
            v = np.asarray(var.values, dtype=float)
            if v.shape != expected:
                return "shape mismatch", f"{name} has shape {v.shape}, input spectra {expected}"
            if not np.all(np.isfinite(v[valid])):
                return "NaN without flag", f"{name} is not finite on a pixel marked valid"
            if name.startswith("sO2_") and not np.all((v[valid] >= 0) & (v[valid] <= 1)):
                return "NaN without flag", f"{name} outside [0, 1] on a pixel marked valid"
    if np.any(np.asarray(ds["reason"].values)[~valid] == ""):
        return "NaN without flag", "an invalid pixel without a reason"
    return None


# ---------------------------------------------------------------- astro.infer

UBVRI = ("U", "B", "V", "R", "I")
HST = ("F275W", "F336W", "F438W", "F555W", "F814W")
_magnitude = _rarely(
    st.floats(8.0, 25.0),
    st.one_of(_huge, _special_floats, st.sampled_from([99.0, -99.0, 100.0]), st.none(), st.text(max_size=2)),
    8,
)
_error = _rarely(st.floats(0.01, 0.6), st.one_of(st.sampled_from([-0.1, 0.0, np.nan, np.inf, 1e39]), st.none()), 8)


@st.composite
def catalogue(draw):
    """A catalogue (dict, Table or DataFrame) of 0-5 clusters with some bands, errors and junk."""
    import pandas as pd
    from astropy.table import Table

    rows = draw(st.integers(0, 5))
    bands = draw(
        _rarely(
            st.lists(st.sampled_from(UBVRI), min_size=1, max_size=4, unique=True),
            st.lists(st.sampled_from(UBVRI + HST[:1] + ("J",)), min_size=1, max_size=4, unique=True),
        )
    )
    columns = {}
    for band in bands:
        columns[band] = draw(st.lists(_magnitude, min_size=rows, max_size=rows))
        if draw(st.integers(0, 9)):
            columns[band + "_err"] = draw(st.lists(_error, min_size=rows, max_size=rows))
        if not draw(st.integers(0, 4)):  # limiting magnitudes of non-detections
            columns[band + "_lim"] = draw(st.lists(_magnitude, min_size=rows, max_size=rows))
        units = draw(st.sampled_from([None, None, None, "flux", "ab", "odd"]))
        if units and rows and band + "_err" in columns:
            columns.update(_with_units(draw, band, columns, units, rows))
    if draw(st.booleans()):
        columns["name"] = [f"c{i}" for i in range(rows)]
    form = draw(st.sampled_from(["dict", "dict", "table", "frame", "scalars"]))
    if form == "scalars" and rows:
        return {k: v[0] for k, v in columns.items()}
    try:
        if form == "table":
            return Table({k: np.array(v, dtype=object) for k, v in columns.items()})
        if form == "frame":
            return pd.DataFrame(columns)
    except (ValueError, TypeError):
        pass
    return columns


def _with_units(draw, band: str, columns: dict, units: str, rows: int) -> dict:
    """The band's magnitude and error columns as astropy Quantities: f_nu fluxes (any sign, NaN,
    inf), AB magnitudes, or a unit the reader must refuse (a flux density per wavelength)."""
    import astropy.units as u

    if units == "ab":
        try:
            mag, err = np.array(columns[band], dtype=float), np.array(columns[band + "_err"], dtype=float)
        except (TypeError, ValueError):  # text entries stay plain columns
            return {}
        return {band: mag * u.ABmag, band + "_err": err * u.mag}
    value = st.one_of(st.floats(-1e3, 1e4), st.sampled_from([0.0, np.nan, np.inf, -np.inf, 1e-30, 1e300]))
    unit = u.uJy if units == "flux" else u.erg / u.s / u.cm**2 / u.AA
    flux = np.array(draw(st.lists(value, min_size=rows, max_size=rows)), dtype=float)
    sigma = np.array(draw(st.lists(value, min_size=rows, max_size=rows)), dtype=float)
    return {band: flux * unit, band + "_err": sigma * unit}


@st.composite
def astro_args(draw):
    args = {"photometry": draw(catalogue()), "n": draw(_value(st.integers(16, 24))), "population": None}
    args["distance_modulus"] = draw(
        _rarely(st.floats(10, 30), st.one_of(hostile_scalar, st.lists(_reals(10, 30), min_size=0, max_size=5)))
    )
    for name, good in (
        ("ebv_foreground", st.floats(0, 0.5)),
        ("metallicity", st.sampled_from([0.004, 0.02])),
        ("av_max", st.floats(0.1, 2.0)),
        ("model_error", st.floats(0, 0.3)),
        ("seed", st.integers(0, 5)),
        ("draws", st.integers(1, 4)),
        ("bands", st.lists(st.sampled_from(UBVRI), min_size=1, max_size=3, unique=True)),
        ("estimator", st.sampled_from([None, "ubvri", "hst"])),
        ("population", st.sampled_from([None, True, "auto"])),
    ):
        if draw(st.integers(0, 3)) == 3:
            args[name] = draw(_value(good))
    return args


def run_astro(args) -> tuple[str, str]:
    import astro

    return outcome(lambda: astro.infer(**args), lambda table: check_astro(args["photometry"], table))


def _rows(photometry) -> int:
    columns = (
        list(photometry.values())
        if isinstance(photometry, dict)
        else [photometry[c] for c in photometry.colnames]
        if hasattr(photometry, "colnames")
        else [photometry[c] for c in photometry.columns]
    )
    return 1 if all(np.ndim(c) == 0 for c in columns) else len(columns[0])


def check_astro(photometry, table):
    rows = _rows(photometry)
    if len(table) != rows:
        return "shape mismatch", f"{len(table)} rows for a catalogue of {rows}"
    valid = np.asarray(table["valid"], dtype=bool)
    for name in table.colnames:
        if name.endswith(("_median", "_mean", "_std", "_q16", "_q84", "_q025", "_q975")):
            v = np.asarray(table[name], dtype=float)
            if not np.all(np.isfinite(v[valid])):
                return "NaN without flag", f"{name} not finite on a row marked valid"
    if np.any(np.asarray(table["reason"])[~valid] == ""):
        return "NaN without flag", "an invalid row without a reason"
    return None


# ---------------------------------------------------------------- astro.photometry


@st.composite
def photometry_args(draw):
    size = draw(st.integers(1, 3))
    column = lambda lo, hi: _rarely(
        st.one_of(st.floats(lo, hi), hnp.arrays(np.float64, size, elements=st.floats(lo, hi))),
        st.one_of(hostile_scalar, _arrays((size,), lo, hi), _arrays((size + 1,), lo, hi)),
        8,
    )
    args = {
        "log_mass": draw(column(0.5, 5.0)),
        "log_age": draw(column(6.0, 10.0)),
        "av": draw(column(0.0, 3.0)),
        "metallicity": draw(column(0.002, 0.03)),
        "bands": draw(
            _value(
                _rarely(
                    st.lists(st.sampled_from(UBVRI + HST), min_size=1, max_size=3),
                    st.lists(st.sampled_from(UBVRI + ("nope",)), max_size=3),
                )
            )
        ),
    }
    for name, good in (
        ("stochastic", st.booleans()),
        ("seed", st.integers(0, 5)),
        ("system", st.sampled_from(["vega", "ab"])),
        ("imf", st.sampled_from(["kroupa", "salpeter"])),
        ("max_stochastic_stars", st.integers(1, 3000)),
    ):
        if draw(st.integers(0, 3)) == 3:
            args[name] = draw(_value(good))
    return args


def run_photometry(args) -> tuple[str, str]:
    import astro

    def check(mags):
        n = max(np.size(args[k]) for k in ("log_mass", "log_age", "av", "metallicity"))
        bands = [args["bands"]] if isinstance(args["bands"], str) else list(args["bands"])
        if np.shape(mags) != (n, len(bands)):
            return "shape mismatch", f"shape {np.shape(mags)} for {n} clusters and bands {bands}"
        if np.isnan(mags).any():
            return "NaN without flag", "NaN magnitudes"
        return None

    return outcome(lambda: astro.photometry(**args), check)


# ---------------------------------------------------------------- inn_engine.fit


@st.composite
def fit_args(draw):
    n, dx, dy = draw(st.integers(0, 40)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    n = draw(_rarely(st.integers(10, 40), st.integers(0, 9)))
    x = draw(_rarely(_arrays((n, dx), 0.05, 0.95), st.one_of(_arrays((n,), 0.05, 0.95), _arrays((n, dx), -3, 3))))
    y = draw(
        _rarely(_arrays((n, dy), -3, 3), st.one_of(_arrays((max(n - 1, 0), dy), -3, 3), st.just([[1.0, 2.0], [1.0]])))
    )
    args = {
        "x": x,
        "y": y,
        "model": draw(_value(st.sampled_from(["cinn", "ensemble", "padded", "mc_dropout", "cvae", "cvae_iaf"]))),
        "steps": draw(_rarely(st.integers(1, 3), _long_run_free)),
        "batch_size": draw(_rarely(st.integers(1, 16), _long_run_free)),
        "eval_every": 1,
        "progress": False,
        "hidden": draw(_rarely(st.sampled_from([4, 8]), _long_run_free)),
    }
    if args["model"] in ("cinn", "ensemble"):
        args["n_blocks"] = draw(_rarely(st.just(1), _long_run_free))
    if draw(st.booleans()):
        args["bounds"] = draw(
            _rarely(
                st.sampled_from([[[0.0, 1.0]] * dx, None]),
                st.one_of(st.just([[1.0, 0.0]] * dx), _arrays((dx, 2), -2, 2), hostile_scalar),
            )
        )
    for name, good in (
        ("seed", st.integers(0, 3)),
        ("validation_fraction", st.floats(0, 0.4)),
        ("unknown_option", st.integers()),
        ("lr", st.floats(1e-4, 1e-2)),
        ("n_members", st.just(2)),
    ):
        if draw(st.integers(0, 4)) == 4:
            args[name] = draw(_value(good))
    if args.get("model") != "ensemble":
        args.pop("n_members", None)
    return args


def _not_a_long_run(v) -> bool:
    return not (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 3 < v < 10**10)


#: hostile sizes that cannot start a long training (large valid integers could)
_long_run_free = hostile_scalar.filter(_not_a_long_run)


def run_fit(args) -> tuple[str, str]:
    import inn_engine

    def check(est):
        y_obs = np.asarray(args["y"], dtype=float)[:2]
        draws = est.sample(y_obs.reshape(len(y_obs), -1), n=3, seed=0)
        dx = 1 if np.ndim(args["x"]) == 1 else np.shape(args["x"])[1]
        if draws.shape != (len(y_obs), 3, dx):
            return "shape mismatch", f"draws {draws.shape} for {len(y_obs)} observations of {dx} parameters"
        if not np.isfinite(draws).all():
            return "NaN without flag", "non-finite draws"
        return None

    return outcome(lambda: inn_engine.fit(**args), check)


# ---------------------------------------------------------------- Estimator.sample


@functools.lru_cache(maxsize=1)
def tiny_estimator():
    """A 2-block affine cINN on a 2-D toy (bounded and unbounded parameters), trained for 20 steps."""
    import inn_engine

    rng = np.random.default_rng(0)
    x = np.column_stack([rng.uniform(0, 1, 400), rng.normal(size=400)])
    y = x + 0.1 * rng.normal(size=x.shape)
    return inn_engine.fit(
        x,
        y,
        model="cinn",
        seed=0,
        bounds=[[0, 1], [-np.inf, np.inf]],
        steps=20,
        n_blocks=2,
        hidden=8,
        coupling="affine",
        progress=False,
    )


@st.composite
def sample_args(draw):
    shape = draw(_rarely(st.sampled_from([(2,), (3, 2), (1, 2)]), st.sampled_from([(0, 2), (2, 3), (), (2, 2, 2)])))
    y = draw(_arrays(shape, -3, 3))
    args = {"y_obs": draw(_rarely(st.sampled_from([y, y.tolist()]), hostile_scalar))}
    for name, good in (
        ("n", st.integers(1, 8)),
        ("seed", st.one_of(st.integers(0, 2**63 - 1), st.builds(np.random.default_rng))),
    ):
        if draw(st.booleans()):
            args[name] = draw(_value(good))
    args["method"] = draw(st.sampled_from(["sample", "posterior"]))
    return args


def run_sample(args) -> tuple[str, str]:
    est = tiny_estimator()
    args = dict(args)
    method = args.pop("method")

    def call():
        out = getattr(est, method)(**args)
        return out.samples if method == "posterior" else out

    def check(draws):
        y = np.asarray(args["y_obs"], dtype=float)
        n_obs = 1 if y.ndim == 1 else y.shape[0]
        if draws.shape != (n_obs, args.get("n", 1000), est.dim_x):
            return "shape mismatch", f"draws {draws.shape} for y_obs of shape {y.shape}"
        if not np.isfinite(draws).all() or not ((draws[..., 0] > 0) & (draws[..., 0] < 1)).all():
            return "NaN without flag", "non-finite draws or draws outside the bounds"
        return None

    return outcome(call, check)


# ---------------------------------------------------------------- inn_engine.load (tampered directories)

_json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=3)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=6,
)


def _paths(tree, prefix=(), depth=0):
    """Every key path of a JSON tree (lists: their first items), not deeper than 3 below metadata."""
    out = [prefix]
    if depth > 4 or (prefix[:1] == ("metadata",) and depth > 2):
        return out
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _paths(v, prefix + (k,), depth + 1)
    elif isinstance(tree, list) and tree:
        out += _paths(tree[0], prefix + (0,), depth + 1)
    return out


@functools.lru_cache(maxsize=1)
def base_directories() -> dict:
    """{name: (directory, parsed estimator.json)}: the tiny estimator and a copy of the shipped oximetry one."""
    root = Path(tempfile.mkdtemp(prefix="innfer-fuzz-"))
    tiny_estimator().save(root / "tiny")
    shutil.copytree(REPO / "oximetry" / "pretrained", root / "oximetry", ignore=shutil.ignore_patterns("*.py"))
    return {
        name: (root / name, json.loads((root / name / "estimator.json").read_text())) for name in ("tiny", "oximetry")
    }


@st.composite
def tampering(draw):
    """(base name, tampering): a JSON edit (replace / delete a field, special forms) or a damaged file."""
    name = draw(st.sampled_from(["tiny", "oximetry"]))
    meta = base_directories()[name][1]
    kind = draw(st.sampled_from(["replace", "replace", "delete", "special", "file"]))
    if kind in ("replace", "delete"):
        path = draw(st.sampled_from(_paths(meta)[1:]))
        return name, (kind, path, draw(_json_value) if kind == "replace" else None)
    if kind == "special":
        return name, (
            "special",
            draw(
                st.sampled_from(
                    [
                        "list",
                        "null",
                        "nested",
                        "blocks",
                        "version0",
                        "version-next",
                        "version-str",
                        "nan-std",
                        "zero-std",
                        "low>high",
                        "unknown-kind",
                        "huge-hidden",
                        "members",
                    ]
                )
            ),
            None,
        )
    files = ["weights.safetensors", "estimator.json"] + sorted(meta.get("side_files", {}))
    return name, ("file", draw(st.sampled_from(files)), draw(st.sampled_from(["truncate", "flip", "delete", "empty"])))


_SPECIAL = {
    "list": lambda m: [m],
    "null": lambda m: None,
    "blocks": lambda m: _set(m, ("model", "config", "n_blocks"), 200_000),
    "version0": lambda m: {**m, "format_version": 0},
    "version-next": lambda m: {**m, "format_version": FORMAT_VERSION + 1},
    "version-str": lambda m: {**m, "format_version": "1"},
    "nan-std": lambda m: _set(m, ("y_scaler", "std", 0), float("nan")),
    "zero-std": lambda m: _set(m, ("x_scaler", "std", 0), 0.0),
    "low>high": lambda m: _set(m, ("x_transform", "low", 0), 1e9),
    "unknown-kind": lambda m: _set(m, ("model", "kind"), "transformer"),
    "huge-hidden": lambda m: _set(m, ("model", "config", "hidden"), 16384),
    "members": lambda m: _set(_set(m, ("model", "kind"), "ensemble"), ("model", "config", "n_members"), 32),
}


def _set(meta, path, value):
    meta = json.loads(json.dumps(meta))
    node = meta
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return meta


def tamper(name: str, change) -> Path:
    """A fresh copy of base directory ``name`` with ``change`` applied; returns its path."""
    source, meta = base_directories()[name]
    target = Path(tempfile.mkdtemp(prefix="innfer-tampered-")) / name
    shutil.copytree(source, target)
    kind, what, how = change
    meta_file = target / "estimator.json"
    if kind == "file":
        file = target / what
        blob = file.read_bytes()
        if how == "delete":
            file.unlink()
        else:
            blob = {
                "truncate": blob[: len(blob) // 2],
                "empty": b"",
                "flip": blob[: len(blob) // 2] + bytes([blob[len(blob) // 2] ^ 0x40]) + blob[len(blob) // 2 + 1 :],
            }[how]
            file.write_bytes(blob)
        return target
    if kind == "special":
        if what == "nested":  # the metadata nested 5000 deep
            text = json.dumps({**meta, "metadata": None}).replace(
                '"metadata": null', '"metadata": ' + "[" * 5000 + "]" * 5000
            )
        else:
            edited = _SPECIAL[what](meta)
            text = json.dumps(sign_metadata(edited) if isinstance(edited, dict) else edited)
        meta_file.write_text(text)
        return target
    meta = json.loads(json.dumps(meta))
    node = meta
    for key in what[:-1]:
        node = node[key]
    if kind == "delete":
        del node[what[-1]]
    else:
        node[what[-1]] = how
    # re-signed, so the edit reaches the schema and the build (an unsigned edit stops at the digest)
    meta_file.write_text(json.dumps(sign_metadata(meta) if what != ("metadata_sha256",) else meta))
    return target


def run_load(args) -> tuple[str, str]:
    """Load a tampered directory: an ArtifactError within 1 s, or an estimator that samples (the
    edit left it valid; an oximetry one must then also estimate or refuse with a ValueError);
    a damaged file (weights, side file, JSON syntax) must be refused."""
    import inn_engine

    name, change = args
    path = tamper(name, change)
    try:
        start = time.perf_counter()
        kind, detail = outcome(lambda: inn_engine.load(path), lambda est: _check_loaded(est))
        if kind == "ok" and name == "oximetry":  # the domain reads its record too
            kind, detail = run_oximetry({"data": np.full((2, 8), 0.3), "n": 16, "estimator": path})
        seconds = time.perf_counter() - start
        if kind == "ValueError" and not detail.startswith("ArtifactError"):
            return "other exception", f"{change}: a ValueError that is not an ArtifactError: {detail}"
        if seconds > 1.0 and kind == "ValueError":
            return "other exception", f"{change}: refused only after {seconds:.1f} s"
        if kind == "ok" and change[0] == "file" and not (change[1] == "estimator.json" and change[2] == "flip"):
            return "other exception", f"{change}: a damaged file was accepted"
        return kind, detail
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def _check_loaded(est):
    y = est.y_scaler.mean[None, :]
    draws = est.sample(y, n=2, seed=0)
    if draws.shape != (1, 2, est.dim_x):
        return "shape mismatch", f"draws {draws.shape}"
    return None


# ---------------------------------------------------------------- the innfer command line

_cell = st.one_of(
    st.floats(-3, 3).map(repr),
    st.floats(-3, 3).map(repr),
    st.sampled_from(["nan", "inf", "1e39", "", "abc", "1j", "-1e400"]),
)


@st.composite
def cli_args(draw):
    """(command kind, contents): an `estimate` input file, or `train -o` options."""
    if draw(st.integers(0, 2)):
        suffix = draw(st.sampled_from([".csv", ".csv", ".npy"]))
        rows, cols = draw(st.integers(0, 3)), draw(st.sampled_from([2, 2, 1, 3]))
        if suffix == ".npy":
            y = draw(_arrays((rows, cols), -3, 3))
            shape = draw(st.sampled_from([None, (-1,), (1, -1, 1)]))
            return "estimate", (suffix, y if shape is None or y.size == 0 else y.reshape(shape))
        header = draw(st.sampled_from([["y0", "y1"], ["y1", "y0"], ["y0"], [], ["a", "y0", "y1"], ["y0", "y0"]]))
        cols = len(header) or cols
        lines = [",".join(header)] if header else []
        lines += [",".join(draw(_cell) for _ in range(cols)) for _ in range(rows)]
        return "estimate", (suffix, "\n".join(lines) + draw(st.sampled_from(["\n", ""])))
    key = draw(st.sampled_from(["hidden", "n_blocks", "coupling", "steps", "lr", "bogus", "seed", "1x", "batch_size"]))
    value = draw(
        st.sampled_from(
            ["abc", "[1, 2]", "{}", "null", "true", "1.5", "-1", "0", "1e400", "[[[[", '"x"', "200000", "nan"]
        )
    )
    return "train", ("-o", f"{key}={value}")


def run_cli(args, grid: Path, model: Path, work: Path) -> tuple[str, str]:
    """Run one `innfer` command; an exit code 0, 1 or 2 with at most one line of error and no
    traceback is allowed; exit 0 must write one output row per input row, finite."""
    from click.testing import CliRunner

    from inn_engine.cli import main

    kind, payload = args
    if kind == "estimate":
        suffix, contents = payload
        source = work / f"input{suffix}"
        if suffix == ".npy":
            np.save(source, contents)
        else:
            source.write_text(contents)
        out = work / "out.csv"
        out.unlink(missing_ok=True)
        command = ["estimate", str(model), str(source), "--out", str(out), "--draws", "8"]
    else:
        command = ["train", str(grid), "--out", str(work / "never"), "--steps", "1", *payload]
    result = CliRunner().invoke(main, command)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return "other exception", "".join(traceback.format_exception(result.exception))[-3000:]
    if result.exit_code not in (0, 1, 2) or "Traceback" in result.output:
        return "other exception", f"exit {result.exit_code}: {result.output[-2000:]}"
    if result.exit_code:
        error_lines = [line for line in result.output.splitlines() if line.startswith("Error")]
        if len(error_lines) != 1:
            return "other exception", f"not one error line: {result.output[-2000:]}"
        return "ValueError", result.output.strip().splitlines()[-1]
    if kind == "estimate":
        import pandas as pd

        table = pd.read_csv(work / "out.csv")
        n_in = _input_rows(payload)
        if len(table) != n_in:
            return "shape mismatch", f"{len(table)} summaries for {n_in} input rows"
        if not np.isfinite(table.select_dtypes("number").to_numpy()).all():
            return "NaN without flag", "non-finite summaries with exit code 0"
    return "ok", ""


def _input_rows(payload) -> int:
    suffix, contents = payload
    if suffix == ".npy":
        return 1 if np.ndim(contents) == 1 else len(contents)
    lines = [line for line in contents.splitlines() if line.strip()]
    numeric = lines and all(_is_number(t) for t in lines[0].split(","))
    return len(lines) - (0 if numeric else 1)
