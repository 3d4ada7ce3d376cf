"""An image-level prior: the pixels of one image share a tissue, so together they tell what
one spectrum cannot.

Each pixel's posterior under the estimator's flat training prior is wide (68 % width of sO2
~0.19 on the paper's 8-band camera at SNR 10). The pixels of one image come from one tissue,
whose distribution of sO2 (and of other parameters) is far narrower than the training
prior. :func:`fit_image_population` fits that distribution to the flat-prior draws of the
image's pixels (:func:`inn_engine.population.fit_population`, the histogram population with
a smoothness prior chosen by evidence and its uncertainty drawn by Langevin Monte Carlo), and
:func:`oximetry.estimate` with ``population=True`` reweights every pixel's draws under it.

It sharpens pixels of the image's common tissue and pulls a small region of distinct tissue
(an artery in a colon image) towards the rest: see the README's phantom figures before
trusting the sO2 of small structures to it. The population fitted is that of the pixels given
(valid and not flagged OOD), not of the tissue outside the image.
"""

from __future__ import annotations

import numpy as np

from inn_engine.estimator import Estimator
from inn_engine.population import MAX_FIT_CASES, Population, fit_population
from oximetry.tissue import tissue_model

__all__ = ["IMAGE_POPULATION_PARAMS", "BINS_PER_RANGE", "MIN_PIXELS", "fit_image_population", "population_params"]

#: the parameters of the image population by default: sO2 (a share of the pixels' draws per
#: 0.05 of sO2); others, e.g. ("sO2", "vhb_1"), can be fitted beside it
IMAGE_POPULATION_PARAMS = ("sO2",)
#: histogram bins over each fitted parameter's training range (0.05 for sO2)
BINS_PER_RANGE = 20
#: pixels needed to fit an image population
MIN_PIXELS = 50


def population_params(estimator: Estimator, population) -> tuple[str, ...]:
    """The parameters ``population`` (True, a parameter name or names) asks to fit, checked: names of
    the estimator whose training prior is flat (uniform) over its bounds; ValueError otherwise."""
    if population is True:
        params = IMAGE_POPULATION_PARAMS
    elif isinstance(population, str):
        params = (population,)
    else:
        try:
            params = tuple(population)
        except TypeError:
            params = ()
    unknown = [p for p in params if not isinstance(p, str) or p not in estimator.param_names]
    if not params or unknown or len(set(params)) != len(params):
        raise ValueError(
            f"population must be True or distinct parameter names from {estimator.param_names}, got {population!r}"
        )
    prior = estimator.metadata["oximetry"]["prior"]
    try:
        terms = {t.parameter.name: t for t in tissue_model(prior).terms}
    except (TypeError, ValueError) as err:
        raise ValueError(f"an image population needs the estimator's training prior, not {prior!r}") from err
    shaped = [p for p in params if terms[p].mean is not None]
    if shaped:
        raise ValueError(
            f"an image population needs a flat training prior over its parameters; {shaped} have a "
            f"normal prior in the {prior!r} model"
        )
    return params


def fit_image_population(estimator: Estimator, features: np.ndarray, params, n: int, seed: int) -> Population:
    """The population of ``params`` among pixels with reflectance ``features`` (m, n_features):
    fitted to ``n`` flat-prior draws each of at most MAX_FIT_CASES pixels drawn at random."""
    if len(features) < MIN_PIXELS:
        raise ValueError(f"an image population needs at least {MIN_PIXELS} valid pixels, got {len(features)}")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(features), min(len(features), MAX_FIT_CASES), replace=False))
    draws = estimator.sample(features[rows], n, seed=seed + 1)
    bounds = np.column_stack([estimator.x_transform.low, estimator.x_transform.high])
    width = {p: float(np.diff(bounds[estimator.param_names.index(p)])[0]) / BINS_PER_RANGE for p in params}
    return fit_population(draws, bounds, estimator.param_names, params, width, seed=seed)
