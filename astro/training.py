"""``astro.train``: an estimator for any set of the tabulated bands, in the stages of the shipped ones.

Stages, each resumable under ``workdir``:

1. library: shards of :data:`SHARD_SIZE` stochastic clusters (prior of
   :class:`astro.ClusterSimulator`, noise-free absolute magnitudes,
   :class:`astro.library.ClusterLibrarySimulator`) as zarr grids ``library_<k>.zarr``;
   shard k has seed ``library_seed + k``, so a stopped run resumes and the library never
   depends on timing or on the number of workers;
2. training: every complete shard but the last :data:`HELD_OUT_SHARDS` is seen
   :data:`NOISE_COPIES` times with fresh errors, noise, band masks and limits (:func:`astro.observe.observe`,
   the observation model of ``innfer simulate astro`` too); the :data:`NETWORK` cINN is fitted
   by :func:`inn_engine.fit` with checkpoints (a killed run resumes);
3. evaluation on the held-out shard (:func:`inn_engine.evaluation.evaluate`, recorded in
   ``metadata["evaluation"]``) and the model check (reference library and flag threshold,
   :func:`astro.domain.reference_side_models`); the estimator is saved to ``out``.

:data:`SHIPPED` are the settings of the shipped estimators (10^6 clusters, 30,000 steps of
batch 1024: about 3 h on this project's 2-core machine); :data:`QUICK` (``quick=True``) a
try-out in minutes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from astro.domain import astro_record, parse_bands, reference_side_models
from astro.effective_prior import CLUSTERS as EFFECTIVE_PRIOR_CLUSTERS
from astro.effective_prior import write_effective_prior
from astro.library import ClusterLibrarySimulator
from astro.model_check import REFERENCE_SIZE, THRESHOLD_SAMPLE
from astro.observe import has_limit_columns, obs_names, observation_settings, observe

__all__ = [
    "train",
    "BAND_SETS",
    "PRETRAINED_DIR",
    "SHIPPED",
    "QUICK",
    "NETWORK",
    "build_library",
    "load_library",
    "fit_library",
    "fine_tune_library",
    "FINE_TUNE",
    "evaluate_on_held_out",
    "evaluate_and_save",
    "model_check",
    "build_estimator",
    "expected_seconds",
]

BAND_SETS = {"ubvri": ("U", "B", "V", "R", "I"), "hst": ("F275W", "F336W", "F438W", "F555W", "F814W")}
PRETRAINED_DIR = Path(__file__).parent / "pretrained"
DEFAULT_WORKDIR = Path(os.environ.get("INNFER_RUNS", "runs"))
SHARD_SIZE = 10_000
HELD_OUT_SHARDS = 1
NOISE_COPIES = 2
# 6 two-sided spline couplings with 2x64 subnets: 2.2x the sampling speed of 2x128 subnets
# (catalogues of 10^4 clusters x 1000 draws in about a minute on 2 cores). The 15 inputs
# (magnitudes, errors, mask) first pass through a conditioning MLP with 32 outputs, computed
# once per cluster: without it, A_V came out under-confident (HST calibration error 1.69 %,
# SBC p < 1e-6); with it 0.48 % (p 0.76) on the same 10^4 held-out clusters.
NETWORK = {"n_blocks": 6, "hidden": 64, "coupling": "spline", "cond_features": 32}
#: the settings of the shipped estimators (their metadata records the full training config)
SHIPPED = {"clusters": 1_000_000, "steps": 30_000, "batch_size": 1024, "eval_every": 250, "checkpoint_every": 250}
#: the warm restart that follows the SHIPPED training (:func:`fine_tune_library`): the same
#: library seen ``noise_copies`` more times with fresh noise (``noise_seed``), twice the batch,
#: a lower peak rate decaying to 1 % (TrainConfig fields beside the two noise settings)
FINE_TUNE = {
    "noise_copies": 3,
    "noise_seed": 777,
    "steps": 6000,
    "batch_size": 2048,
    "lr": 3e-4,
    "warmup_steps": 200,
    "final_lr_fraction": 0.01,
    "eval_every": 250,
    "checkpoint_every": 250,
    "seed": 11,
}
#: a try-out: 30,000 clusters, 3000 steps (minutes; calibration visibly worse than SHIPPED)
QUICK = {"clusters": 30_000, "steps": 3000, "batch_size": 512, "eval_every": 100, "checkpoint_every": 250}
EVALUATION_DRAWS = 500
# Rates on this project's 2-core machine (idle), for the time printed at the start: the
# library stage with its shards written (the UBVRI library of SHIPPED: 10^6 clusters in
# 964 s on 2 workers, 2026-12-04) and the NETWORK's training step at batch 1024 (the
# shipped UBVRI estimator: 2076 s for 30,000 steps); steps scale with the batch.
LIBRARY_CLUSTERS_PER_SECOND_PER_WORKER = 500.0
SECONDS_PER_STEP_AT_1024 = 0.069
#: the effective prior of the shipped UBVRI estimator: 200,000 clusters in ~10 min (2026-12-05)
EFFECTIVE_PRIOR_CLUSTERS_PER_SECOND = 330.0


def expected_seconds(
    clusters: int, steps: int, batch_size: int, n_workers: int, effective_prior_clusters: int
) -> tuple[float, float, float]:
    """(library, training, effective prior) seconds expected on this project's 2-core machine."""
    library = clusters / (LIBRARY_CLUSTERS_PER_SECOND_PER_WORKER * max(1, min(n_workers, os.cpu_count() or 1)))
    training = steps * SECONDS_PER_STEP_AT_1024 * batch_size / 1024
    return library, training, effective_prior_clusters / EFFECTIVE_PRIOR_CLUSTERS_PER_SECOND


def _shard_path(workdir: Path, k: int) -> Path:
    return Path(workdir) / f"library_{k:04d}.zarr"


def build_library(
    bands, n_clusters: int, workdir, library_seed: int, *, n_workers: int = 1, until=None, log=print
) -> int:
    """Simulate shards until ``n_clusters`` exist or ``until`` (an aware datetime) passes;
    returns the number of complete shards. Shards already complete are kept (an interrupted
    one is resumed chunk by chunk)."""
    import datetime as dt

    from inn_engine.grid import simulate_grid

    simulator = ClusterLibrarySimulator(tuple(bands))
    n_shards = -(-int(n_clusters) // SHARD_SIZE)
    started = time.perf_counter()
    done = len(load_library(workdir))
    for k in range(done, n_shards):
        if until is not None and dt.datetime.now(dt.timezone.utc) >= until:
            log(f"library: deadline reached after {k} shards")
            return k
        simulate_grid(
            simulator,
            SHARD_SIZE,
            _shard_path(workdir, k),
            seed=library_seed + k,
            chunk_size=SHARD_SIZE // 2,
            n_workers=n_workers,
            progress=False,
            attrs={"purpose": "astro training library " + " ".join(bands)},
        )
        elapsed = time.perf_counter() - started
        log(
            f"library: shard {k + 1}/{n_shards} done, elapsed {elapsed:.0f} s, "
            f"ETA {elapsed / (k + 1 - done) * (n_shards - k - 1):.0f} s"
        )
    return n_shards


def load_library(workdir) -> list[tuple[np.ndarray, np.ndarray]]:
    """(x (n, 4), M (n, K)) of every complete shard in ``workdir``, in shard order."""
    from inn_engine.grid import open_grid

    shards = []
    for k in range(10_000):
        path = _shard_path(workdir, k)
        if not path.exists():
            break
        try:
            ds = open_grid(path)
        except ValueError:  # an interrupted shard: stop at the first incomplete one
            break
        shards.append((ds["x"].values, ds["y"].values))
    return shards


def _split(shards):
    if len(shards) <= HELD_OUT_SHARDS:
        raise ValueError(
            f"need more than {HELD_OUT_SHARDS} complete library shards, found {len(shards)}; "
            "run the library stage first"
        )
    train, held_out = shards[:-HELD_OUT_SHARDS], shards[-HELD_OUT_SHARDS:]
    stack = [(np.concatenate([s[0] for s in part]), np.concatenate([s[1] for s in part])) for part in (train, held_out)]
    return stack[0], stack[1]


def fit_library(
    bands,
    shards,
    workdir,
    *,
    steps: int,
    batch_size: int,
    eval_every: int,
    checkpoint_every: int,
    seed: int = 0,
    network: dict | None = None,
    limits: bool = True,
    metadata: dict | None = None,
    progress=None,
    log=print,
    **training,
):
    """Fit the cINN (``network``: :data:`NETWORK`) on every shard but the held-out ones, each
    cluster seen :data:`NOISE_COPIES` times, with the 4K conditioning columns of
    :func:`astro.observe.obs_names` (3K, no limits, with ``limits=False``: the shipped
    estimators' inputs); checkpoints per (library size, network, steps, columns)."""
    from inn_engine.fit import fit

    (x, mags), _ = _split(shards)
    rng = np.random.default_rng(seed)
    xs = np.concatenate([x] * NOISE_COPIES)
    ys = np.concatenate([observe(mags, rng, limits=limits) for _ in range(NOISE_COPIES)])
    simulator = ClusterLibrarySimulator(tuple(bands))
    columns = obs_names(bands, limits)
    network = dict(network or NETWORK)
    tag = "_".join(f"{k}{v}" for k, v in sorted(network.items())) + ("" if limits else "_nolimits")
    checkpoints = Path(workdir) / f"checkpoints_n{len(x)}_{tag}_steps{steps}_batch{batch_size}"
    log(f"training on {len(x)} clusters x {NOISE_COPIES} noise copies, {steps} steps of batch {batch_size}")
    return fit(
        xs,
        ys,
        "cinn",
        seed=seed,
        bounds=simulator.bounds,
        param_names=simulator.param_names,
        obs_names=columns,
        param_units=[p.unit for p in simulator.parameters],
        obs_units=["" if name.startswith(("has_", "lim_")) else "mag" for name in columns],
        metadata=metadata,
        checkpoint_dir=str(checkpoints),
        progress=progress,
        steps=steps,
        batch_size=batch_size,
        eval_every=eval_every,
        checkpoint_every=checkpoint_every,
        **network,
        **training,
    )


def fine_tune_library(
    estimator, bands, shards, workdir, *, noise_copies: int, noise_seed: int, progress=None, log=print, **training
):
    """:func:`inn_engine.fine_tune.fine_tune` of ``estimator`` on every shard but the held-out
    ones, each cluster seen ``noise_copies`` times with fresh observations (generator seeded
    ``noise_seed``; 3K or 4K columns as the estimator has); no validation split (the last
    weights are kept: the held-out shard is the evaluation's). Checkpoints per (library size,
    steps, batch, noise seed) under ``workdir``; a killed run resumes."""
    from inn_engine.fine_tune import fine_tune

    (x, mags), _ = _split(shards)
    limits = has_limit_columns(estimator.obs_names, bands)
    rng = np.random.default_rng(noise_seed)
    xs = np.concatenate([x] * noise_copies)
    ys = np.concatenate([observe(mags, rng, limits=limits) for _ in range(noise_copies)])
    checkpoints = (
        Path(workdir) / f"fine_tune_n{len(x)}_steps{training['steps']}_batch{training['batch_size']}_noise{noise_seed}"
    )
    log(
        f"fine-tune on {len(x)} clusters x {noise_copies} noise copies, "
        f"{training['steps']} steps of batch {training['batch_size']}"
    )
    return fine_tune(
        estimator,
        xs,
        ys,
        data_record={"noise_copies": noise_copies, "noise_seed": noise_seed},
        checkpoint_dir=str(checkpoints),
        progress=progress,
        **training,
    )


def evaluate_on_held_out(
    estimator, shards, n_test: int = SHARD_SIZE, draws: int = EVALUATION_DRAWS, seed: int = 1
) -> dict:
    """:func:`inn_engine.evaluation.evaluate` on the held-out clusters, one noisy, masked
    observation each."""
    from inn_engine.evaluation import evaluate

    _, (x, mags) = _split(shards)
    limits = has_limit_columns(estimator.obs_names, estimator.metadata["astro"]["bands"])
    y = observe(mags[:n_test], np.random.default_rng(seed), limits=limits)
    return evaluate(estimator, x[:n_test], y, draws, seed=seed, progress=True)


def model_check(shards, bands):
    """The model check's side models: the first REFERENCE_SIZE training clusters as the
    reference library, the flag threshold from held-out clusters."""
    (x, mags), (_, held_mags) = _split(shards)
    return reference_side_models(x[:REFERENCE_SIZE], mags[:REFERENCE_SIZE], held_mags[:THRESHOLD_SAMPLE], bands)


def build_estimator(
    bands,
    shards,
    workdir,
    out,
    *,
    name: str,
    library_seed: int,
    training: dict,
    seed: int = 0,
    network: dict | None = None,
    limits: bool = True,
    fine_tunes: tuple = (),
    n_test: int = SHARD_SIZE,
    draws: int = EVALUATION_DRAWS,
    effective_prior_clusters: int = EFFECTIVE_PRIOR_CLUSTERS,
    progress=None,
    log=print,
):
    """Fit on the library ``shards``, fine-tune with each of ``fine_tunes`` in turn
    (:func:`fine_tune_library` settings, e.g. :data:`FINE_TUNE`), evaluate on the held-out
    shard, add the model check and save to ``out`` (``training``: TrainConfig fields incl.
    steps, batch_size, eval_every, checkpoint_every; ``limits``: :func:`fit_library`'s).
    The record names the estimator ``name``; the evaluation uses ``n_test`` held-out
    clusters x ``draws``, the effective prior ``effective_prior_clusters`` fresh ones.
    Returns the fitted Estimator."""
    simulator = ClusterLibrarySimulator(tuple(bands))
    record = {
        **astro_record(bands, [p.to_dict() for p in simulator.parameters], simulator.imf, observation_settings()),
        "band_set": name,
        "n_clusters_train": int(SHARD_SIZE * (len(shards) - HELD_OUT_SHARDS)),
        "noise_copies": NOISE_COPIES,
        "library_seed": library_seed,
        "shard_size": SHARD_SIZE,
        "library_simulator": simulator.metadata(),
    }
    estimator = fit_library(
        bands,
        shards,
        workdir,
        seed=seed,
        network=network,
        limits=limits,
        metadata={"astro": record},
        progress=progress,
        log=log,
        **training,
    )
    for settings in fine_tunes:
        estimator = fine_tune_library(estimator, bands, shards, workdir, progress=progress, log=log, **settings)
    return evaluate_and_save(estimator, bands, shards, out, n_test, draws, effective_prior_clusters, log)


def evaluate_and_save(
    estimator,
    bands,
    shards,
    out,
    n_test: int = SHARD_SIZE,
    draws: int = EVALUATION_DRAWS,
    effective_prior_clusters: int = EFFECTIVE_PRIOR_CLUSTERS,
    log=print,
):
    """Evaluate ``estimator`` on the held-out shard (``metadata["evaluation"]``), add the model
    check (reference library and flag threshold), save it to ``out`` and make its effective
    prior there from ``effective_prior_clusters`` fresh clusters (:mod:`astro.effective_prior`);
    returns it."""
    log("evaluating on the held-out shard")
    estimator.metadata["evaluation"] = evaluate_on_held_out(estimator, shards, n_test, draws)
    side = model_check(shards, bands)
    estimator.metadata["astro"].update(side.record)
    estimator.save(out, side.files)
    log(
        f"saved {out}: calibration error "
        + ", ".join(
            f"{p} {m['calibration_median_abs']:.4f}" for p, m in estimator.metadata["evaluation"]["parameters"].items()
        )
    )
    log(f"making its effective prior from {effective_prior_clusters:,} simulated clusters")
    log(f"saved {write_effective_prior(out, clusters=effective_prior_clusters)}")
    return estimator


def train(
    bands,
    out,
    *,
    quick: bool = False,
    clusters: int | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    workdir=None,
    seed: int = 0,
    library_seed: int = 70_000,
    n_workers: int = 2,
    network: dict | None = None,
    n_test: int = SHARD_SIZE,
    draws: int = EVALUATION_DRAWS,
    effective_prior_clusters: int = EFFECTIVE_PRIOR_CLUSTERS,
    progress=None,
    log=print,
    **training,
):
    """Build an estimator for ``bands`` into directory ``out``; returns it loaded.

    Args:
        bands: filter names of the tables (``astro.available_bands()``), a list or "u,g,r".
        out: the estimator directory (``astro.infer(..., estimator=out)`` uses it).
        quick: :data:`QUICK` settings instead of :data:`SHIPPED` (the default, which made
            the shipped estimators: hours on 2 cores; the expected time is printed first).
        clusters, steps, batch_size: override the library size and the training length.
        workdir: library shards and checkpoints (default ``runs/astro_train_<bands>``):
            rerunning the same call resumes there.
        seed: training seed; library_seed: seed of shard 0 (shard k: + k).
        n_workers: worker processes of the library stage.
        network, **training: cINN options and other :class:`inn_engine.train.TrainConfig` fields.
        n_test, draws: held-out clusters and posterior draws of the evaluation.
        effective_prior_clusters: simulated clusters behind the effective prior that the
            catalogue populations of ``astro.infer`` divide by (:mod:`astro.effective_prior`).
    """
    from inn_engine.estimator import Estimator

    bands = parse_bands(bands) if isinstance(bands, str) else parse_bands(",".join(bands))
    settings = dict(QUICK if quick else SHIPPED)
    settings.update(
        {k: v for k, v in (("clusters", clusters), ("steps", steps), ("batch_size", batch_size)) if v is not None}
    )
    workdir = Path(workdir or DEFAULT_WORKDIR / f"astro_train_{'-'.join(bands)}")
    library_s, training_s, prior_s = expected_seconds(
        settings["clusters"], settings["steps"], settings["batch_size"], n_workers, effective_prior_clusters
    )
    log(
        f"astro.train {','.join(bands)} -> {out}: {settings['clusters']:,} clusters (about {library_s / 60:.0f} min),"
        f" {settings['steps']:,} steps of batch {settings['batch_size']} (about {training_s / 60:.0f} min), "
        f"its effective prior from {effective_prior_clusters:,} clusters "
        f"(about {prior_s / 60:.0f} min) on a "
        f"2-core machine; work directory {workdir} (rerun to resume)"
    )
    build_library(bands, settings.pop("clusters"), workdir, library_seed, n_workers=n_workers, log=log)
    build_estimator(
        bands,
        load_library(workdir),
        workdir,
        out,
        name=",".join(bands),
        library_seed=library_seed,
        training={**settings, **training},
        seed=seed,
        network=network,
        n_test=n_test,
        draws=draws,
        effective_prior_clusters=effective_prior_clusters,
        progress=progress,
        log=log,
    )
    return Estimator.load(out)
