"""inn_engine.fit, Estimator.sample / posterior and inn_engine.load under hostile input."""

import hostile
import numpy as np
import pytest
from hypothesis import given, settings

import inn_engine
from inn_engine.artifact import ArtifactError


def _assert_allowed(result):
    kind, detail = result
    assert kind in hostile.ALLOWED, f"{kind}: {detail}"


@settings(settings.get_profile("fuzz"), max_examples=60)
@given(args=hostile.fit_args())
def test_fit_refuses_or_fits(args):
    _assert_allowed(hostile.run_fit(args))


@settings(settings.get_profile("fuzz"), max_examples=150)
@given(args=hostile.sample_args())
def test_sample_refuses_or_draws_inside_the_bounds(args):
    _assert_allowed(hostile.run_sample(args))


@settings(settings.get_profile("fuzz"), max_examples=80)
@given(args=hostile.tampering())
def test_tampered_estimator_directories_are_refused_fast(args):
    _assert_allowed(hostile.run_load(args))


@pytest.mark.parametrize("change", ["truncate", "flip", "delete", "empty"])
@pytest.mark.parametrize("side_file", ["highlight.safetensors", "quantile_head.safetensors"])
def test_damaged_oximetry_side_files_are_refused(side_file, change):
    path = hostile.tamper("oximetry", ("file", side_file, change))
    with pytest.raises(ArtifactError, match="side file"):
        inn_engine.load(path)


def test_the_shipped_oximetry_estimator_lists_its_side_files():
    meta = hostile.base_directories()["oximetry"][1]
    assert sorted(meta["side_files"]) == ["highlight.safetensors", "quantile_head.safetensors"]
    inn_engine.load(hostile.base_directories()["oximetry"][0])  # the copy with its digests loads


@pytest.mark.parametrize(
    "special, message",
    [
        ("list", "JSON array"),
        ("null", "JSON null"),
        ("nested", "not valid JSON"),
        ("blocks", "n_blocks.*256"),
        ("version0", "not a format version"),
        ("version-next", "upgrade innfer"),
        ("version-str", "not a format version"),
        ("nan-std", "y_scaler.std"),
        ("zero-std", "x_scaler.std"),
        ("low>high", "low < high"),
        ("unknown-kind", "model.kind"),
        ("huge-hidden", "weights do not fit"),
        ("members", "weights do not fit|n_members"),
    ],
)
def test_each_schema_violation_is_named(special, message):
    with pytest.raises(ArtifactError, match=message):
        inn_engine.load(hostile.tamper("tiny", ("special", special, None)))


def test_observations_beyond_the_training_range_are_refused_naming_row_and_column():
    est = hostile.tiny_estimator()
    with pytest.raises(ValueError, match=r"y_obs\[1, 0\] \(y0\)"):
        est.sample(np.array([[0.5, 0.0], [1e39, 0.0]]), n=4)


def test_fit_names_unknown_and_mistyped_options():
    x = np.random.default_rng(0).uniform(0.1, 0.9, (50, 1))
    with pytest.raises(ValueError, match=r"\['hiden'\] are not options"):
        inn_engine.fit(x, x, hiden=8, steps=1)
    with pytest.raises(ValueError, match="option 'batch_size'.*integer in \\[1"):
        inn_engine.fit(x, x, batch_size=0, steps=1)
    with pytest.raises(ValueError, match="option 'hidden'.*integer"):
        inn_engine.fit(x, x, hidden="abc", steps=1)


def test_real_arguments_beyond_float_range_are_named():
    """Found by the long fuzz run: an int above 2**64 made np.isfinite raise a TypeError."""
    from inn_engine.checks import check_real

    for value in (2**70, 10**400, -(2**80)):
        with pytest.raises(ValueError, match="model_error must be a finite real number"):
            check_real("model_error", value, 0.0, 0.3)


def test_option_values_beyond_float_range_are_refused_by_the_schema():
    """Found by the long fuzz run: model.config.bound = -2**70 in a re-signed estimator.json
    made check_options raise a TypeError instead of an ArtifactError."""
    with pytest.raises(ArtifactError, match="clamp must be > 0"):
        inn_engine.load(hostile.tamper("tiny", ("replace", ("model", "config", "clamp"), -(2**70))))
    with pytest.raises(ArtifactError, match="model.config"):
        inn_engine.load(hostile.tamper("tiny", ("replace", ("model", "config", "clamp"), 10**400)))


def test_a_damaged_sO2_bound_cannot_put_medians_outside_0_1():
    """Found by the long fuzz run: sO2's lower bound set to -2.5e14 in a re-signed oximetry
    estimator.json gave quantile-path medians below 0 on valid pixels."""
    kind, detail = hostile.run_load(("oximetry", ("replace", ("x_transform", "low", 0), -245869107276146)))
    assert kind in hostile.ALLOWED, detail
