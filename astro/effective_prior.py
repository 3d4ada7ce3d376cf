"""The effective prior of an astro estimator, made once and kept in its directory.

A catalogue's population (:mod:`astro.hierarchy`) divides each cluster's posterior draws by
the density they were drawn under. Dividing by the flat training prior reads the
estimator's own averaged-posterior waves (``benchmarks/astro_population.py --sections
averaged``: up to 8 % per 0.15 mag of A_V) as population structure; dividing by the
estimator's effective prior (:mod:`inn_engine.effective_prior`) does not. It is made from
:data:`CLUSTERS` clusters of the training prior, simulated with the stochastic forward
model and observed with the estimator's own observation model (:func:`astro.mock.mock_catalogue`
at distance modulus 18.5), inferred with the flat prior and no model error, :data:`DRAWS`
draws each, on the population's bins (:data:`astro.hierarchy.BIN_WIDTH`); ~10 min on 2 cores.
:data:`CLUSTERS` is 200,000 because the table's Monte Carlo noise reaches the population fits:
the synthetic populations of ``benchmarks/astro_population.py`` had a worst calibration error of
3.7 % with 20,000 clusters, 2.7 % with 100,000 and 2.5 % with 200,000 (2026-12-05).

It is kept as :data:`FILE` beside ``estimator.json``, with the SHA-256 of the weights it was
made for: the file of another estimator is refused when loaded, and an estimator without
one fits its populations against the training prior (``table.meta["population"]
["draws_divided_by"]`` says which). ``astro.train``, ``python -m astro.pretrain`` and
``innfer train`` on an astro grid (``-d effective_prior_clusters=N``, 0 for none) make it;
for an estimator made otherwise, or to remake it with more clusters::

    astro.write_effective_prior("my_estimator")   # the directory of astro.infer(..., estimator=)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from inn_engine.effective_prior import EffectivePrior, effective_prior

__all__ = [
    "FILE",
    "CLUSTERS",
    "DRAWS",
    "CHUNK",
    "make_effective_prior",
    "save_effective_prior",
    "write_effective_prior",
    "read_effective_prior",
]

FILE = "effective_prior.json"
CLUSTERS = 200_000
DRAWS = 200
CHUNK = 2000  # clusters simulated and inferred at a time
DISTANCE_MODULUS = 18.5
SEED = 5151


def _weights_sha256(directory: Path) -> str:
    from inn_engine.artifact import METADATA

    return json.loads((directory / METADATA).read_text())["weights_sha256"]


def make_effective_prior(
    estimator, clusters: int = CLUSTERS, draws: int = DRAWS, seed: int = SEED, progress: bool | None = None
) -> EffectivePrior:
    """The effective prior of the astro estimator directory ``estimator`` (module doc), from
    ``clusters`` clusters of its training prior and IMF x ``draws`` posterior draws, made in
    chunks of :data:`CHUNK` (chunk i simulated and inferred with seed ``seed + i``) that
    ``progress`` reports (None: a bar on a terminal, plain lines every 30 s otherwise)."""
    import numpy as np

    from astro.hierarchy import BIN_WIDTH, LOG_FLAT
    from astro.infer import infer, load_estimator
    from astro.mock import mock_catalogue
    from astro.simulator import PARAMS
    from inn_engine.progress import Progress

    if int(clusters) < 1:
        raise ValueError(f"clusters must be a whole number >= 1, got {clusters!r}")
    directory = Path(estimator).resolve()
    model = load_estimator(directory)
    priors = {name: tuple(bounds) for name, bounds in zip(PARAMS, model.bounds)}
    imf = model.estimator.metadata["astro"].get("imf", "kroupa")
    report = Progress(clusters, "effective prior", unit="cluster", enabled=progress)
    parts = []
    for i, start in enumerate(range(0, clusters, CHUNK)):
        size = min(CHUNK, clusters - start)
        options = dict(distance_modulus=DISTANCE_MODULUS, seed=seed + i, limits=model.limits, priors=priors, imf=imf)
        _, table, _ = mock_catalogue(size, model.bands, **options)
        result = infer(
            table,
            estimator=directory,
            distance_modulus=DISTANCE_MODULUS,
            population=None,
            model_error=0.0,
            n=draws,
            draws=draws,
            seed=seed + i,
        )
        parts.append(result.meta["draws"].values[:, :, : len(PARAMS)])
        report.update(size)
    report.close()
    record = {
        "estimator_weights_sha256": _weights_sha256(directory),
        "clusters": clusters,
        "draws": draws,
        "seed": seed,
        "chunk": CHUNK,
        "distance_modulus": DISTANCE_MODULUS,
        "made_by": "astro.effective_prior.make_effective_prior",
    }
    return effective_prior(np.concatenate(parts), model.bounds, PARAMS, BIN_WIDTH, log10=LOG_FLAT, record=record)


def save_effective_prior(prior: EffectivePrior, path: str | os.PathLike) -> Path:
    """Write ``prior`` to the JSON file ``path`` (what :func:`read_effective_prior` reads); returns it."""
    path = Path(path)
    path.write_text(json.dumps(prior.to_dict(), separators=(",", ":")))
    return path


def write_effective_prior(
    estimator, clusters: int = CLUSTERS, draws: int = DRAWS, seed: int = SEED, progress: bool | None = None
) -> Path:
    """Make the effective prior of the estimator directory ``estimator`` and write it there as
    :data:`FILE`; returns the file's path."""
    from astro.infer import _load_directory

    prior = make_effective_prior(estimator, clusters, draws, seed, progress)
    path = save_effective_prior(prior, Path(estimator) / FILE)
    _load_directory.cache_clear()  # estimators loaded before in this process lack it
    return path


def read_effective_prior(directory: str | os.PathLike) -> EffectivePrior | None:
    """The effective prior kept in the estimator ``directory``, None without one; a damaged
    file, or one made for other weights, raises ArtifactError."""
    from inn_engine.artifact import ArtifactError

    directory = Path(directory)
    path = directory / FILE
    if not path.is_file():
        return None
    try:
        prior = EffectivePrior.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError) as err:  # json.JSONDecodeError is a ValueError
        raise ArtifactError(
            f"{path}: not an effective prior ({err}); remake it with astro.write_effective_prior"
        ) from err
    made_for = prior.record.get("estimator_weights_sha256")
    if made_for != _weights_sha256(directory):
        raise ArtifactError(
            f"{path} was made for other weights ({str(made_for)[:12]}...) than this estimator's: "
            "remake it with astro.write_effective_prior"
        )
    return prior
