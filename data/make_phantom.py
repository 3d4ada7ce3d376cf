"""Make data/phantom.nc: a simulated 8-band image of a tissue phantom with a known sO2 map.

Run from the repository root: ``python data/make_phantom.py`` (about a minute on 2 cores).

The 48 x 48 image is background colon tissue (sO2 0.70 with +-0.03 texture) crossed by an
artery (sO2 0.95) and a vein (sO2 0.40) of higher blood volume; every other parameter is
drawn per pixel from the colon prior. Reflectances come from the project's simulator
(adding-doubling, 8 quadrature points, the paper's 8-band camera, multiplicative noise at
SNR 10, as the packaged estimator was trained), are multiplied by a smooth illumination
field (0.55-1.0, vignetting; the intensity-invariant estimator must not care) and get a
specular highlight (a wavelength-flat +0.25-0.9 reflectance blob) that the OOD flag
should catch. Variables: ``reflectance`` (y, x, band), ``sO2_true`` (y, x), ``specular``
(y, x, bool), ``illumination`` (y, x).
"""

from pathlib import Path

import numpy as np
import xarray as xr

from oximetry import OximetrySimulator

SIZE = 48


def phantom_parameters(simulator, rng):
    """Per-pixel tissue parameters (SIZE, SIZE, n_params) and the sO2 map."""
    names = simulator.param_names
    x = simulator.sample_prior(SIZE * SIZE, rng).reshape(SIZE, SIZE, -1)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    so2 = 0.70 + 0.03 * np.sin(9 * xx) * np.cos(7 * yy)
    artery = np.abs(yy - 0.3 - 0.08 * np.sin(6 * xx)) < 0.06
    vein = np.abs(xx - 0.65 - 0.15 * (yy - 0.5) ** 2) < 0.07
    so2[artery], so2[vein] = 0.95, 0.40
    x[..., names.index("sO2")] = so2
    for layer in ("vhb_1", "vhb_2"):
        x[artery | vein, names.index(layer)] = 0.08
    return x, so2


def main(path=Path(__file__).resolve().parent / "phantom.nc", seed=2024):
    rng = np.random.default_rng(seed)
    simulator = OximetrySimulator("colon", n_quad=8)
    x, so2 = phantom_parameters(simulator, rng)
    r = simulator.simulate(x.reshape(-1, x.shape[-1]), rng).reshape(SIZE, SIZE, -1)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    illumination = 1.0 - 0.45 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 2
    r *= illumination[..., None]
    spot = (xx - 0.2) ** 2 + (yy - 0.75) ** 2 < 0.05**2
    r[spot] += rng.uniform(0.25, 0.9, (spot.sum(), 1))
    ds = xr.Dataset(
        {
            "reflectance": (("y", "x", "band"), r, {"units": "fraction"}),
            "sO2_true": (("y", "x"), so2, {"units": "fraction"}),
            "specular": (("y", "x"), spot.astype("u1"), {"description": "1 where a specular highlight was added"}),
            "illumination": (("y", "x"), illumination, {"units": "relative"}),
        },
        coords={"band": simulator.obs_names},
        attrs={
            "made_by": "data/make_phantom.py",
            "seed": seed,
            "simulator": "OximetrySimulator('colon', n_quad=8), paper-8band camera, multiplicative noise SNR 10",
        },
    )
    ds.to_netcdf(path, engine="h5netcdf")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
