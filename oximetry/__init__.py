"""oximetry: blood oxygen saturation and tissue parameters from multispectral reflectance."""

from oximetry.camera import Camera, default_camera
from oximetry.forward import band_reflectance, spectral_reflectance
from oximetry.grid import simulate_grid
from oximetry.noise import MultiplicativeNoise, ShotReadNoise, calibrate
from oximetry.simulator import OximetrySimulator
from oximetry.tissue import COLON, GENERIC, TissueModel, tissue_model

__all__ = [
    "COLON",
    "GENERIC",
    "Camera",
    "MultiplicativeNoise",
    "OximetrySimulator",
    "ShotReadNoise",
    "TissueModel",
    "band_reflectance",
    "calibrate",
    "default_camera",
    "simulate_grid",
    "spectral_reflectance",
    "tissue_model",
]

# The ready-trained estimators and their tools (issue 5).
from oximetry.estimate import PAPER_INN_DIR, estimate, load_estimator  # noqa: E402
from oximetry.features import reflectance_features  # noqa: E402
from oximetry.io import read_cube, read_spectra, write_result  # noqa: E402


def train(camera=None, prior: str = "colon", out=None, work=None, **settings):
    """Build an estimator for ``camera`` / ``prior`` (grids, cINN, OOD model, metrics) into ``out``.

    Defaults to the settings of the packaged estimator (10^6 spectra, 30,000 steps; the
    expected time is printed first); ``quick=True`` gives a try-out in minutes. A thin wrapper
    of :func:`oximetry.pretrain.train` (see it and :class:`oximetry.pretrain.PretrainSettings`
    for ``settings``); imported on call so that ``python -m oximetry.pretrain`` runs a fresh module.
    """
    from oximetry.pretrain import train as pretrain_train

    return pretrain_train(camera=camera, prior=prior, out=out, work=work, **settings)


__all__ += [
    "PAPER_INN_DIR",
    "estimate",
    "load_estimator",
    "read_cube",
    "read_spectra",
    "reflectance_features",
    "train",
    "write_result",
]
