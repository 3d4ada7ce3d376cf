"""The effective prior of an amortized estimator: the density its posteriors average to.

For cases drawn from the training prior pi_0, exact posteriors average to pi_0 (the
data-averaged posterior, :mod:`inn_engine.diagnostics.averaged`). A trained network's
average q_bar departs from it in waves of a few per cent (the shipped astro UBVRI
estimator: up to 8 % per 0.15 mag of A_V). A population fit
(:mod:`inn_engine.population`) divides each case's draws by the density they were drawn
under; with pi_0 there it reads those waves as population structure and deconvolves them
into spikes (a fit to 20,000 training-prior clusters put 4.7 x and 0.002 x the flat mass
into neighbouring 0.15 dex bins of log age). With q_bar there instead, cases from the
training prior are a fixed point of the fit: log L(lambda) = sum_i log sum_c w_ic p_c /
q_bar_c is concave in the cell masses p and, with w_ic the case's share of draws in cell c,
stationary at p = q_bar, where every case keeps its own posterior.

:class:`EffectivePrior` is a joint histogram of the draws of prior-predictive cases on
equal-width bins spanning the training support of every parameter (in the coordinate in
which pi_0 is flat: the value, or its log10); :meth:`EffectivePrior.cell_log_mass` gives the
log mass of the cells of any population grid under it (marginalised over the parameters
the grid does not fit, rebinned by overlap where the grid's bins differ). It is made once
per estimator, under the observation model of its training::

    prior = effective_prior(draws, bounds, names, bin_width)   # draws (n, m, d) of n prior cases
    fit_population(..., effective_prior=prior)
    EffectivePrior.from_dict(prior.to_dict())                   # JSON-safe, checked on reading
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["EffectivePrior", "effective_prior"]

#: pseudo-count added to every cell of the marginal the grid uses (no cell has zero mass)
PSEUDO_COUNT = 1.0


@dataclass(frozen=True)
class EffectivePrior:
    """Joint histogram ``counts`` (one axis per parameter of ``names``) of posterior draws of
    cases drawn from the training prior; ``edges`` per parameter in its flat-prior coordinate
    (log10 of the value for those in ``log10``), spanning the training support; ``record``:
    how it was made (free-form, JSON-safe)."""

    names: tuple
    edges: tuple
    counts: np.ndarray
    log10: tuple = ()
    record: dict = field(default_factory=dict)

    def cell_log_mass(self, params, edges, support, log10=(), given=None) -> np.ndarray:
        """Log mass under the effective prior of the cells of a population grid over
        ``params`` (C order) with bin ``edges`` per parameter (inside its ``support`` (low,
        high), in the flat coordinate: log10 for ``log10``); the mass is uniform within each
        histogram bin. The parameters neither fitted nor ``given`` are marginalised.

        ``given``: None, or {name: (values (n,) [physical units], width)} for parameters the
        grid does not fit, when case i's draws were restricted to ``name`` near ``values[i]``
        by a Gaussian kernel of sd ``width`` (in the flat coordinate): the histogram is then
        weighted along that axis by the kernel's share of each bin, so that what is divided
        out is the effective prior of the cases' restricted draws (the estimator's waves can
        depend on the parameter fixed). Returns (cells,) without ``given``, (n, cells) with it.
        """
        given = dict(given or {})
        missing = [p for p in tuple(params) + tuple(given) if p not in self.names]
        if missing:
            raise ValueError(f"the effective prior covers {list(self.names)}; the population needs also {missing}")
        if set(params) & set(given):
            raise ValueError(f"a parameter cannot be both fitted and given: {sorted(set(params) & set(given))}")
        if set(log10) != set(self.log10) & set(params):
            raise ValueError(
                f"the effective prior bins {list(self.log10)} in log10, the population {list(log10)}: "
                "it was made for another estimator"
            )
        kept = [self.names.index(p) for p in params] + [self.names.index(g) for g in given]
        counts = self.counts.sum(axis=tuple(a for a in range(len(self.names)) if a not in kept))
        counts = np.transpose(counts, np.argsort(np.argsort(kept)))  # axes: params, then given
        counts = counts + PSEUDO_COUNT / max(1, int(np.prod(counts.shape[len(params) :])))
        mass = counts[None]  # axis 0: the cases (one without given)
        for name, (values, width) in given.items():
            mass = np.einsum("n...k,nk->n...", mass, self._kernel_shares(name, values, width))
        mass = mass / mass.sum(axis=tuple(range(1, mass.ndim)), keepdims=True)
        for axis, (p, grid_edges, (low, high)) in enumerate(zip(params, edges, support), start=1):
            own = self.edges[self.names.index(p)]
            if not (np.isclose(own[0], low) and np.isclose(own[-1], high)):
                raise ValueError(
                    f"the effective prior spans {p} in [{own[0]:g}, {own[-1]:g}], the training support is "
                    f"[{low:g}, {high:g}]: it was made for another estimator"
                )
            mass = np.moveaxis(np.tensordot(mass, _overlap(own, np.asarray(grid_edges)), axes=(axis, 0)), -1, axis)
        with np.errstate(divide="ignore"):
            log_mass = np.log(mass).reshape(len(mass), -1)
        return log_mass if given else log_mass[0]

    def _kernel_shares(self, name: str, values, width: float) -> np.ndarray:
        """(n, bins of ``name``): the share of a Gaussian kernel of sd ``width`` (flat
        coordinate) around each of ``values`` (n,) [physical units] that falls in each bin."""
        from scipy.special import ndtr

        values = np.asarray(values, float)
        if values.ndim != 1 or not np.all(np.isfinite(values)) or not float(width) > 0:
            raise ValueError(f"given {name}: (values (n,) finite, width > 0) expected")
        with np.errstate(divide="ignore", invalid="ignore"):
            centre = np.log10(values) if name in self.log10 else values
        if not np.all(np.isfinite(centre)):
            raise ValueError(f"given {name}: positive values expected (binned in log10)")
        edges = self.edges[self.names.index(name)]
        cdf = ndtr((edges[None, :] - centre[:, None]) / float(width))
        return np.diff(cdf, axis=1)

    def to_dict(self) -> dict:
        return {
            "names": list(self.names),
            "edges": [np.asarray(e).tolist() for e in self.edges],
            "log10": list(self.log10),
            "counts": np.asarray(self.counts).astype(np.int64).ravel().tolist(),
            "record": dict(self.record),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "EffectivePrior":
        """The effective prior of :meth:`to_dict`'s output, or a ValueError naming what is wrong."""
        try:
            names = tuple(str(n) for n in data["names"])
            edges = tuple(np.asarray(e, float) for e in data["edges"])
            counts = np.asarray(data["counts"], float)
            log10 = tuple(data.get("log10", ()))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"an effective prior needs names, edges, counts: {err}") from err
        shape = tuple(len(e) - 1 for e in edges)
        if len(edges) != len(names) or any(e.ndim != 1 or len(e) < 2 or np.any(np.diff(e) <= 0) for e in edges):
            raise ValueError("effective prior edges: one increasing 1-D array per name expected")
        if counts.size != int(np.prod(shape)) or not np.all(np.isfinite(counts)) or np.any(counts < 0):
            raise ValueError(f"effective prior counts: {int(np.prod(shape))} non-negative numbers expected")
        if not set(log10) <= set(names):
            raise ValueError(f"effective prior log10 names {list(log10)} are not among {list(names)}")
        return cls(names, edges, counts.reshape(shape), log10, dict(data.get("record", {})))


def _overlap(own: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(len(own) - 1, len(target) - 1): the share of each own bin that falls in each target bin."""
    low = np.maximum(own[:-1, None], target[None, :-1])
    high = np.minimum(own[1:, None], target[None, 1:])
    return np.clip(high - low, 0.0, None) / np.diff(own)[:, None]


def effective_prior(draws, bounds, names, bin_width, *, log10=(), record=None) -> EffectivePrior:
    """The histogram of posterior draws (n_cases, m, >= len(names)) [physical units] of cases
    drawn from the training prior, with bins of ``bin_width`` {name: width} in the flat
    coordinate (log10 for ``log10``) spanning ``bounds`` (len(names), 2); rows with a
    non-finite draw are left out. ``record``: how the cases were made."""
    draws = np.asarray(draws, float)
    names, bounds = tuple(names), np.asarray(bounds, float)
    if draws.ndim != 3 or draws.shape[2] < len(names) or bounds.shape != (len(names), 2):
        raise ValueError(
            f"draws must be (n, m, >= {len(names)}) and bounds ({len(names)}, 2); got {draws.shape} and {bounds.shape}"
        )
    missing = [p for p in names if not (p in bin_width and float(bin_width[p]) > 0)]
    if missing:
        raise ValueError(f"bin_width must give a positive width for every parameter; missing {missing}")
    draws = draws[np.isfinite(draws[:, :, : len(names)]).all(axis=(1, 2)), :, : len(names)]
    if not len(draws):
        raise ValueError("no case with finite draws to make an effective prior from")
    edges, columns = [], []
    for column, p in enumerate(names):
        low, high = np.log10(bounds[column]) if p in log10 else bounds[column]
        k = max(1, int(np.ceil((high - low) / float(bin_width[p]) - 1e-9)))
        edges.append(np.linspace(low, high, k + 1))
        values = draws[:, :, column].ravel()
        columns.append(np.clip(np.log10(values) if p in log10 else values, low, high))
    counts, _ = np.histogramdd(np.stack(columns, axis=1), bins=edges)
    return EffectivePrior(
        names, tuple(edges), counts, tuple(p for p in names if p in log10), {"cases": len(draws), **(record or {})}
    )
