"""Domains as plug-ins of the engine: what ``innfer`` needs to know of a scientific domain.

A domain package (``oximetry``, ``astro``, a user's own) subclasses :class:`Domain` and
registers an instance under the entry-point group ``innfer.domains`` of its pyproject.toml::

    [project.entry-points."innfer.domains"]
    astro = "astro.domain:DOMAIN"

The engine finds domains only through that group (:func:`registered_domains`); it never
imports a domain package by name. A domain tells the engine

- its name, a one-line description and its ``innfer simulate`` options (:class:`DomainOption`);
- how those options make its :class:`~inn_engine.simulator.Simulator`, and what it records
  in a grid's attrs (:meth:`Domain.simulator`, :meth:`Domain.grid_attrs`);
- the record an estimator trained on one of its grids carries in ``metadata[name]``
  (:meth:`Domain.record`: cheap, from the grid's attrs) and the side models fitted on the
  training rows after training, such as an out-of-distribution density, with any side
  files they need (:meth:`Domain.side_models`);
- the work that needs the saved estimator itself, such as a table of its own posteriors
  (:meth:`Domain.finish`), with its ``innfer train --domain-option`` settings
  (:attr:`Domain.train_options`);
- how its raw observations (a grid's observables) become the network's conditions
  (:meth:`Domain.conditioning`; none means they are the conditions);
- what an estimator of the domain must hold to be usable (:meth:`Domain.check_record`).

An estimator made this way stores ``metadata["domain"] = {"name", "observables",
"observable_units"}``: the raw columns a user gives to ``innfer evaluate`` / ``innfer
estimate`` (:func:`estimator_inputs`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from inn_engine.simulator import Simulator

__all__ = [
    "Domain",
    "DomainOption",
    "Conditioning",
    "SideModels",
    "ENTRY_POINT_GROUP",
    "registered_domains",
    "get_domain",
    "domain_of_grid",
    "estimator_inputs",
    "parse_train_options",
]

ENTRY_POINT_GROUP = "innfer.domains"


@dataclass(frozen=True)
class DomainOption:
    """One ``innfer simulate DOMAIN`` option, ``--<name with dashes>``.

    ``parse`` turns the command-line text into the value given to :meth:`Domain.simulator`
    (raise ValueError with the expected form on bad text); ``choices`` restricts the text.
    An option not given is not passed, so the simulator's own default applies (state it in ``help``).
    """

    name: str
    help: str
    parse: Callable[[str], object] = str
    choices: tuple[str, ...] = ()
    metavar: str | None = None

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"DomainOption.name must be a Python identifier, got {self.name!r}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Conditioning:
    """Raw observations (n, n_obs) -> the network's conditions (n, len(names)), float64."""

    names: tuple[str, ...]
    units: tuple[str, ...]
    transform: Callable[[np.ndarray], np.ndarray]


@dataclass
class SideModels:
    """What :meth:`Domain.side_models` adds to an estimator: entries merged into its domain
    record, and side files (name -> bytes) written into its directory with their SHA-256."""

    record: dict = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


class Domain(abc.ABC):
    """A scientific domain plugged into the engine (see the module docstring)."""

    #: the name on the command line and in records (letters, digits, '-', '_')
    name: str = ""
    #: one line for ``innfer simulate --help``
    description: str = ""
    #: the options of ``innfer simulate <name>``
    options: tuple[DomainOption, ...] = ()
    #: the settings of :meth:`finish`: ``innfer train --domain-option NAME=VALUE`` on this domain's grids
    train_options: tuple[DomainOption, ...] = ()

    @abc.abstractmethod
    def simulator(self, **options) -> Simulator:
        """The domain's simulator for parsed :attr:`options` (only those given are passed)."""

    def grid_attrs(self, simulator: Simulator) -> dict:
        """JSON-safe attrs recorded with a grid of ``simulator`` (besides ``domain`` and the
        simulator's own metadata, which the engine records)."""
        return {}

    def simulate_grid(self, simulator: Simulator, n: int, path=None, *, attrs: dict | None = None, **options):
        """:func:`inn_engine.grid.simulate_grid` of ``simulator``, its attrs naming this domain
        (``domain``, :meth:`grid_attrs`, then ``attrs``), so ``innfer train`` knows the grid's domain.
        ``options``: seed, chunk_size, scheduler, n_workers, progress."""
        from inn_engine.grid import simulate_grid

        attrs = {"domain": self.name, **self.grid_attrs(simulator), **(attrs or {})}
        return simulate_grid(simulator, n, path, attrs=attrs, **options)

    def record(self, grid_attrs: dict, simulator_metadata: dict) -> dict:
        """The JSON-safe record stored as ``metadata[self.name]`` of an estimator trained on a
        grid with these attrs; it must be cheap (every training process computes it)."""
        return {}

    def conditioning(self, record: dict, obs_names: list[str], obs_units: list[str]) -> Conditioning | None:
        """How raw observations with columns ``obs_names`` become the network's conditions for
        an estimator with ``record``; None when they are the conditions unchanged."""
        return None

    def side_models(self, record: dict, x: np.ndarray, y: np.ndarray, param_names: list[str], seed: int) -> SideModels:
        """Models fitted on the training rows (x (n, dx) with columns ``param_names``, raw y
        (n, dy)) after training, once, in the process that saves the estimator."""
        return SideModels()

    def finish(self, directory: Path, record: dict, seed: int, progress: bool | None = None, **options) -> None:
        """Work that needs the saved estimator in ``directory`` (e.g. a table of its own
        posteriors), run once after :meth:`side_models` and the save, in the saving process.

        It writes its files into ``directory`` (the domain checks them where it reads them,
        e.g. against the weights' SHA-256 in estimator.json) and reports its progress on
        stderr (``progress``: None, a bar on a terminal and plain lines otherwise; False,
        silent). ``options``: the parsed :attr:`train_options` that were given.
        """

    def check_record(self, metadata: dict) -> None:
        """Raise ValueError naming what an estimator's ``metadata`` lacks for this domain."""
        if self.name not in metadata:
            raise ValueError(f"not a {self.name} estimator: its metadata has no {self.name!r} record")


@lru_cache(maxsize=1)
def registered_domains() -> dict[str, Domain]:
    """Every domain registered under :data:`ENTRY_POINT_GROUP`, by name (loaded once per process).

    A plug-in that cannot be loaded, or is not a :class:`Domain` of its entry point's name,
    raises ValueError naming the entry point.
    """
    from importlib.metadata import entry_points

    domains = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            domain = point.load()
        except Exception as err:
            raise ValueError(
                f"the innfer domain plug-in {point.name!r} ({point.value}) cannot be loaded: "
                f"{type(err).__name__}: {err}"
            ) from err
        if not isinstance(domain, Domain) or domain.name != point.name:
            raise ValueError(
                f"the innfer domain plug-in {point.name!r} ({point.value}) must be a Domain "
                f"instance named {point.name!r}, got {domain!r}"
            )
        domains[point.name] = domain
    return dict(sorted(domains.items()))


def get_domain(name: str) -> Domain:
    """The registered domain ``name``, or a ValueError listing the registered ones."""
    domains = registered_domains()
    if name not in domains:
        raise ValueError(f"no innfer domain named {name!r} is installed; registered: {sorted(domains)}")
    return domains[name]


def domain_of_grid(attrs: dict) -> Domain | None:
    """The registered domain that made a grid (its ``domain`` attr), or None."""
    name = attrs.get("domain")
    return registered_domains().get(name) if isinstance(name, str) else None


def parse_train_options(domain: Domain | None, texts: dict[str, str]) -> dict:
    """{name: value} of ``innfer train --domain-option NAME=TEXT`` items for a grid of ``domain``
    (None: a grid of no domain), each text parsed by its :class:`DomainOption`; a ValueError
    names an unknown option (listing the domain's) or a text its option refuses."""
    known = {option.name: option for option in (domain.train_options if domain is not None else ())}
    unknown = sorted(set(texts) - set(known))
    if unknown:
        offered = "; ".join(f"{o.name}: {o.help}" for o in known.values()) or "none"
        owner = f"the {domain.name} domain" if domain is not None else "a grid of no domain"
        raise ValueError(f"{', '.join(unknown)}: not a setting of {owner} (its settings: {offered})")
    values = {}
    for name, text in texts.items():
        option = known[name]
        if option.choices and text not in option.choices:
            raise ValueError(f"{name} must be one of {list(option.choices)}, got {text!r}")
        try:
            values[name] = option.parse(text)
        except ValueError as err:
            raise ValueError(f"{name}={text}: {err}") from err
    return values


def estimator_inputs(estimator) -> tuple[list[str], Callable[[np.ndarray], np.ndarray]]:
    """(raw observable names, raw (n, k) -> conditions (n, dim_y)) of an estimator.

    For an estimator trained on a domain's grid with a conditioning, the raw columns are
    the grid's observables and the transform is the domain's; otherwise the estimator's
    observables pass unchanged.
    """
    info = estimator.metadata.get("domain")
    if not isinstance(info, dict) or "observables" not in info:
        return list(estimator.obs_names), _identity
    domain = get_domain(info["name"])
    conditioning = domain.conditioning(
        estimator.metadata.get(domain.name, {}),
        list(info["observables"]),
        list(info.get("observable_units", [""] * len(info["observables"]))),
    )
    if conditioning is None:
        return list(info["observables"]), _identity
    return list(info["observables"]), conditioning.transform


def _identity(y: np.ndarray) -> np.ndarray:
    return np.asarray(y, dtype=float)
