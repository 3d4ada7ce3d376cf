"""oximetry.estimate, astro.infer and astro.photometry under hostile input."""

import hostile
import numpy as np
import pandas as pd
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import oximetry


def _assert_allowed(result):
    kind, detail = result
    assert kind in hostile.ALLOWED, f"{kind}: {detail}"


@settings(settings.get_profile("fuzz"), max_examples=120)
@given(args=hostile.oximetry_args())
def test_oximetry_estimate_refuses_or_flags(args):
    _assert_allowed(hostile.run_oximetry(args))


@settings(settings.get_profile("fuzz"), max_examples=100)
@given(args=hostile.astro_args())
def test_astro_infer_refuses_or_flags(args):
    _assert_allowed(hostile.run_astro(args))


@settings(settings.get_profile("fuzz"), max_examples=120)
@given(args=hostile.photometry_args())
def test_astro_photometry_refuses_or_computes(args):
    _assert_allowed(hostile.run_photometry(args))


@settings(settings.get_profile("fuzz"), max_examples=15)
@given(order=st.permutations(range(8)), dtype=st.sampled_from([object, str]))
def test_band_labels_are_honoured_whatever_their_order_and_dtype(order, dtype):
    bands = hostile.oximetry_bands()
    spectra = np.random.default_rng(1).uniform(0.05, 0.8, (3, 8))
    expected = oximetry.estimate(spectra, n=16, seed=0)["sO2_median"].values
    labelled = xr.DataArray(
        spectra[:, order],
        dims=("spectrum", "band"),
        coords={"band": pd.Index(np.array(bands, dtype=object)[order].astype(dtype))},
    )
    assert np.array_equal(oximetry.estimate(labelled, n=16, seed=0)["sO2_median"].values, expected)
