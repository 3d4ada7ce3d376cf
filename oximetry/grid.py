"""Training grids of the oximetry simulator, made by the engine's resumable grid machinery."""

from __future__ import annotations

from oximetry.camera import Camera
from oximetry.simulator import OximetrySimulator
from oximetry.tissue import TissueModel

__all__ = ["simulate_grid"]


def simulate_grid(
    n: int,
    prior: str | TissueModel = "colon",
    camera: Camera | None = None,
    path=None,
    *,
    snr: float = 10.0,
    solver: str = "fast",
    n_quad: int = 16,
    seed: int = 0,
    chunk_size: int = 10_000,
    scheduler: str | None = None,
    n_workers: int = 2,
    progress: bool = True,
):
    """``n`` prior draws and their noisy band reflectances as an xarray.Dataset (see
    :func:`inn_engine.grid.simulate_grid` for ``path`` / resume / ``scheduler`` semantics).

    attrs record the prior, camera, noise and solver that made the grid.
    """
    from oximetry.domain import DOMAIN

    simulator = OximetrySimulator(prior=prior, camera=camera, snr=snr, solver=solver, n_quad=n_quad)
    return DOMAIN.simulate_grid(
        simulator,
        n,
        path,
        seed=seed,
        chunk_size=chunk_size,
        scheduler=scheduler,
        n_workers=n_workers,
        progress=progress,
    )
