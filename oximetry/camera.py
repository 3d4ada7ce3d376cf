"""Multispectral cameras: bands as filter responses on a wavelength grid.

A band's value is the response-weighted mean of the reflectance spectrum over the grid
(responses are normalized to sum to one per band). The default is the 8-band camera of the
paper (Wirkert et al. 2016): rectangular 10 nm windows centred on 470, 480, 511, 560, 580,
600, 660 and 700 nm, each sampled at the midpoints of 2 nm cells.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np

from oximetry.optics import extinction_table

__all__ = ["Camera", "PAPER_BAND_CENTRES_NM", "default_camera"]

PAPER_BAND_CENTRES_NM = (470.0, 480.0, 511.0, 560.0, 580.0, 600.0, 660.0, 700.0)


class Camera:
    """Band responses ``responses`` (n_bands, n_wavelengths) on ``wavelengths_nm`` (n_wavelengths,).

    Responses must be finite and >= 0 with a positive sum per band; they are normalized so
    each row sums to one. ``band_names`` default to ``R_<centre>`` from the response-weighted
    mean wavelength.
    """

    def __init__(self, responses, wavelengths_nm, band_names=None, name: str = "custom"):
        responses = np.asarray(responses, dtype=float)
        wavelengths = np.asarray(wavelengths_nm, dtype=float)
        if wavelengths.ndim != 1 or wavelengths.size == 0:
            raise ValueError(f"wavelengths_nm must be a non-empty 1-D array, got shape {wavelengths.shape}")
        if responses.ndim != 2 or responses.shape[1] != wavelengths.size:
            raise ValueError(
                f"responses must have shape (n_bands, {wavelengths.size}) to match wavelengths_nm, "
                f"got {responses.shape}"
            )
        if not np.all(np.isfinite(responses)) or np.any(responses < 0):
            raise ValueError("responses must be finite and >= 0")
        if np.any(responses.sum(axis=1) <= 0):
            raise ValueError("every band's response must have a positive sum")
        lo, hi = extinction_table()[0][[0, -1]]
        if not np.all(np.isfinite(wavelengths)) or wavelengths.min() < lo or wavelengths.max() > hi:
            raise ValueError(f"wavelengths_nm must lie within [{lo:g}, {hi:g}] nm")
        self.responses = responses / responses.sum(axis=1, keepdims=True)
        self.wavelengths_nm = wavelengths
        centres = self.responses @ wavelengths  # (the centres_nm property, before the attributes exist)
        self.band_names = list(band_names) if band_names is not None else [f"R_{c:g}" for c in np.round(centres, 1)]
        if len(self.band_names) != responses.shape[0] or len(set(self.band_names)) != len(self.band_names):
            raise ValueError(f"band_names must be {responses.shape[0]} distinct names, got {band_names!r}")
        self.name = str(name)

    @classmethod
    def from_bands(cls, centres_nm, fwhm_nm, step_nm: float = 2.0, shape: str = "rect", name: str = "custom"):
        """Bands from centres and full widths at half maximum (nm).

        ``shape="rect"``: flat windows [c - w/2, c + w/2] sampled at the midpoints of cells of
        at most ``step_nm``; ``"gauss"``: Gaussian responses sampled every ``step_nm`` within
        +-1.5 FWHM. Bands share one wavelength grid (the union of their samples).
        """
        centres = np.atleast_1d(np.asarray(centres_nm, dtype=float))
        widths = np.broadcast_to(np.asarray(fwhm_nm, dtype=float), centres.shape)
        if np.any(widths <= 0) or not np.all(np.isfinite(widths)):
            raise ValueError("fwhm_nm must be finite and > 0")
        if not step_nm > 0:
            raise ValueError(f"step_nm must be > 0, got {step_nm!r}")
        if shape not in ("rect", "gauss"):
            raise ValueError(f"shape must be 'rect' or 'gauss', got {shape!r}")
        samples = []
        for c, w in zip(centres, widths):
            if shape == "rect":
                cells = max(1, math.ceil(w / step_nm - 1e-9))
                points = c - w / 2 + (np.arange(cells) + 0.5) * w / cells
                weights = np.ones(cells)
            else:
                half = math.ceil(1.5 * w / step_nm)
                points = c + step_nm * np.arange(-half, half + 1)
                weights = np.exp(-4 * math.log(2) * ((points - c) / w) ** 2)
            samples.append((np.round(points, 9), weights))
        grid = np.unique(np.concatenate([p for p, _ in samples]))
        responses = np.zeros((centres.size, grid.size))
        for band, (points, weights) in enumerate(samples):
            np.add.at(responses[band], np.searchsorted(grid, points), weights)
        names = [f"R_{c:g}" for c in centres]
        return cls(responses, grid, band_names=names, name=name)

    @classmethod
    def from_file(cls, path) -> "Camera":
        """A camera from a file (the ``--camera`` of ``innfer simulate oximetry``):

        - a CSV with a header ``wavelength_nm,<band>,<band>,...`` and one row per wavelength
          [nm] holding each band's relative spectral response (>= 0, any scale), or
        - a JSON object ``{"centres_nm": [...], "fwhm_nm": 10 or [...], "shape": "rect"|"gauss",
          "step_nm": 2, "name": "..."}`` of idealized filters (:meth:`from_bands`).
        ValueError naming the file and what is wrong with it.
        """
        path = Path(path)
        if path.suffix.lower() == ".json":
            spec = json.loads(path.read_text())
            if not isinstance(spec, dict) or "centres_nm" not in spec or "fwhm_nm" not in spec:
                raise ValueError(f"camera file {path}: a JSON camera needs 'centres_nm' and 'fwhm_nm'")
            unknown = set(spec) - {"centres_nm", "fwhm_nm", "shape", "step_nm", "name"}
            if unknown:
                raise ValueError(f"camera file {path}: unknown keys {sorted(unknown)}")
            return cls.from_bands(
                spec["centres_nm"],
                spec["fwhm_nm"],
                step_nm=spec.get("step_nm", 2.0),
                shape=spec.get("shape", "rect"),
                name=spec.get("name", path.stem),
            )
        if path.suffix.lower() != ".csv":
            raise ValueError(f"camera file {path}: expected a .csv (responses) or .json (band centres and widths)")
        header = path.read_text().splitlines()[0].split(",")
        if len(header) < 2 or header[0].strip() != "wavelength_nm":
            raise ValueError(f"camera file {path}: the CSV header must be 'wavelength_nm,<band>,...', got {header}")
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        if table.shape[1] != len(header):
            raise ValueError(f"camera file {path}: rows have {table.shape[1]} columns, the header {len(header)}")
        return cls(table[:, 1:].T, table[:, 0], band_names=[h.strip() for h in header[1:]], name=path.stem)

    @classmethod
    def from_metadata(cls, meta: dict) -> "Camera":
        """The camera that :meth:`metadata` describes (as recorded in grids and estimators)."""
        return cls(
            np.asarray(meta["responses"]),
            np.asarray(meta["wavelengths_nm"]),
            band_names=meta["band_names"],
            name=meta.get("name", "custom"),
        )

    @property
    def n_bands(self) -> int:
        return self.responses.shape[0]

    @property
    def centres_nm(self) -> np.ndarray:
        """Response-weighted mean wavelength of every band (n_bands,), nm."""
        return self.responses @ self.wavelengths_nm

    def band_values(self, spectra) -> np.ndarray:
        """Band values (..., n_bands) of spectra (..., n_wavelengths) on :attr:`wavelengths_nm`."""
        spectra = np.asarray(spectra, dtype=float)
        if spectra.shape[-1] != self.wavelengths_nm.size:
            raise ValueError(f"spectra must end with {self.wavelengths_nm.size} wavelengths, got shape {spectra.shape}")
        return spectra @ self.responses.T

    def metadata(self) -> dict:
        """JSON-safe description (name, band names, wavelengths, responses)."""
        return {
            "name": self.name,
            "band_names": self.band_names,
            "wavelengths_nm": self.wavelengths_nm.tolist(),
            "responses": self.responses.tolist(),
        }

    def __eq__(self, other):
        return (
            isinstance(other, Camera)
            and self.band_names == other.band_names
            and np.array_equal(self.wavelengths_nm, other.wavelengths_nm)
            and np.array_equal(self.responses, other.responses)
        )

    def __hash__(self):
        return hash((tuple(self.band_names), self.wavelengths_nm.tobytes(), self.responses.tobytes()))

    def __repr__(self):
        return f"Camera(name={self.name!r}, bands={self.band_names})"


@functools.lru_cache(maxsize=1)
def default_camera() -> Camera:
    """The paper's 8-band camera: 10 nm rectangular windows at 2 nm steps."""
    return Camera.from_bands(PAPER_BAND_CENTRES_NM, 10.0, step_nm=2.0, shape="rect", name="paper-8band")
