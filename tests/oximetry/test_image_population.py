"""oximetry.estimate(population=...): the image-level prior, its record and its bad input."""

import json

import numpy as np
import pytest
import xarray as xr

from oximetry import OximetrySimulator, estimate
from oximetry.demo import PHANTOM


@pytest.fixture(scope="module")
def phantom():
    return xr.open_dataset(PHANTOM, engine="h5netcdf").load()


def test_the_population_is_recorded_and_every_pixel_gets_its_effective_draws(phantom):
    result = estimate(phantom["reflectance"], n=32, seed=1, population=True)
    assert result.attrs["method"] == "sample" and "population" in result.attrs["method_reason"]
    record = json.loads(result.attrs["population"])
    assert (
        record["params"] == ["sO2"] and len(record["edges"][0]) == 21 and record["n_cases"] == 2000
    )  # MAX_FIT_CASES of the 2269 clean pixels
    ess = result["effective_draws"].values
    valid = result["valid"].values
    assert np.all((ess[valid] > 0) & (ess[valid] <= 32)) and np.isnan(ess[~valid]).all()
    # the image's population: most sO2 mass in the background's bins 0.65-0.75
    mass = np.asarray(record["cell_mass"])
    assert mass[13:15].sum() > 0.5


def test_bad_population_requests_are_refused_with_the_reason(phantom):
    cube = phantom["reflectance"]
    for wrong in (("oxygen",), 3, ("sO2", "sO2"), ()):
        with pytest.raises(ValueError, match="distinct parameter names"):
            estimate(cube, n=16, population=wrong)
    with pytest.raises(ValueError, match="flat training prior"):
        estimate(cube, n=16, population=("amie_1",))  # its colon prior is a truncated normal
    with pytest.raises(ValueError, match="method='sample'"):
        estimate(cube, n=16, population=True, method="quantiles")
    simulator = OximetrySimulator("colon", n_quad=4)
    rng = np.random.default_rng(0)
    few = simulator.simulate(simulator.sample_prior(10, rng), rng)
    with pytest.raises(ValueError, match="at least 50 valid pixels"):
        estimate(few, n=16, population=True)
