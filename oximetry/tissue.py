"""Layered tissue models: named parameters, their priors, and the optical properties they imply.

The default is the three-layer colon model of Wirkert et al. (2016): 13 parameters
(sO2 shared by the layers; per layer blood volume fraction, Mie amplitude, anisotropy,
thickness), b_mie = 1.286 and refractive indices 1.36, 1.36, 1.38 fixed, air above and
below. The "generic" model widens the ranges and frees b_mie and n per layer (19
parameters); it serves robustness and out-of-distribution tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri

from inn_engine.simulator import Parameter, as_generator
from oximetry.optics import absorption_coefficient, reduced_scattering_coefficient, scattering_coefficient
from oximetry.transport.slab import LayeredSlab

__all__ = ["PriorTerm", "TissueModel", "COLON", "GENERIC", "tissue_model"]

UM_TO_CM = 1e-4


@dataclass(frozen=True)
class PriorTerm:
    """One parameter with its prior: uniform on [low, high], or a normal(mean, std) truncated to it."""

    parameter: Parameter
    mean: float | None = None
    std: float | None = None

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws (n,) by inverse-CDF sampling of one uniform per draw."""
        u = rng.uniform(size=n)
        low, high = self.parameter.low, self.parameter.high
        if self.mean is None:
            return low + (high - low) * u
        a, b = ndtr((low - self.mean) / self.std), ndtr((high - self.mean) / self.std)
        return np.clip(self.mean + self.std * ndtri(a + (b - a) * u), low, high)

    def to_dict(self) -> dict:
        prior = "uniform" if self.mean is None else f"normal({self.mean}, {self.std}) truncated"
        return {**self.parameter.to_dict(), "prior": prior}


def _uniform(name, unit, low, high, description):
    return PriorTerm(Parameter(name, unit, low, high, description))


@dataclass(frozen=True)
class TissueModel:
    """A stack of tissue layers parameterized by named prior terms.

    Per-layer quantities are named ``<base>_<k>`` (k = 1 is the top layer): ``vhb``
    (fraction), ``amie`` (1/cm at 500 nm), ``bmie`` (-), ``g`` (-), ``n`` (-), ``d`` (um).
    Those a model does not free are taken from ``fixed`` (base name -> per-layer tuple).
    """

    name: str
    terms: tuple[PriorTerm, ...]
    n_layers: int = 3
    fixed: dict = field(default_factory=dict)
    n_above: float = 1.0
    n_below: float = 1.0

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return tuple(t.parameter for t in self.terms)

    @property
    def param_names(self) -> list[str]:
        return [t.parameter.name for t in self.terms]

    def sample(self, n: int, rng=None) -> np.ndarray:
        """Prior draws, shape (n, n_params), columns in :attr:`param_names` order."""
        if int(n) != n or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        rng = as_generator(rng)
        return np.stack([t.sample(int(n), rng) for t in self.terms], axis=1).reshape(int(n), len(self.terms))

    def check_x(self, x) -> np.ndarray:
        """``x`` as float64 (n, n_params); ValueError if the shape is wrong or values are not finite."""
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != len(self.terms):
            raise ValueError(
                f"x must have shape (n, {len(self.terms)}) with columns {self.param_names} "
                f"for the {self.name!r} tissue model, got shape {x.shape}"
            )
        if not np.all(np.isfinite(x)):
            raise ValueError("x contains NaN or infinite values")
        return x

    def _per_layer(self, x: np.ndarray, base: str) -> np.ndarray:
        names = self.param_names
        columns = [f"{base}_{k + 1}" for k in range(self.n_layers)]
        if all(c in names for c in columns):
            return np.stack([x[:, names.index(c)] for c in columns], axis=1)
        values = np.asarray(self.fixed[base], dtype=float)
        return np.broadcast_to(values, (x.shape[0], self.n_layers)).copy()

    def slab(self, x, wavelengths_nm) -> LayeredSlab:
        """The layered slab of every tissue row at every wavelength: batch shape (n, n_wavelengths)."""
        x = self.check_x(x)
        wl = np.atleast_1d(np.asarray(wavelengths_nm, dtype=float))
        so2 = x[:, self.param_names.index("sO2")]
        vhb, amie, bmie = (self._per_layer(x, b) for b in ("vhb", "amie", "bmie"))
        g, n, d = (self._per_layer(x, b) for b in ("g", "n", "d"))
        mua = absorption_coefficient(so2[:, None], vhb, wl)  # (n, L, W)
        musp = reduced_scattering_coefficient(amie, bmie, wl)
        mus = scattering_coefficient(musp, g[..., None])
        shape = (x.shape[0], wl.size, self.n_layers)
        return LayeredSlab(
            mua=np.moveaxis(mua, 1, 2),
            mus=np.moveaxis(mus, 1, 2),
            g=np.broadcast_to(g[:, None, :], shape),
            n=np.broadcast_to(n[:, None, :], shape),
            d=np.broadcast_to(d[:, None, :] * UM_TO_CM, shape),
            n_above=self.n_above,
            n_below=self.n_below,
        )

    def metadata(self) -> dict:
        return {
            "name": self.name,
            "n_layers": self.n_layers,
            "parameters": [t.to_dict() for t in self.terms],
            "fixed": {k: list(v) for k, v in self.fixed.items()},
            "n_above": self.n_above,
            "n_below": self.n_below,
        }


def _layer_terms(base, unit, bounds, description, mean=None, std=None):
    return [
        PriorTerm(Parameter(f"{base}_{k + 1}", unit, lo, hi, f"{description}, layer {k + 1}"), mean, std)
        for k, (lo, hi) in enumerate(bounds)
    ]


_SO2 = _uniform("sO2", "fraction", 0.0, 1.0, "oxygen saturation of hemoglobin, shared by all layers")

COLON = TissueModel(
    name="colon",
    terms=tuple(
        [_SO2]
        + _layer_terms("vhb", "fraction", [(1e-4, 0.10)] * 3, "blood volume fraction")
        + _layer_terms("amie", "1/cm", [(5.0, 50.0)] * 3, "reduced scattering at 500 nm", 18.9, 10.2)
        + _layer_terms("g", "-", [(0.80, 0.95)] * 3, "scattering anisotropy")
        + _layer_terms("d", "um", [(600.0, 1010.0), (415.0, 847.0), (395.0, 603.0)], "layer thickness")
    ),
    fixed={"bmie": (1.286, 1.286, 1.286), "n": (1.36, 1.36, 1.38)},
)

GENERIC = TissueModel(
    name="generic",
    terms=tuple(
        [_SO2]
        + _layer_terms("vhb", "fraction", [(1e-4, 0.30)] * 3, "blood volume fraction")
        + _layer_terms("amie", "1/cm", [(5.0, 50.0)] * 3, "reduced scattering at 500 nm")
        + _layer_terms("bmie", "-", [(0.3, 3.0)] * 3, "scattering power-law exponent")
        + _layer_terms("g", "-", [(0.80, 0.95)] * 3, "scattering anisotropy")
        + _layer_terms("n", "-", [(1.33, 1.54)] * 3, "refractive index")
        + _layer_terms("d", "um", [(20.0, 2000.0)] * 3, "layer thickness")
    ),
)

_MODELS = {"colon": COLON, "generic": GENERIC}


def tissue_model(prior: str | TissueModel) -> TissueModel:
    """The tissue model named ``prior`` ("colon" or "generic"), or ``prior`` itself."""
    if isinstance(prior, TissueModel):
        return prior
    if prior not in _MODELS:
        raise ValueError(f"prior must be one of {sorted(_MODELS)} or a TissueModel, got {prior!r}")
    return _MODELS[prior]
