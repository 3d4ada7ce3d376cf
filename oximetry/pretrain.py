"""Build the shipped sO2 posterior estimator from scratch: grids, training, evaluation, OOD model.

``python -m oximetry.pretrain`` (``make pretrain``) runs the whole pipeline; every stage
resumes: the grids are resumable zarr stores and training writes checkpoints, all under
``--work`` (default ``~/.cache/innfer/oximetry_pretrain``). The estimator directory
(``weights.safetensors`` + ``estimator.json``) lands in ``--out`` (default: the package's
``oximetry/pretrained``) with its evaluation metrics in ``metadata['metrics']``.

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
import time
from pathlib import Path

import numpy as np

from inn_engine import fit
from inn_engine.diagnostics import calibration_error, calibration_error_floor
from inn_engine.estimator import Estimator
from oximetry.camera import Camera, default_camera
from oximetry.features import feature_names, reflectance_features
from oximetry.grid import simulate_grid
from oximetry.highlight import HIGHLIGHT_FILE, fit_highlight_detector
from oximetry.ood import SpectrumOOD
from oximetry.quantile_head import HEAD_FILE, fit_quantile_head

__all__ = ["PretrainSettings", "train", "evaluate", "specular_and_saturated", "ood_auroc", "PACKAGED_DIR"]

PACKAGED_DIR = Path(__file__).resolve().parent / "pretrained"
HEAD_QUANTILES = (0.025, 0.16, 0.5, 0.84, 0.975)  # sO2 quantiles of the fast whole-image head
DEFAULT_WORK = Path(os.path.expanduser("~/.cache/innfer/oximetry_pretrain"))
HIGHLIGHT_TRAIN_ROWS = 200_000  # tissue spectra (and as many highlight copies) for the highlight detector


class PretrainSettings:
    """Sizes and settings of one pipeline run (all recorded in the artifact).

    n: training spectra; n_test: held-out test spectra (>= 1000 for the table); n_quad:
    adding-doubling quadrature points of the grid's solver; steps: optimizer steps (None:
    :func:`inn_engine.fit.default_train_config`); n_draws: posterior draws per test case;
    head_steps: training steps of the sO2 quantile head (:mod:`oximetry.quantile_head`).
    """

    def __init__(self, n: int = 50_000, n_test: int = 2000, n_generic: int = 2000, prior: str = "colon",
                 snr: float = 10.0, n_quad: int = 8, solver: str = "fast", features: str = "relative",
                 steps: int | None = 2000, batch_size: int = 512, n_draws: int = 500, seed: int = 0,
                 chunk_size: int = 5000, n_workers: int = 2, network: dict | None = None, head_steps: int = 4000):
        if n < 1000 or n_test < 100:
            raise ValueError(f"need n >= 1000 and n_test >= 100, got n={n}, n_test={n_test}")
        self.n, self.n_test, self.n_generic = int(n), int(n_test), int(n_generic)
        self.prior, self.snr, self.n_quad, self.solver, self.features = prior, float(snr), int(n_quad), solver, features
        self.steps, self.batch_size, self.n_draws, self.seed = steps, int(batch_size), int(n_draws), int(seed)
        self.chunk_size, self.n_workers, self.head_steps = int(chunk_size), int(n_workers), int(head_steps)
        self.network = dict(network or {"n_blocks": 6, "hidden": 128, "coupling": "affine"})

    def to_dict(self) -> dict:
        return {k: v for k, v in vars(self).items()}


def _grid(settings: PretrainSettings, camera: Camera, work: Path, name: str, n: int, prior: str, seed: int):
    chunk = min(settings.chunk_size, max(1000, n // 10))  # >= 10 chunks for the workers
    # the surrogate covers the colon prior only: other priors' grids are solved by adding-doubling
    solver = "fast" if settings.solver == "surrogate" and prior != "colon" else settings.solver
    path = work / f"grid_{name}_{prior}_{camera.name}_n{n}_s{seed}_{solver}_q{settings.n_quad}.zarr"
    return simulate_grid(n, prior, camera, path, snr=settings.snr, solver=solver, n_quad=settings.n_quad,
                         seed=seed, chunk_size=chunk, n_workers=settings.n_workers, progress=True)


def _checkpoint_name(settings: PretrainSettings, camera: Camera, out: Path) -> str:
    """A checkpoint directory name per (output, camera, prior, grid size, network, steps): a rerun with the
    same settings resumes, different settings never pick up a foreign checkpoint."""
    net = "_".join(f"{k}{v}" for k, v in sorted(settings.network.items()))
    return f"checkpoints_{out.name}_{camera.name}_{settings.prior}_n{settings.n}_{net}_steps{settings.steps}"


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


def evaluate(estimator: Estimator, x_test, f_test, n_draws: int = 500, seed: int = 1) -> dict:
    """Calibration and point errors on held-out (x_test (n, d), features f_test (n, bands)).

    Returns JSON-safe metrics: per parameter the paper's calibration error (median over
    credible levels of |observed - nominal coverage|, %), the 68 % interval's coverage
    error and median width; the floor of that error for exact posteriors at this number of
    test cases and draws (:func:`inn_engine.diagnostics.calibration_error_floor`); for sO2 the mean |MAP - truth| and |median - truth| with
    standard errors (percentage points).
    """
    post = estimator.posterior(f_test, n=n_draws, seed=seed)
    cal = calibration_error(post.samples, x_test)
    floor, floor_sd = calibration_error_floor(len(x_test), n_draws, seed=seed)
    j = estimator.param_names.index("sO2")
    errors = {"map": np.abs(post.map("density")[:, j] - x_test[:, j]),
              "median": np.abs(post.median()[:, j] - x_test[:, j])}
    per_param = {name: {"calibration_error_pct": 100 * float(cal.median_abs_error[k]),
                        "coverage_error_68_pct": 100 * float(cal.error_at_68[k]),
                        "width_68": float(cal.width_at_68[k])}
                 for k, name in enumerate(estimator.param_names)}
    return {
        "n_test": int(len(x_test)), "n_draws": int(n_draws),
        "calibration_error_pct": per_param,
        "calibration_error_sO2_pct": per_param["sO2"]["calibration_error_pct"],
        "calibration_error_median_over_params_pct": float(100 * np.median(cal.median_abs_error)),
        "calibration_error_floor_pct": 100 * floor, "calibration_error_floor_sd_pct": 100 * floor_sd,
        **{f"sO2_{k}_abs_error_pct": float(100 * v.mean()) for k, v in errors.items()},
        **{f"sO2_{k}_abs_error_sem_pct": float(100 * v.std(ddof=1) / np.sqrt(len(v))) for k, v in errors.items()},
    }


def train(camera: Camera | None = None, prior: str = "colon", out=None, work=None,
          settings: PretrainSettings | None = None, **overrides) -> Estimator:
    """Grids -> cINN -> OOD model -> evaluation -> estimator directory ``out`` (returned loaded).

    ``camera``: the filter responses (default: the paper's 8-band camera); ``prior``: the
    tissue model of the training grid; ``overrides``: :class:`PretrainSettings` fields.
    Re-running with the same arguments resumes the grids and the training checkpoints.
    """
    settings = settings or PretrainSettings(prior=prior, **overrides)
    camera = default_camera() if camera is None else camera
    work = Path(work or DEFAULT_WORK)
    work.mkdir(parents=True, exist_ok=True)
    if out is None and (camera != default_camera() or settings.prior != "colon"):
        raise ValueError("give out= (a directory) for an estimator of another camera or prior; the packaged "
                         "estimator is only rebuilt for the default camera and the colon prior")
    out = Path(out or PACKAGED_DIR)
    started = time.time()

    train_ds = _grid(settings, camera, work, "train", settings.n, settings.prior, settings.seed)
    test_ds = _grid(settings, camera, work, "test", settings.n_test, settings.prior, settings.seed + 1)
    x, y = train_ds["x"].values, train_ds["y"].values
    x_test, y_test = test_ds["x"].values, test_ds["y"].values
    f, f_test = reflectance_features(y, settings.features), reflectance_features(y_test, settings.features)
    names = feature_names(camera.band_names, settings.features)
    bounds = [[p["low"], p["high"]] for p in json.loads(train_ds.attrs["simulator"])["parameters"]]
    units = json.loads(train_ds.attrs["units"])

    options = dict(settings.network, batch_size=settings.batch_size, seed=settings.seed,
                   checkpoint_dir=str(work / _checkpoint_name(settings, camera, out)),
                   progress=True)
    if settings.steps is not None:
        options["steps"] = settings.steps
    estimator = fit(x, f, "cinn", bounds=bounds, param_names=list(train_ds["param"].values), obs_names=names,
                    param_units=[units["param"][p] for p in train_ds["param"].values],
                    obs_units=["log ratio"] * len(names), **options)

    half = len(y_test) // 2
    inliers = y_test[half:]
    density = SpectrumOOD.fit(y, seed=settings.seed).with_threshold(y_test[:half])
    ood = {"threshold_quantile": density.quantile, "threshold": density.threshold,
           "false_positive_rate_held_out": float(density.is_ood(inliers).mean())}
    specular, saturated = specular_and_saturated(y_test[half:], seed=settings.seed)
    ood["auroc_specular"] = ood_auroc(density, inliers, specular)
    ood["auroc_saturated"] = ood_auroc(density, inliers, saturated)
    highlight = fit_highlight_detector(y[:HIGHLIGHT_TRAIN_ROWS], y_test[:half], camera.centres_nm, seed=settings.seed)
    ood["auroc_specular_highlight_detector"] = ood_auroc(highlight, inliers, specular)
    flagged = {name: density.is_ood(r) | highlight.is_highlight(r)
               for name, r in (("in_distribution", inliers), ("specular", specular), ("saturated", saturated))}
    ood["flagged_fraction_combined"] = {name: float(f.mean()) for name, f in flagged.items()}
    if settings.n_generic:
        generic = _grid(settings, camera, work, "generic", settings.n_generic, "generic", settings.seed + 2)
        ood["auroc_generic_prior"] = ood_auroc(density, inliers, generic["y"].values)
        ood["flagged_fraction_combined"]["generic_prior"] = float(
            (density.is_ood(generic["y"].values) | highlight.is_highlight(generic["y"].values)).mean())

    metrics = evaluate(estimator, x_test, f_test, settings.n_draws, seed=settings.seed + 1)
    metrics["ood"] = ood
    j = list(train_ds["param"].values).index("sO2")
    head = fit_quantile_head(f, x[:, j], HEAD_QUANTILES, steps=settings.head_steps, hidden=64, seed=settings.seed)
    q = head.predict(f_test)
    metrics["quantile_head"] = {
        "quantiles": list(HEAD_QUANTILES), "steps": settings.head_steps,
        "coverage_error_68_pct": 100 * float(((q[:, 1] <= x_test[:, j]) & (x_test[:, j] <= q[:, 3])).mean() - 0.68),
        "coverage_error_95_pct": 100 * float(((q[:, 0] <= x_test[:, j]) & (x_test[:, j] <= q[:, 4])).mean() - 0.95),
        "sO2_median_abs_error_pct": 100 * float(np.abs(q[:, 2] - x_test[:, j]).mean())}
    estimator.metadata.update(
        oximetry={"features": settings.features, "camera": camera.metadata(), "band_names": camera.band_names,
                  "prior": settings.prior, "snr": settings.snr,
                  "solver": {"method": settings.solver, "n_quad": settings.n_quad},
                  "ood": density.to_dict()},
        pretrain={"settings": settings.to_dict(), "seconds": time.time() - started,
                  "command": "python -m oximetry.pretrain " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in (
                      ("n", settings.n), ("n-test", settings.n_test), ("n-generic", settings.n_generic),
                      ("steps", settings.steps), ("batch-size", settings.batch_size), ("n-draws", settings.n_draws),
                      ("solver", settings.solver)))},
        metrics=metrics,
    )
    estimator.save(out)
    head.save(out / HEAD_FILE)
    highlight.save(out / HIGHLIGHT_FILE)
    return Estimator.load(out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m oximetry.pretrain", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50_000, help="training spectra (the issue asks for >= 1e6)")
    parser.add_argument("--n-test", type=int, default=2000, help="held-out test spectra")
    parser.add_argument("--n-generic", type=int, default=2000, help="generic-prior spectra for the OOD AUROC")
    parser.add_argument("--steps", type=int, default=2000, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--n-draws", type=int, default=500, help="posterior draws per test case")
    parser.add_argument("--n-quad", type=int, default=8, help="adding-doubling quadrature points")
    parser.add_argument("--solver", default="fast", choices=("fast", "surrogate", "mc"))
    parser.add_argument("--features", default="relative", choices=("relative", "absolute"))
    parser.add_argument("--coupling", default="affine", choices=("affine", "spline"), help="cINN coupling type")
    parser.add_argument("--blocks", type=int, default=6, help="cINN coupling blocks")
    parser.add_argument("--hidden", type=int, default=128, help="hidden units of the coupling subnetworks")
    parser.add_argument("--workers", type=int, default=2, help="grid worker processes")
    parser.add_argument("--work", default=str(DEFAULT_WORK), help="grids and checkpoints (resumable)")
    parser.add_argument("--out", default=str(PACKAGED_DIR), help="estimator directory to write")
    args = parser.parse_args(argv)
    settings = PretrainSettings(n=args.n, n_test=args.n_test, n_generic=args.n_generic, steps=args.steps,
                                batch_size=args.batch_size, n_draws=args.n_draws, n_quad=args.n_quad, solver=args.solver,
                                features=args.features, n_workers=args.workers,
                                network={"n_blocks": args.blocks, "hidden": args.hidden, "coupling": args.coupling})
    estimator = train(out=args.out, work=args.work, settings=settings)
    print(json.dumps({k: v for k, v in estimator.metadata["metrics"].items() if k != "calibration_error_pct"},
                     indent=1))


if __name__ == "__main__":
    main()
