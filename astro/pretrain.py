"""Rebuild the shipped star-cluster estimators: ``python -m astro.pretrain`` (``make pretrain``).

The stages are :mod:`astro.training`'s (the ones ``astro.train`` runs for any band set),
with the library seeds of the shipped sets (``ubvri``: Johnson-Cousins U B V R I; ``hst``:
F275W F336W F438W F555W F814W) and exactly the training settings recorded in the shipped
estimators (their metadata, and their conditioning columns: with or without limits). The
rebuilt estimator goes to ``<workdir>/<set>/estimator``; its calibration errors are printed
beside the shipped ones, and the packaged files in ``astro/pretrained/<set>`` are replaced
only with ``--install``::

    python -m astro.pretrain library --set ubvri   # 10^6 clusters, ~16 min on 2 idle cores
    python -m astro.pretrain train --set ubvri     # ~35 min per 10^4 steps; resumes from checkpoints
    python -m astro.pretrain train --set ubvri --install   # and replace the shipped files
    python -m astro.pretrain finetune --set ubvri  # continue the shipped estimator (FINE_TUNE; ~20 min)
    python -m astro.pretrain effective-prior --set ubvri [--install]  # of the shipped estimator (~10 min)
    python -m astro.pretrain                        # everything, both sets, nothing installed

Re-running ``library`` with a larger ``--clusters`` (or after an ``--until`` deadline)
continues from the next shard; ``train`` then uses every complete shard, with checkpoints
named by library size, network, steps and batch (a killed run resumes; other settings start fresh).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
from pathlib import Path

import numpy as np

from astro.training import BAND_SETS, PRETRAINED_DIR, SHIPPED, build_library

__all__ = [
    "BAND_SETS",
    "PRETRAINED_DIR",
    "SEED",
    "recorded_training",
    "recorded_fine_tunes",
    "recorded_limits",
    "rebuild",
    "fine_tune_shipped",
    "main",
]

DEFAULT_WORKDIR = Path(os.environ.get("INNFER_RUNS", "runs")) / "astro_pretrain"
SEED = {"ubvri": 61_000, "hst": 62_000}  # library seed of shard 0 of each shipped set
_NOT_REPLAYED = ("checkpoint_dir", "progress", "seed")


def _shipped_record(band_set: str) -> dict:
    """The shipped estimator's file record of ``band_set`` (``estimator.json``)."""
    return json.loads((PRETRAINED_DIR / band_set / "estimator.json").read_text())


def recorded_training(band_set: str) -> dict:
    """The TrainConfig fields the shipped estimator of ``band_set`` was trained with (its
    metadata), less the run-specific ones (checkpoint directory, progress, seed)."""
    meta = _shipped_record(band_set)["metadata"]
    return {k: v for k, v in meta["training"]["config"].items() if k not in _NOT_REPLAYED}


def recorded_fine_tunes(band_set: str) -> list[dict]:
    """The :func:`astro.training.fine_tune_library` settings of every fine-tune the shipped
    estimator of ``band_set`` had after its training (its metadata), in order."""
    meta = _shipped_record(band_set)["metadata"]
    return [
        {
            "noise_copies": record["noise_copies"],
            "noise_seed": record["noise_seed"],
            **{k: v for k, v in record["config"].items() if k not in ("checkpoint_dir", "progress")},
        }
        for record in meta["training"].get("fine_tunes", [])
    ]


def recorded_limits(band_set: str) -> bool:
    """Whether the shipped estimator of ``band_set`` takes limits as network inputs (its
    conditioning columns: 4K with ``lim_<band>``, or the 3K without)."""
    from astro.observe import has_limit_columns

    return has_limit_columns(_shipped_record(band_set)["obs_names"], BAND_SETS[band_set])


def rebuild(band_set: str, workdir=DEFAULT_WORKDIR, install: bool = False, log=print) -> Path:
    """Train, fine-tune and evaluate ``band_set`` with its recorded settings into
    ``<workdir>/<set>/estimator``; print its calibration beside the shipped one's; copy it
    into the package with ``install``."""
    from astro.training import build_estimator, load_library

    work = Path(workdir) / band_set
    target = work / "estimator"
    estimator = build_estimator(
        BAND_SETS[band_set],
        load_library(work),
        work,
        target,
        name=band_set,
        library_seed=SEED[band_set],
        training=recorded_training(band_set),
        limits=recorded_limits(band_set),
        fine_tunes=recorded_fine_tunes(band_set),
        log=log,
    )
    _compare_and_install(band_set, estimator, target, install, log)
    return target


def fine_tune_shipped(band_set: str, workdir=DEFAULT_WORKDIR, install: bool = False, log=print) -> Path:
    """Continue the shipped estimator of ``band_set`` with :data:`astro.training.FINE_TUNE`
    on its library (``<workdir>/<set>``, from the ``library`` stage) into
    ``<workdir>/<set>/fine_tuned``; print its calibration beside the shipped one's; copy it
    into the package with ``install`` (its metadata then records the fine-tune, which
    :func:`rebuild` replays)."""
    from astro.training import FINE_TUNE, evaluate_and_save, fine_tune_library, load_library
    from inn_engine.estimator import Estimator

    work = Path(workdir) / band_set
    target = work / "fine_tuned"
    shards = load_library(work)
    shipped = Estimator.load(PRETRAINED_DIR / band_set)
    estimator = fine_tune_library(shipped, BAND_SETS[band_set], shards, work, log=log, **FINE_TUNE)
    evaluate_and_save(estimator, BAND_SETS[band_set], shards, target, log=log)
    _compare_and_install(band_set, estimator, target, install, log)
    return target


def effective_prior_of_shipped(band_set: str, workdir=DEFAULT_WORKDIR, install: bool = False, log=print) -> Path:
    """Make the effective prior of the shipped estimator of ``band_set`` (:mod:`astro.effective_prior`)
    into ``<workdir>/<set>/effective_prior.json``; copy it into the package with ``install``."""
    from astro.effective_prior import FILE, make_effective_prior, read_effective_prior, save_effective_prior

    target = Path(workdir) / band_set / FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    log(f"[{band_set}] effective prior of the shipped estimator (about 10 min)")
    prior = make_effective_prior(PRETRAINED_DIR / band_set)
    save_effective_prior(prior, target)
    shipped = read_effective_prior(PRETRAINED_DIR / band_set)
    if shipped is not None:
        change = np.abs(prior.counts / prior.counts.sum() - shipped.counts / shipped.counts.sum()).max()
        log(f"[{band_set}] largest change of a cell's share against the shipped file: {change:.2e}")
    if install:
        shutil.copy2(target, PRETRAINED_DIR / band_set / FILE)
        log(f"[{band_set}] installed {PRETRAINED_DIR / band_set / FILE}")
    return target


def _compare_and_install(band_set: str, estimator, target: Path, install: bool, log) -> None:
    """Print ``estimator``'s calibration errors beside the shipped one's; with ``install``,
    copy the directory ``target`` over the shipped files."""
    shipped = _shipped_record(band_set)["metadata"]["evaluation"]
    log(f"[{band_set}] calibration error, rebuilt vs shipped:")
    for name, metrics in estimator.metadata["evaluation"]["parameters"].items():
        old = shipped.get("calibration_error", {}).get(
            name, shipped.get("parameters", {}).get(name, {}).get("calibration_median_abs")
        )
        log(f"  {name}: {metrics['calibration_median_abs']:.4f} vs {old}")
    if install:
        for file in target.iterdir():
            shutil.copy2(file, PRETRAINED_DIR / band_set / file.name)
        log(f"[{band_set}] installed into {PRETRAINED_DIR / band_set}")


def _utc_today_at(hhmm: str) -> dt.datetime:
    hour, minute = (int(v) for v in hhmm.split(":"))
    now = dt.datetime.now(dt.timezone.utc)
    return now.replace(hour=hour, minute=minute, second=0, microsecond=0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m astro.pretrain", description=__doc__.split("\n")[0])
    parser.add_argument(
        "stage", nargs="?", default="all", choices=["all", "library", "train", "finetune", "effective-prior"]
    )
    parser.add_argument(
        "--set", dest="sets", action="append", choices=sorted(BAND_SETS), help="band set (repeatable; default both)"
    )
    parser.add_argument("--clusters", type=int, default=SHIPPED["clusters"], help="library size per band set")
    parser.add_argument("--until", default=None, help="UTC HH:MM after which no new shard starts")
    parser.add_argument("--workdir", default=str(DEFAULT_WORKDIR))
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the library stage")
    parser.add_argument("--install", action="store_true", help="replace the shipped files with the rebuilt ones")
    args = parser.parse_args(argv)
    until = _utc_today_at(args.until) if args.until else None
    for band_set in args.sets or sorted(BAND_SETS):
        if args.stage in ("all", "library"):
            build_library(
                BAND_SETS[band_set],
                args.clusters,
                Path(args.workdir) / band_set,
                SEED[band_set],
                n_workers=args.workers,
                until=until,
            )
        if args.stage in ("all", "train"):
            rebuild(band_set, args.workdir, install=args.install)
        if args.stage == "finetune":
            fine_tune_shipped(band_set, args.workdir, install=args.install)
        if args.stage == "effective-prior":
            effective_prior_of_shipped(band_set, args.workdir, install=args.install)


if __name__ == "__main__":
    main()
