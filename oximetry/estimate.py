"""``oximetry.estimate``: posterior summaries of sO2 and the other tissue parameters per spectrum or pixel.

The packaged estimator (:mod:`oximetry.pretrain`) is a cINN conditioned on
intensity-invariant reflectance features; its artifact also holds the feature density
whose score flags out-of-distribution spectra.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from inn_engine.checks import check_array, check_integer, check_labels, check_seed, check_shape, check_work, torch_seed
from inn_engine.estimator import Estimator
from inn_engine.population import Population
from inn_engine.posterior import summarize
from inn_engine.progress import Progress
from oximetry.camera import Camera
from oximetry.features import reflectance_features
from oximetry.highlight import HIGHLIGHT_FILE, HighlightDetector
from oximetry.image_population import fit_image_population, population_params
from oximetry.noise import calibrate
from oximetry.ood import SpectrumOOD
from oximetry.quantile_head import HEAD_FILE, QuantileHead

__all__ = ["estimate", "load_estimator", "MAX_REFLECTANCE", "QUANTILES", "AUTO_MAX_DRAWS"]

MAX_REFLECTANCE = 1.5  # above this a calibrated diffuse reflectance is not physical (specular/saturated)
QUANTILES = {"q025": 0.025, "q16": 0.16, "median": 0.5, "q84": 0.84, "q975": 0.975}
_SPECTRA_PER_BLOCK = 2048  # bounds memory: block x draws x params float64
#: ``method="auto"`` samples full posteriors while spectra x draws stays within this (4096
#: spectra at the default n=256, ~5 s on 2 cores) and uses the quantile head above it
AUTO_MAX_DRAWS = 1 << 20
_DIMS_BY_NDIM = {1: (), 2: ("spectrum",), 3: ("y", "x")}


#: the paper's padded INN (Ardizzone et al. 2019), packaged beside the default cINN:
#: ``estimate(data, estimator=PAPER_INN_DIR)``; built by ``oximetry.pretrain`` (settings PAPER_INN)
PAPER_INN_DIR = Path(__file__).resolve().parent / "paper_inn"


@functools.lru_cache(maxsize=4)
def _load(path: str) -> Estimator:
    return Estimator.load(path)


def _estimator_dir(path=None) -> Path:
    from oximetry.pretrain import PACKAGED_DIR

    if not (path is None or isinstance(path, (str, os.PathLike))):
        raise ValueError(
            f"estimator must be None, an estimator directory or a loaded Estimator, got {type(path).__name__}"
        )
    return Path(path or PACKAGED_DIR).resolve()


def load_estimator(path=None) -> Estimator:
    """The estimator in directory ``path`` (default: the packaged ``oximetry/pretrained``), cached.

    ArtifactError (a ValueError) when it lacks the oximetry record (features, camera, OOD
    density) that :func:`estimate` needs, or the record is damaged.
    """
    from inn_engine.artifact import ArtifactError
    from oximetry.domain import DOMAIN

    path = _estimator_dir(path)
    estimator = _load(str(path))
    try:
        DOMAIN.check_record(estimator.metadata)
        if len(estimator.metadata["oximetry"]["band_names"]) != estimator.dim_y:
            raise ValueError(
                f"its 'oximetry' record names {len(estimator.metadata['oximetry']['band_names'])} "
                f"bands for a network of {estimator.dim_y} features"
            )
        if "sO2" not in estimator.param_names:
            raise ValueError(f"an oximetry estimator infers sO2; this one infers {estimator.param_names}")
        j = estimator.param_names.index("sO2")
        low, high = estimator.x_transform.low[j], estimator.x_transform.high[j]
        if not 0.0 <= low < high <= 1.0:  # draws are mapped into these bounds: sO2 is a fraction
            raise ValueError(f"its sO2 bounds must lie within [0, 1], got [{low}, {high}]")
    except ValueError as err:
        raise ArtifactError(f"{path}: {err}") from err
    return estimator


def _check_camera(estimator: Estimator, camera: Camera | None) -> None:
    if camera is None:
        return
    if not isinstance(camera, Camera):
        raise ValueError(f"camera must be an oximetry.Camera or None, got {type(camera).__name__}")
    trained = estimator.metadata["oximetry"]["camera"]
    if camera.metadata() != trained:
        raise ValueError(
            f"this estimator was trained for the camera {trained.get('name')!r} (bands "
            f"{estimator.metadata['oximetry']['band_names']}); its posteriors do not hold for camera "
            f"{camera.name!r}. Train an estimator for yours with oximetry.train(camera=your_camera, out=...) "
            f"and pass estimator=that directory"
        )


def _as_array(data, band_names: list[str]) -> tuple[np.ndarray, tuple, dict]:
    """(values (..., n_bands) float64, dims, coords) from numpy-like or xarray input."""
    if isinstance(data, xr.Dataset):
        raise ValueError(
            "data must be an array or an xarray.DataArray with a 'band' dim, not a Dataset; "
            "pick the reflectance variable, e.g. ds['reflectance']"
        )
    if isinstance(data, xr.DataArray):
        if "band" not in data.dims:
            raise ValueError(f"an xarray input needs a 'band' dim, got dims {data.dims}")
        if "band" in data.coords and data["band"].dtype.kind in "USO":
            data = data.isel(band=check_labels("data's band coordinate", data["band"].values, band_names))
        data = data.transpose(..., "band")
        dims = tuple(d for d in data.dims if d != "band")
        coords = {k: v for k, v in data.coords.items() if "band" not in v.dims}
        return _checked_values(data.values, len(band_names)), dims, coords
    values = _checked_values(data, len(band_names))
    if values.ndim not in _DIMS_BY_NDIM:
        raise ValueError(
            f"data must be one spectrum ({len(band_names)},), a batch (n, {len(band_names)}) or an "
            f"image cube (H, W, {len(band_names)}); got shape {values.shape}"
        )
    return values, _DIMS_BY_NDIM[values.ndim], {}


def _checked_values(data, n_bands: int) -> np.ndarray:
    a = np.asarray(data)
    if a.dtype.kind not in "iuf":
        raise ValueError(f"data must hold real numbers (float or integer counts), got dtype {a.dtype}")
    if a.ndim == 0 or a.shape[-1] != n_bands:
        raise ValueError(f"data's last axis must hold the {n_bands} bands, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"data is empty (shape {a.shape}): give at least one spectrum")
    return a


def _validity(r: np.ndarray) -> np.ndarray:
    """A reason string per spectrum (...): '' when valid, else why it was masked."""
    reason = np.full(r.shape[:-1], "", dtype=object)
    checks = [
        (np.any(r > MAX_REFLECTANCE, axis=-1), f"reflectance above {MAX_REFLECTANCE} (specular or saturated)"),
        (np.any(r <= 0, axis=-1), "reflectance <= 0 (dark or over-subtracted pixel)"),
        (~np.all(np.isfinite(r), axis=-1), "NaN or infinite reflectance"),
    ]
    with np.errstate(invalid="ignore"):
        for bad, why in checks:
            reason[bad] = why
    return reason.astype(str)


def _posterior_summaries(
    est: Estimator,
    features: np.ndarray,
    n: int,
    draws: int | None,
    seed: int,
    progress: bool | None,
    population: Population | None = None,
):
    """Per-spectrum mean, std and :data:`QUANTILES` (each (m, d); :func:`inn_engine.posterior.summarize`),
    optional draws (m, draws, d) and, under an image ``population``, each spectrum's effective
    draws (m,) (None without); rows left without a draw in the population are NaN."""
    m, d = features.shape[0], est.dim_x
    stats = {k: np.empty((m, d)) for k in ["mean", "std", *QUANTILES]}
    samples = np.empty((m, int(draws), d)) if draws else None
    ess = None if population is None else np.empty(m)
    shown = progress if progress is not None else (None if m > _SPECTRA_PER_BLOCK else False)
    columns = [str(j) for j in range(d)]
    with Progress(
        m, f"oximetry.estimate: {n} posterior draws per spectrum", unit="spectrum", plural="spectra", enabled=shown
    ) as bar:
        for start in range(0, m, _SPECTRA_PER_BLOCK):
            rows = slice(start, start + _SPECTRA_PER_BLOCK)
            s = est.sample(features[rows], n, seed=seed + start)
            if population is not None:
                s, ess[rows] = population.reweight(s, seed=seed + start)
            block = summarize(s, columns, QUANTILES.values())
            for key in stats:
                stats[key][rows] = np.stack([block[f"{c}_{key}"] for c in columns], axis=1)
            if samples is not None:
                samples[rows] = s[:, : int(draws)]
            bar.update(len(s))
    return stats, samples, ess


def _chosen_method(
    method: str, n_spectra: int, n: int, draws: int | None, estimator_dir: Path | None, population: bool = False
):
    """("sample" or "quantiles", why) for the ``method`` argument, the input's size and
    whether an image ``population`` is asked for."""
    if method != "auto":
        return method, f"method={method!r} was asked for"
    size = f"{n_spectra} spectra x {n} draws"
    if draws is not None:
        return "sample", "auto: draws= asks for posterior draws"
    if population:
        return "sample", "auto: population= reweights posterior draws"
    if n_spectra * n <= AUTO_MAX_DRAWS:
        return "sample", f"auto: {size} <= AUTO_MAX_DRAWS ({AUTO_MAX_DRAWS}): full posteriors of every parameter"
    if estimator_dir is None or not (estimator_dir / HEAD_FILE).is_file():
        return "sample", (
            f"auto: {size} > AUTO_MAX_DRAWS ({AUTO_MAX_DRAWS}), but the estimator has no quantile "
            f"head ({HEAD_FILE}): sampling every parameter"
        )
    return "quantiles", (
        f"auto: {size} > AUTO_MAX_DRAWS ({AUTO_MAX_DRAWS}): the sO2 quantile head, one pass "
        f"per spectrum; method='sample' gives every parameter"
    )


def _head_summaries(estimator_dir: Path, est: Estimator, features: np.ndarray) -> dict:
    """sO2 quantiles (m, 1) per :data:`QUANTILES` key from the directory's quantile head."""
    head_path = estimator_dir / HEAD_FILE
    if not head_path.is_file():
        raise ValueError(
            f"method='quantiles' needs {HEAD_FILE} in the estimator directory {estimator_dir}; "
            f"rebuild it with oximetry.train()"
        )
    head = _load_head(str(head_path))
    levels = {v: k for k, v in QUANTILES.items()}
    if sorted(head.quantiles) != sorted(levels):
        raise ValueError(f"the quantile head gives {head.quantiles}, expected {sorted(levels)}")
    j = est.param_names.index("sO2")
    q = head.predict(features) if len(features) else np.empty((0, len(head.quantiles)))
    q = np.clip(q, est.x_transform.low[j], est.x_transform.high[j])  # quantiles of a bounded sO2
    return {levels[level]: q[:, [i]] for i, level in enumerate(head.quantiles)}


@functools.lru_cache(maxsize=4)
def _load_head(path: str) -> QuantileHead:
    return QuantileHead.load(path)


def _highlight_detector(estimator_dir: Path | None) -> HighlightDetector | None:
    """The directory's specular-highlight detector, or None (no directory or no detector file)."""
    if estimator_dir is None or not (estimator_dir / HIGHLIGHT_FILE).is_file():
        return None
    return _load_detector(str(estimator_dir / HIGHLIGHT_FILE))


@functools.lru_cache(maxsize=4)
def _load_detector(path: str) -> HighlightDetector:
    return HighlightDetector.load(path)


def estimate(
    data,
    *,
    white=None,
    dark=None,
    camera: Camera | None = None,
    draws: int | None = None,
    n: int = 256,
    seed: int = 0,
    estimator=None,
    method: str = "auto",
    population=None,
    progress: bool | None = None,
) -> xr.Dataset:
    """Posterior summaries of every tissue parameter for each spectrum or pixel.

    Args:
        data: band reflectances (fractions): one spectrum (n_bands,), a batch (n, n_bands),
            an image cube (H, W, n_bands), or an xarray.DataArray with a ``band`` dim (its
            other dims and coords are kept; string band labels are matched by name). With
            ``white`` and ``dark`` (broadcasting against data, e.g. per band), ``data`` are raw
            counts calibrated as (data - dark) / (white - dark).
        camera: the camera the data come from; an error if the estimator was trained for
            another (train one with :func:`oximetry.train`).
        draws: also return this many posterior draws per spectrum (variable ``samples``,
            dims (..., draw, param)).
        n: posterior draws per spectrum behind the summaries (>= 16).
        seed: seeds the draws (same seed, same result).
        estimator: an estimator directory made by :func:`oximetry.train` (default: the
            packaged one), or a loaded :class:`~inn_engine.estimator.Estimator` (no
            quantile head: ``method="sample"``, which ``"auto"`` then always picks).
        method: ``"sample"`` - ``n`` cINN draws per spectrum (every parameter; 90,000-185,000
            draws/s on 2 cores, 350-700 spectra/s at n=256); ``"quantiles"`` - the
            directory's pinball-loss sO2 head (:mod:`oximetry.quantile_head`): only
            ``sO2_median`` / ``_q025`` / ``_q16`` / ``_q84`` / ``_q975``, one MLP pass per
            pixel (a 512 x 512 image in ~1 s of CPU, inputs checks and OOD scores included;
            its calibration is in the artifact's ``metrics['quantile_head']``); ``"auto"``
            (default) - ``"sample"`` while valid spectra x ``n`` <= :data:`AUTO_MAX_DRAWS`
            (2^20: single spectra, batches and images up to 4096 pixels at n=256) or when
            ``draws`` are asked for, ``"quantiles"`` above that (whole images), and
            ``"sample"`` again when the estimator has no quantile head. The result's attrs
            ``method`` and ``method_reason`` say which ran and why.
        population: None (default: every spectrum under the estimator's flat training prior)
            or an image-level prior (:mod:`oximetry.image_population`): True (over sO2), a
            parameter name or names, e.g. ("sO2", "vhb_1"); False is None. Their distribution among the input's
            valid spectra not flagged OOD (at least 50) is fitted from ``n`` draws of up
            to 2000 of them, and every spectrum's draws are reweighted under it (needs
            ``method="sample"``, which ``"auto"`` then picks). It sharpens the common tissue of
            an image and pulls small distinct regions towards it (README: the phantom).
        progress: show progress of the sampling (None: when it spans more than one block of
            2048 spectra, as a bar on a terminal or plain lines every 30 s in a log; see
            :class:`inn_engine.progress.Progress`).

    Returns:
        xarray.Dataset over the input's dims (``spectrum`` for a batch, ``y``/``x`` for a
        cube, none for one spectrum) with ``P_median``, ``P_mean``, ``P_std``, ``P_q025``,
        ``P_q16``, ``P_q84``, ``P_q975`` for every parameter P (units in attrs; with the
        quantile head only ``sO2_median`` and its quantiles),
        with ``population``, ``effective_draws`` (the draws' effective number under it;
        spectra with none lie outside it and are masked) and ``attrs["population"]`` (the
        fitted population, JSON of :meth:`inn_engine.population.Population.to_dict`);
        ``ood_score`` (-log density of the spectrum's shape plus a penalty for brightness above the
        training data, nats; :mod:`oximetry.ood`), ``highlight_score`` (when the estimator
        directory has a highlight detector, :mod:`oximetry.highlight`), ``ood`` (bool: a
        score above its threshold, or the spectrum is invalid), ``valid`` and ``reason`` (why
        a spectrum was masked; its summaries are NaN). ValueError for malformed input, and
        for a single spectrum that is invalid.
    """
    if method not in ("auto", "sample", "quantiles"):
        raise ValueError(f"method must be 'auto', 'sample' or 'quantiles', got {method!r}")
    if isinstance(estimator, Estimator):
        if method == "quantiles":
            raise ValueError(
                "method='quantiles' needs an estimator directory (with its quantile head), not a loaded Estimator"
            )
        est, estimator_dir = estimator, None
    else:
        est, estimator_dir = load_estimator(estimator), _estimator_dir(estimator)
    record = est.metadata["oximetry"]
    _check_camera(est, camera)
    n = check_integer("n (posterior draws per spectrum)", n, 16)
    draws = None if draws is None else check_integer("draws", draws, 1)
    seed = torch_seed(check_seed("seed", seed))
    if draws is not None and method == "quantiles":
        raise ValueError("draws need method='sample'")
    population = None if population is False else population
    if population is not None and method == "quantiles":
        raise ValueError("population= reweights posterior draws: it needs method='sample' (or 'auto')")
    params = None if population is None else population_params(est, population)
    n_total = max(n, draws or 0)

    values, dims, coords = _as_array(data, list(record["band_names"]))
    if (white is None) != (dark is None):
        raise ValueError("give both white and dark references for raw counts, or neither for reflectance")
    if white is not None:
        shape = values.shape
        values = calibrate(values, check_array("white", white), check_array("dark", dark))
        check_shape("white and dark", values.shape, shape)
    elif values.dtype.kind in "iu":
        raise ValueError("integer data look like raw counts: pass white= and dark= references to calibrate them")
    r = np.asarray(values, dtype=float)
    reason = _validity(r)
    if r.ndim == 1 and reason.item():
        raise ValueError(f"the spectrum is invalid: {reason.item()}")
    flat_r, flat_reason = r.reshape(-1, r.shape[-1]), reason.reshape(-1).astype(object)
    check_work(
        f"{flat_r.shape[0]} spectra x {draws or 0} draws x {est.dim_x} parameters x 8 bytes",
        8.0 * flat_r.shape[0] * (draws or 0) * est.dim_x,
    )
    check_work(
        f"{_SPECTRA_PER_BLOCK} spectra x {n_total} draws x {est.dim_x} parameters x 8 bytes",
        8.0 * min(_SPECTRA_PER_BLOCK, flat_r.shape[0]) * n_total * est.dim_x,
    )
    ok = np.flatnonzero(flat_reason == "")
    features = reflectance_features(flat_r[ok], record["features"]) if ok.size else np.empty((0, r.shape[-1]))
    far = est.refused_rows(features)
    flat_reason[ok[far]] = "spectrum far outside the training data (features beyond the estimator's range)"
    flat_reason = flat_reason.astype(str)
    if r.ndim == 1 and flat_reason[0]:
        raise ValueError(f"the spectrum is invalid: {flat_reason[0]}")
    ok, features = ok[~far], features[~far]

    n_pix, shape = flat_r.shape[0], r.shape[:-1]
    score = np.full(n_pix, np.nan)
    density = SpectrumOOD.from_dict(record["ood"])
    if ok.size:
        score[ok] = density.score(flat_r[ok])
    flagged = (score > density.threshold) | (flat_reason != "")
    detector = _highlight_detector(estimator_dir)
    if detector is not None:
        logit = np.full(n_pix, np.nan)
        if ok.size:
            logit[ok] = detector.score(flat_r[ok])
        flagged |= logit > detector.threshold

    method, reason_for_method = _chosen_method(
        method, ok.size, n_total, draws, estimator_dir, population=params is not None
    )
    fitted = None if params is None else fit_image_population(est, features[~flagged[ok]], params, n_total, seed)
    if method == "sample":
        names, units = est.param_names, est.param_units
        stats, samples, ess = _posterior_summaries(est, features, n_total, draws, seed, progress, fitted)
        keys = ("median", "mean", "std", *[k for k in QUANTILES if k != "median"])
    else:
        j = est.param_names.index("sO2")
        names, units = ["sO2"], [est.param_units[j]]
        stats, samples, ess = _head_summaries(estimator_dir, est, features), None, None
        keys = ("median", *[k for k in QUANTILES if k != "median"])
    if ess is not None:
        outside = ok[ess == 0]
        flat_reason = flat_reason.astype(object)
        flat_reason[outside] = "no posterior draw lies in the image's population"
        flat_reason = flat_reason.astype(str)
        flagged[outside] = True

    out = xr.Dataset(coords=coords)
    for j, (name, unit) in enumerate(zip(names, units)):
        for key in keys:
            full = np.full(n_pix, np.nan)
            full[ok] = stats[key][:, j]
            out[f"{name}_{key}"] = (dims, full.reshape(shape), {"units": unit})
    out["ood_score"] = (dims, score.reshape(shape), {"units": "nats", "description": "OOD score (oximetry.ood)"})
    if detector is not None:
        out["highlight_score"] = (
            dims,
            logit.reshape(shape),
            {"description": "specular-highlight logit (oximetry.highlight)", "threshold": detector.threshold},
        )
    out["ood"] = (
        dims,
        flagged.reshape(shape),
        {
            "threshold": density.threshold,
            "threshold_quantile": density.quantile,
            "description": "ood_score above its threshold, a highlight, or an invalid spectrum",
        },
    )
    if ess is not None:
        full = np.full(n_pix, np.nan)
        full[ok] = ess
        out["effective_draws"] = (dims, full.reshape(shape), {"description": "effective draws under the population"})
    out["valid"] = (dims, (flat_reason == "").reshape(shape))
    out["reason"] = (dims, flat_reason.reshape(shape))
    if samples is not None:
        full = np.full((n_pix, int(draws), est.dim_x), np.nan)
        full[ok] = samples
        out["samples"] = ((*dims, "draw", "param"), full.reshape(*shape, int(draws), est.dim_x))
        out = out.assign_coords(param=list(est.param_names))
    out.attrs.update(
        features=record["features"],
        camera=record["camera"].get("name", ""),
        prior=record["prior"],
        method=method,
        method_reason=reason_for_method,
        n_draws=n_total if method == "sample" else 0,
        seed=int(seed),
        quantiles="q025=2.5 %, q16=16 %, q84=84 %, q975=97.5 % posterior percentiles",
    )
    if fitted is not None:
        out.attrs["population"] = json.dumps(fitted.to_dict())
    return out
