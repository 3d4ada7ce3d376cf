"""The noiseless forward model: tissue parameters -> camera band reflectances."""

from __future__ import annotations

import numpy as np

from oximetry.camera import Camera, default_camera
from oximetry.tissue import TissueModel, tissue_model
from oximetry.transport import adding_doubling, monte_carlo

__all__ = ["band_reflectance", "spectral_reflectance", "METHODS", "DEFAULT_MC_PHOTONS"]

METHODS = ("fast", "mc", "surrogate")
DEFAULT_MC_PHOTONS = 100_000
_ROWS_PER_CALL = 2048  # bounds the memory of the per-wavelength slab arrays


def spectral_reflectance(
    x,
    wavelengths_nm,
    method: str = "fast",
    n_photons: int | None = None,
    seed: int = 0,
    prior: str | TissueModel = "colon",
    n_quad: int = 16,
) -> np.ndarray:
    """Diffuse reflectance (n, n_wavelengths) of tissue rows ``x`` (n, n_params) of ``prior``.

    ``method="fast"``: adding-doubling with ``n_quad`` points; ``"mc"``: Monte Carlo with
    ``n_photons`` per tissue and wavelength (default 10^5), seeded by ``seed``.
    """
    if method not in ("fast", "mc"):
        raise ValueError(f"method must be 'fast' or 'mc' for spectra, got {method!r}")
    if n_photons is not None and method != "mc":
        raise ValueError("n_photons applies to method='mc' only")
    model = tissue_model(prior)
    x = model.check_x(x)
    out = np.empty((x.shape[0], np.size(wavelengths_nm)))
    for start in range(0, x.shape[0], _ROWS_PER_CALL):
        rows = slice(start, start + _ROWS_PER_CALL)
        slab = model.slab(x[rows], wavelengths_nm)
        if method == "fast":
            out[rows] = adding_doubling(slab, n_quad=n_quad).diffuse_reflectance
        else:
            photons = DEFAULT_MC_PHOTONS if n_photons is None else n_photons
            out[rows] = monte_carlo(slab, photons, seed=seed + start).diffuse_reflectance
    return out


def band_reflectance(
    x,
    camera: Camera | None = None,
    method: str = "fast",
    n_photons: int | None = None,
    seed: int = 0,
    prior: str | TissueModel = "colon",
    n_quad: int = 16,
) -> np.ndarray:
    """Noiseless band reflectances (n, n_bands) of parameter rows ``x`` (n, 13 for "colon").

    Columns of ``x`` in the order and units of the prior's parameters (colon: sO2, vhb_1..3,
    amie_1..3 [1/cm], g_1..3, d_1..3 [um]). ``camera`` defaults to the paper's 8-band camera;
    each band is the mean diffuse reflectance (specular excluded) over its response.
    ``method="surrogate"``: the packaged neural surrogate of adding-doubling (colon prior and
    the default camera only; see :mod:`oximetry.surrogate`).
    """
    camera = default_camera() if camera is None else camera
    if not isinstance(camera, Camera):
        raise ValueError(f"camera must be an oximetry.Camera or None, got {type(camera).__name__}")
    if method == "surrogate":
        if tissue_model(prior).name != "colon" or camera != default_camera():
            raise ValueError("method='surrogate' covers the colon prior with the default camera only")
        from oximetry.surrogate import colon_surrogate

        return colon_surrogate().predict(tissue_model(prior).check_x(x))
    spectra = spectral_reflectance(
        x, camera.wavelengths_nm, method=method, n_photons=n_photons, seed=seed, prior=prior, n_quad=n_quad
    )
    return camera.band_values(spectra)
