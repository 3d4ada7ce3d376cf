"""Build an sO2 posterior estimator from scratch: grids, training, evaluation, OOD model.

:func:`train` (``oximetry.train``) runs the whole pipeline for any camera and prior; every
stage resumes: the grids are resumable zarr stores and training writes checkpoints, all
under ``work`` (default ``~/.cache/innfer/oximetry_pretrain``). The estimator directory
(``weights.safetensors``, ``estimator.json``, the quantile head and the highlight detector,
checksummed) lands in ``out``, with its evaluation metrics in ``metadata['metrics']``.

``python -m oximetry.pretrain`` (``make pretrain``) rebuilds the packaged estimator with the
settings recorded in it (:data:`SHIPPED`) into ``<work>/estimator``, prints its metrics
beside the packaged ones, and replaces the packaged files only with ``--install``.

Stages: a training grid (colon prior, camera, multiplicative noise at ``snr``) of ``n``
spectra, a held-out test grid (another seed) and a generic-prior grid (for OOD);
features of the reflectances (:mod:`oximetry.features`); a cINN fitted with
:func:`inn_engine.fit`; a Gaussian-mixture feature density for OOD flags
(:mod:`oximetry.ood`) and a specular-highlight classifier (:mod:`oximetry.highlight`);
a pinball-loss sO2 quantile head for whole images
(:mod:`oximetry.quantile_head`); calibration and point errors on the test grid.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np

from inn_engine import fit
from inn_engine.estimator import Estimator
from inn_engine.evaluation import evaluate as engine_evaluate
from oximetry.camera import Camera, default_camera
from oximetry.domain import DOMAIN, FEATURES, HEAD_QUANTILES, HEAD_STEPS, fit_side_models
from oximetry.estimate import PAPER_INN_DIR
from oximetry.features import feature_names, reflectance_features
from oximetry.grid import simulate_grid
from oximetry.highlight import HIGHLIGHT_FILE
from oximetry.quantile_head import HEAD_FILE

__all__ = [
    "PretrainSettings",
    "SHIPPED",
    "QUICK",
    "train",
    "evaluate",
    "specular_and_saturated",
    "ood_auroc",
    "recorded_settings",
    "PACKAGED_DIR",
    "PAPER_INN_DIR",
    "PAPER_INN",
]

PACKAGED_DIR = Path(__file__).resolve().parent / "pretrained"
DEFAULT_WORK = Path(os.path.expanduser("~/.cache/innfer/oximetry_pretrain"))


#: the settings of the packaged estimator (its metadata["pretrain"]["settings"] records them)
SHIPPED = {"n": 1_000_000, "n_test": 20_000, "n_generic": 5000, "steps": 30_000, "batch_size": 1024, "n_draws": 1000}
#: a try-out in minutes: 5x10^4 spectra, 2000 steps (calibration visibly worse than SHIPPED)
#: the settings of the packaged padded INN: the cINN's grids, 20,000 steps at batch 512 (its MMDs
#: cost batch^2), no quantile head (every figure it gives is the INN's own)
PAPER_INN = {**SHIPPED, "steps": 20_000, "batch_size": 512, "model": "padded", "head_steps": 0}
QUICK = {"n": 50_000, "n_test": 2000, "n_generic": 2000, "steps": 2000, "batch_size": 512, "n_draws": 500}
# Rates on this project's 2-core machine, for the time printed at the start: spectra per
# second and worker of the solvers (adding-doubling with 8 quadrature points; the neural
# surrogate), and seconds per training step of the 6x128 affine cINN at batch 1024.
SPECTRA_PER_SECOND = {"fast": 640.0, "surrogate": 16_000.0, "mc": 5.0}
SECONDS_PER_STEP_AT_1024 = 0.045
#: the padded INN's step at batch 512 (two jobs on the 2 cores: the packaged one's 20,000 steps
#: took 60 min); its MMDs grow with batch^2
PADDED_SECONDS_PER_STEP_AT_512 = 0.18
#: the network options of each model the pipeline trains: the packaged cINN's, and the paper's
#: padded INN (4 blocks of width 128, its defaults) with departures from the paper's code, each
#: measured at 4000 steps of batch 512 on the 10^6 colon grid with the grid's noise draws as
#: nuisance inputs (2000 test spectra x 200 draws, floor ~0.7 %; /work/runs17 in the #17 notes):
#: - the exponent clamp 2.0 instead of 4.0, with which the 13-parameter network's forward pass
#:   exploded;
#: - an unweighted backward MMD (the paper's text; its code weighted pairs by the similarity of
#:   their y): the weighted MMD left the parameters that y cannot tell at half their prior width
#:   (median calibration error 22 %, 2.3 % unweighted);
#: - latent MMD weight 200 instead of 50: sO2 calibration error 3.7 % -> 1.75 % (1000: 0.95 %
#:   with padding, 3.6 % without);
#: - no padding: the latent has the inputs' size less y's (dim_z 12, the engine's default with
#:   nuisance inputs; the paper's layout), not the inputs' full size (20): 1.75 % -> 0.95 %, MAP
#:   error of sO2 10.95 -> 9.6 pp (the cINN's 8.6 on the same spectra).
NETWORKS = {
    "cinn": {"n_blocks": 6, "hidden": 128, "coupling": "affine"},
    "padded": {"clamp": 2.0, "y_sigma": None, "weights": {"latent": 200.0}},
}


class PretrainSettings:
    """Sizes and settings of one pipeline run (all recorded in the artifact); the defaults are
    :data:`SHIPPED`'s, which made the packaged estimator.

    n: training spectra; n_test: held-out test spectra (>= 1000 for the table); n_quad:
    adding-doubling quadrature points of the grid's solver; solver: None picks the neural
    surrogate for the colon prior seen by the default camera (the only case it covers) and
    adding-doubling ("fast") otherwise; steps: optimizer steps; n_draws: posterior draws per
    test case; head_steps: training steps of the sO2 quantile head (:mod:`oximetry.quantile_head`);
    model: "cinn" (the packaged estimator) or "padded" (the paper's padded INN, trained with the
    grid's noise draws as nuisance inputs and shipped without a quantile head, so that every
    figure it gives is its own); network: that model's options (default :data:`NETWORKS`).
    """

    def __init__(
        self,
        n: int = SHIPPED["n"],
        n_test: int = SHIPPED["n_test"],
        n_generic: int = SHIPPED["n_generic"],
        prior: str = "colon",
        snr: float = 10.0,
        n_quad: int = 8,
        solver: str | None = None,
        features: str = FEATURES,
        steps: int = SHIPPED["steps"],
        batch_size: int = SHIPPED["batch_size"],
        n_draws: int = SHIPPED["n_draws"],
        seed: int = 0,
        chunk_size: int = 5000,
        n_workers: int = 2,
        network: dict | None = None,
        head_steps: int = HEAD_STEPS,
        model: str = "cinn",
    ):
        if n < 1000 or n_test < 100:
            raise ValueError(f"need n >= 1000 and n_test >= 100, got n={n}, n_test={n_test}")
        self.n, self.n_test, self.n_generic = int(n), int(n_test), int(n_generic)
        self.prior, self.snr, self.n_quad, self.solver, self.features = prior, float(snr), int(n_quad), solver, features
        self.steps, self.batch_size, self.n_draws, self.seed = int(steps), int(batch_size), int(n_draws), int(seed)
        self.chunk_size, self.n_workers, self.head_steps = int(chunk_size), int(n_workers), int(head_steps)
        if model not in NETWORKS:
            raise ValueError(f"model must be one of {sorted(NETWORKS)}, got {model!r}")
        self.model = model
        self.network = dict(NETWORKS[model] if network is None else network)

    def for_camera(self, camera: Camera) -> "PretrainSettings":
        """These settings with the solver chosen for ``camera`` when it was left to the pipeline."""
        if self.solver is None:
            self.solver = "surrogate" if camera == default_camera() and self.prior == "colon" else "fast"
        return self

    def expected_seconds(self) -> tuple[float, float]:
        """(grids, training) seconds expected on this project's 2-core machine."""
        rate = SPECTRA_PER_SECOND[self.solver] * max(1, min(self.n_workers, os.cpu_count() or 1))
        if self.model == "padded":
            step = PADDED_SECONDS_PER_STEP_AT_512 * (self.batch_size / 512) ** 2
        else:
            step = SECONDS_PER_STEP_AT_1024 * self.batch_size / 1024
        return (self.n + self.n_test + self.n_generic) / rate, self.steps * step

    def to_dict(self) -> dict:
        return {k: v for k, v in vars(self).items()}


def _grid(settings: PretrainSettings, camera: Camera, work: Path, name: str, n: int, prior: str, seed: int):
    chunk = min(settings.chunk_size, max(1000, n // 10))  # >= 10 chunks for the workers
    # the surrogate covers the colon prior only: other priors' grids are solved by adding-doubling
    solver = "fast" if settings.solver == "surrogate" and prior != "colon" else settings.solver
    path = work / f"grid_{name}_{prior}_{camera.name}_n{n}_s{seed}_{solver}_q{settings.n_quad}.zarr"
    return simulate_grid(
        n,
        prior,
        camera,
        path,
        snr=settings.snr,
        solver=solver,
        n_quad=settings.n_quad,
        seed=seed,
        chunk_size=chunk,
        n_workers=settings.n_workers,
        progress=True,
    )


def _checkpoint_name(settings: PretrainSettings, camera: Camera, out: Path) -> str:
    """A checkpoint directory name per (output, camera, prior, grid size, network, steps): a rerun with the
    same settings resumes, different settings never pick up a foreign checkpoint."""
    net = re.sub(r"[^\w.-]", "", "_".join(f"{k}{v}" for k, v in sorted(settings.network.items())))
    model = "" if settings.model == "cinn" else f"_{settings.model}"
    return f"checkpoints_{out.name}{model}_{camera.name}_{settings.prior}_n{settings.n}_{net}_steps{settings.steps}"


def noise_draws(x, f, settings: PretrainSettings, camera: Camera) -> np.ndarray:
    """The measurement noise behind each training row, as features: f (n, bands) minus the
    features of the noiseless reflectances of x (n, params); for the "relative" features, whose
    entries sum to zero, the last column is dropped. The padded INN's nuisance inputs."""
    from oximetry.simulator import OximetrySimulator

    simulator = OximetrySimulator(settings.prior, camera, solver=settings.solver, n_quad=settings.n_quad)
    noise = f - reflectance_features(simulator.noiseless(x), settings.features)
    return noise[:, :-1] if settings.features == "relative" else noise


def specular_and_saturated(y, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Corrupted copies of in-distribution spectra y (n, bands): (specular, saturated).

    Specular: a wavelength-flat surface reflection of 0.3-1.5 times the brightest band is
    added. Saturated: the spectrum is scaled up by 2-6x relative to its brightest band and
    clipped at 1 (the sensor's full scale after white calibration).
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(y, dtype=float)
    peak = y.max(axis=1, keepdims=True)
    specular = y + rng.uniform(0.3, 1.5, (len(y), 1)) * peak
    saturated = np.minimum(y * rng.uniform(2.0, 6.0, (len(y), 1)) / peak, 1.0)
    return specular, saturated


def ood_auroc(detector, inliers, outliers) -> float:
    """Area under the ROC curve of ``detector.score`` (a :class:`SpectrumOOD` or
    :class:`HighlightDetector`) separating outlier reflectances (positive) from inliers."""
    from sklearn.metrics import roc_auc_score

    s_in, s_out = detector.score(inliers), detector.score(outliers)
    return float(roc_auc_score(np.r_[np.zeros(len(s_in)), np.ones(len(s_out))], np.r_[s_in, s_out]))


def evaluate(estimator: Estimator, x_test, f_test, n_draws: int = 500, seed: int = 1, progress=False) -> dict:
    """:func:`inn_engine.evaluation.evaluate` on held-out (x_test (n, d), features f_test (n, bands)),
    recorded whole under ``"evaluation"``, with the paper's figures in percent beside it.

    Per parameter the paper's calibration error (median over credible levels of |observed -
    nominal coverage|, %), the 68 % interval's coverage error and median width; the floor of
    that error for exact posteriors at this number of test cases and draws; for sO2 the mean
    |MAP - truth| with its standard error (percentage points). ``progress``: report the drawing.
    """
    result = engine_evaluate(estimator, x_test, f_test, n_draws, seed=seed, progress=progress)
    parameters = result["parameters"]
    per_param = {
        name: {
            "calibration_error_pct": 100 * m["calibration_median_abs"],
            "coverage_error_68_pct": 100 * m["calibration_error_68"],
            "width_68": m["width_68"],
        }
        for name, m in parameters.items()
    }
    return {
        "evaluation": result,
        "n_test": result["n_test"],
        "n_draws": result["draws"],
        "calibration_error_pct": per_param,
        "calibration_error_sO2_pct": per_param["sO2"]["calibration_error_pct"],
        "calibration_error_median_over_params_pct": float(
            np.median([m["calibration_error_pct"] for m in per_param.values()])
        ),
        "calibration_error_floor_pct": 100 * result["calibration_error_floor"],
        "calibration_error_floor_sd_pct": 100 * result["calibration_error_floor_sd"],
        "sO2_map_abs_error_pct": 100 * parameters["sO2"]["map_mean_abs_error"],
        "sO2_map_abs_error_sem_pct": 100 * parameters["sO2"]["map_mean_abs_error_sem"],
    }


def train(
    camera: Camera | None = None,
    prior: str = "colon",
    out=None,
    work=None,
    settings: PretrainSettings | None = None,
    quick: bool = False,
    log=print,
    **overrides,
) -> Estimator:
    """Grids -> cINN -> OOD model -> evaluation -> estimator directory ``out`` (returned loaded).

    ``camera``: the filter responses (default: the paper's 8-band camera); ``prior``: the
    tissue model of the training grid; ``quick``: :data:`QUICK` sizes instead of the
    packaged estimator's (:data:`SHIPPED`, the default: about an hour for the default
    camera, several for another camera, whose grids need adding-doubling; the expected time
    is printed first); ``overrides``: :class:`PretrainSettings` fields. Re-running with the
    same arguments resumes the grids and the training checkpoints under ``work``.
    """
    if out is None:
        raise ValueError(
            "give out= (a directory) for the new estimator; the packaged one is replaced only by "
            "`python -m oximetry.pretrain --install`"
        )
    settings = settings or PretrainSettings(prior=prior, **{**(QUICK if quick else {}), **overrides})
    camera = default_camera() if camera is None else camera
    settings.for_camera(camera)
    work = Path(work or DEFAULT_WORK)
    work.mkdir(parents=True, exist_ok=True)
    out = Path(out)
    grids_s, training_s = settings.expected_seconds()
    log(
        f"oximetry.train {camera.name} / {settings.prior} -> {out}: {settings.n:,} training spectra by "
        f"{settings.solver} (about {grids_s / 60:.0f} min), {settings.steps:,} steps of batch {settings.batch_size} "
        f"(about {training_s / 60:.0f} min) on a 2-core machine; work directory {work} (rerun to resume)"
    )
    started = time.time()

    train_ds = _grid(settings, camera, work, "train", settings.n, settings.prior, settings.seed)
    test_ds = _grid(settings, camera, work, "test", settings.n_test, settings.prior, settings.seed + 1)
    x, y = train_ds["x"].values, train_ds["y"].values
    x_test, y_test = test_ds["x"].values, test_ds["y"].values
    f, f_test = reflectance_features(y, settings.features), reflectance_features(y_test, settings.features)
    names = feature_names(camera.band_names, settings.features)
    bounds = [[p["low"], p["high"]] for p in json.loads(train_ds.attrs["simulator"])["parameters"]]
    units = json.loads(train_ds.attrs["units"])

    options = dict(
        settings.network,
        batch_size=settings.batch_size,
        seed=settings.seed,
        checkpoint_dir=str(work / _checkpoint_name(settings, camera, out)),
        progress=True,
    )
    if settings.steps is not None:
        options["steps"] = settings.steps
    if settings.model == "padded":
        options["nuisance"] = noise_draws(x, f, settings, camera)
    estimator = fit(
        x,
        f,
        settings.model,
        bounds=bounds,
        param_names=list(train_ds["param"].values),
        obs_names=names,
        param_units=[units["param"][p] for p in train_ds["param"].values],
        obs_units=["log ratio"] * len(names),
        **options,
    )

    half = len(y_test) // 2
    inliers = y_test[half:]
    j = list(train_ds["param"].values).index("sO2")
    density, highlight, head = fit_side_models(
        y,
        y_test[:half],
        x[:, j],
        camera,
        seed=settings.seed,
        head_steps=settings.head_steps,
    )
    ood = {
        "threshold_quantile": density.quantile,
        "threshold": density.threshold,
        "false_positive_rate_held_out": float(density.is_ood(inliers).mean()),
    }
    specular, saturated = specular_and_saturated(y_test[half:], seed=settings.seed)
    ood["auroc_specular"] = ood_auroc(density, inliers, specular)
    ood["auroc_saturated"] = ood_auroc(density, inliers, saturated)
    ood["auroc_specular_highlight_detector"] = ood_auroc(highlight, inliers, specular)
    flagged = {
        name: density.is_ood(r) | highlight.is_highlight(r)
        for name, r in (("in_distribution", inliers), ("specular", specular), ("saturated", saturated))
    }
    ood["flagged_fraction_combined"] = {name: float(f.mean()) for name, f in flagged.items()}
    if settings.n_generic:
        generic = _grid(settings, camera, work, "generic", settings.n_generic, "generic", settings.seed + 2)
        ood["auroc_generic_prior"] = ood_auroc(density, inliers, generic["y"].values)
        ood["flagged_fraction_combined"]["generic_prior"] = float(
            (density.is_ood(generic["y"].values) | highlight.is_highlight(generic["y"].values)).mean()
        )

    metrics = evaluate(estimator, x_test, f_test, settings.n_draws, seed=settings.seed + 1, progress=True)
    metrics["ood"] = ood
    files = {HIGHLIGHT_FILE: highlight.to_bytes()}
    if head is not None:
        q = head.predict(f_test)
        metrics["quantile_head"] = {
            "quantiles": list(HEAD_QUANTILES),
            "steps": settings.head_steps,
            "coverage_error_68_pct": 100 * float(((q[:, 1] <= x_test[:, j]) & (x_test[:, j] <= q[:, 3])).mean() - 0.68),
            "coverage_error_95_pct": 100 * float(((q[:, 0] <= x_test[:, j]) & (x_test[:, j] <= q[:, 4])).mean() - 0.95),
            "sO2_median_abs_error_pct": 100 * float(np.abs(q[:, 2] - x_test[:, j]).mean()),
        }
        files[HEAD_FILE] = head.to_bytes()
    record = DOMAIN.record(train_ds.attrs, json.loads(train_ds.attrs["simulator"]))
    estimator.metadata.update(
        oximetry={**record, "features": settings.features, "ood": density.to_dict()},
        pretrain={"settings": settings.to_dict(), "seconds": time.time() - started},
        metrics=metrics,
    )
    estimator.save(out, files)
    return Estimator.load(out)


def recorded_settings(path=PACKAGED_DIR) -> PretrainSettings:
    """The settings that made the estimator in ``path`` (its metadata["pretrain"]["settings"])."""
    recorded = dict(Estimator.load(path).metadata["pretrain"]["settings"])
    return PretrainSettings(**recorded)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m oximetry.pretrain", description=__doc__.split("\n")[0])
    parser.add_argument("--work", default=str(DEFAULT_WORK), help="grids, checkpoints and the rebuilt estimator")
    parser.add_argument("--quick", action="store_true", help="QUICK sizes instead of the recorded ones (a try-out)")
    parser.add_argument(
        "--install",
        action="store_true",
        help="replace the packaged estimator with the rebuilt one (recorded settings only)",
    )
    args = parser.parse_args(argv)
    if args.install and args.quick:
        parser.error("--install replaces the packaged estimator, which only the recorded settings may rebuild")
    for name, packaged in (("estimator", PACKAGED_DIR), ("paper_inn", PAPER_INN_DIR)):
        settings = recorded_settings(packaged)
        if args.quick:
            settings = PretrainSettings(**{**settings.to_dict(), **QUICK})
        target = Path(args.work) / name
        rebuilt = train(out=target, work=args.work, settings=settings).metadata["metrics"]
        shipped = Estimator.load(packaged).metadata["metrics"]
        print(f"{name} ({settings.model}) metric: rebuilt vs packaged")
        for key, value in rebuilt.items():
            if isinstance(value, (int, float)):
                print(f"  {key}: {value:.4g} vs {shipped.get(key)}")
        if args.install:
            for file in target.iterdir():
                shutil.copy2(file, packaged / file.name)
            print(f"installed into {packaged}")


if __name__ == "__main__":
    main()
