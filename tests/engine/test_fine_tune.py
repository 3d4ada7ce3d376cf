"""fine_tune: a warm restart of a fitted estimator on fresh pairs."""

import numpy as np
import pytest

import inn_engine
from inn_engine.fine_tune import fine_tune

NOISE = 0.5


def _pairs(n, seed):
    """x ~ N(0, I_2), y = x + N(0, 0.5^2)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    return x, x + NOISE * rng.normal(size=(n, 2))


@pytest.fixture(scope="module")
def short_run():
    """An under-trained estimator: 60 steps where the problem needs hundreds."""
    x, y = _pairs(8000, 0)
    return inn_engine.fit(
        x, y, coupling="affine", n_blocks=2, hidden=32, steps=60, batch_size=256, progress=False, seed=0
    )


def test_fine_tune_lowers_the_held_out_loss_and_leaves_the_original_alone(short_run, tmp_path):
    before = {k: v.clone() for k, v in short_run.model.state_dict().items()}
    x, y = _pairs(8000, 1)
    x_test, y_test = _pairs(4000, 2)
    tuned = fine_tune(
        short_run,
        x,
        y,
        validation=_pairs(1000, 3),
        data_record={"how": "fresh pairs"},
        steps=400,
        batch_size=256,
        lr=1e-3,
        progress=False,
        checkpoint_dir=str(tmp_path / "ckpt"),
    )
    nll_before = -short_run.log_prob(x_test, y_test).mean()
    nll_after = -tuned.log_prob(x_test, y_test).mean()
    # exact posterior N(0.8 y, 0.2 I): NLL 2 * 0.5 log(2 pi e 0.2) = 1.23 nats
    assert nll_after < nll_before - 0.05 and nll_after < 1.35
    for name, value in short_run.model.state_dict().items():
        assert np.array_equal(value.numpy(), before[name].numpy()), name
    record = tuned.metadata["training"]["fine_tunes"][-1]
    assert record["how"] == "fresh pairs" and record["n_train"] == 8000 and record["n_val"] == 1000
    assert record["steps_done"] == 400 and record["config"]["lr"] == 1e-3
    assert tuned.metadata["training"]["config"] == short_run.metadata["training"]["config"]
    # the same call again resumes from the finished checkpoint: the same weights, no new steps
    again = fine_tune(
        short_run,
        x,
        y,
        validation=_pairs(1000, 3),
        steps=400,
        batch_size=256,
        lr=1e-3,
        progress=False,
        checkpoint_dir=str(tmp_path / "ckpt"),
    )
    for name, value in tuned.model.state_dict().items():
        assert np.array_equal(value.numpy(), again.model.state_dict()[name].numpy()), name


def test_fine_tune_names_the_argument_of_the_wrong_shape(short_run):
    x, y = _pairs(100, 4)
    with pytest.raises(ValueError, match=r"x and y must be \(n, 2\) and \(n, 2\)"):
        fine_tune(short_run, x[:, :1], y, steps=1)
    with pytest.raises(ValueError, match="validation x"):
        fine_tune(short_run, x, y, validation=(x[:, :1], y), steps=1)
    with pytest.raises(ValueError, match="y must be"):
        fine_tune(short_run, x, np.full_like(y, np.nan), steps=1)
