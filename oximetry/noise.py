"""Measurement noise and radiometric calibration of band reflectances."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inn_engine.simulator import as_generator

__all__ = ["MultiplicativeNoise", "ShotReadNoise", "calibrate"]


@dataclass(frozen=True)
class MultiplicativeNoise:
    """y = r + r / snr * N(0, 1) per band (Wirkert et al.'s training noise; default SNR 10)."""

    snr: float = 10.0

    def __post_init__(self):
        if not (np.isfinite(self.snr) and self.snr > 0):
            raise ValueError(f"snr must be finite and > 0, got {self.snr!r}")

    def apply(self, reflectance, rng=None) -> np.ndarray:
        r = np.asarray(reflectance, dtype=float)
        return r + r / self.snr * as_generator(rng).standard_normal(r.shape)

    def metadata(self) -> dict:
        return {"kind": "multiplicative", "snr": float(self.snr)}


@dataclass(frozen=True)
class ShotReadNoise:
    """Photon shot noise plus read noise of a sensor, then white/dark calibration.

    A reflectance r gives raw counts s = Poisson(r * full_well + dark) + N(0, read_noise)
    (electrons); the white reference (r = 1) and dark frame are taken as noiseless averages,
    so the calibrated value is (s - dark) / full_well.
    """

    full_well: float = 10_000.0
    read_noise: float = 10.0
    dark: float = 100.0

    def __post_init__(self):
        if not self.full_well > 0 or not self.read_noise >= 0 or not self.dark >= 0:
            raise ValueError("full_well must be > 0, read_noise and dark >= 0 (electrons)")

    def raw_counts(self, reflectance, rng=None) -> np.ndarray:
        rng = as_generator(rng)
        r = np.asarray(reflectance, dtype=float)
        if np.any(r < 0):
            raise ValueError("reflectance must be >= 0 to simulate photon counts")
        counts = rng.poisson(r * self.full_well + self.dark).astype(float)
        return counts + self.read_noise * rng.standard_normal(r.shape)

    def apply(self, reflectance, rng=None) -> np.ndarray:
        raw = self.raw_counts(reflectance, rng)
        return calibrate(raw, white=self.full_well + self.dark, dark=self.dark)

    def metadata(self) -> dict:
        return {
            "kind": "shot+read",
            "full_well": float(self.full_well),
            "read_noise": float(self.read_noise),
            "dark": float(self.dark),
        }


def calibrate(raw, white, dark) -> np.ndarray:
    """Reflectance from raw counts with white and dark references: r = (s - dark) / (white - dark).

    ``raw``, ``white`` and ``dark`` broadcast (e.g. images (..., bands) with per-band
    references); ValueError where white <= dark.
    """
    raw, white, dark = (np.asarray(v, dtype=float) for v in (raw, white, dark))
    if np.any(white <= dark):
        raise ValueError("white reference must exceed the dark reference in every band")
    return (raw - dark) / (white - dark)
