"""A stack of homogeneous, laterally infinite layers: the geometry both light-transport solvers take."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LayeredSlab"]


def _as_field(name: str, value) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"LayeredSlab.{name} must be numeric, got {value!r}") from error
    if np.any(np.isnan(array)):
        raise ValueError(f"LayeredSlab.{name} contains NaN")
    return array


@dataclass(frozen=True, init=False)
class LayeredSlab:
    """Per-layer optical properties, broadcast over a leading batch shape.

    Parameters (each array-like of shape ``batch + (n_layers,)``, broadcastable):
    (scalars apply to every layer). ``mua`` absorption (1/cm, >= 0), ``mus`` scattering
    (1/cm, >= 0), ``g`` Henyey-Greenstein anisotropy (-1 < g < 1), ``n`` refractive index (>= 1), ``d`` thickness
    (cm, > 0; ``inf``
    for a semi-infinite bottom layer). ``n_above`` / ``n_below``: refractive index of the
    ambient media (>= 1, broadcast over the batch shape). Layer 1 is the top layer.
    """

    mua: np.ndarray
    mus: np.ndarray
    g: np.ndarray
    n: np.ndarray
    d: np.ndarray
    n_above: np.ndarray
    n_below: np.ndarray

    def __init__(self, mua, mus, g, n, d, n_above=1.0, n_below=1.0):
        fields = {k: _as_field(k, v) for k, v in dict(mua=mua, mus=mus, g=g, n=n, d=d).items()}
        counts = {name: array.shape[-1] for name, array in fields.items() if array.ndim}
        if not counts:
            raise ValueError("LayeredSlab needs at least one field with a last axis over layers")
        if len(set(counts.values())) != 1:
            raise ValueError(f"LayeredSlab fields must have the same number of layers (last axis), got {counts}")
        try:
            shape = np.broadcast_shapes(*(a.shape for a in fields.values()))
            shape = shape if len(shape) else (1,)
        except ValueError as error:
            shape_text = {k: a.shape for k, a in fields.items()}
            raise ValueError(f"LayeredSlab fields do not broadcast to one batch shape: {shape_text}") from error
        for name in ("mua", "mus"):
            if np.any(fields[name] < 0) or not np.all(np.isfinite(fields[name])):
                raise ValueError(f"LayeredSlab.{name} must be finite and >= 0 (1/cm)")
        if np.any(np.abs(fields["g"]) >= 1):
            raise ValueError("LayeredSlab.g must lie strictly between -1 and 1")
        if np.any(fields["n"] < 1) or not np.all(np.isfinite(fields["n"])):
            raise ValueError("LayeredSlab.n must be finite and >= 1")
        if np.any(fields["d"] <= 0):
            raise ValueError("LayeredSlab.d must be > 0 (cm); use inf for a semi-infinite layer")
        if np.any(~np.isfinite(fields["d"][..., :-1])):
            raise ValueError("LayeredSlab.d: only the bottom layer may be infinitely thick")
        for name, array in fields.items():
            object.__setattr__(self, name, np.array(np.broadcast_to(array, shape), order="C"))
        for name, value in (("n_above", n_above), ("n_below", n_below)):
            array = _as_field(name, value)
            if np.any(array < 1) or not np.all(np.isfinite(array)):
                raise ValueError(f"LayeredSlab.{name} must be finite and >= 1")
            try:
                array = np.broadcast_to(array, shape[:-1])
            except ValueError as error:
                raise ValueError(
                    f"LayeredSlab.{name} of shape {array.shape} does not broadcast to {shape[:-1]}"
                ) from error
            object.__setattr__(self, name, np.array(array, order="C"))

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self.mua.shape[:-1]

    @property
    def n_layers(self) -> int:
        return self.mua.shape[-1]

    def flat(self) -> LayeredSlab:
        """The same slabs with the batch shape flattened to one axis, shape (B, n_layers)."""
        L = self.n_layers
        return LayeredSlab(
            self.mua.reshape(-1, L),
            self.mus.reshape(-1, L),
            self.g.reshape(-1, L),
            self.n.reshape(-1, L),
            self.d.reshape(-1, L),
            self.n_above.reshape(-1),
            self.n_below.reshape(-1),
        )

    def with_absorption(self, mua) -> LayeredSlab:
        """A copy with ``mua`` replaced (same validation)."""
        return LayeredSlab(mua, self.mus, self.g, self.n, self.d, self.n_above, self.n_below)
