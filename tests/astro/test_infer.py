"""astro.infer with the shipped estimators: outputs, coverage on simulated clusters, bad input."""

import json

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.table import MaskedColumn, Table

from astro import infer, mock_catalogue
from astro.pretrain import BAND_SETS, PRETRAINED_DIR

UBVRI = BAND_SETS["ubvri"]
DM = 18.5


def synthetic_catalogue(n, bands=UBVRI, seed=5):
    """(true x, table) of n mock clusters (stochastic, noisy, some bands missing; upper limits
    where the shipped estimator was trained on them) as apparent magnitudes."""
    x, table, _ = mock_catalogue(n, bands, distance_modulus=DM, seed=seed)
    return x, table


@pytest.fixture(scope="module")
def simulated():
    x, table = synthetic_catalogue(60)
    return x, table, infer(table, distance_modulus=DM, model_error=0.0, n=300, draws=300, seed=1)


def test_shipped_estimators_are_small_and_evaluated():
    for band_set in BAND_SETS:
        path = PRETRAINED_DIR / band_set
        sizes = [f.stat().st_size for f in path.iterdir()]
        assert max(sizes) < 20 * 1024**2
        meta = json.loads((path / "estimator.json").read_text())["metadata"]
        assert meta["evaluation"]["n_test"] >= 1000
        assert set(meta["evaluation"]["calibration_error"]) == {"log_mass", "log_age", "A_V", "Z"}


def test_summaries_ordered_and_draws_shaped(simulated):
    x, table, result = simulated
    assert len(result) == len(table)
    for p in ("log_mass", "log_age", "A_V", "Z", "log_mass_living"):
        cols = [result[f"{p}_{s}"] for s in ("q025", "q16", "median", "q84", "q975")]
        for lo, hi in zip(cols[:-1], cols[1:]):
            assert np.all(np.asarray(lo) <= np.asarray(hi))
    draws = result.meta["draws"]
    assert draws.dims == ("cluster", "draw", "param") and draws.shape == (60, 300, 5)
    assert list(draws.param.values) == ["log_mass", "log_age", "A_V", "Z", "log_mass_living"]
    # the living mass of each draw is its initial mass less what has died by its age
    d = draws.values
    lost = d[..., 0] - d[..., 4]
    assert np.all(lost >= 0) and np.all(lost[d[..., 1] > 9.5] > 0.2)
    assert set(result["band_set"]) == {"ubvri"}


def test_true_parameters_fall_in_the_intervals(simulated):
    """Calibrated posteriors put ~95 % of true values inside the 95 % interval; with 60
    clusters fewer than 45 inside (or than 25 inside the 68 % one) would be far off."""
    x, _, result = simulated
    for j, p in enumerate(("log_mass", "log_age", "A_V")):
        in95 = (np.asarray(result[f"{p}_q025"]) <= x[:, j]) & (x[:, j] <= np.asarray(result[f"{p}_q975"]))
        in68 = (np.asarray(result[f"{p}_q16"]) <= x[:, j]) & (x[:, j] <= np.asarray(result[f"{p}_q84"]))
        assert in95.sum() >= 45, (p, in95.sum())
        assert in68.sum() >= 25, (p, in68.sum())
    # masses of 10^5 Msun and more are measured to better than 0.5 dex
    big = x[:, 0] > 5
    assert np.median(np.abs(np.asarray(result["log_mass_median"])[big] - x[big, 0])) < 0.5


def test_input_forms_agree():
    _, table = synthetic_catalogue(2, seed=9)
    row = {k: float(table[k][0]) for k in table.colnames}
    from_table = infer(table[:1], distance_modulus=DM, n=200, draws=200)
    from_frame = infer(table[:1].to_pandas(), distance_modulus=DM, n=200, draws=200)
    from_scalars = infer(row, distance=10 ** (DM / 5 + 1) * u.pc, n=200, draws=200)
    for other in (from_frame, from_scalars):
        np.testing.assert_allclose(other["log_age_median"], from_table["log_age_median"], equal_nan=True)
    renamed = {"Vmag" if k == "V" else "Vmag_err" if k == "V_err" else k: v for k, v in row.items()}
    mapped = infer(
        renamed, bands={"Vmag": "V", **{b: b for b in UBVRI if b != "V"}}, distance_modulus=DM, n=200, draws=200
    )
    np.testing.assert_allclose(mapped["log_age_median"], from_table["log_age_median"], equal_nan=True)


def test_bad_entries_are_flagged_not_silent():
    good = {"U": 14.0, "B": 14.2, "V": 14.0, "R": 13.8}
    errs = {f"{b}_err": 0.05 for b in good}
    rows = pd.DataFrame(
        [
            {**good, **errs},  # fine
            {**good, **errs, "B": 99.0},  # sentinel
            {**good, **errs, "V_err": -0.1},  # negative error
            {**{b: np.nan for b in good}, **errs},  # no usable band
            {**good, **errs},  # NaN distance
        ]
    )
    result = infer(rows, distance_modulus=[DM, DM, DM, DM, np.nan], n=200, draws=200)
    flags = list(result["flag"])
    assert flags[0] == ""  # colours like the LMC cluster H88-279 (Hunter et al. 2003): explained
    assert "sentinel" in flags[1] and "negative" in flags[2]
    assert "no usable band" in flags[3] and "distance" in flags[4]
    assert list(result["n_bands"]) == [4, 3, 3, 0, 0]
    assert np.isfinite(result["log_age_median"][:3]).all()
    assert np.isnan(result["log_age_median"][3:]).all()
    assert np.isnan(result.meta["draws"].values[3:]).all()


def test_observation_the_model_cannot_explain_is_flagged():
    # U - B = +4 mag with B - V = -0.5: no stellar population has these colours
    row = {"U": 20.0, "U_err": 0.02, "B": 16.0, "B_err": 0.02, "V": 16.5, "V_err": 0.02, "R": 16.5, "R_err": 0.02}
    result = infer(row, distance_modulus=DM, n=100, draws=100)
    assert "not explained" in result["flag"][0]


def test_fixed_metallicity_pins_z():
    _, table = synthetic_catalogue(3, seed=11)
    result = infer(table, distance_modulus=DM, metallicity=0.008, n=200, draws=200)
    np.testing.assert_allclose(result["Z_median"], 0.008)
    assert np.isfinite(result["log_age_q16"]).all()


def test_av_max_truncates_the_extinction_prior():
    _, table = synthetic_catalogue(4, seed=12)
    free = infer(table, distance_modulus=DM, n=400, draws=400, seed=3)
    low = infer(table, distance_modulus=DM, av_max=0.5, n=400, draws=400, seed=3)
    draws = low.meta["draws"].values
    admissible = np.isfinite(draws[:, 0, 0])
    assert (draws[admissible][:, :, 2] <= 0.5).all()
    assert (np.asarray(low["A_V_q975"])[admissible] <= 0.5).all()
    # the truncated posterior is the free one's draws with A_V <= 0.5 (up to Monte Carlo noise,
    # checked where the free posterior puts at least 20 % of its mass there)
    free_draws = free.meta["draws"].values
    share = (free_draws[:, :, 2] <= 0.5).mean(axis=1)
    rows = share > 0.2
    assert rows.any()
    np.testing.assert_allclose(
        np.asarray(low["log_age_median"])[rows], [np.median(d[d[:, 2] <= 0.5, 1]) for d in free_draws[rows]], atol=0.35
    )
    for i in np.flatnonzero(~admissible):
        assert "av_max improbable" in low["flag"][i]


def test_model_error_is_added_to_the_photometric_errors():
    _, table = synthetic_catalogue(4, seed=13)
    with_model_error = infer(table, distance_modulus=DM, model_error=0.15, n=300, draws=300, seed=2)
    widened = table.copy()
    for band in ("U", "B", "V", "R", "I"):
        widened[f"{band}_err"] = np.minimum(np.hypot(np.maximum(table[f"{band}_err"], 0.01), 0.15), 0.5)
    np.testing.assert_array_equal(
        with_model_error.meta["draws"].values,
        infer(widened, distance_modulus=DM, model_error=0.0, n=300, draws=300, seed=2).meta["draws"].values,
    )
    exact = infer(table, distance_modulus=DM, model_error=0.0, n=300, draws=300, seed=2)
    width = {
        name: np.asarray(t["log_age_q84"]) - np.asarray(t["log_age_q16"])
        for name, t in (("exact", exact), ("model_error", with_model_error))
    }
    assert np.median(width["model_error"]) > np.median(width["exact"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(distance_modulus=DM, av_max=-1.0), "av_max"),
        (dict(distance_modulus=DM, model_error=-0.1), "model_error"),
        (dict(distance_modulus=DM, model_error=[0.1, 0.2]), "model_error"),
        (dict(distance_modulus=DM, distance=50 * u.kpc), "exactly one"),
        (dict(), "exactly one"),
        (dict(distance=50.0), "Quantity"),
        (dict(distance_modulus=DM, metallicity=0.5), "metallicity"),
        (dict(distance_modulus=DM, draws=0), "draws"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        infer({"V": 14.0, "V_err": 0.05}, **kwargs)


def test_bad_catalogues_raise():
    with pytest.raises(ValueError, match="no band column"):
        infer({"mag_v": 14.0, "mag_v_err": 0.1}, distance_modulus=DM)
    with pytest.raises(ValueError, match="error column"):
        infer({"V": 14.0}, distance_modulus=DM)
    with pytest.raises(ValueError, match="mix band sets"):
        infer({"V": 14.0, "V_err": 0.1, "F555W": 14.0, "F555W_err": 0.1}, distance_modulus=DM)
    with pytest.raises(ValueError, match="photometry must be"):
        infer([14.0, 0.1], distance_modulus=DM)


def test_hst_catalogue_uses_the_hst_estimator():
    bands = BAND_SETS["hst"]
    _, table = synthetic_catalogue(4, bands=bands, seed=3)
    masked = Table(table, masked=True)
    masked["F275W"] = MaskedColumn(table["F275W"], mask=[True, False, False, False])
    result = infer(masked, distance_modulus=DM, n=200, draws=200)
    assert set(result["band_set"]) == {"hst"}
    assert result["n_bands"][0] == np.sum(np.isfinite([table[b][0] for b in bands[1:]]))


def test_a_catalogue_learns_its_population_by_default():
    """A catalogue of clusters with little dust (A_V < 0.4): the default call fits the
    population, which pulls the posteriors' A_V towards it and tightens the ages."""

    def little_dust(x, rng):
        x[:, 2] = rng.uniform(0, 0.4, len(x))
        x[:, 0] = rng.uniform(3.5, 6.5, len(x))

    x, table, _ = mock_catalogue(120, UBVRI, distance_modulus=DM, seed=21, edit_parameters=little_dust)
    flat = infer(table, distance_modulus=DM, model_error=0.0, population=None, n=300, seed=0)
    learned = infer(table, distance_modulus=DM, model_error=0.0, n=300, seed=0)
    assert flat.meta["population"] is None and learned.meta["population"]["n_cases"] == 120
    # the call's wall time and its population step's share are reported
    assert flat.meta["seconds"]["population"] == 0 < learned.meta["seconds"]["population"]
    assert learned.meta["seconds"]["population"] < learned.meta["seconds"]["total"]
    assert np.all(learned["effective_draws"] > 0) and all(learned["valid"])
    av_error = {
        name: np.median(np.abs(np.asarray(t["A_V_median"]) - x[:, 2]))
        for name, t in (("flat", flat), ("learned", learned))
    }
    assert av_error["learned"] < 0.7 * av_error["flat"], av_error
    age_error = {
        name: np.median(np.abs(np.asarray(t["log_age_median"]) - x[:, 1]))
        for name, t in (("flat", flat), ("learned", learned))
    }
    assert age_error["learned"] < age_error["flat"], age_error


@pytest.mark.parametrize(
    "edit, match",
    [
        ({"bands": ["U", "U"]}, "bands must be distinct"),
        ({"bands": ["U", "W9"]}, "bands must be distinct names"),
        ({"chi2_threshold": -1.0}, "chi2_threshold"),
        ({"chi2_threshold": "5"}, "chi2_threshold"),
        ({"imf": "top-heavy"}, "imf must be one of"),
        ({"prior": {"log_mass": [7.0, 2.0]}}, "prior must map each of"),
        ({"prior": {"log_mass": [2, 7], "log_age": [6, 10], "A_V": [0, None], "Z": [0.002, 0.03]}}, "prior"),
    ],
)
def test_a_damaged_astro_record_is_refused_by_name(edit, match):
    from astro.domain import DOMAIN

    meta = json.loads((PRETRAINED_DIR / "ubvri" / "estimator.json").read_text())["metadata"]
    DOMAIN.check_record(meta)
    with pytest.raises(ValueError, match=match):
        DOMAIN.check_record({**meta, "astro": {**meta["astro"], **edit}})
