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
