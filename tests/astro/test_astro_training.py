"""astro.train: an estimator for a new band set that astro.infer uses like a shipped one."""

import json

import numpy as np
import pytest
from astropy.table import Table

import astro
from inn_engine.estimator import Estimator

BANDS = ("g", "r", "i")
SMALL = dict(
    clusters=20_000,
    steps=150,
    batch_size=256,
    n_workers=1,
    network={"n_blocks": 2, "hidden": 32},
    n_test=500,
    draws=100,
    effective_prior_clusters=1000,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("astro_train")
    lines = []
    estimator = astro.train(list(BANDS), root / "gri", workdir=root / "work", log=lines.append, **SMALL)
    return root, estimator, lines


def test_train_says_what_it_will_take_and_records_its_stages(trained):
    root, estimator, lines = trained
    assert lines[0].startswith("astro.train g,r,i") and "min" in lines[0] and "work" in lines[0]
    assert "effective prior from 1,000 clusters" in lines[0]
    assert any("shard 2/2" in line for line in lines)
    meta = estimator.metadata
    assert meta["astro"]["bands"] == list(BANDS) and meta["astro"]["n_clusters_train"] == 10_000
    assert meta["evaluation"]["n_test"] == 500 and set(meta["evaluation"]["parameters"]) == set(
        astro.infer.__globals__["PARAMS"]
    )
    files = json.loads((root / "gri" / "estimator.json").read_text())["side_files"]
    assert set(files) == {"library.safetensors"}
    assert any(line.startswith("making its effective prior from 1,000 simulated clusters") for line in lines)
    prior = astro.load_estimator(root / "gri").effective_prior
    assert prior.record["clusters"] == 1000 and prior.counts.sum() == prior.record["cases"] * prior.record["draws"]


def test_the_population_divides_by_the_estimators_effective_prior_and_refuses_another_ones(trained, tmp_path):
    import shutil

    from inn_engine.artifact import ArtifactError

    root, _, _ = trained
    catalogue = astro.mock_catalogue(60, BANDS, seed=9, limits=astro.load_estimator(root / "gri").limits).table
    result = astro.infer(catalogue, distance_modulus=18.5, estimator=root / "gri", n=100, seed=0)
    assert result.meta["population"]["draws_divided_by"] == "effective prior"
    assert result.meta["population"]["effective_prior"]["clusters"] == 1000
    metallicity = np.where(np.arange(60) < 30, 0.004, 0.02)  # two galaxies' clusters in one catalogue
    known_z = astro.infer(
        catalogue, distance_modulus=18.5, metallicity=metallicity, estimator=root / "gri", n=100, seed=0
    )
    assert known_z.meta["population"]["divided_at_given"] == {"Z": astro.infer.__globals__["Z_KERNEL_DEX"]}
    assert np.all(known_z["valid"]) and np.allclose(known_z["Z_median"], metallicity)
    assert np.all(np.asarray(known_z["effective_draws"]) > 0)
    other = tmp_path / "gri-other"
    shutil.copytree(root / "gri", other)
    record = json.loads((other / "effective_prior.json").read_text())
    record["record"]["estimator_weights_sha256"] = "0" * 64  # made for other weights
    (other / "effective_prior.json").write_text(json.dumps(record))
    with pytest.raises(ArtifactError, match="other weights"):
        astro.infer(catalogue, distance_modulus=18.5, estimator=other, n=100, seed=0)
    (other / "effective_prior.json").unlink()
    bare = astro.infer(catalogue, distance_modulus=18.5, estimator=other, n=100, seed=0)
    assert bare.meta["population"]["draws_divided_by"] == "training prior"


def test_rerun_resumes_to_the_same_estimator(trained):
    root, estimator, _ = trained
    lines = []
    again = astro.train(",".join(BANDS), root / "gri-again", workdir=root / "work", log=lines.append, **SMALL)
    assert not any(line.startswith("library: shard") for line in lines)  # the library is complete
    for name, value in estimator.model.state_dict().items():
        assert np.array_equal(value.numpy(), again.model.state_dict()[name].numpy()), name


def test_infer_uses_the_trained_estimator_with_every_feature(trained):
    root, _, _ = trained
    rng = np.random.default_rng(4)
    mags = astro.photometry([4.0, 5.0, 4.5], [7.0, 8.5, 9.5], [0.3, 0.1, 0.5], 0.008, BANDS, seed=3) + 18.5
    table = Table({b: mags[:, j] + 0.03 * rng.standard_normal(3) for j, b in enumerate(BANDS)})
    for b in BANDS:
        table[f"{b}_err"] = [0.03, 0.03, 0.03]
    table["r"][1] = 99.0
    result = astro.infer(table, distance_modulus=18.5, estimator=root / "gri", n=200, draws=50, seed=0)
    assert result.meta["estimator"] == "g,r,i" and list(result["band_set"]) == ["g,r,i"] * 3
    assert "sentinel" in result["flag"][1] and all(result["valid"])
    assert np.all(np.isfinite(result["log_mass_living_median"])) and result.meta["draws"].shape == (3, 50, 5)
    with pytest.raises(ValueError, match="bands"):
        astro.infer({"U": 14.0, "U_err": 0.1}, distance_modulus=18.5, estimator=root / "gri")


def test_a_fine_tune_continues_the_estimator_and_is_recorded_for_its_rebuild(trained):
    from astro.training import evaluate_and_save, fine_tune_library, load_library

    root, estimator, _ = trained
    shards = load_library(root / "work")
    lines = []
    settings = dict(noise_copies=1, noise_seed=5, steps=40, batch_size=256, lr=3e-4, warmup_steps=10, seed=2)
    tuned = fine_tune_library(estimator, BANDS, shards, root / "work", log=lines.append, progress=False, **settings)
    evaluate_and_save(
        tuned, BANDS, shards, root / "gri-tuned", n_test=300, draws=50, effective_prior_clusters=300, log=lines.append
    )
    assert lines[0] == "fine-tune on 10000 clusters x 1 noise copies, 40 steps of batch 256"
    record = Estimator.load(root / "gri-tuned").metadata["training"]["fine_tunes"][0]
    assert (record["noise_copies"], record["noise_seed"], record["n_train"]) == (1, 5, 10_000)
    assert record["config"]["steps"] == 40 and record["config"]["seed"] == 2
    assert tuned.obs_names == estimator.obs_names  # the 4K columns, observed with limits
    changed = [
        name
        for name, value in estimator.model.state_dict().items()
        if not np.array_equal(value.numpy(), tuned.model.state_dict()[name].numpy())
    ]
    assert changed
    row = {"g": [19.2], "g_err": [0.03], "r": [19.0], "r_err": [0.03], "i": [18.8], "i_err": [0.03]}
    result = astro.infer(row, distance_modulus=18.5, estimator=root / "gri-tuned", n=100, seed=0)
    assert result["valid"][0] and result.meta["estimator"] == "g,r,i"


def test_the_rebuild_of_a_shipped_estimator_keeps_its_conditioning_columns(trained):
    from astro.observe import condition_vector, obs_names
    from astro.pretrain import recorded_limits
    from astro.training import PRETRAINED_DIR, fit_library, load_library

    root, _, _ = trained
    for band_set in ("ubvri", "hst"):  # the shipped ones have the 3K inputs, no lim_ columns
        shipped = Estimator.load(PRETRAINED_DIR / band_set)
        assert recorded_limits(band_set) == any(name.startswith("lim_") for name in shipped.obs_names)
    small = dict(steps=20, batch_size=256, eval_every=10, checkpoint_every=10, network={"n_blocks": 2, "hidden": 32})
    three_k = fit_library(BANDS, load_library(root / "work"), root / "work", limits=False, log=print, **small)
    assert three_k.obs_names == obs_names(BANDS, limits=False) and len(three_k.obs_units) == 3 * len(BANDS)
    y = condition_vector(np.array([[0.7, 0.5, 0.3]]), np.full((1, 3), 0.03), np.ones((1, 3), bool))
    assert y.shape == (1, 9) and np.isfinite(three_k.sample(y, 10)).all()


def test_limits_in_the_trained_range_enter_the_network_others_reweight_its_draws(trained):
    """A g limit of the trained depth conditions the network (its draws are distinct samples);
    one at 1.5 sigma, shallower than trained, enters through its flux likelihood (the draws are
    resampled, so some repeat); without the g_lim column the result is that of g dropped."""
    root, estimator, _ = trained
    assert estimator.obs_names[-3:] == ["lim_g", "lim_r", "lim_i"]
    row = {"g": [np.nan], "g_err": [np.nan], "r": [19.0], "r_err": [0.05], "i": [18.8], "i_err": [0.05]}
    options = dict(distance_modulus=18.5, estimator=root / "gri", n=200, draws=200, seed=0, population=None)
    runs = {
        "network": astro.infer({**row, "g_lim": [20.0]}, **options),
        "likelihood": astro.infer({**row, "g_lim": [20.0], "g_lim_sigmas": [1.5]}, **options),
        "dropped": astro.infer(row, **options),
    }
    draws = {name: r.meta["draws"].values[0, :, :4] for name, r in runs.items()}
    assert all(r["valid"][0] for r in runs.values()) and "g not detected" in runs["network"]["flag"][0]
    assert len(np.unique(draws["network"][:, 0])) == 200 and len(np.unique(draws["dropped"][:, 0])) == 200
    assert len(np.unique(draws["likelihood"][:, 0])) < 200
    assert not np.allclose(draws["network"], draws["dropped"])


def test_the_model_check_weighs_the_limits_that_enter_the_network(trained):
    """r and i of a faint cluster, with a g limit: g fainter than r by 0.3 mag is ordinary; g
    fainter than r by 3.4 mag is a colour no cluster has, so the row is flagged. Before the
    limits counted in the model check, both rows had the same chi2 (of r and i alone)."""
    root, _, _ = trained
    row = {"g": [np.nan] * 2, "g_err": [np.nan] * 2, "r": [19.0] * 2, "r_err": [0.05] * 2}
    row.update({"i": [18.8] * 2, "i_err": [0.05] * 2, "g_lim": [19.3, 22.4]})
    result = astro.infer(row, distance_modulus=18.5, estimator=root / "gri", n=100, seed=0, population=None)
    assert all("g not detected" in flag for flag in result["flag"])
    assert "not explained by the model" not in result["flag"][0]
    assert "not explained by the model" in result["flag"][1]
    assert result["chi2_min"][1] > 3 * result["chi2_min"][0]


def test_an_estimator_of_another_domain_is_refused(tmp_path):
    from inn_engine import fit

    x = np.random.default_rng(0).normal(size=(200, 4))
    est = fit(x, x[:, :2], seed=0, steps=5, n_blocks=1, hidden=8)
    est.save(tmp_path / "other")
    assert isinstance(Estimator.load(tmp_path / "other"), Estimator)
    with pytest.raises(ValueError, match="not an astro estimator"):
        astro.infer({"g": 14.0, "g_err": 0.1}, distance_modulus=18.5, estimator=tmp_path / "other")
