"""astro as an innfer domain: ``innfer simulate astro``, and estimators ``astro.infer`` can use.

Registered under the entry-point group ``innfer.domains`` (pyproject.toml). A grid of
``innfer simulate astro --bands ...`` holds :class:`astro.ClusterSimulator` observations
(the observation model of the shipped estimators, :mod:`astro.observe`); an estimator
trained on it by ``innfer train`` carries the ``astro`` record (bands, magnitudes, prior,
the model check's flag threshold), the reference library of the model check and its
effective prior (``-d effective_prior_clusters=N``; :mod:`astro.effective_prior`), as the
shipped ones do, so ``astro.infer(..., estimator=that directory)`` gives every feature.
"""

from __future__ import annotations

import sys

import numpy as np

from astro.effective_prior import CLUSTERS, write_effective_prior
from astro.imf import IMF_NAMES
from astro.library import ClusterLibrarySimulator
from astro.model_check import LIBRARY_FILE, REFERENCE_SIZE, THRESHOLD_SAMPLE, flag_threshold, library_bytes
from astro.population import available_bands
from astro.simulator import LEGUS_BANDS, PARAMS, ClusterSimulator
from inn_engine.checks import is_finite_real
from inn_engine.domain import Domain, DomainOption, SideModels

__all__ = ["AstroDomain", "DOMAIN", "parse_bands", "astro_record", "reference_side_models"]


def parse_clusters(text: str) -> int:
    """A count of clusters: a whole number >= 0, or a ValueError saying so."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"expected a whole number of clusters >= 0, got {text!r}")
    return value


def parse_bands(text: str) -> tuple[str, ...]:
    """Comma-separated filter names -> a tuple, or a ValueError listing the known names."""
    bands = tuple(b.strip() for b in str(text).split(",") if b.strip())
    unknown = [b for b in bands if b not in available_bands()]
    if not bands or unknown or len(set(bands)) != len(bands):
        raise ValueError(f"expected distinct comma-separated band names from {list(available_bands())}, got {text!r}")
    return bands


def astro_record(bands, parameters: list[dict], imf: str, observation: dict) -> dict:
    """The ``astro`` record of an estimator for ``bands`` trained with the prior ``parameters``
    (dicts with name, low, high), IMF ``imf`` and the observation model's settings
    ``observation`` (:func:`astro.observe.observation_settings` when it was simulated): what
    ``astro.infer`` reads."""
    return {
        "bands": list(bands),
        "magnitudes": "absolute Vega",
        "imf": imf,
        "prior": {p["name"]: [p["low"], p["high"]] for p in parameters},
        **observation,
    }


def reference_side_models(
    library_x, library_mag, threshold_mag, bands, limits: bool = True, seed: int = 2
) -> SideModels:
    """The model check of an astro estimator (trained with non-detections: ``limits``): the
    reference library file (x (N, 4), noise-free magnitudes (N, K)) and the flag threshold
    from other noise-free clusters (m, K)."""
    return SideModels(
        record={
            "chi2_threshold": flag_threshold(threshold_mag, library_mag, limits=limits, seed=seed),
            "n_reference": int(len(library_x)),
        },
        files={LIBRARY_FILE: library_bytes(library_x, library_mag, bands)},
    )


class AstroDomain(Domain):
    """Star clusters seen through any set of the tabulated filters (:class:`astro.ClusterSimulator`)."""

    name = "astro"
    description = "star-cluster mass, age, extinction, metallicity -> multi-band photometry"
    options = (
        DomainOption(
            "bands",
            "comma-separated filter names, e.g. u,g,r,i,z [default: " + ",".join(LEGUS_BANDS) + "]",
            parse_bands,
            metavar="B1,B2,...",
        ),
        DomainOption("imf", "initial mass function [default: kroupa]", choices=tuple(IMF_NAMES)),
    )
    train_options = (
        DomainOption(
            "effective_prior_clusters",
            f"simulated clusters the estimator's effective prior is made from, ~2 min per 20,000 "
            f"(0: none, and catalogue populations divide by the training prior) [default: {CLUSTERS}]",
            parse_clusters,
            metavar="N",
        ),
    )

    def simulator(self, **options) -> ClusterSimulator:
        return ClusterSimulator(**options)

    def grid_attrs(self, simulator: ClusterSimulator) -> dict:
        return {"bands": list(simulator.bands), "magnitudes": f"absolute {simulator.system}"}

    def record(self, grid_attrs: dict, simulator_metadata: dict) -> dict:
        if simulator_metadata.get("system", "vega") != "vega":
            raise ValueError(
                "astro estimators work in Vega magnitudes; this grid holds "
                f"{simulator_metadata.get('system')!r} magnitudes"
            )
        # the settings the grid was simulated with (an older grid's: without limits), not today's
        return astro_record(
            simulator_metadata["bands"],
            simulator_metadata["parameters"],
            simulator_metadata.get("imf", "kroupa"),
            simulator_metadata.get("observation", {}),
        )

    def side_models(self, record: dict, x: np.ndarray, y: np.ndarray, param_names: list[str], seed: int) -> SideModels:
        """A fresh reference library of the grid's prior (noise-free clusters: the grid holds
        only noisy observations) and the flag threshold from further fresh clusters."""
        priors = {name: tuple(bounds) for name, bounds in record["prior"].items()}
        simulator = ClusterLibrarySimulator(record["bands"], priors=priors, imf=record["imf"])
        rng = np.random.default_rng([seed, 17])
        lib_x = simulator.sample_prior(REFERENCE_SIZE + THRESHOLD_SAMPLE, rng)
        lib_mag = simulator.simulate(lib_x, rng)
        return reference_side_models(
            lib_x[:REFERENCE_SIZE],
            lib_mag[:REFERENCE_SIZE],
            lib_mag[REFERENCE_SIZE:],
            record["bands"],
            limits="limit_probability" in record,  # a grid simulated before the limits existed: 3K
        )

    def finish(self, directory, record: dict, seed: int, progress=None, effective_prior_clusters=CLUSTERS):
        """The effective prior of the saved estimator (:mod:`astro.effective_prior`), which
        ``astro.infer``'s catalogue populations divide by; none with 0 clusters."""
        if not effective_prior_clusters:
            return
        if progress is not False:
            print(
                f"making the effective prior of {directory} from {effective_prior_clusters:,} simulated clusters "
                "(about 2 min per 20,000; -d effective_prior_clusters=N sets how many, 0 none)",
                file=sys.stderr,
                flush=True,
            )
        write_effective_prior(directory, clusters=effective_prior_clusters, progress=progress)

    def check_record(self, metadata: dict) -> None:
        """ValueError unless ``metadata["astro"]`` holds what ``astro.infer`` reads: distinct
        known bands, a finite positive chi2_threshold, and (when present) a prior of finite
        [low, high] ranges with low < high for the four parameters and a known IMF."""
        record = metadata.get(self.name)
        if not isinstance(record, dict) or not isinstance(record.get("bands"), list):
            raise ValueError(
                "not an astro estimator: its metadata has no 'astro' record with its bands; make one "
                "with astro.train() or `innfer train` on a grid of `innfer simulate astro`"
            )
        bands = record["bands"]
        known = set(available_bands())
        if not bands or not all(isinstance(b, str) and b in known for b in bands) or len(set(bands)) != len(bands):
            raise ValueError(f"the 'astro' record's bands must be distinct names from {sorted(known)}, got {bands!r}")
        threshold = record.get("chi2_threshold")
        if not is_finite_real(threshold) or not threshold > 0:
            raise ValueError(
                f"the 'astro' record's chi2_threshold (the model check's flag level) must be a finite "
                f"number > 0, got {threshold!r}"
            )
        if "imf" in record and record["imf"] not in IMF_NAMES:
            raise ValueError(f"the 'astro' record's imf must be one of {list(IMF_NAMES)}, got {record['imf']!r}")
        prior = record.get("prior")
        if prior is None:
            return
        params = list(PARAMS)
        ranges = [prior.get(name) for name in params] if isinstance(prior, dict) else [None]
        if not all(
            isinstance(r, list) and len(r) == 2 and all(is_finite_real(v) for v in r) and r[0] < r[1] for r in ranges
        ):
            raise ValueError(
                f"the 'astro' record's prior must map each of {params} to finite [low, high] with "
                f"low < high, got {prior!r}"
            )


DOMAIN = AstroDomain()
