"""``innfer simulate``: which simulator a command line names, and the grid it makes.

Domains: ``oximetry`` (:class:`oximetry.OximetrySimulator`; ``--prior``, ``--camera``,
``--snr``), ``astro`` (:class:`astro.ClusterSimulator`; ``--bands``), ``toy-ik``
(:class:`inn_engine.toys.InverseKinematics`) and ``toy-8modes``
(:class:`inn_engine.toys.EightModes`; ``--labels``).

A camera file (``--camera``) is either
- a CSV with a header ``wavelength_nm,<band>,<band>,...`` and one row per wavelength
  [nm] holding each band's relative spectral response (>= 0, any scale), or
- a JSON object ``{"centres_nm": [...], "fwhm_nm": 10 or [...], "shape": "rect"|"gauss",
  "name": "..."}`` of idealized filters (:meth:`oximetry.Camera.from_bands`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["DOMAINS", "DOMAIN_OPTIONS", "read_camera", "make_grid"]

DOMAINS = ("oximetry", "astro", "toy-ik", "toy-8modes")
#: which domain-specific options each domain accepts (the others are usage errors)
DOMAIN_OPTIONS = {"oximetry": {"prior", "camera", "snr"}, "astro": {"bands"}, "toy-ik": set(),
                  "toy-8modes": {"labels"}}


def read_camera(path: str | Path):
    """An :class:`oximetry.Camera` from a CSV of responses or a JSON of band centres/widths."""
    from oximetry import Camera

    path = Path(path)
    if path.suffix.lower() == ".json":
        spec = json.loads(path.read_text())
        if not isinstance(spec, dict) or "centres_nm" not in spec or "fwhm_nm" not in spec:
            raise ValueError(f"camera file {path}: a JSON camera needs 'centres_nm' and 'fwhm_nm'")
        unknown = set(spec) - {"centres_nm", "fwhm_nm", "shape", "step_nm", "name"}
        if unknown:
            raise ValueError(f"camera file {path}: unknown keys {sorted(unknown)}")
        return Camera.from_bands(spec["centres_nm"], spec["fwhm_nm"], step_nm=spec.get("step_nm", 2.0),
                                 shape=spec.get("shape", "rect"), name=spec.get("name", path.stem))
    if path.suffix.lower() != ".csv":
        raise ValueError(f"camera file {path}: expected a .csv (responses) or .json (band centres and widths)")
    header = path.read_text().splitlines()[0].split(",")
    if len(header) < 2 or header[0].strip() != "wavelength_nm":
        raise ValueError(f"camera file {path}: the CSV header must be 'wavelength_nm,<band>,...', got {header}")
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    if table.shape[1] != len(header):
        raise ValueError(f"camera file {path}: rows have {table.shape[1]} columns, the header {len(header)}")
    return Camera(table[:, 1:].T, table[:, 0], band_names=[h.strip() for h in header[1:]], name=path.stem)


def make_grid(domain: str, n: int, out: str, *, seed: int, chunk_size: int, scheduler: str | None, workers: int,
              progress: bool, prior: str = "colon", camera: str | None = None, snr: float = 10.0,
              bands: tuple[str, ...] | None = None, labels: str = "all"):
    """Simulate (or resume) the grid ``out`` (a .zarr directory) of ``n`` rows; returns the Dataset."""
    from inn_engine.grid import simulate_grid

    common = dict(seed=seed, chunk_size=chunk_size, scheduler=scheduler, n_workers=workers, progress=progress)
    if domain == "oximetry":
        import oximetry

        cam = read_camera(camera) if camera is not None else None
        return oximetry.simulate_grid(n, prior=prior, camera=cam, path=out, snr=snr, **common)
    if domain == "astro":
        import astro

        options = {"bands": tuple(bands)} if bands else {}
        return astro.simulate_grid(n, out, attrs={"domain": "astro"}, **options, **common)
    from inn_engine.toys import EightModes, InverseKinematics

    simulator = InverseKinematics() if domain == "toy-ik" else EightModes(labels=labels)
    return simulate_grid(simulator, n, out, attrs={"domain": domain}, **common)
