"""The oximetry forward model as an inn_engine Simulator: tissue parameters -> noisy band reflectances."""

from __future__ import annotations

import numpy as np

from inn_engine.simulator import Observable, Simulator, as_generator
from oximetry.camera import Camera, default_camera
from oximetry.forward import METHODS, band_reflectance
from oximetry.noise import MultiplicativeNoise, ShotReadNoise
from oximetry.tissue import TissueModel, tissue_model

__all__ = ["OximetrySimulator"]


class OximetrySimulator(Simulator):
    """Layered tissue (``prior`` "colon" or "generic") seen by a multispectral ``camera``.

    ``simulate`` returns band reflectances (fractions) from ``solver`` ("fast":
    adding-doubling with ``n_quad`` points; "mc": Monte Carlo with ``n_photons``;
    "surrogate": the packaged neural surrogate, colon prior and default camera only) with
    measurement ``noise`` (default: multiplicative Gaussian at ``snr``; pass a
    :class:`~oximetry.noise.ShotReadNoise` for shot + read noise). Picklable and small.
    """

    def __init__(
        self,
        prior: str | TissueModel = "colon",
        camera: Camera | None = None,
        snr: float = 10.0,
        solver: str = "fast",
        n_quad: int = 16,
        n_photons: int | None = None,
        noise: MultiplicativeNoise | ShotReadNoise | None = None,
    ):
        if solver not in METHODS:
            raise ValueError(f"solver must be one of {METHODS}, got {solver!r}")
        self.model = tissue_model(prior)
        self.camera = default_camera() if camera is None else camera
        if not isinstance(self.camera, Camera):
            raise ValueError(f"camera must be an oximetry.Camera or None, got {type(camera).__name__}")
        if solver == "surrogate" and (self.model.name != "colon" or self.camera != default_camera()):
            raise ValueError("solver='surrogate' covers the colon prior with the default camera only")
        self.noise = MultiplicativeNoise(snr) if noise is None else noise
        self.solver = solver
        self.n_quad = int(n_quad)
        self.n_photons = n_photons
        self.parameters = self.model.parameters
        self.observables = tuple(
            Observable(name, "fraction", f"diffuse reflectance in camera band {name}")
            for name in self.camera.band_names
        )

    def sample_prior(self, n: int, rng=None) -> np.ndarray:
        return self.model.sample(n, rng)

    def noiseless(self, x, seed: int = 0) -> np.ndarray:
        """Band reflectances without measurement noise, (n, n_bands)."""
        return band_reflectance(
            self.check_x(x),
            self.camera,
            method=self.solver,
            n_photons=self.n_photons,
            seed=seed,
            prior=self.model,
            n_quad=self.n_quad,
        )

    def simulate(self, x, rng=None) -> np.ndarray:
        rng = as_generator(rng)
        seed = int(rng.integers(2**31)) if self.solver == "mc" else 0
        return self.noise.apply(self.noiseless(x, seed=seed), rng)

    def solver_metadata(self) -> dict:
        solver = {"method": self.solver}
        if self.solver == "fast":
            solver.update(name="adding-doubling", n_quad=self.n_quad)
        elif self.solver == "surrogate":
            from oximetry.surrogate import surrogate_report

            report = surrogate_report()
            solver.update(
                name="neural surrogate of adding-doubling (N = 16)",
                test_median_rel_error=report.get("test_median_rel_error"),
                test_p99_rel_error=report.get("test_p99_rel_error"),
            )
        else:
            solver.update(name="monte-carlo (MCML)", n_photons=self.n_photons)
        return solver

    def metadata(self) -> dict:
        meta = super().metadata()
        meta.update(
            prior=self.model.metadata(),
            camera=self.camera.metadata(),
            noise=self.noise.metadata(),
            solver=self.solver_metadata(),
        )
        return meta
