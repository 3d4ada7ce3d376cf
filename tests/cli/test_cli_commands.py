"""innfer simulate -> train -> evaluate -> estimate, in-process (click's CliRunner).

The outputs are checked against the library computed directly (same rows, same seeds),
so the command line is tested for passing the right data, not only for running.
"""

import json

import numpy as np
import pytest
import torch
import xarray as xr

from inn_engine.estimator import Estimator
from inn_engine.grid import open_grid


@pytest.mark.parametrize("command", [[], ["simulate"], ["train"], ["evaluate"], ["estimate"]])
def test_every_command_has_help(invoke, command):
    out = invoke(*command, "--help").output
    assert "Usage: innfer" in out and "--help" in out


def test_simulate_writes_the_grid_the_library_makes(ik_grid):
    from inn_engine.grid import simulate_grid
    from inn_engine.toys import InverseKinematics

    ds = open_grid(ik_grid)
    direct = simulate_grid(InverseKinematics(), 2000, seed=1, chunk_size=500, n_workers=1, progress=False)
    assert ds.sizes["sample"] == 2000 and list(ds["obs"].values) == ["end_x", "end_y"]
    np.testing.assert_array_equal(ds["y"].values, direct["y"].values)


def test_evaluate_tests_on_the_held_out_rows(invoke, ik_grid, ik_model, tmp_path):
    report = tmp_path / "eval.json"
    out = invoke("evaluate", ik_model, ik_grid, "--draws", 200, "--json", report).output
    assert "rows held out from training" in out and "SBC p" in out
    result = json.loads(report.read_text())
    assert result["test_rows"] == [1800, 2000] and result["n_test"] == 200

    # the 68 % calibration error equals a direct count on the same rows and draws
    est = Estimator.load(ik_model)
    ds = open_grid(ik_grid)
    x, y = ds["x"].values[1800:], ds["y"].values[1800:]
    draws = est.posterior(y, n=200, seed=0).samples
    lo, hi = np.quantile(draws, [(1 - 0.68) / 2, (1 + 0.68) / 2], axis=1)
    inside = ((lo <= x) & (x <= hi)).mean(axis=0) - 0.68
    got = [result["parameters"][p]["calibration_error_68"] for p in est.param_names]
    np.testing.assert_allclose(got, inside, atol=1e-12)
    # calibrated (as the prior itself would be) and informative: the 68 % intervals of the
    # slider and first angle are narrower than the prior's (2 x 0.994 x prior std)
    assert max(result["parameters"][p]["calibration_median_abs"] for p in est.param_names) < 0.1
    for name, prior_std in (("slider", 0.25), ("angle1", 0.5)):
        assert result["parameters"][name]["width_68"] < 0.85 * 2 * 0.9945 * prior_std, name
    assert "hpd_max_deviation" in result and 0 <= result["tarp_max_deviation"] <= 1


def test_evaluate_on_another_grid_uses_all_its_last_rows(invoke, ik_model, tmp_path):
    other = tmp_path / "test.zarr"
    invoke("simulate", "toy-ik", "--n", 300, "--out", other, "--workers", 1, "--seed", 7)
    out = invoke("evaluate", ik_model, other, "--n-test", 300, "--draws", 100).output
    assert "a grid MODEL was not trained on" in out


def test_estimate_csv_and_npy_to_netcdf_and_csv(invoke, ik_model, tmp_path):
    est = Estimator.load(ik_model)
    y = np.array([[1.5, 0.2], [1.0, -0.3], [0.4, 1.1]])
    csv_in = tmp_path / "obs.csv"  # columns in another order, plus one the model ignores
    csv_in.write_text("id,end_y,end_x\n" + "".join(f"{i},{b},{a}\n" for i, (a, b) in enumerate(y)))
    npy_in = tmp_path / "obs.npy"
    np.save(npy_in, y)
    invoke("estimate", ik_model, csv_in, "--out", tmp_path / "a.nc", "--draws", 300)
    invoke("estimate", ik_model, npy_in, "--out", tmp_path / "b.csv", "--draws", 300)
    nc = xr.open_dataset(tmp_path / "a.nc", engine="h5netcdf")
    import pandas as pd

    table = pd.read_csv(tmp_path / "b.csv", index_col="obs")
    direct = est.posterior(y, n=300, seed=0)
    for j, name in enumerate(est.param_names):
        np.testing.assert_allclose(nc[f"{name}_mean"].values, direct.mean()[:, j], rtol=1e-12)
        np.testing.assert_allclose(table[f"{name}_mean"].values, direct.mean()[:, j], rtol=1e-12)
        assert np.all(nc[f"{name}_q16"] <= nc[f"{name}_median"]) and np.all(nc[f"{name}_median"] <= nc[f"{name}_q84"])
        assert f"{name}_map" in table
    assert nc.sizes["obs"] == 3 and nc[f"{est.param_names[1]}_mean"].attrs["units"] == "rad"


def test_streamed_training_runs_and_is_recorded(invoke, ik_grid, tiny_net, tmp_path):
    model = tmp_path / "streamed"
    invoke(
        "train",
        ik_grid,
        "--out",
        model,
        "--stream",
        "--validation-rows",
        300,
        "--steps",
        20,
        "--batch-size",
        64,
        "--holdout",
        100,
        *tiny_net,
    )
    meta = Estimator.load(model).metadata
    assert meta["training"]["streamed"] is True and meta["training"]["steps_done"] == 20
    assert meta["innfer_train"]["holdout_rows"] == [1900, 2000]


@pytest.mark.parametrize(
    "args, named",
    [
        (["simulate", "toy-9", "--n", 10, "--out", "{tmp}/g.zarr"], "DOMAIN"),
        (["simulate", "toy-ik", "--n", 0, "--out", "{tmp}/g.zarr"], "--n"),
        (["simulate", "toy-ik", "--n", 10, "--out", "{tmp}/g.zarr", "--bands", "U,B"], "--bands"),
        (["simulate", "oximetry", "--n", 10, "--out", "{tmp}/g.zarr", "--labels", "some"], "--labels"),
        (["train", "{tmp}/missing.zarr", "--out", "{tmp}/m"], "GRID"),
        (["train", "{grid}", "--out", "{tmp}/m", "--steps", 0], "--steps"),
        (["train", "{grid}", "--out", "{tmp}/m", "--model", "gan"], "--model"),
        (["train", "{grid}", "--out", "{tmp}/m", "-o", "n_layers_typo=3"], "--model-option"),
        (["train", "{grid}", "--out", "{tmp}/m", "--holdout", 1990], "--holdout"),
        (["train", "{grid}", "--out", "{tmp}/m", "--batch-size", 63, "--nproc-per-node", 2], "--batch-size"),
        (["evaluate", "{model}", "{grid}", "--n-test", 500], "--n-test"),
        (["estimate", "{model}", "{grid}/zarr.json", "--out", "{tmp}/post.txt"], "--out"),
    ],
)
def test_bad_arguments_exit_2_naming_them(invoke, ik_grid, ik_model, tmp_path, args, named):
    args = [str(a).format(tmp=tmp_path, grid=ik_grid, model=ik_model) for a in args]
    out = invoke(*args, expect=2).output
    assert named in out, out


def test_bad_data_exits_1_with_the_reason(invoke, ik_model, tmp_path):
    bad = tmp_path / "obs.csv"
    bad.write_text("end_x,height\n1.0,2.0\n")
    out = invoke("estimate", ik_model, bad, "--out", tmp_path / "p.nc", expect=1).output
    assert "end_y" in out and "Error" in out


def test_checkpoint_of_other_settings_is_refused(invoke, ik_grid, tiny_net, tmp_path):
    ckpt = tmp_path / "ckpt"
    invoke(
        "train",
        ik_grid,
        "--out",
        tmp_path / "m1",
        "--steps",
        5,
        "--batch-size",
        32,
        "--checkpoint-dir",
        ckpt,
        *tiny_net,
    )
    out = invoke(
        "train",
        ik_grid,
        "--out",
        tmp_path / "m2",
        "--steps",
        6,
        "--batch-size",
        32,
        "--checkpoint-dir",
        ckpt,
        *tiny_net,
        expect=2,
    ).output
    assert "--checkpoint-dir" in out and "steps" in out


def test_new_camera_file_makes_an_oximetry_grid_with_its_bands(invoke, tmp_path):
    from oximetry import Camera

    read_camera = Camera.from_file
    csv = tmp_path / "cam.csv"
    csv.write_text("wavelength_nm,blue,green\n500,1,0\n502,1,0\n540,0,2\n542,0,2\n")
    np.testing.assert_allclose(read_camera(csv).responses, [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
    spec = tmp_path / "cam.json"
    spec.write_text(json.dumps({"centres_nm": [500, 560], "fwhm_nm": 10}))
    assert read_camera(spec) == Camera.from_bands([500, 560], 10)

    grid = tmp_path / "oxi.zarr"
    invoke("simulate", "oximetry", "--camera", csv, "--prior", "generic", "--n", 8, "--out", grid, "--workers", 1)
    ds = open_grid(grid)
    assert list(ds["obs"].values) == ["blue", "green"] and np.all(ds["y"].values > 0)


def test_new_filter_set_makes_an_astro_grid_with_its_bands(invoke, tmp_path):
    grid = tmp_path / "astro.zarr"
    invoke("simulate", "astro", "--bands", "u,g,r", "--n", 20, "--out", grid, "--workers", 1)
    obs = list(open_grid(grid)["obs"].values)
    assert obs[:3] == ["mag_u", "mag_g", "mag_r"] and obs[-3:] == ["lim_u", "lim_g", "lim_r"] and len(obs) == 12


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error of a machine without CUDA")
def test_train_names_the_device_option_without_a_gpu(invoke, ik_grid, tmp_path):
    out = invoke("train", ik_grid, "--out", tmp_path / "m", "--device", "cuda", expect=2).output
    assert "--device" in out and "no CUDA GPU" in out


def test_innfer_train_on_an_astro_grid_makes_the_effective_prior_that_astro_infer_divides_by(
    invoke, tmp_path, monkeypatch
):
    """Of the estimator's own training prior (here an age prior narrowed to 7-9), checked
    against its weights when loaded, and divided by in astro.infer's population."""
    import astro
    import astro.mock
    from astro.effective_prior import read_effective_prior

    grid, model = tmp_path / "gri.zarr", tmp_path / "gri-model"
    astro.simulate_grid(
        3000, grid, bands=("g", "r", "i"), priors={"log_age": (7.0, 9.0)}, n_workers=1, progress=False, seed=4
    )
    simulated = []

    def spy(*args, **options):
        catalogue = mock_catalogue(*args, **options)
        simulated.append(catalogue.x)
        return catalogue

    mock_catalogue = astro.mock.mock_catalogue
    monkeypatch.setattr(astro.mock, "mock_catalogue", spy)
    train = ("train", grid, "--out", model, "--steps", 200, "-o", "n_blocks=2", "-o", "hidden=32", "--no-progress")
    assert "whole number of clusters" in invoke(*train, "-d", "effective_prior_clusters=-5", expect=2).output
    invoke(*train, "-d", "effective_prior_clusters=600")
    ages = np.concatenate(simulated)[:, 1]
    assert len(ages) == 600 and ages.min() >= 7.0 and ages.max() <= 9.0
    prior = read_effective_prior(model)
    assert prior.record["clusters"] == 600 and prior.counts.sum() == 600 * prior.record["draws"]
    assert prior.edges[prior.names.index("log_age")][[0, -1]].tolist() == [7.0, 9.0]

    _, catalogue, _ = mock_catalogue(60, ("g", "r", "i"), seed=1, limits=True)
    result = astro.infer(catalogue, distance_modulus=18.5, estimator=model, n=100, seed=0)
    assert result.meta["population"]["draws_divided_by"] == "effective prior"
