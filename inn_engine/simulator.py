"""The interface every forward model implements, so the engine never sees domain physics.

A :class:`Simulator` knows its parameters x (names, units, prior support), its observables
y (names, units), how to draw x from the prior and how to simulate noisy y from x. Both
domain packages (``oximetry``, ``astro``) and the toy problems implement it.
"""

from __future__ import annotations

import abc
import math
from dataclasses import asdict, dataclass

import numpy as np

from inn_engine.checks import check_seed

__all__ = ["Parameter", "Observable", "Simulator", "as_generator"]


@dataclass(frozen=True)
class Parameter:
    """One inferred quantity.

    ``low`` / ``high`` are the bounds of the prior's support (``-inf`` / ``inf`` when
    unbounded). The engine maps bounded parameters to an unbounded space (log or logit)
    so posterior samples never leave the support.
    """

    name: str
    unit: str = ""
    low: float = -math.inf
    high: float = math.inf
    description: str = ""

    def __post_init__(self):
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"Parameter.name must be a non-empty string, got {self.name!r}")
        if not self.low < self.high:
            raise ValueError(f"Parameter {self.name!r}: low must be < high, got low={self.low}, high={self.high}")

    def to_dict(self) -> dict:
        """JSON-safe fields; an open side of the support is written as None."""
        d = asdict(self)
        d["low"] = None if math.isinf(self.low) else self.low
        d["high"] = None if math.isinf(self.high) else self.high
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Parameter":
        low = -math.inf if d.get("low") is None else float(d["low"])
        high = math.inf if d.get("high") is None else float(d["high"])
        return cls(d["name"], d.get("unit", ""), low, high, d.get("description", ""))


@dataclass(frozen=True)
class Observable:
    """One measured quantity (a band reflectance, a magnitude, an end-point coordinate)."""

    name: str
    unit: str = ""
    description: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def as_generator(seed_or_rng: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed (an int in [0, 2**63)), an existing Generator (returned
    as is) or None (fresh entropy); anything else is a ValueError naming ``seed``."""
    return np.random.default_rng(check_seed("seed", seed_or_rng, allow_none=True))


class Simulator(abc.ABC):
    """A forward model y = s(x) with its measurement noise.

    Subclasses set ``parameters`` and ``observables`` and implement :meth:`sample_prior`
    and :meth:`simulate`. Arrays are float64 numpy; x has shape (n, n_params), y has
    shape (n, n_observables), in the units the ``Parameter``/``Observable`` declare.
    """

    parameters: tuple[Parameter, ...] = ()
    observables: tuple[Observable, ...] = ()

    @property
    def param_names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def obs_names(self) -> list[str]:
        return [o.name for o in self.observables]

    @property
    def bounds(self) -> np.ndarray:
        """Prior support, shape (n_params, 2): columns low, high (may be infinite)."""
        return np.array([[p.low, p.high] for p in self.parameters], dtype=float)

    @abc.abstractmethod
    def sample_prior(self, n: int, rng: int | np.random.Generator | None = None) -> np.ndarray:
        """Draw ``n`` parameter rows from the prior: array (n, n_params)."""

    @abc.abstractmethod
    def simulate(self, x: np.ndarray, rng: int | np.random.Generator | None = None) -> np.ndarray:
        """Noisy observations for parameter rows ``x`` (n, n_params): array (n, n_observables)."""

    def check_x(self, x) -> np.ndarray:
        """``x`` as a float64 (n, n_params) array, or a ValueError naming what is wrong."""
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != len(self.parameters):
            raise ValueError(
                f"x must have shape (n, {len(self.parameters)}) with columns {self.param_names}, got shape {x.shape}"
            )
        if not np.all(np.isfinite(x)):
            raise ValueError("x contains NaN or infinite values")
        return x

    def metadata(self) -> dict:
        """A JSON-safe description of the simulator (stored with grids and estimators)."""
        return {
            "simulator": f"{type(self).__module__}.{type(self).__qualname__}",
            "parameters": [p.to_dict() for p in self.parameters],
            "observables": [o.to_dict() for o in self.observables],
        }
