"""oximetry as an innfer domain: ``innfer simulate oximetry``, and estimators ``oximetry.estimate`` can use.

Registered under the entry-point group ``innfer.domains`` (pyproject.toml). An estimator
trained by ``innfer train`` on an oximetry grid conditions on the intensity-invariant
reflectance features (:mod:`oximetry.features`), like the packaged one, and carries the same
``oximetry`` record (camera, prior, noise, solver, features, OOD density) and side files
(sO2 quantile head, highlight detector), so :func:`oximetry.estimate` treats both alike.
"""

from __future__ import annotations

import numpy as np

from inn_engine.domain import Conditioning, Domain, DomainOption, SideModels
from oximetry.camera import Camera
from oximetry.features import FEATURE_KINDS, feature_names, reflectance_features
from oximetry.highlight import HIGHLIGHT_FILE, fit_highlight_detector
from oximetry.ood import SpectrumOOD
from oximetry.quantile_head import HEAD_FILE, fit_quantile_head
from oximetry.simulator import OximetrySimulator

__all__ = [
    "OximetryDomain",
    "DOMAIN",
    "FEATURES",
    "HEAD_QUANTILES",
    "HEAD_STEPS",
    "HIGHLIGHT_TRAIN_ROWS",
    "fit_side_models",
    "side_model_steps",
]

FEATURES = "relative"  # the conditions of every oximetry estimator: log r_b - mean_b log r_b
HEAD_QUANTILES = (0.025, 0.16, 0.5, 0.84, 0.975)  # sO2 quantiles of the fast whole-image head
HEAD_STEPS = 4000  # training steps of the quantile head (batch 1024)
HIGHLIGHT_STEPS = 3000  # training steps of the highlight detector
HIGHLIGHT_TRAIN_ROWS = 200_000  # tissue spectra (and as many highlight copies) for the highlight detector


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"expected a number > 0, got {text!r}")
    return value


def side_model_steps(n_rows: int) -> int:
    """Training steps of the two MLP side models for ``n_rows`` spectra: ~10 passes over small
    sets (batch 1024), at least 500, at most :data:`HEAD_STEPS` (what large sets get)."""
    return int(np.clip(10 * n_rows // 1024, 500, HEAD_STEPS))


def fit_side_models(
    y: np.ndarray,
    y_held_out: np.ndarray,
    sO2: np.ndarray,
    camera: Camera,
    seed: int = 0,
    head_steps: int = HEAD_STEPS,
    highlight_steps: int = HIGHLIGHT_STEPS,
):
    """The models beside the cINN in an oximetry estimator, fitted on training reflectances.

    y (n, bands) training reflectances with their true sO2 (n,) [fraction]; y_held_out (m,
    bands) tissue reflectances not fitted on, which set the false-alarm thresholds (0.5 %).
    Returns (OOD density, highlight detector, sO2 quantile head, or None with ``head_steps=0``).
    """
    density = SpectrumOOD.fit(y, seed=seed).with_threshold(y_held_out)
    highlight = fit_highlight_detector(
        y[:HIGHLIGHT_TRAIN_ROWS], y_held_out, camera.centres_nm, steps=highlight_steps, seed=seed
    )
    head = (
        fit_quantile_head(
            reflectance_features(y, FEATURES), sO2, HEAD_QUANTILES, steps=head_steps, hidden=64, seed=seed
        )
        if head_steps
        else None
    )
    return density, highlight, head


class OximetryDomain(Domain):
    """Layered tissue seen by a multispectral camera (:class:`oximetry.OximetrySimulator`)."""

    name = "oximetry"
    description = "tissue parameters (sO2, blood volume, ...) -> multispectral band reflectances"
    options = (
        DomainOption("prior", "tissue prior [default: colon]", choices=("colon", "generic")),
        DomainOption(
            "camera",
            "camera file: CSV 'wavelength_nm,<band>,...' of responses or JSON {centres_nm, "
            "fwhm_nm, shape} [default: the paper's 8 bands]",
            Camera.from_file,
            metavar="FILE",
        ),
        DomainOption("snr", "signal-to-noise ratio of the multiplicative noise [default: 10]", _positive_float),
    )

    def simulator(self, **options) -> OximetrySimulator:
        return OximetrySimulator(**options)

    def grid_attrs(self, simulator: OximetrySimulator) -> dict:
        return {
            "prior": simulator.model.name,
            "camera": simulator.camera.name,
            "band_names": simulator.camera.band_names,
            "snr": getattr(simulator.noise, "snr", None),
            "solver": simulator.solver_metadata(),
        }

    def record(self, grid_attrs: dict, simulator_metadata: dict) -> dict:
        solver = grid_attrs.get("solver", {})
        return {
            "features": FEATURES,
            "camera": simulator_metadata["camera"],
            "band_names": list(grid_attrs["band_names"]),
            "prior": grid_attrs["prior"],
            "snr": grid_attrs.get("snr"),
            "solver": {"method": solver.get("method"), "n_quad": solver.get("n_quad")},
        }

    def conditioning(self, record: dict, obs_names: list[str], obs_units: list[str]) -> Conditioning:
        kind = record.get("features", FEATURES)
        names = feature_names(obs_names, kind)
        return Conditioning(tuple(names), ("log ratio",) * len(names), lambda y: reflectance_features(y, kind))

    def side_models(self, record: dict, x: np.ndarray, y: np.ndarray, param_names: list[str], seed: int) -> SideModels:
        """OOD density, highlight detector and sO2 quantile head, fitted on the training rows
        (thresholds on their last 10 %, which the density and detector do not see)."""
        j = param_names.index("sO2")
        cut = int(0.9 * len(y))
        steps = side_model_steps(cut)
        density, highlight, head = fit_side_models(
            y[:cut],
            y[cut:],
            x[:cut, j],
            Camera.from_metadata(record["camera"]),
            seed=seed,
            head_steps=min(steps, HEAD_STEPS),
            highlight_steps=min(steps, HIGHLIGHT_STEPS),
        )
        return SideModels(
            record={"ood": density.to_dict()}, files={HEAD_FILE: head.to_bytes(), HIGHLIGHT_FILE: highlight.to_bytes()}
        )

    def check_record(self, metadata: dict) -> None:
        record = metadata.get(self.name)
        if not isinstance(record, dict):
            raise ValueError(
                "not an oximetry estimator: its metadata has no 'oximetry' record; make one with "
                "oximetry.train() or `innfer train` on a grid of `innfer simulate oximetry`"
            )
        missing = sorted({"features", "camera", "band_names", "prior", "ood"} - set(record))
        if missing:
            raise ValueError(f"the estimator's 'oximetry' record lacks {missing}")
        bands = record["band_names"]
        if not (isinstance(bands, list) and bands and all(isinstance(b, str) for b in bands)):
            raise ValueError(f"the 'oximetry' record's band_names must be a list of band names, got {bands!r}")
        if record["features"] not in FEATURE_KINDS or not isinstance(record["camera"], dict):
            raise ValueError(f"the 'oximetry' record needs features in {FEATURE_KINDS} and a camera object")
        try:  # the OOD density must score a spectrum of these bands
            score = SpectrumOOD.from_dict(record["ood"]).score(np.full((1, len(bands)), 0.3))
        except Exception as err:  # noqa: BLE001 - any failure means a damaged record
            raise ValueError(f"the 'oximetry' record's OOD density is damaged ({type(err).__name__}: {err})") from err
        if not np.all(np.isfinite(score)):
            raise ValueError("the 'oximetry' record's OOD density gives a non-finite score: it is damaged")


DOMAIN = OximetryDomain()
