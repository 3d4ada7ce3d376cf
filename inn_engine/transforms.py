"""Maps between physical parameters and the standardized, unbounded space the networks see.

Bounded parameters go through a scaled logit (both bounds finite) or a shifted log (one
bound finite), so every posterior sample mapped back lies strictly inside the support.
Standardization statistics (mean, std per feature) are computed on the training set and
stored with the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BoundTransform", "Standardizer"]

_EPS = 1e-6  # fraction of the interval kept away from the bounds before the logit


@dataclass(frozen=True)
class BoundTransform:
    """Per-feature map x (physical) <-> u (unbounded), chosen from the bounds.

    ``low``/``high`` are arrays (d,) that may hold ``-inf``/``inf``:
    both finite -> ``u = logit((x - low) / (high - low))``; only ``low`` -> ``u = log(x - low)``;
    only ``high`` -> ``u = -log(high - x)`` (u grows with x); neither -> identity.
    """

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def from_bounds(cls, bounds, dim: int) -> "BoundTransform":
        """``bounds``: None (all unbounded) or an array-like (dim, 2) of (low, high) rows."""
        if bounds is None:
            return cls(np.full(dim, -np.inf), np.full(dim, np.inf))
        b = np.asarray(bounds, dtype=float)
        if b.shape != (dim, 2):
            raise ValueError(f"bounds must have shape ({dim}, 2) rows of (low, high), got {b.shape}")
        if np.any(np.isnan(b)):
            raise ValueError("bounds contain NaN; use -inf / inf for an open side")
        if not np.all(b[:, 0] < b[:, 1]):
            raise ValueError(f"bounds need low < high in every row, got {b.tolist()}")
        return cls(b[:, 0].copy(), b[:, 1].copy())

    @property
    def kinds(self) -> list[str]:
        """Per feature: 'logit', 'log_lower', 'log_upper' or 'identity'."""
        out = []
        for lo, hi in zip(np.isfinite(self.low), np.isfinite(self.high)):
            out.append("logit" if lo and hi else "log_lower" if lo else "log_upper" if hi else "identity")
        return out

    def check_inside(self, x: np.ndarray, name: str = "x") -> None:
        """ValueError naming the first feature with values outside [low, high]."""
        bad = (x < self.low) | (x > self.high)
        if np.any(bad):
            j = int(np.argmax(bad.any(axis=0)))
            raise ValueError(
                f"{name}[:, {j}] has values outside its bounds [{self.low[j]}, {self.high[j]}] "
                f"(e.g. {x[bad[:, j], j][0]})"
            )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Physical (n, d) -> unbounded (n, d). Values on a bound are nudged inside by 1e-6 of the range."""
        x = np.asarray(x, dtype=float)
        u = x.copy()
        for j, kind in enumerate(self.kinds):
            if kind == "logit":
                width = self.high[j] - self.low[j]
                p = np.clip((x[:, j] - self.low[j]) / width, _EPS, 1 - _EPS)
                u[:, j] = np.log(p) - np.log1p(-p)
            elif kind == "log_lower":
                u[:, j] = np.log(np.maximum(x[:, j] - self.low[j], _EPS))
            elif kind == "log_upper":
                u[:, j] = -np.log(np.maximum(self.high[j] - x[:, j], _EPS))
        return u

    def inverse(self, u: np.ndarray, copy: bool = True) -> np.ndarray:
        """Unbounded (..., d) -> physical (..., d), always inside the bounds.

        ``copy=False`` overwrites ``u`` (a float64 array) with the result, column groups of one
        kind at a time (the whole array at once when every column has the same kind).
        """
        x = np.array(u, dtype=float) if copy else u
        kinds = np.array(self.kinds)
        for kind, apply in _INVERSES.items():
            cols = np.flatnonzero(kinds == kind)
            if cols.size == x.shape[-1]:
                apply(x, self.low, self.high)
                _clip_inside(x, self.low, self.high)
            elif cols.size:
                part = x[..., cols]
                apply(part, self.low[cols], self.high[cols])
                _clip_inside(part, self.low[cols], self.high[cols])
                x[..., cols] = part
        return x

    def log_abs_det_inverse(self, u: np.ndarray) -> np.ndarray:
        """log|d x / d u| summed over features, for densities in physical units: (...,)."""
        u = np.asarray(u, dtype=float)
        total = np.zeros(u.shape[:-1])
        for j, kind in enumerate(self.kinds):
            if kind == "logit":
                width = self.high[j] - self.low[j]
                total += np.log(width) - np.logaddexp(0, u[..., j]) - np.logaddexp(0, -u[..., j])
            elif kind == "log_lower":
                total += u[..., j]
            elif kind == "log_upper":
                total += -u[..., j]
        return total

    def to_dict(self) -> dict:
        return {"low": _floats(self.low), "high": _floats(self.high), "kinds": self.kinds}

    @classmethod
    def from_dict(cls, d: dict) -> "BoundTransform":
        return cls(np.array(d["low"], dtype=float), np.array(d["high"], dtype=float))


def _logit_inverse(v: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
    """``v <- low + (high - low) / (1 + exp(-v))`` in place."""
    np.negative(v, out=v)
    np.exp(v, out=v)
    v += 1
    np.divide(high - low, v, out=v)
    v += low


def _log_lower_inverse(v: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
    """``v <- low + exp(v)`` in place."""
    np.exp(v, out=v)
    v += low


def _log_upper_inverse(v: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
    """``v <- high - exp(-v)`` in place."""
    np.negative(v, out=v)
    np.exp(v, out=v)
    np.subtract(high, v, out=v)


_INVERSES = {"logit": _logit_inverse, "log_lower": _log_lower_inverse, "log_upper": _log_upper_inverse}


def _clip_inside(v: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
    """Clip ``v`` in place to the open interval (low, high) on its finite sides: far in the
    tails the exponentials round a value onto its bound (the fuzz suite found a draw of exactly
    1.0 for a parameter in (0, 1)); an overflow to +-inf stays infinite, so it is refused, not hidden."""
    above = np.where(np.isfinite(low), np.nextafter(low, high), -np.inf)
    below = np.where(np.isfinite(high), np.nextafter(high, low), np.inf)
    np.clip(v, above, below, out=v)


@dataclass(frozen=True)
class Standardizer:
    """Per-feature ``(v - mean) / std``; ``std`` is floored so constant features stay finite."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, v: np.ndarray) -> "Standardizer":
        v = np.asarray(v, dtype=float)
        std = v.std(axis=0)
        return cls(v.mean(axis=0), np.where(std > 1e-12, std, 1.0))

    def forward(self, v: np.ndarray) -> np.ndarray:
        return (np.asarray(v, dtype=float) - self.mean) / self.std

    def inverse(self, s: np.ndarray, copy: bool = True) -> np.ndarray:
        """``s * std + mean``; ``copy=False`` overwrites ``s`` (a float64 array) with it."""
        if copy:
            return np.asarray(s, dtype=float) * self.std + self.mean
        s *= self.std
        s += self.mean
        return s

    def to_dict(self) -> dict:
        return {"mean": _floats(self.mean), "std": _floats(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> "Standardizer":
        return cls(np.array(d["mean"], dtype=float), np.array(d["std"], dtype=float))


def _floats(a: np.ndarray) -> list:
    """JSON-safe list of floats; infinities as strings that json and numpy both read back."""
    return [float(v) if np.isfinite(v) else ("inf" if v > 0 else "-inf") for v in np.asarray(a, dtype=float)]
